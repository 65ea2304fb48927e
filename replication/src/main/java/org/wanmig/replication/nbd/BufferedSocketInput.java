package org.wanmig.replication.nbd;

import java.io.BufferedInputStream;
import java.io.InputStream;

/**
 * A buffered stream that can tell, without a system call, whether a pipelined request is already
 * buffered: replies are flushed only when none is (InputStream.available() would cost an ioctl on
 * every request).
 */
final class BufferedSocketInput extends BufferedInputStream {
    BufferedSocketInput(InputStream in, int size) {
        super(in, size);
    }

    synchronized int buffered() {
        return count - pos;
    }
}
