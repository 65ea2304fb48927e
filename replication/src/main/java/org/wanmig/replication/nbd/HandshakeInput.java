package org.wanmig.replication.nbd;

import java.io.BufferedInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.util.Arrays;

/**
 * The small input buffer of the handshake phase. When the handshake is over, {@link #handOver()}
 * returns a stream that yields the bytes this buffer still holds (a pipelined first request) and
 * then reads the socket directly, so the transmission phase can put its large buffer on top without
 * a second layer of buffering.
 */
final class HandshakeInput extends BufferedInputStream {
    HandshakeInput(InputStream in, int size) {
        super(in, size);
    }

    synchronized InputStream handOver() {
        byte[] rest = Arrays.copyOfRange(buf, pos, count);
        pos = count;
        InputStream raw = in;
        return new InputStream() {
            private int i;

            @Override
            public int read() throws IOException {
                return i < rest.length ? rest[i++] & 0xff : raw.read();
            }

            @Override
            public int read(byte[] b, int off, int len) throws IOException {
                if (i < rest.length) {
                    int n = Math.min(len, rest.length - i);
                    System.arraycopy(rest, i, b, off, n);
                    i += n;
                    return n;
                }
                return raw.read(b, off, len);
            }

            @Override
            public int available() throws IOException {
                return i < rest.length ? rest.length - i : raw.available();
            }

            @Override
            public long skip(long n) throws IOException {
                if (i < rest.length) {
                    int k = (int) Math.min(n, rest.length - i);
                    i += k;
                    return k;
                }
                return raw.skip(n);
            }
        };
    }
}
