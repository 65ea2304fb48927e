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

    @Test
    void mutualAuthentication() throws Exception {
        handshake("k-0123456789abcdef".getBytes(), "k-0123456789abcdef".getBytes(), true);
        handshake("k-0123456789abcdef".getBytes(), "other-0123456789ab".getBytes(), false);
    }
}
