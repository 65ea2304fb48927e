package org.wanmig.replication;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.wanmig.replication.peer.PeerAuthenticator;
import org.wanmig.replication.peer.PeerCodec;
import org.wanmig.replication.peer.PeerFrame;

import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.net.Socket;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Hostile bytes on the NBD and peer ports: errors or closed connections, never a crash or damage. */
@Timeout(120)
class MalformedInputTest {
    private static final long NBDMAGIC = 0x4e42444d41474943L;
    private static final long IHAVEOPT = 0x49484156454F5054L;
    private static final long REPLY_MAGIC = 0x0003e889045565a9L;

    @TempDir
    Path dir;

    private static final class Raw implements AutoCloseable {
        final Socket s;
        final DataInputStream in;
        final DataOutputStream out;

        Raw(int port) throws IOException {
            s = new Socket("127.0.0.1", port);
            s.setSoTimeout(10_000);
            in = new DataInputStream(s.getInputStream());
            out = new DataOutputStream(new java.io.BufferedOutputStream(s.getOutputStream())); // sent on flush()
        }

        void greeting() throws IOException {
            assertEquals(NBDMAGIC, in.readLong());
            assertEquals(IHAVEOPT, in.readLong());
            assertEquals(3, in.readUnsignedShort());
        }

        void option(int code, byte[] data) throws IOException {
            out.writeLong(IHAVEOPT);
            out.writeInt(code);
            out.writeInt(data.length);
            out.write(data);
            out.flush();
        }

        /** Reads one option reply; returns its type, data in last. */
        int reply(int code) throws IOException {
            assertEquals(REPLY_MAGIC, in.readLong());
            assertEquals(code, in.readInt());
            int type = in.readInt();
            byte[] d = new byte[in.readInt()];
            in.readFully(d);
            last = d;
            return type;
        }

        byte[] last;

        void request(int flags, int type, long handle, long offset, int length) throws IOException {
            out.writeInt(0x25609513);
            out.writeShort(flags);
            out.writeShort(type);
            out.writeLong(handle);
            out.writeLong(offset);
            out.writeInt(length);
        }

        int simpleReply(long handle) throws IOException {
            assertEquals(0x67446698, in.readInt());
            int err = in.readInt();
            assertEquals(handle, in.readLong());
            return err;
        }

        boolean closedByServer() {
            try {
                return in.read() < 0;
            } catch (IOException e) {
                return true;
            }
        }

        @Override
        public void close() throws IOException {
            s.close();
        }
    }

    private static byte[] goData(String name) {
        byte[] n = name.getBytes(StandardCharsets.UTF_8);
        ByteBuffer b = ByteBuffer.allocate(4 + n.length + 2);
        b.putInt(n.length).put(n).putShort((short) 0);
        return b.array();
    }

    @Test
    void nbdBadHandshakesAndRequests() throws Exception {
        try (AgentPair p = new AgentPair(dir, 4 << 20)) {
            int port = p.a.nbdPort();
            // unknown client flags: the spec says close
            try (Raw r = new Raw(port)) {
                r.greeting();
                r.out.writeInt(0xfff0);
                r.out.flush();
                assertTrue(r.closedByServer());
            }
            // wrong option magic: close
            try (Raw r = new Raw(port)) {
                r.greeting();
                // one write: the server may close as soon as it sees the magic
                r.out.write(ByteBuffer.allocate(20).putInt(3).putLong(0x1122334455667788L).putInt(7).putInt(0).array());
                r.out.flush();
                assertTrue(r.closedByServer());
            }
            // option errors keep the handshake going; then real transmission with bad requests
            try (Raw r = new Raw(port)) {
                r.greeting();
                r.out.writeInt(3);
                byte[] lying = ByteBuffer.allocate(6).putInt(1000).putShort((short) 0).array();
                r.option(7, lying);
                assertEquals(0x80000003, r.reply(7), "NBD_REP_ERR_INVALID for a lying name length");
                r.option(6, goData("no-such-disk"));
                assertEquals(0x80000006, r.reply(6), "NBD_REP_ERR_UNKNOWN");
                r.option(99, new byte[3]);
                assertEquals(0x80000001, r.reply(99), "NBD_REP_ERR_UNSUP");
                r.option(3, new byte[0]);
                assertEquals(2, r.reply(3));
                assertEquals(1, r.reply(3));
                r.option(7, goData("vs1"));
                assertEquals(3, r.reply(7));
                ByteBuffer info = ByteBuffer.wrap(r.last);
                assertEquals(0, info.getShort());
                assertEquals(4 << 20, info.getLong());
                assertEquals(1, r.reply(7), "ACK ends GO");
                r.request(0, 0, 1, 4 << 20, 4096); // read past the end
                r.out.flush();
                assertEquals(22, r.simpleReply(1));
                r.request(0, 0, 2, 0, 64 << 20); // read longer than the cap
                r.out.flush();
                assertEquals(75, r.simpleReply(2));
                r.request(0, 1, 3, (4 << 20) - 100, 4096); // write past the end (payload follows)
                r.out.write(new byte[4096]);
                r.out.flush();
                assertEquals(28, r.simpleReply(3));
                r.request(0, 77, 4, 0, 0); // unknown command
                r.out.flush();
                assertEquals(22, r.simpleReply(4));
                r.request(0x8000, 0, 5, 0, 512); // unknown flag
                r.out.flush();
                assertEquals(22, r.simpleReply(5));
                r.request(0, 0, 6, -4096, 512); // negative offset
                r.out.flush();
                assertEquals(22, r.simpleReply(6));
                r.request(0, 0, 7, 0, 512); // and a good read still works
                r.out.flush();
                assertEquals(0, r.simpleReply(7));
                r.in.readFully(new byte[512]);
                // garbage instead of a request: close (one write; the server may close mid-way)
                r.out.write(ByteBuffer.allocate(28).putLong(0xdeadbeefL).array());
                r.out.flush();
                assertTrue(r.closedByServer());
            }
            byte[] img = Files.readAllBytes(p.imageA());
            for (byte x : img) {
                assertEquals(0, x, "image changed by rejected requests");
            }
            // the agent keeps serving real clients
            Tools.qemuIo(AgentPair.url(p.a), "write -P 0x33 0 64k", "read -P 0x33 0 64k").ok();
        }
    }

    @Test
    void replicaAdvertisesWritableAndAnswersWritesWithEperm() throws Exception {
        try (AgentPair p = new AgentPair(dir, 4 << 20)) {
            for (int port : new int[]{p.b.nbdPort(), p.a.nbdPort()}) {
                try (Raw r = new Raw(port)) {
                    r.greeting();
                    r.out.writeInt(3);
                    r.option(7, goData("vs1"));
                    assertEquals(3, r.reply(7));
                    ByteBuffer info = ByteBuffer.wrap(r.last);
                    info.getShort();
                    info.getLong();
                    int flags = info.getShort() & 0xffff;
                    assertEquals(1, r.reply(7));
                    boolean replica = port == p.b.nbdPort();
                    // writable export on both: a hypervisor opens the replica read-write before a move
                    assertEquals(0, flags & 2, "READ_ONLY flag on " + (replica ? "replica" : "primary"));
                    assertTrue((flags & (1 | 4 | 8 | 32 | 64)) == (1 | 4 | 8 | 32 | 64), "flags " + flags);
                    r.request(0, 1, 9, 0, 4096);
                    r.out.write(new byte[4096]);
                    r.out.flush();
                    assertEquals(replica ? 1 : 0, r.simpleReply(9), "write answer");
                    r.request(0, 6, 10, 0, 8192); // WRITE_ZEROES
                    r.out.flush();
                    assertEquals(replica ? 1 : 0, r.simpleReply(10), "write-zeroes answer");
                    r.request(0, 3, 12, 0, 0); // FLUSH succeeds on a replica too
                    r.out.flush();
                    assertEquals(0, r.simpleReply(12), "flush answer");
                    r.request(0, 2, 11, 0, 0); // DISC: server closes without a reply
                    r.out.flush();
                    assertTrue(r.closedByServer());
                }
            }
        }
    }

    @Test
    void peerPortRejectsGarbageWrongKeysAndCorruptFrames() throws Exception {
        try (AgentPair p = new AgentPair(dir, 4 << 20)) {
            p.ab.cut(); // keep the real primary away; we play the primary ourselves
            int port = p.b.peerPort();
            // garbage
            try (Socket s = new Socket("127.0.0.1", port)) {
                s.setSoTimeout(10_000);
                s.getOutputStream().write("GET / HTTP/1.0\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
                assertTrue(drainsToEof(s));
            }
            // wrong key: the authenticator detects that the server's proof does not verify
            try (Socket s = new Socket("127.0.0.1", port)) {
                s.setSoTimeout(10_000);
                PeerCodec c = codec(s);
                assertThrows(PeerAuthenticator.AuthException.class,
                        () -> new PeerAuthenticator("wrong-key-wrong-key-wrong".getBytes()).authenticateAsClient(c));
            }
            // right key but then a frame with a broken checksum: dropped, disk unchanged
            try (Socket s = new Socket("127.0.0.1", port)) {
                s.setSoTimeout(10_000);
                PeerCodec c = codec(s);
                new PeerAuthenticator(AgentPair.PSK.getBytes(StandardCharsets.UTF_8)).authenticateAsClient(c);
                c.write(new PeerFrame(PeerFrame.OPEN, 0, 0, 0,
                        ("{\"disk\":\"vs1\",\"sizeBytes\":" + (4 << 20) + ",\"syncId\":\"x\"}").getBytes()));
                c.flush();
                assertEquals(PeerFrame.OPEN_OK, c.read().type());
                ByteBuffer frame = ByteBuffer.allocate(PeerCodec.HEADER + 4096 + 4);
                frame.putInt(PeerCodec.MAGIC).put((byte) PeerFrame.WRITE).put((byte) 0).putShort((short) 0)
                        .putLong(1).putLong(0).putInt(4096);
                for (int i = 0; i < 4096; i++) {
                    frame.put((byte) 0x77);
                }
                frame.putInt(0x12345678); // wrong CRC32C
                s.getOutputStream().write(frame.array());
                s.getOutputStream().flush();
                assertTrue(drainsToEof(s));
            }
            // right key, a write outside the disk: dropped
            try (Socket s = new Socket("127.0.0.1", port)) {
                s.setSoTimeout(10_000);
                PeerCodec c = codec(s);
                new PeerAuthenticator(AgentPair.PSK.getBytes(StandardCharsets.UTF_8)).authenticateAsClient(c);
                c.write(new PeerFrame(PeerFrame.OPEN, 0, 0, 0,
                        ("{\"disk\":\"vs1\",\"sizeBytes\":" + (4 << 20) + ",\"syncId\":\"x\"}").getBytes()));
                c.flush();
                assertEquals(PeerFrame.OPEN_OK, c.read().type());
                c.write(new PeerFrame(PeerFrame.WRITE, 0, 1, (4 << 20) - 10, new byte[4096]));
                c.flush();
                assertTrue(drainsToEof(s));
            }
            byte[] img = Files.readAllBytes(p.imageB());
            for (byte x : img) {
                assertEquals(0, x, "replica image changed by rejected frames");
            }
            // the real link still works afterwards
            p.ab.restore();
            Tools.qemuIo(AgentPair.url(p.a), "write -P 0x44 0 128k").ok();
            p.syncUp(p.a);
            AgentPair.assertSameBytes(p.imageA(), p.imageB());
        }
    }

    private static PeerCodec codec(Socket s) throws IOException {
        return new PeerCodec(new DataInputStream(s.getInputStream()), new DataOutputStream(s.getOutputStream()));
    }

    /** True once the server has closed the connection (reads reach EOF or reset). */
    private static boolean drainsToEof(Socket s) {
        try {
            byte[] buf = new byte[4096];
            while (s.getInputStream().read(buf) >= 0) {
                // discard ERROR frames etc.
            }
            return true;
        } catch (IOException e) {
            return true; // reset also means closed; a timeout would have thrown SocketTimeoutException
        }
    }
}
