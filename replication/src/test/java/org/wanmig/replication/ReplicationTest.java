package org.wanmig.replication;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.wanmig.replication.core.DiskStatus;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Writes through NBD at A arrive byte-for-byte at B, in both modes, across link cuts. */
@Timeout(180)
class ReplicationTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path dir;

    private static DiskStatus status(AgentPair p, org.wanmig.replication.agent.Agent x) throws Exception {
        return JSON.readValue(p.ok(x, "GET", "/v1/disks/vs1", null), DiskStatus.class);
    }

    @Test
    void asyncWritesReachReplica() throws Exception {
        try (AgentPair p = new AgentPair(dir, 16 << 20)) {
            AgentPair.await("peer link", 10_000, () -> p.a.disk("vs1").isLinkUp());
            Tools.qemuIo(AgentPair.url(p.a), "write -P 0xab 0 1M", "write -P 0x17 5M 3M", "write -z 5M 64k").ok();
            // ASYNC: wait for the backlog to drain, then compare
            AgentPair.await("async drain", 30_000, () -> p.a.disk("vs1").status().lagBytes() == 0);
            AgentPair.assertSameBytes(p.imageA(), p.imageB());
            byte[] b = Files.readAllBytes(p.imageB());
            assertEquals((byte) 0xab, b[12345]);
            assertEquals((byte) 0x17, b[(6 << 20) + 7]);
            assertEquals(0, b[(5 << 20) + 100]);
        }
    }

    @Test
    void syncWritesAreAtReplicaBeforeAck() throws Exception {
        try (AgentPair p = new AgentPair(dir, 16 << 20)) {
            p.syncUp(p.a);
            DiskStatus s = status(p, p.a);
            assertTrue(s.inSync());
            assertEquals("SYNC", s.mode().name());
            Tools.qemuIo(AgentPair.url(p.a), "write -P 0xcd 1M 2M").ok();
            // No waiting: in SYNC mode the ack to qemu-io implies B has the data durable.
            AgentPair.assertSameBytes(p.imageA(), p.imageB());
            Tools.Result fio = Tools.run(Duration.ofSeconds(90), "fio", "--name=t", "--ioengine=nbd",
                    "--uri=" + AgentPair.url(p.a), "--rw=randwrite", "--bs=4k", "--size=8M", "--io_size=2M",
                    "--iodepth=4", "--randrepeat=0");
            fio.ok();
            AgentPair.assertSameBytes(p.imageA(), p.imageB());
            // the replica sees that it is in sync, too
            DiskStatus rb = status(p, p.b);
            assertEquals("REPLICA", rb.role().name());
            assertTrue(rb.peerConnected());
        }
    }

    @Test
    void nbdcopyAndFioInAsyncMode() throws Exception {
        try (AgentPair p = new AgentPair(dir, 32 << 20)) {
            Path src = dir.resolve("src.raw");
            byte[] data = new byte[32 << 20];
            new java.util.Random(7).nextBytes(data);
            Files.write(src, data);
            Tools.run(Duration.ofSeconds(60), "nbdcopy", src.toString(), AgentPair.url(p.a)).ok();
            Tools.run(Duration.ofSeconds(90), "fio", "--name=t", "--ioengine=nbd", "--uri=" + AgentPair.url(p.a),
                    "--rw=randwrite", "--bs=4k", "--size=32M", "--io_size=4M", "--iodepth=8", "--randrepeat=0").ok();
            p.syncUp(p.a);
            AgentPair.assertSameBytes(p.imageA(), p.imageB());
        }
    }

    @Test
    void replicaIsAlwaysAPrefixOfTheWriteStream() throws Exception {
        try (AgentPair p = new AgentPair(dir, 4 << 20)) {
            AgentPair.await("peer link", 10_000, () -> p.a.disk("vs1").isLinkUp());
            p.ab.rateLimit(256 * 1024); // slow link: the replica lags and we can watch it catch up
            // Round i writes pattern i to region X, then to region Y. In any prefix of the stream,
            // Y can only hold round i if X already holds round i or later, and neither goes back.
            String[] cmds = new String[60];
            for (int i = 0; i < 30; i++) {
                cmds[2 * i] = "write -P " + (i + 1) + " 0 64k";
                cmds[2 * i + 1] = "write -P " + (i + 1) + " 2M 64k";
            }
            Tools.qemuIo(AgentPair.url(p.a), cmds).ok();
            int lastX = 0;
            int lastY = 0;
            int samples = 0;
            int distinctStates = 0;
            long deadline = System.currentTimeMillis() + 60_000;
            try (java.nio.channels.FileChannel ch = java.nio.channels.FileChannel.open(p.imageB())) {
                while (lastY < 30 && System.currentTimeMillis() < deadline) {
                    java.nio.ByteBuffer y = java.nio.ByteBuffer.allocate(1);
                    java.nio.ByteBuffer x = java.nio.ByteBuffer.allocate(1);
                    ch.read(y, 2 << 20); // read Y first: X can only have advanced since
                    ch.read(x, 0);
                    int vx = x.get(0) & 0xff;
                    int vy = y.get(0) & 0xff;
                    assertTrue(vx >= vy, "replica holds round " + vy + " in Y but only " + vx + " in X: reordered");
                    assertTrue(vx >= lastX && vy >= lastY, "replica went backwards");
                    if (vx != lastX || vy != lastY) {
                        distinctStates++;
                    }
                    lastX = vx;
                    lastY = vy;
                    samples++;
                    Thread.sleep(2);
                }
            }
            assertEquals(30, lastY, "replica never caught up");
            assertTrue(distinctStates > 3, "only " + distinctStates + " states seen in " + samples
                    + " samples: the test did not observe the replica lagging");
        }
    }

    @Test
    void linkCutMidStreamLosesNothing() throws Exception {
        try (AgentPair p = new AgentPair(dir, 16 << 20)) {
            AgentPair.await("peer link", 10_000, () -> p.a.disk("vs1").isLinkUp());
            // Overlapping writes with distinct patterns: a lost or reordered write leaves a wrong pattern.
            for (int round = 0; round < 12; round++) {
                int pat = 0x10 + round;
                Tools.qemuIo(AgentPair.url(p.a), "write -P " + pat + " " + (round % 4) + "M 2M").ok();
                if (round == 3 || round == 8) {
                    p.ab.cut();
                }
                if (round == 5 || round == 10) {
                    p.ab.restore();
                }
            }
            DiskStatus during = status(p, p.a);
            assertEquals("PRIMARY", during.role().name());
            p.ab.restore();
            p.syncUp(p.a);
            AgentPair.assertSameBytes(p.imageA(), p.imageB());
        }
    }

    @Test
    void resyncSendsOnlyDirtyBlocks() throws Exception {
        try (AgentPair p = new AgentPair(dir, 64 << 20)) {
            p.syncUp(p.a);
            p.ab.cut();
            AgentPair.await("link down", 10_000, () -> !p.a.disk("vs1").isLinkUp());
            // Writes keep being served while the peer is away; they are tracked as dirty.
            Tools.qemuIo(AgentPair.url(p.a), "write -P 0x42 8M 1M", "write -P 0x43 40M 512k").ok();
            DiskStatus s = status(p, p.a);
            assertFalse(s.inSync());
            assertFalse(s.peerConnected());
            assertEquals(1536 * 1024, s.resyncRemainingBytes());
            p.ab.resetCounters();
            p.ab.restore();
            p.ok(p.a, "POST", "/v1/disks/vs1/wait-sync", "{\"timeoutMs\":30000}");
            AgentPair.assertSameBytes(p.imageA(), p.imageB());
            long shipped = p.ab.forwardBytes();
            assertTrue(shipped >= 1536 * 1024, "shipped " + shipped);
            assertTrue(shipped < 1536 * 1024 + 256 * 1024, "resync shipped " + shipped + " bytes for 1.5 MiB dirty");
        }
    }

    @Test
    void initialSyncSkipsEqualAndZeroExtents() throws Exception {
        long size = 32 << 20;
        Files.createDirectories(dir.resolve("a"));
        Files.createDirectories(dir.resolve("b"));
        byte[] content = new byte[(int) size];
        java.util.Random rnd = new java.util.Random(1);
        // 8 MiB of data at 0, the rest zero (sparse-ish image)
        byte[] head = new byte[8 << 20];
        rnd.nextBytes(head);
        System.arraycopy(head, 0, content, 0, head.length);
        Files.write(dir.resolve("a/vs1.img"), content);
        // B already has the first 6 MiB equal and 2 MiB different
        byte[] bContent = content.clone();
        for (int i = 6 << 20; i < (8 << 20); i++) {
            bContent[i] ^= 0x5a;
        }
        Files.write(dir.resolve("b/vs1.img"), bContent);
        try (AgentPair p = new AgentPair(dir, size)) {
            p.syncUp(p.a);
            AgentPair.assertSameBytes(p.imageA(), p.imageB());
            long shipped = p.ab.forwardBytes();
            assertTrue(shipped >= 2 << 20, "shipped " + shipped);
            assertTrue(shipped < (2 << 20) + 512 * 1024, "initial sync shipped " + shipped
                    + " bytes; only 2 MiB differed");
        }
    }

    @Test
    void wrongKeyPeerIsRefused() throws Exception {
        try (AgentPair p = new AgentPair(dir, 4 << 20, AgentPair.PSK, "a-different-key-0123456789abcdef")) {
            Tools.qemuIo(AgentPair.url(p.a), "write -P 0x99 0 64k").ok();
            Thread.sleep(1500);
            assertFalse(p.a.disk("vs1").isLinkUp());
            assertFalse(p.b.disk("vs1").sessionUp());
            byte[] b = Files.readAllBytes(p.imageB());
            assertEquals(0, b[100], "data reached an unauthenticated peer");
            String[] r = p.call(p.a, "POST", "/v1/disks/vs1/wait-sync", "{\"timeoutMs\":300}");
            assertEquals("408", r[0], r[1]);
            JsonNode n = JSON.readTree(r[1]);
            assertEquals("timeout", n.get("error").asText());
        }
    }

    @Test
    void promoteDemoteReversesDirection() throws Exception {
        try (AgentPair p = new AgentPair(dir, 8 << 20)) {
            Tools.qemuIo(AgentPair.url(p.a), "write -P 0x61 0 1M").ok();
            p.syncUp(p.a);
            // B is in sync but A is still primary and streaming: promote must refuse
            String[] early = p.call(p.b, "POST", "/v1/disks/vs1/promote", null);
            assertEquals("409", early[0], early[1]);
            JsonNode d = JSON.readTree(p.ok(p.a, "POST", "/v1/disks/vs1/demote", null));
            assertEquals("REPLICA", d.get("role").asText());
            p.ok(p.a, "POST", "/v1/disks/vs1/demote", null); // idempotent
            JsonNode pr = JSON.readTree(p.ok(p.b, "POST", "/v1/disks/vs1/promote", null));
            assertEquals("PRIMARY", pr.get("role").asText());
            p.ok(p.b, "POST", "/v1/disks/vs1/promote", null); // idempotent
            // A now advertises a writable export but refuses writes (EPERM)
            Tools.Result ro = Tools.run(Duration.ofSeconds(30), "nbdinfo", AgentPair.url(p.a)).ok();
            assertTrue(ro.output.contains("is_read_only: false"), ro.output);
            Tools.Result w = Tools.qemuIo(AgentPair.url(p.a), "write -P 0x01 0 4k");
            assertTrue(w.output.contains("Operation not permitted"), w.output);
            // B writes flow to A
            Tools.qemuIo(AgentPair.url(p.b), "write -P 0x62 512k 1M").ok();
            p.syncUp(p.b);
            AgentPair.assertSameBytes(p.imageA(), p.imageB());
            byte[] a = Files.readAllBytes(p.imageA());
            assertEquals((byte) 0x61, a[1000]);
            assertEquals((byte) 0x62, a[(512 << 10) + 1000]);
            assertEquals((byte) 0x62, a[(1 << 20) + 1000]);
        }
    }
    /**
     * A link that still counts as connected but carries nothing (the peer's host gone without a
     * FIN) shows in peerSilentMillis long before the idle timeout ends it: what the MMS's loss
     * detection asks a surviving agent.
     */
    @Test
    void peerSilenceShowsAStalledLinkThatStillCountsAsConnected() throws Exception {
        try (AgentPair p = new AgentPair(dir, 4 << 20)) {
            AgentPair.await("peer link", 10_000, () -> p.a.disk("vs1").isLinkUp() && p.b.disk("vs1").sessionUp());
            Thread.sleep(600); // a few heartbeats each way
            DiskStatus a = status(p, p.a);
            DiskStatus b = status(p, p.b);
            assertTrue(a.peerConnected() && b.peerConnected());
            assertTrue(a.peerSilentMillis() >= 0 && a.peerSilentMillis() < 1000, "primary hears acks: " + a.peerSilentMillis());
            assertTrue(b.peerSilentMillis() >= 0 && b.peerSilentMillis() < 1000, "replica hears heartbeats: " + b.peerSilentMillis());
            p.ab.delayMs(60_000); // A's frames stop reaching B; the connection stays open
            AgentPair.await("replica hears nothing", 10_000, () -> p.b.disk("vs1").status().peerSilentMillis() >= 2000);
            b = status(p, p.b);
            assertTrue(b.peerConnected(), "still connected: the idle timeout has not ended it yet");
            // and B's acks stop with A's heartbeats, so A hears nothing either
            AgentPair.await("primary hears nothing", 10_000, () -> p.a.disk("vs1").status().peerSilentMillis() >= 2000);
        }
    }
}
