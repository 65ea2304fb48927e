package org.wanmig.replication.control.takeover;

import java.io.IOException;

/** The take-over channel's framing was broken (bad first byte, unknown type, too long): the connection is closed. */
public final class TakeOverProtocolException extends IOException {
    public TakeOverProtocolException(String msg) {
        super(msg);
    }
}
