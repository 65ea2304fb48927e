package org.wanmig.replication.core;

/** How a primary acknowledges writes to its NBD clients. */
public enum Mode {
    /** Ack after the local write; ship in order with bounded lag (RPO > 0). */
    ASYNC,
    /** Ack only once the peer has the write durable (RPO 0, costs one round trip). */
    SYNC;

    /** Parses user input strictly; returns null for anything but the two names. */
    public static Mode parse(String s) {
        if ("SYNC".equals(s)) {
            return SYNC;
        }
        if ("ASYNC".equals(s)) {
            return ASYNC;
        }
        return null;
    }
}
