package org.wanmig.replication.control.takeover;

import java.io.IOException;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketException;
import java.net.SocketTimeoutException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.fail;

/** A test client of the take-over channel: raw bytes out, decoded answers in. */
final class TakeOverClient implements AutoCloseable {
    final Socket socket;
    private final InputStream in;
    private final TakeOverDecoder decoder = TakeOverDecoder.ofAgentFrames();
    private final ByteBuffer pending = ByteBuffer.allocate(4096).flip();

    TakeOverClient(int port) throws IOException {
        socket = new Socket();
        socket.connect(new InetSocketAddress("127.0.0.1", port), 5_000);
        socket.setTcpNoDelay(true);
        socket.setSoTimeout(5_000);
        in = socket.getInputStream();
    }

    TakeOverClient send(byte[] bytes) throws IOException {
        socket.getOutputStream().write(bytes);
        socket.getOutputStream().flush();
        return this;
    }

    /** The next answer; fails on EOF or after the socket timeout. */
    TakeOverFrame read() throws IOException {
        while (true) {
            TakeOverFrame f = decoder.decode(pending);
            if (f != null) {
                return f;
            }
            pending.clear();
            int n = in.read(pending.array(), 0, pending.capacity());
            if (n < 0) {
                fail("connection closed while an answer was expected");
            }
            pending.limit(n);
        }
    }

    /** Authenticates; fails unless WELCOME. */
    TakeOverClient authenticate(String token) throws IOException {
        send(TakeOverEncoder.auth(token));
        assertEquals(TakeOverFrame.WELCOME, read().type());
        return this;
    }

    void assertPong() throws IOException {
        send(TakeOverEncoder.ping());
        TakeOverFrame f = read();
        assertEquals(TakeOverFrame.PONG, f.type(), f.toString());
        assertEquals(0, f.payloadLength());
    }

    /** Reads until the agent closes (EOF or reset), within ms; fails if an answer arrives or the time passes. */
    long assertClosedWithin(int ms) throws IOException {
        long start = System.nanoTime();
        socket.setSoTimeout(ms);
        try {
            if (pending.hasRemaining() || decoder.inFrame()) {
                fail("unread answer bytes before the close");
            }
            int n = in.read();
            if (n >= 0) {
                fail("the agent sent a byte instead of closing");
            }
        } catch (SocketTimeoutException e) {
            fail("still open after " + ms + " ms");
        } catch (SocketException e) {
            // reset: closed as well
        }
        return (System.nanoTime() - start) / 1_000_000;
    }

    static int status(TakeOverFrame refused) {
        assertEquals(TakeOverFrame.REFUSED, refused.type(), refused.toString());
        byte[] p = refused.payload();
        return ((p[0] & 0xff) << 8) | (p[1] & 0xff);
    }

    static String message(TakeOverFrame refused) {
        byte[] p = refused.payload();
        return new String(p, 2, p.length - 2, StandardCharsets.UTF_8);
    }

    @Override
    public void close() throws IOException {
        socket.close();
    }
}
