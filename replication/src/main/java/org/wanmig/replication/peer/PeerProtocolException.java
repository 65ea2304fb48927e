package org.wanmig.replication.peer;

import java.io.IOException;

/** A malformed or unexpected peer message: the connection is dropped, the disk is untouched. */
public class PeerProtocolException extends IOException {
    public PeerProtocolException(String msg) {
        super(msg);
    }
}
