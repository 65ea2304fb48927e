package org.wanmig.replication.control.takeover;

/**
 * A TAKEOVER frame whose payload is well framed but not a valid request (answered REFUSED 400, the
 * connection stays open: the framing is intact, so the next frame can be read).
 */
public final class MalformedTakeOverException extends Exception {
    public MalformedTakeOverException(String msg) {
        super(msg);
    }
}
