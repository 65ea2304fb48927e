package org.wanmig.replication.peer;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.PipedInputStream;
import java.io.PipedOutputStream;
import java.nio.ByteBuffer;
import java.util.concurrent.CompletableFuture;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

@Timeout(30)
class PeerProtocolTest {
    private static byte[] encode(PeerFrame f) throws Exception {
        ByteArrayOutputStream bo = new ByteArrayOutputStream();
        PeerCodec c = new PeerCodec(new DataInputStream(new ByteArrayInputStream(new byte[0])), new DataOutputStream(bo));
        c.write(f);
        c.flush();
        return bo.toByteArray();
    }

    private static PeerFrame decode(byte[] b) throws Exception {
        return new PeerCodec(new DataInputStream(new ByteArrayInputStream(b)),
                new DataOutputStream(new ByteArrayOutputStream())).read();
    }

    /** A source that counts how often it is asked for available() (a socket's ioctl). */
    private static final class CountingSource extends ByteArrayInputStream {
        int availableCalls;

        CountingSource(byte[] b) {
            super(b);
        }

        @Override
        public synchronized int available() {
            availableCalls++;
            return super.available();
        }
    }

    @Test
    void inputIdleAnswersFromTheBufferWithoutAskingTheSourceWhileItHoldsAFrame() throws Exception {
        byte[] one = encode(new PeerFrame(PeerFrame.WRITE, 0, 1, 0, new byte[100]));
        byte[] two = encode(new PeerFrame(PeerFrame.WRITE, 0, 2, 4096, new byte[100]));
        byte[] wire = new byte[one.length + two.length];
        System.arraycopy(one, 0, wire, 0, one.length);
        System.arraycopy(two, 0, wire, one.length, two.length);
        CountingSource src = new CountingSource(wire);
        org.wanmig.replication.net.BufferedInput buf = new org.wanmig.replication.net.BufferedInput(src, 4096);
        PeerCodec c = new PeerCodec(new DataInputStream(buf), new DataOutputStream(new ByteArrayOutputStream()),
                org.wanmig.replication.net.FrameTimer.NONE, PeerCodec.MAX_PAYLOAD, buf);
        assertEquals(1, c.read().seq());
        assertEquals(false, c.inputIdle()); // the second frame is buffered
        assertEquals(0, src.availableCalls);
        assertEquals(2, c.read().seq());
        assertEquals(true, c.inputIdle()); // buffer empty: now the source is asked, and it has nothing
        assertEquals(1, src.availableCalls);
    }

    @Test
    void roundTripAndEveryBitFlipIsCaught() throws Exception {
        byte[] payload = "hello replica".getBytes();
        byte[] wire = encode(new PeerFrame(PeerFrame.WRITE, PeerFrame.FLAG_SYNC, 42, 4096, payload));
        PeerFrame f = decode(wire);
        assertEquals(PeerFrame.WRITE, f.type());
        assertEquals(PeerFrame.FLAG_SYNC, f.flags());
        assertEquals(42, f.seq());
        assertEquals(4096, f.offset());
        assertArrayEquals(payload, f.payload());
        for (int i = 0; i < wire.length; i++) {
            if (i >= 24 && i < 28) {
                continue; // length field: a flip there is a truncated/over-long read instead
            }
            byte[] bad = wire.clone();
            bad[i] ^= 0x10;
            assertThrows(java.io.IOException.class, () -> decode(bad), "flip at byte " + i + " not detected");
        }
    }

    @Test
    void prefixAndDataAreOneFrameWithTheSameBytes() throws Exception {
        byte[] data = new byte[70_000];
        new java.util.Random(7).nextBytes(data);
        ByteBuffer prefix = ByteBuffer.allocate(PeerFrame.DATA_PREFIX).putLong(3).putLong(99).flip();
        byte[] joined = ByteBuffer.allocate(PeerFrame.DATA_PREFIX + data.length).put(prefix.duplicate()).put(data)
                .array();
        byte[] expected = encode(new PeerFrame(PeerFrame.WRITE, PeerFrame.FLAG_SYNC, 42, 8192, joined));

        ByteArrayOutputStream bo = new ByteArrayOutputStream();
        PeerCodec c = new PeerCodec(new DataInputStream(new ByteArrayInputStream(new byte[0])), new DataOutputStream(bo));
        // data as a slice of a larger direct buffer: position, offset and non-array paths all count
        ByteBuffer direct = ByteBuffer.allocateDirect(data.length + 10);
        direct.position(5);
        direct.put(data);
        direct.position(5).limit(5 + data.length);
        c.write(PeerFrame.WRITE, PeerFrame.FLAG_SYNC, 42, 8192, prefix, direct);
        c.write(PeerFrame.WRITE, PeerFrame.FLAG_SYNC, 42, 8192, prefix, ByteBuffer.wrap(data));
        c.flush();
        byte[] wire = bo.toByteArray();
        assertArrayEquals(expected, java.util.Arrays.copyOfRange(wire, 0, expected.length));
        assertArrayEquals(expected, java.util.Arrays.copyOfRange(wire, expected.length, wire.length));
        assertEquals(5, direct.position(), "the data buffer is not consumed");
        assertEquals(0, prefix.position(), "the prefix buffer is not consumed");
        assertArrayEquals(joined, decode(expected).payload());

        PeerCodec small = new PeerCodec(new DataInputStream(new ByteArrayInputStream(new byte[0])),
                new DataOutputStream(new ByteArrayOutputStream()), org.wanmig.replication.net.FrameTimer.NONE,
                data.length + 8);
        assertThrows(PeerProtocolException.class,
                () -> small.write(PeerFrame.WRITE, 0, 1, 0, prefix, ByteBuffer.wrap(data)),
                "prefix and data together exceed the limit");
    }

    @Test
    void oversizedLengthRejectedBeforeAllocation() {
        ByteBuffer b = ByteBuffer.allocate(PeerCodec.HEADER);
        b.putInt(PeerCodec.MAGIC).put((byte) PeerFrame.WRITE).put((byte) 0).putShort((short) 0).putLong(1).putLong(0)
                .putInt(-1);
        PeerProtocolException e = assertThrows(PeerProtocolException.class, () -> decode(b.array()));
        assertEquals(true, e.getMessage().contains("exceeds"));
    }

    private static void handshake(byte[] clientKey, byte[] serverKey, boolean expectOk) throws Exception {
        PipedOutputStream c2s = new PipedOutputStream();
        PipedInputStream sIn = new PipedInputStream(c2s, 1 << 16);
        PipedOutputStream s2c = new PipedOutputStream();
        PipedInputStream cIn = new PipedInputStream(s2c, 1 << 16);
        PeerCodec client = new PeerCodec(new DataInputStream(cIn), new DataOutputStream(c2s));
        PeerCodec server = new PeerCodec(new DataInputStream(sIn), new DataOutputStream(s2c));
        CompletableFuture<Throwable> srv = CompletableFuture.supplyAsync(() -> {
            try {
                new PeerAuthenticator(serverKey).authenticateAsServer(server);
                return null;
            } catch (Throwable t) {
                return t;
            }
        });
        if (expectOk) {
            new PeerAuthenticator(clientKey).authenticateAsClient(client);
            assertEquals(null, srv.get());
        } else {
            assertThrows(PeerAuthenticator.AuthException.class,
                    () -> new PeerAuthenticator(clientKey).authenticateAsClient(client));
            c2s.close();
            srv.get();
        }
    }

    /**
     * A connected pair of codecs over a loopback connection (pipes break once a writing thread ends),
     * each starting at the pre-authentication bound. The sockets close with the test's JVM.
     */
    private static PeerCodec[] pipe() throws Exception {
        try (java.net.ServerSocket ss = new java.net.ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
            java.net.Socket client = new java.net.Socket(ss.getInetAddress(), ss.getLocalPort());
            java.net.Socket server = ss.accept();
            client.setSoTimeout(20_000);
            server.setSoTimeout(20_000);
            return new PeerCodec[]{codecOn(client), codecOn(server)};
        }
    }

    private static PeerCodec codecOn(java.net.Socket s) throws java.io.IOException {
        return new PeerCodec(new DataInputStream(new java.io.BufferedInputStream(s.getInputStream())),
                new DataOutputStream(new java.io.BufferedOutputStream(s.getOutputStream())),
                org.wanmig.replication.net.FrameTimer.NONE, PeerCodec.PRE_AUTH_MAX_PAYLOAD);
    }

    /** Authenticates client and server with the given announcements; returns {client, server}. */
    private static PeerCodec[] negotiate(byte[] key, int clientLimit, int serverLimit) throws Exception {
        PeerCodec[] c = pipe();
        CompletableFuture<Void> srv = CompletableFuture.runAsync(() -> {
            try {
                new PeerAuthenticator(key, serverLimit).authenticateAsServer(c[1]);
            } catch (java.io.IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
        });
        new PeerAuthenticator(key, clientLimit).authenticateAsClient(c[0]);
        srv.get();
        return c;
    }

    @Test
    void bothSidesUseTheSmallerAnnouncedLimit() throws Exception {
        int small = PeerAuthenticator.MIN_LIMIT;
        int mid = 8 << 20;
        for (byte[] key : new byte[][]{"k-0123456789abcdef".getBytes(), null}) { // PSK mode and TLS mode
            for (int[] l : new int[][]{{small, PeerCodec.MAX_PAYLOAD}, {PeerCodec.MAX_PAYLOAD, small},
                    {mid, PeerCodec.MAX_PAYLOAD}, {PeerCodec.MAX_PAYLOAD, PeerCodec.MAX_PAYLOAD}}) {
                PeerCodec[] c = negotiate(key, l[0], l[1]);
                int expected = Math.min(l[0], l[1]);
                assertEquals(expected, c[0].limit(), "client, limits " + l[0] + "/" + l[1]);
                assertEquals(expected, c[1].limit(), "server, limits " + l[0] + "/" + l[1]);
            }
        }
    }

    @Test
    void aFrameOverTheNegotiatedLimitIsAProtocolErrorBothWays() throws Exception {
        int small = PeerAuthenticator.MIN_LIMIT;
        PeerCodec[] c = negotiate("k-0123456789abcdef".getBytes(), PeerCodec.MAX_PAYLOAD, small);
        CompletableFuture<PeerFrame> got = CompletableFuture.supplyAsync(() -> {
            try {
                return c[1].read();
            } catch (java.io.IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
        });
        c[0].write(new PeerFrame(PeerFrame.WRITE, 0, 1, 0, new byte[small]));
        c[0].flush();
        assertEquals(small, got.get().payload().length, "a frame of exactly the limit passes");
        // the sender refuses to send one byte more...
        PeerProtocolException send = assertThrows(PeerProtocolException.class,
                () -> c[0].write(new PeerFrame(PeerFrame.WRITE, 0, 2, 0, new byte[small + 1])));
        assertTrue(send.getMessage().contains("exceeds the negotiated limit"), send.getMessage());
        // ...and a receiver that gets one anyway (a header claiming it) rejects it before reading the payload
        byte[] wire = encode(new PeerFrame(PeerFrame.WRITE, 0, 2, 0, new byte[small + 1]));
        PeerCodec receiver = new PeerCodec(new DataInputStream(new ByteArrayInputStream(wire)),
                new DataOutputStream(new ByteArrayOutputStream()), org.wanmig.replication.net.FrameTimer.NONE,
                PeerCodec.PRE_AUTH_MAX_PAYLOAD);
        receiver.setLimit(small);
        PeerProtocolException read = assertThrows(PeerProtocolException.class, receiver::read);
        assertTrue(read.getMessage().contains("exceeds limit " + small), read.getMessage());
    }

    @Test
    void anAbsurdOrZeroAnnouncedLimitIsRejected() throws Exception {
        for (int bad : new int[]{0, -1, 10, PeerAuthenticator.MIN_LIMIT - 1, PeerCodec.MAX_PAYLOAD + 1, Integer.MAX_VALUE}) {
            // a client announcing it: the server answers ERROR and refuses (TLS mode: no proof involved)
            PeerCodec[] c = pipe();
            CompletableFuture<Throwable> srv = CompletableFuture.supplyAsync(() -> {
                try {
                    new PeerAuthenticator(null, PeerCodec.MAX_PAYLOAD).authenticateAsServer(c[1]);
                    return null;
                } catch (Throwable t) {
                    return t;
                }
            });
            c[0].write(new PeerFrame(PeerFrame.HELLO, 0, 0, 0,
                    ByteBuffer.allocate(PeerAuthenticator.NONCE + 4).put(new byte[PeerAuthenticator.NONCE]).putInt(bad).array()));
            c[0].flush();
            PeerFrame answer = c[0].read();
            assertEquals(PeerFrame.ERROR, answer.type(), "limit " + bad);
            assertTrue(srv.get() instanceof PeerAuthenticator.AuthException, "limit " + bad + ": " + srv.get());
            // a server announcing it: the client refuses
            PeerCodec[] d = pipe();
            CompletableFuture<Void> fake = CompletableFuture.runAsync(() -> {
                try {
                    d[1].read(); // HELLO
                    d[1].write(new PeerFrame(PeerFrame.AUTH_OK, 0, 0, 0, ByteBuffer.allocate(4).putInt(bad).array()));
                    d[1].flush();
                } catch (java.io.IOException e) {
                    throw new java.io.UncheckedIOException(e);
                }
            });
            PeerAuthenticator.AuthException e = assertThrows(PeerAuthenticator.AuthException.class,
                    () -> new PeerAuthenticator(null, PeerCodec.MAX_PAYLOAD).authenticateAsClient(d[0]));
            assertTrue(e.getMessage().contains("payload limit " + bad), e.getMessage());
            fake.get();
            // and nobody can be configured to announce it
            assertThrows(IllegalArgumentException.class, () -> new PeerAuthenticator(null, bad));
        }
    }

    @Test
    void mutualAuthentication() throws Exception {
        handshake("k-0123456789abcdef".getBytes(), "k-0123456789abcdef".getBytes(), true);
        handshake("k-0123456789abcdef".getBytes(), "other-0123456789ab".getBytes(), false);
    }
}
