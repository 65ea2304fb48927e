package org.wanmig.replication.net;

import java.io.BufferedInputStream;
import java.io.InputStream;

/**
 * A buffered stream that tells, without a system call, how many bytes it already holds. Callers
 * that ask "is more input waiting?" after every frame check this first: available() on a
 * BufferedInputStream always asks the socket too (an ioctl per frame).
 */
public final class BufferedInput extends BufferedInputStream {
    public BufferedInput(InputStream in, int size) {
        super(in, size);
    }

    /** Bytes read from the source and not yet consumed. */
    public synchronized int buffered() {
        return count - pos;
    }
}
