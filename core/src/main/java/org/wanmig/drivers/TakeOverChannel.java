package org.wanmig.drivers;

import java.io.DataInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Duration;

import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.SSLSocketFactory;

/**
 * The MMS's end of a replication agent's take-over channel: one authenticated TCP connection,
 * opened while the take-over is checked before the move, that carries the take-over inside the
 * guest's pause as a few bytes of fixed fields instead of an HTTP request (README, "The take-over
 * channel"). Every frame: 0x57, a type byte, the payload's length (u16, at most 1024), the
 * payload. TLS when the agent's control API is HTTPS, trusted and name-checked as the HTTPS
 * calls are. Blocking, one exchange at a time; not for the lifecycle thread.
 */
final class TakeOverChannel implements AutoCloseable {
    static final int MAGIC = 0x57;
    static final int MAX_PAYLOAD = 1024;
    static final int AUTH = 0x01;
    static final int TAKEOVER = 0x02;
    static final int CHECK = 0x04;
    static final int TOOK_OVER = 0x81;
    static final int REFUSED = 0x82;
    static final int WELCOME = 0x84;
    static final int READY = 0x85;

    private final Socket socket;
    private final DataInputStream in;
    private final OutputStream out;
    private final String peer;
    private final int port;

    private TakeOverChannel(Socket socket, String peer, int port) throws IOException {
        this.socket = socket;
        this.port = port;
        this.in = new DataInputStream(socket.getInputStream());
        this.out = socket.getOutputStream();
        this.peer = peer;
    }

    /**
     * Connects (over TLS with {@code tls}, the certificate checked against {@code host} as HTTPS
     * does; plain TCP without) and authenticates with the agent's control token; fails unless it
     * is welcomed.
     */
    static TakeOverChannel open(String host, int port, String token, Duration timeout, SSLSocketFactory tls)
            throws IOException {
        Socket s = new Socket();
        try {
            s.setTcpNoDelay(true);   // one small frame each way: nothing to coalesce, no ACK to wait for
            s.connect(new InetSocketAddress(host, port), (int) Math.max(1, timeout.toMillis()));
            if (tls != null) {
                SSLSocket ssl = (SSLSocket) tls.createSocket(s, host, port, true);
                SSLParameters p = ssl.getSSLParameters();
                p.setEndpointIdentificationAlgorithm("HTTPS");
                ssl.setSSLParameters(p);
                ssl.setSoTimeout((int) Math.max(1, timeout.toMillis()));
                ssl.startHandshake();
                s = ssl;
            }
            TakeOverChannel c = new TakeOverChannel(s, host + ":" + port, port);
            c.send(AUTH, (token == null ? "" : token).getBytes(StandardCharsets.UTF_8), timeout);
            c.expect(WELCOME, c.receive(timeout));
            return c;
        } catch (IOException | RuntimeException e) {
            s.close();
            throw e;
        }
    }

    /**
     * Asks the take-over named {@code takeOverId} of {@code disk}; notes in {@code stamps[1]} when
     * the request was written and in {@code stamps[2]} when the answer arrived (System.nanoTime).
     * Returns the generation the agent took over at (its answer also names the role, PRIMARY).
     * A refusal is a {@link JsonHttp.Refused} with the agent's status, as over HTTP.
     */
    synchronized long takeOver(String disk, String takeOverId, Duration timeout, long[] stamps) throws IOException {
        return exchange(TAKEOVER, TOOK_OVER, disk, takeOverId, timeout, stamps);
    }

    /**
     * The take-over's checks at the agent over this channel, changing nothing: the generation the
     * disk is at if it could take over now, else a {@link JsonHttp.Refused} (409) with the reason.
     * The same exchange as {@link #takeOver} on both ends, so the pause's call is not the first.
     */
    synchronized long check(String disk, Duration timeout) throws IOException {
        return exchange(CHECK, READY, disk, null, timeout, new long[3]);
    }

    private long exchange(int type, int answerType, String disk, String takeOverId, Duration timeout, long[] stamps)
            throws IOException {
        byte[] d = disk.getBytes(StandardCharsets.US_ASCII);
        byte[] id = takeOverId == null ? new byte[0] : takeOverId.getBytes(StandardCharsets.US_ASCII);
        if (d.length > 255 || id.length > 255) {
            throw new IllegalArgumentException("disk name or take-over id too long for the channel");
        }
        ByteBuffer p = ByteBuffer.allocate(2 + d.length + id.length);
        p.put((byte) d.length).put(d).put((byte) id.length).put(id);
        send(type, p.array(), timeout);
        stamps[1] = System.nanoTime();
        Frame answer = receive(timeout);
        stamps[2] = System.nanoTime();
        expect(answerType, answer);
        if (answer.payload.length < 8) {
            throw new IOException(peer + ": take-over answer of " + answer.payload.length + " bytes");
        }
        return ByteBuffer.wrap(answer.payload).getLong();
    }

    int port() {
        return port;
    }

    boolean isOpen() {
        return !socket.isClosed();
    }

    @Override
    public void close() {
        try {
            socket.close();
        } catch (IOException ignored) {
            // closing: nothing more to say to this agent
        }
    }

    @Override
    public String toString() {
        return "take-over channel to " + peer;
    }

    private static final class Frame {
        final int type;
        final byte[] payload;

        Frame(int type, byte[] payload) {
            this.type = type;
            this.payload = payload;
        }
    }

    private void send(int type, byte[] payload, Duration timeout) throws IOException {
        byte[] frame = new byte[4 + payload.length];
        frame[0] = (byte) MAGIC;
        frame[1] = (byte) type;
        frame[2] = (byte) (payload.length >>> 8);
        frame[3] = (byte) payload.length;
        System.arraycopy(payload, 0, frame, 4, payload.length);
        socket.setSoTimeout((int) Math.max(1, timeout.toMillis()));
        out.write(frame);   // one write: header and payload in one segment
        out.flush();
    }

    private Frame receive(Duration timeout) throws IOException {
        socket.setSoTimeout((int) Math.max(1, timeout.toMillis()));
        int magic = in.read();
        if (magic < 0) {
            throw new EOFException(peer + " closed the take-over channel");
        }
        int type = in.readUnsignedByte();
        int length = in.readUnsignedShort();
        if (magic != MAGIC || length > MAX_PAYLOAD) {
            close();
            throw new IOException(peer + ": not a take-over channel frame (0x" + Integer.toHexString(magic)
                    + ", " + length + " bytes)");
        }
        byte[] payload = new byte[length];
        in.readFully(payload);
        return new Frame(type, payload);
    }

    private void expect(int type, Frame f) throws IOException {
        if (f.type == type) {
            return;
        }
        if (f.type == REFUSED && f.payload.length >= 2) {
            int status = ((f.payload[0] & 0xff) << 8) | (f.payload[1] & 0xff);
            String why = new String(f.payload, 2, f.payload.length - 2, StandardCharsets.UTF_8);
            if (status == 401) {
                close();   // the agent closes too: this connection is done
            }
            throw new JsonHttp.Refused(status, peer + " refused on the take-over channel (" + status + "): " + why);
        }
        close();
        throw new IOException(peer + ": frame type 0x" + Integer.toHexString(f.type) + " where 0x"
                + Integer.toHexString(type) + " was due");
    }
}
