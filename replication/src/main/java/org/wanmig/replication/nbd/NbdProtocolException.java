package org.wanmig.replication.nbd;

import java.io.IOException;

/** The client broke the protocol in a way we cannot answer: the connection is closed. */
public final class NbdProtocolException extends IOException {
    public NbdProtocolException(String msg) {
        super(msg);
    }
}
