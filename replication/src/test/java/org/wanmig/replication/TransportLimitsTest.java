package org.wanmig.replication;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.wanmig.replication.nbd.NbdServer;
import org.wanmig.replication.peer.PeerAuthenticator;
import org.wanmig.replication.peer.PeerCodec;
import org.wanmig.replication.peer.PeerFrame;
import org.wanmig.replication.peer.PeerProtocolException;
import org.wanmig.replication.peer.PeerServer;
import org.wanmig.replication.peer.PeerTransport;

import java.io.BufferedReader;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.logging.Handler;
import java.util.logging.LogRecord;
import java.util.logging.Logger;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Limits before trust on the peer and NBD ports: memory, deadlines, connection caps, log escaping. */
@Timeout(180)
class TransportLimitsTest {
    private static final int CLAIM = 32 * 1024 * 1024; // what each hostile header claims

    @TempDir
    Path dir;

    /** A frame header (no payload, no CRC) claiming len payload bytes. */
    private static byte[] header(int type, int len) {
        return ByteBuffer.allocate(PeerCodec.HEADER).putInt(PeerCodec.MAGIC).put((byte) type).put((byte) 0)
                .putShort((short) 0).putLong(0).putLong(0).putInt(len).array();
    }

    @Test
    void unauthenticatedConnectionsClaiming32MiBCannotExhaustASmallHeap() throws Exception {
        Files.writeString(dir.resolve("psk"), AgentPair.PSK);
        Path cfg = dir.resolve("agent.json");
        Files.writeString(cfg, "{\"nbdListen\":\"127.0.0.1:0\",\"peerListen\":\"127.0.0.1:0\","
                + "\"controlListen\":\"127.0.0.1:0\",\"token\":\"" + AgentPair.TOKEN + "\",\"pskFile\":\"psk\","
                + "\"maxPeerConnections\":200,\"handshakeTimeoutMs\":60000,"
                + "\"disks\":[{\"name\":\"vs1\",\"image\":\"vs1.img\",\"size\":\"4M\",\"role\":\"REPLICA\"}]}");
        String java = System.getProperty("java.home") + File.separator + "bin" + File.separator + "java";
        // 48 MiB of heap: one 32 MiB allocation fits, two do not; 60 claims would need 1.9 GiB.
        Process agent = new ProcessBuilder(java, "-Xmx48m", "-XX:+ExitOnOutOfMemoryError", "-cp",
                System.getProperty("java.class.path"), "org.wanmig.replication.agent.AgentMain", "--config", cfg.toString())
                .redirectErrorStream(true).start();
        StringBuffer output = new StringBuffer();
        List<Socket> hostile = new ArrayList<>();
        try {
            int peerPort = awaitUp(agent, output);
            // 60 unauthenticated connections each hold a frame header that is one byte short,
            // claiming a 32 MiB payload; then all send the last byte at once.
            for (int i = 0; i < 60; i++) {
                Socket s = new Socket("127.0.0.1", peerPort);
                s.setSoTimeout(20_000);
                s.getOutputStream().write(header(i % 2 == 0 ? PeerFrame.HELLO : PeerFrame.WRITE, CLAIM), 0,
                        PeerCodec.HEADER - 1);
                hostile.add(s);
            }
            Thread.sleep(300);
            for (Socket s : hostile) {
                s.getOutputStream().write(header(PeerFrame.HELLO, CLAIM), PeerCodec.HEADER - 1, 1);
            }
            int closed = 0;
            for (Socket s : hostile) {
                closed += closedByServer(s) ? 1 : 0;
            }
            assertEquals(hostile.size(), closed, "every over-long pre-auth frame is a protocol error and a close");
            // 60 more that announce a small HELLO and then trickle: held open, each with a few KiB
            for (Socket s : hostile) {
                s.close();
            }
            hostile.clear();
            for (int i = 0; i < 60; i++) {
                Socket s = new Socket("127.0.0.1", peerPort);
                s.getOutputStream().write(header(PeerFrame.HELLO, 36));
                s.getOutputStream().write(new byte[10]);
                hostile.add(s);
            }
            // a real, authenticated session still works: OPEN, one 1 MiB write, durable ACK
            try (Socket raw = new Socket()) {
                PeerTransport.Connection conn = PeerTransport.psk(AgentPair.PSK.getBytes(StandardCharsets.UTF_8))
                        .connect(raw, new InetSocketAddress("127.0.0.1", peerPort), 5000);
                PeerCodec c = conn.codec();
                c.write(new PeerFrame(PeerFrame.OPEN, 0, 0, 0,
                        ("{\"disk\":\"vs1\",\"sizeBytes\":" + (4 << 20) + ",\"syncId\":\"\"}").getBytes()));
                c.flush();
                assertEquals(PeerFrame.OPEN_OK, c.read().type());
                c = conn.established(64 * 1024, 1 << 20);
                byte[] data = new byte[1 << 20];
                Arrays.fill(data, (byte) 0x3c);
                c.write(new PeerFrame(PeerFrame.WRITE, PeerFrame.FLAG_SYNC, 1, 0, data(1, data)));
                c.flush();
                PeerFrame ack = c.read();
                assertEquals(PeerFrame.ACK, ack.type());
                assertEquals(1, ack.seq());
            }
            assertTrue(agent.isAlive(), "agent died:\n" + output);
            byte[] img = Files.readAllBytes(dir.resolve("vs1.img"));
            assertEquals(0x3c, img[0]);
            assertEquals(0x3c, img[(1 << 20) - 1]);
        } finally {
            for (Socket s : hostile) {
                s.close();
            }
            agent.destroy();
            agent.waitFor(20, TimeUnit.SECONDS);
        }
        assertFalse(output.toString().contains("OutOfMemoryError"), output.toString());
    }

    private static int awaitUp(Process p, StringBuffer output) throws Exception {
        BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8));
        CompletableFuture<Integer> port = new CompletableFuture<>();
        Thread drain = new Thread(() -> {
            Pattern up = Pattern.compile("agent up: nbd=(\\d+) peer=(\\d+) control=(\\d+)");
            try {
                for (String line; (line = r.readLine()) != null; ) {
                    output.append(line).append('\n');
                    Matcher m = up.matcher(line);
                    if (m.find()) {
                        port.complete(Integer.parseInt(m.group(2)));
                    }
                }
            } catch (IOException ignored) {
                // process gone
            }
            port.completeExceptionally(new IOException("agent ended:\n" + output));
        });
        drain.setDaemon(true);
        drain.start();
        return port.get(60, TimeUnit.SECONDS);
    }

    /** True once the server has closed (EOF or reset), false on a read timeout. */
    private static boolean closedByServer(Socket s) {
        try {
            byte[] b = new byte[512];
            while (s.getInputStream().read(b) >= 0) {
                // ERROR frame, discard
            }
            return true;
        } catch (SocketTimeoutException e) {
            return false;
        } catch (IOException e) {
            return true;
        }
    }

    /** Sends bytes one by one every gapMs until the server closes; returns how many were sent. */
    private static int trickle(Socket s, byte[] bytes, long gapMs) throws Exception {
        CompletableFuture<Void> closed = new CompletableFuture<>();
        Thread reader = new Thread(() -> {
            try {
                InputStream in = s.getInputStream();
                byte[] b = new byte[512];
                while (in.read(b) >= 0) {
                    // discard
                }
            } catch (IOException ignored) {
                // reset
            }
            closed.complete(null);
        });
        reader.setDaemon(true);
        reader.start();
        int sent = 0;
        try {
            for (byte x : bytes) {
                if (closed.isDone()) {
                    break;
                }
                s.getOutputStream().write(x);
                s.getOutputStream().flush();
                sent++;
                Thread.sleep(gapMs);
            }
        } catch (IOException e) {
            // broken pipe: the server is gone
        }
        closed.get(10, TimeUnit.SECONDS);
        return sent;
    }

    private static byte[] frame(PeerFrame f) throws IOException {
        java.io.ByteArrayOutputStream bo = new java.io.ByteArrayOutputStream();
        PeerCodec c = new PeerCodec(new DataInputStream(InputStream.nullInputStream()), new DataOutputStream(bo));
        c.write(f);
        c.flush();
        return bo.toByteArray();
    }

    @Test
    void tricklingSendersAreCutByTheHandshakeAndFrameDeadlines() throws Exception {
        try (AgentPair p = new AgentPair(dir, 4 << 20, a -> a.psk(AgentPair.PSK),
                b -> { b.psk(AgentPair.PSK); b.transport.handshakeTimeoutMs(1500).frameTimeoutMs(1000); })) {
            p.ab.cut();
            int port = p.b.peerPort();
            // before authentication: a HELLO at one byte per 150 ms would take ~10 s; the handshake deadline cuts it
            byte[] hello = frame(new PeerFrame(PeerFrame.HELLO, 0, 0, 0, new byte[36]));
            try (Socket s = new Socket("127.0.0.1", port)) {
                long t0 = System.nanoTime();
                int sent = trickle(s, hello, 150);
                assertTrue(sent < hello.length, "the whole trickled HELLO was accepted");
                assertTrue(System.nanoTime() - t0 < TimeUnit.SECONDS.toNanos(8), "not cut by the deadline");
            }
            // after authentication: idle time between frames is fine, a frame that trickles is cut
            try (Socket s = new Socket("127.0.0.1", port)) {
                s.setSoTimeout(10_000);
                PeerCodec c = new PeerCodec(new DataInputStream(s.getInputStream()), new DataOutputStream(s.getOutputStream()));
                new PeerAuthenticator(AgentPair.PSK.getBytes(StandardCharsets.UTF_8)).authenticateAsClient(c);
                c.write(new PeerFrame(PeerFrame.OPEN, 0, 0, 0,
                        ("{\"disk\":\"vs1\",\"sizeBytes\":" + (4 << 20) + ",\"syncId\":\"x\"}").getBytes()));
                c.flush();
                assertEquals(PeerFrame.OPEN_OK, c.read().type());
                Thread.sleep(2500); // idle longer than both deadlines: still connected
                c.write(new PeerFrame(PeerFrame.WRITE, 0, 1, 0, data(1, new byte[4096])));
                c.write(new PeerFrame(PeerFrame.FLUSH, PeerFrame.FLAG_SYNC, 2, 0, data(2, new byte[0])));
                c.flush();
                PeerFrame ack = c.read();
                assertEquals(PeerFrame.ACK, ack.type(), "a prompt frame after idle time is accepted");
                byte[] write = frame(new PeerFrame(PeerFrame.WRITE, 0, 3, 4096, data(3, new byte[200])));
                long t0 = System.nanoTime();
                int sent = trickle(s, write, 100);
                assertTrue(sent < write.length, "the whole trickled frame was accepted");
                assertTrue(System.nanoTime() - t0 < TimeUnit.SECONDS.toNanos(6), "not cut by the frame deadline");
            }
            p.ab.restore();
            Tools.qemuIo(AgentPair.url(p.a), "write -P 0x19 0 64k").ok();
            p.syncUp(p.a);
            AgentPair.assertSameBytes(p.imageA(), p.imageB());
        }
    }

    @Test
    void connectionCapsOnPeerAndNbdPorts() throws Exception {
        try (AgentPair p = new AgentPair(dir, 4 << 20, a -> { a.psk(AgentPair.PSK); a.transport.maxNbdConnections(3); },
                b -> { b.psk(AgentPair.PSK); b.transport.maxPeerConnections(4).handshakeTimeoutMs(60_000); })) {
            // NBD: three clients get the greeting, the fourth is closed at once
            List<Socket> nbd = new ArrayList<>();
            for (int i = 0; i < 3; i++) {
                Socket s = new Socket("127.0.0.1", p.a.nbdPort());
                s.setSoTimeout(10_000);
                new DataInputStream(s.getInputStream()).readFully(new byte[18]);
                nbd.add(s);
            }
            try (Socket s = new Socket("127.0.0.1", p.a.nbdPort())) {
                s.setSoTimeout(10_000);
                assertTrue(closedByServer(s), "fourth NBD connection served");
            }
            for (Socket s : nbd) {
                s.close();
            }
            AgentPair.await("NBD slots free", 10_000, () -> {
                try (Socket s = new Socket("127.0.0.1", p.a.nbdPort())) {
                    s.setSoTimeout(2000);
                    new DataInputStream(s.getInputStream()).readFully(new byte[18]);
                    return true;
                } catch (IOException e) {
                    return false;
                }
            });
            Tools.qemuIo(AgentPair.url(p.a), "write -P 0x42 0 64k").ok();

            // peer port: with the link cut, two unauthenticated connections fill the handshake slots
            p.ab.cut();
            AgentPair.await("session down", 10_000, () -> !p.b.disk("vs1").sessionUp());
            List<Socket> idle = new ArrayList<>();
            for (int i = 0; i < 2; i++) {
                Socket s = new Socket("127.0.0.1", p.b.peerPort());
                s.setSoTimeout(1000);
                idle.add(s);
            }
            Thread.sleep(300);
            for (Socket s : idle) {
                assertFalse(closedByServer(s), "an idle connection within the cap was closed");
            }
            try (Socket s = new Socket("127.0.0.1", p.b.peerPort())) {
                s.setSoTimeout(10_000);
                assertTrue(closedByServer(s), "third unauthenticated connection served");
            }
            for (Socket s : idle) {
                s.close();
            }
            p.ab.restore();
            p.syncUp(p.a);
            AgentPair.assertSameBytes(p.imageA(), p.imageB());
        }
    }

    @Test
    void nbdHandshakeDeadline() throws Exception {
        try (AgentPair p = new AgentPair(dir, 4 << 20, a -> { a.psk(AgentPair.PSK); a.transport.handshakeTimeoutMs(1000); },
                b -> b.psk(AgentPair.PSK))) {
            try (Socket s = new Socket("127.0.0.1", p.a.nbdPort())) {
                s.setSoTimeout(10_000);
                new DataInputStream(s.getInputStream()).readFully(new byte[18]);
                s.getOutputStream().write(new byte[]{0, 0, 0, 3}); // flags, then nothing: never picks an export
                long t0 = System.nanoTime();
                assertTrue(closedByServer(s));
                assertTrue(System.nanoTime() - t0 < TimeUnit.SECONDS.toNanos(8));
            }
            Tools.qemuIo(AgentPair.url(p.a), "read 0 4k").ok(); // a real client is unaffected
        }
    }

    /** Collects the log records of one logger. */
    private static final class Capture extends Handler implements AutoCloseable {
        final List<LogRecord> records = new java.util.concurrent.CopyOnWriteArrayList<>();
        final Logger logger;

        Capture(Class<?> c) {
            logger = Logger.getLogger(c.getName());
            logger.addHandler(this);
        }

        @Override
        public void publish(LogRecord r) {
            records.add(r);
        }

        @Override
        public void flush() {
        }

        @Override
        public void close() {
            logger.removeHandler(this);
        }

        String find(String part) {
            for (LogRecord r : records) {
                if (r.getMessage().contains(part)) {
                    return r.getMessage();
                }
            }
            return null;
        }
    }

    @Test
    void untrustedNamesAreEscapedInLogs() throws Exception {
        String forged = "nope\n2026-01-01 00:00:00 SEVERE org.wanmig.replication.agent.Agent: forged\r\u2028x";
        try (AgentPair p = new AgentPair(dir, 4 << 20); Capture nbdLog = new Capture(NbdServer.class);
             Capture peerLog = new Capture(PeerServer.class)) {
            // NBD_OPT_EXPORT_NAME with a line break in the name
            try (Socket s = new Socket("127.0.0.1", p.a.nbdPort())) {
                s.setSoTimeout(10_000);
                DataInputStream in = new DataInputStream(s.getInputStream());
                in.readFully(new byte[18]);
                DataOutputStream out = new DataOutputStream(s.getOutputStream());
                byte[] name = forged.getBytes(StandardCharsets.UTF_8);
                out.writeInt(3);
                out.writeLong(0x49484156454F5054L);
                out.writeInt(1);
                out.writeInt(name.length);
                out.write(name);
                out.flush();
                assertTrue(closedByServer(s));
            }
            AgentPair.await("NBD log line", 5000, () -> nbdLog.find("unknown export") != null);
            String line = nbdLog.find("unknown export");
            assertFalse(line.contains("\n") || line.contains("\r") || line.contains("\u2028"), line);
            assertTrue(line.contains("nope\\n2026-01-01"), line);
            // peer OPEN for a disk name with a line break (after authentication)
            p.ab.cut();
            try (Socket s = new Socket("127.0.0.1", p.b.peerPort())) {
                s.setSoTimeout(10_000);
                PeerCodec c = new PeerCodec(new DataInputStream(s.getInputStream()), new DataOutputStream(s.getOutputStream()));
                new PeerAuthenticator(AgentPair.PSK.getBytes(StandardCharsets.UTF_8)).authenticateAsClient(c);
                c.write(new PeerFrame(PeerFrame.OPEN, 0, 0, 0, ("{\"disk\":\"" + forged.replace("\n", "\\n")
                        .replace("\r", "\\r") + "\",\"sizeBytes\":1,\"syncId\":\"\"}").getBytes(StandardCharsets.UTF_8)));
                c.flush();
                assertEquals(PeerFrame.ERROR, c.read().type());
            }
            AgentPair.await("peer log line", 5000, () -> peerLog.find("unknown disk") != null);
            line = peerLog.find("unknown disk");
            assertFalse(line.contains("\n") || line.contains("\r") || line.contains("\u2028"), line);
            assertTrue(line.contains("nope\\n2026-01-01"), line);
        }
    }

    /**
     * The payload limit is negotiated: B announces the smallest allowed limit, A the default, and
     * both ends then use B's. A raw client sees it too; a WRITE of exactly that size is applied,
     * one byte more is a protocol error that closes the stream before anything is written. A live
     * write larger than the negotiated limit cannot travel as one frame: it reaches B by the resync.
     */
    @Test
    void payloadLimitIsTheSmallerAnnouncementAndAFrameOverItClosesTheStream() throws Exception {
        int small = PeerAuthenticator.MIN_LIMIT;
        try (AgentPair p = new AgentPair(dir, 8 << 20, a -> a.psk(AgentPair.PSK),
                b -> { b.psk(AgentPair.PSK); b.transport.maxFramePayload(small); });
             Capture peerLog = new Capture(PeerServer.class)) {
            try (NbdTestClient a = new NbdTestClient(p.a.nbdPort(), "vs1")) {
                byte[] big = new byte[2 << 20]; // larger than the negotiated limit: one frame cannot carry it
                Arrays.fill(big, (byte) 0x5c);
                assertEquals(0, a.write(1 << 20, big));
            }
            p.syncUp(p.a);
            AgentPair.assertSameBytes(p.imageA(), p.imageB());
            p.ab.cut();
            AgentPair.await("session down", 10_000, () -> !p.b.disk("vs1").sessionUp());

            try (Socket s = new Socket("127.0.0.1", p.b.peerPort())) {
                s.setSoTimeout(10_000);
                PeerCodec c = new PeerCodec(new DataInputStream(s.getInputStream()), new DataOutputStream(s.getOutputStream()));
                new PeerAuthenticator(AgentPair.PSK.getBytes(StandardCharsets.UTF_8)).authenticateAsClient(c);
                assertEquals(small, c.limit(), "we announced the maximum, B the minimum: B's limit is the link's");
                c.write(new PeerFrame(PeerFrame.OPEN, 0, 0, 0, ("{\"disk\":\"vs1\",\"sizeBytes\":" + (8 << 20)
                        + ",\"syncId\":\"x\"}").getBytes(StandardCharsets.UTF_8)));
                c.flush();
                assertEquals(PeerFrame.OPEN_OK, c.read().type());
                byte[] fits = new byte[small - PeerFrame.DATA_PREFIX];
                Arrays.fill(fits, (byte) 0x6d);
                c.write(new PeerFrame(PeerFrame.WRITE, 0, 1, 0, data(1, fits)));
                c.write(new PeerFrame(PeerFrame.FLUSH, PeerFrame.FLAG_SYNC, 2, 0, data(2, new byte[0])));
                c.flush();
                assertEquals(PeerFrame.ACK, c.read().type(), "a frame of exactly the negotiated limit is accepted");
                byte[] over = new byte[small - PeerFrame.DATA_PREFIX + 1];
                Arrays.fill(over, (byte) 0x7e);
                // our codec refuses to send it; the raw bytes of such a frame go out anyway
                assertThrows(PeerProtocolException.class,
                        () -> c.write(new PeerFrame(PeerFrame.WRITE, 0, 3, 4 << 20, data(3, over))));
                try {
                    s.getOutputStream().write(frame(new PeerFrame(PeerFrame.WRITE, 0, 3, 4 << 20, data(3, over))));
                    s.getOutputStream().flush();
                } catch (IOException e) {
                    // broken pipe: B closed on the header, before taking the payload
                }
                assertTrue(closedByServer(s), "a frame over the negotiated limit did not close the stream");
            }
            AgentPair.await("protocol error logged", 5000, () -> peerLog.find("exceeds limit " + small) != null);
            byte[] image = Files.readAllBytes(p.imageB());
            assertEquals(0x6d, image[5]);
            assertEquals(0, image[(4 << 20) + 5], "the over-limit frame wrote nothing");
        }
    }

    /** A data frame's payload: the session's generation (0: the OPEN named none) and the primary's head sequence first. */
    private static byte[] data(long head, byte[] bytes) {
        return java.nio.ByteBuffer.allocate(PeerFrame.DATA_PREFIX + bytes.length).putLong(0).putLong(head).put(bytes).array();
    }
}
