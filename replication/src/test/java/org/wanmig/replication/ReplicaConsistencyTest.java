package org.wanmig.replication;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.wanmig.replication.bench.LinkProxy;
import org.wanmig.replication.disk.DiskImage;
import org.wanmig.replication.disk.UndoJournal;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * The replica is a prefix of the write stream after any cut: a writer writes sequence-numbered
 * 4 KiB slots through NBD at A (real agent processes), while the test cuts the A->B link (through
 * a rate-limited LinkProxy) at random points of streaming and of resync, restores it and cuts
 * again during the resync, and kills either agent with SIGKILL. After every cut the image B would
 * serve if promoted (its image, rolled back with its undo journal when its metadata says
 * "inconsistent" - the same code a promote runs) must be a prefix: every slot holds the value of
 * the last write to it among writes 1..N, for N = the highest value found. At the end the link
 * heals and A == B; then a forced promote during a resync rolls B back and reports it.
 * Seed: -Dwanmig.seed=N to replay.
 */
@Timeout(300)
class ReplicaConsistencyTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    static final int SLOT = 4096;
    static final int SLOTS = 480;
    static final int STRIDE = 16 * 1024; // 4 slots per 64 KiB resync block
    static final long SIZE = 8L << 20;

    @TempDir
    Path dir;

    /** Writes seq k (1, 2, ...) to slot slotOf[k]; retries a failed seq until some agent acks it. */
    static final class Writer implements Runnable {
        final int[] slotOf = new int[1 << 22];
        private final Random rnd;
        volatile int port;
        volatile long issued;   // slotOf[1..issued] are final
        volatile long acked;
        volatile boolean paused;
        volatile boolean idle;     // paused and no write outstanding
        volatile boolean stop;
        volatile long pauseNanos = 8_000_000; // ~100 writes/s: a resync at 16 MiB/s converges
        volatile int errors;

        Writer(long seed, int port) {
            this.rnd = new Random(seed);
            this.port = port;
        }

        static byte[] slotData(long seq, int slot) {
            ByteBuffer b = ByteBuffer.allocate(SLOT);
            b.putLong(seq).putInt(slot);
            byte fill = (byte) (seq * 31 + slot);
            while (b.position() < SLOT - 8) {
                b.put(fill);
            }
            b.putLong(seq);
            return b.array();
        }

        @Override
        public void run() {
            NbdTestClient c = null;
            long k = 1;
            while (!stop && k < slotOf.length) {
                if (paused) {
                    idle = true;
                    sleep(5);
                    continue;
                }
                idle = false;
                int s = rnd.nextInt(SLOTS);
                slotOf[(int) k] = s;
                issued = k;
                byte[] d = slotData(k, s);
                while (!stop) {
                    try {
                        if (c == null) {
                            c = new NbdTestClient(port, "vs1");
                        }
                        int err = c.write((long) s * STRIDE, d);
                        if (err != 0) {
                            throw new IOException("NBD error " + err);
                        }
                        break;
                    } catch (IOException e) {
                        errors++;
                        if (c != null) {
                            try {
                                c.close();
                            } catch (IOException ignored) {
                                // gone
                            }
                        }
                        c = null;
                        sleep(30);
                    }
                }
                acked = k;
                k++;
                java.util.concurrent.locks.LockSupport.parkNanos(pauseNanos);
            }
            if (c != null) {
                try {
                    c.close();
                } catch (IOException ignored) {
                    // done
                }
            }
        }

        private static void sleep(long ms) {
            try {
                Thread.sleep(ms);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }

    /** Null if img is a prefix of the writer's stream, else what is wrong. Also returns N via out[0]. */
    static String checkPrefix(byte[] img, Writer w, long[] out) {
        long issued = w.issued;
        long[] v = new long[SLOTS];
        long n = 0;
        for (int s = 0; s < SLOTS; s++) {
            ByteBuffer b = ByteBuffer.wrap(img, s * STRIDE, SLOT);
            long seq = b.getLong();
            if (seq == 0) {
                for (int i = 0; i < SLOT; i++) {
                    if (img[s * STRIDE + i] != 0) {
                        return "slot " + s + " is neither empty nor a whole write (torn)";
                    }
                }
            } else if (seq > issued || !java.util.Arrays.equals(Writer.slotData(seq, s), 0, SLOT, img, s * STRIDE,
                    s * STRIDE + SLOT) || w.slotOf[(int) seq] != s) {
                return "slot " + s + " holds a torn or foreign write (seq " + seq + ", issued " + issued + ")";
            }
            v[s] = seq;
            n = Math.max(n, seq);
        }
        long[] expected = new long[SLOTS];
        for (long k = 1; k <= n; k++) {
            expected[w.slotOf[(int) k]] = k;
        }
        int bad = 0;
        StringBuilder sb = new StringBuilder();
        for (int s = 0; s < SLOTS; s++) {
            if (v[s] != expected[s]) {
                if (bad++ < 5) {
                    sb.append(" slot ").append(s).append(": has ").append(v[s]).append(", prefix ").append(n)
                            .append(" needs ").append(expected[s]).append(';');
                }
            }
        }
        out[0] = n;
        return bad == 0 ? null : bad + " of " + SLOTS + " slots are from no single point of the stream:" + sb;
    }

    /** What B would serve if promoted now: its image, rolled back when its metadata says inconsistent. */
    static byte[] promotableImage(Path image, Path scratch) throws IOException {
        JsonNode meta = JSON.readTree(Files.readAllBytes(image.resolveSibling("vs1.img.wanmig.json")));
        Files.copy(image, scratch, StandardCopyOption.REPLACE_EXISTING);
        if (meta.has("consistent") && !meta.get("consistent").asBoolean()) {
            try (DiskImage copy = DiskImage.open(scratch, 0)) {
                UndoJournal.applyTo(UndoJournal.fileFor(image), copy);
            }
        }
        return Files.readAllBytes(scratch);
    }

    private static boolean inconsistentOnDisk(Path image) throws IOException {
        JsonNode meta = JSON.readTree(Files.readAllBytes(image.resolveSibling("vs1.img.wanmig.json")));
        return meta.has("consistent") && !meta.get("consistent").asBoolean();
    }

    private static void awaitSessionDown(AgentProcess b) throws Exception {
        long deadline = System.currentTimeMillis() + 15_000;
        while (b.status().get("peerConnected").asBoolean()) {
            if (System.currentTimeMillis() > deadline) {
                fail("replica still connected after the cut");
            }
            Thread.sleep(20);
        }
    }

    /** After a restore: the primary reconnects (with its backoff) and the replica's session opens. */
    private static void awaitSessionUp(AgentProcess b) throws Exception {
        long deadline = System.currentTimeMillis() + 15_000;
        while (!b.status().get("peerConnected").asBoolean()) {
            if (System.currentTimeMillis() > deadline) {
                fail("primary did not reconnect after the restore");
            }
            Thread.sleep(10);
        }
    }

    /**
     * The pair both tests run: A (primary) and B (replica) as agent processes, each reaching the
     * other only through a LinkProxy (ab carries A's stream to B), and the slot writer at A's NBD
     * port. Closing stops the writer before the agents and keeps both agents' logs in
     * target/consistency-logs (named with logPrefix) for a look after a failure.
     */
    private final class ProcessPair implements AutoCloseable {
        final LinkProxy ab = new LinkProxy(new InetSocketAddress("127.0.0.1", 0), null);
        final LinkProxy ba = new LinkProxy(new InetSocketAddress("127.0.0.1", 0), null);
        final AgentProcess a = new AgentProcess(dir.resolve("a"), "PRIMARY", SIZE, ab.port());
        final AgentProcess b = new AgentProcess(dir.resolve("b"), "REPLICA", SIZE, ba.port());
        private final String logPrefix;
        private Writer writer;
        private Thread writerThread;

        ProcessPair(String logPrefix) throws IOException {
            this.logPrefix = logPrefix;
        }

        void start() throws Exception {
            a.start();
            b.start();
            ab.target(new InetSocketAddress("127.0.0.1", b.peer));
            ba.target(new InetSocketAddress("127.0.0.1", a.peer));
        }

        Writer startWriter(long seed) {
            writer = new Writer(seed, a.nbd);
            writerThread = new Thread(writer, "slot-writer");
            writerThread.start();
            return writer;
        }

        /** B was killed: it starts again and A's stream reaches it through ab. */
        void restartB() throws Exception {
            b.start();
            ab.target(new InetSocketAddress("127.0.0.1", b.peer));
        }

        /** A was killed: it starts again, the writer writes to it, B's side of the link reaches it. */
        void restartA() throws Exception {
            a.start();
            writer.port = a.nbd;
            ba.target(new InetSocketAddress("127.0.0.1", a.peer));
        }

        @Override
        public void close() throws Exception {
            if (writer != null) {
                writer.stop = true;
                writerThread.join(5000);
            }
            a.close();
            b.close();
            ab.close();
            ba.close();
            Path keep = Path.of("target", "consistency-logs");
            Files.createDirectories(keep);
            for (AgentProcess x : new AgentProcess[]{a, b}) {
                if (Files.exists(x.log())) {
                    Files.copy(x.log(), keep.resolve(logPrefix + x.log().getParent().getFileName() + ".log"),
                            StandardCopyOption.REPLACE_EXISTING);
                }
            }
        }
    }

    @Test
    void replicaIsAPrefixAfterEveryCutAndKill() throws Exception {
        long seed = Long.getLong("wanmig.seed", System.nanoTime());
        Random r = new Random(seed);
        String tag = "seed " + seed + " (replay with -Dwanmig.seed=" + seed + ")";
        System.out.println("ReplicaConsistencyTest: " + tag);
        Path scratch = dir.resolve("scratch.img");
        List<String> events = new ArrayList<>();
        try (ProcessPair p = new ProcessPair("")) {
            AgentProcess a = p.a;
            AgentProcess b = p.b;
            LinkProxy ab = p.ab;
            p.start();
            // A resync pass over the whole disk takes ~0.5 s, during which ~50 writes dirty blocks
            // again: passes shrink geometrically (the resync converges) with room to cut inside one.
            ab.rateLimit(16 << 20);
            Writer w = p.startWriter(seed);
            AgentPair.await("link up", 20_000, () -> { try { return a.status().get("peerConnected").asBoolean(); }
                catch (Exception e) { return false; } });

            int checks = 0;
            int midResync = 0;
            int mixedRaw = 0;
            int killsA = 0;
            int killsB = 0;
            long t0 = System.currentTimeMillis();
            for (int i = 0; checks < 22 || midResync < 8 || killsA < 2 || killsB < 2; i++) {
                // A bound on events, not on time (the shared machine's load decides the time): one
                // that never lands inside a resync would otherwise loop until the class timeout.
                assertTrue(i < 60, "not 8 checks inside a resync in 60 events: " + checks + " checks, "
                        + midResync + " mid-resync, " + tag + "\n" + String.join("\n", events));
                ab.restore();
                awaitSessionUp(b);
                int kind = r.nextInt(10);
                if (kind < 3) {
                    // let the resync finish, then cut while streaming
                    long deadline = System.currentTimeMillis() + 5_000;
                    while (System.currentTimeMillis() < deadline) {
                        JsonNode s = b.status();
                        if (s.get("peerConnected").asBoolean() && s.get("consistent").asBoolean()
                                && !s.get("behind").asBoolean()) {
                            break;
                        }
                        Thread.sleep(20);
                    }
                    Thread.sleep(r.nextInt(300));
                } else {
                    Thread.sleep(r.nextInt(500)); // most often inside the resync of the last cut
                }
                int ev = i % 7 == 3 ? 1 : i % 7 == 5 ? 2 : 0; // regular kills of both sides, cuts otherwise
                String what;
                if (ev == 0) {
                    ab.cut();
                    awaitSessionDown(b);
                    what = "cut";
                } else if (ev == 1) {
                    b.kill9();
                    killsB++;
                    what = "kill -9 B";
                } else {
                    ab.cut(); // A dies with the link: B must see the session end before we look
                    a.kill9();
                    awaitSessionDown(b);
                    killsA++;
                    what = "kill -9 A";
                }
                boolean inconsistent = inconsistentOnDisk(b.image());
                long[] n = new long[1];
                String bad = checkPrefix(promotableImage(b.image(), scratch), w, n);
                checks++;
                String raw = "";
                if (inconsistent) {
                    midResync++;
                    // For contrast: the image as it lies, which promote without rollback would serve.
                    String mixed = checkPrefix(Files.readAllBytes(b.image()), w, new long[1]);
                    raw = mixed == null ? ", raw image also a prefix" : ", raw image: " + mixed.replaceAll(":.*", "");
                    if (mixed != null) {
                        mixedRaw++;
                    }
                }
                events.add(String.format("%3d %-10s at writer seq %6d: B %s, promotable image = prefix %d%s",
                        checks, what, w.acked, inconsistent ? "INCONSISTENT (rolled back)" : "consistent", n[0], raw));
                if (bad != null) {
                    fail("after " + what + " (check " + checks + "): " + bad + "\n" + tag + "\n" + String.join("\n", events));
                }
                if (ev == 1) {
                    p.restartB();
                } else if (ev == 2) {
                    p.restartA();
                }
                Thread.sleep(100 + r.nextInt(600)); // writes while cut: the next restore starts a resync
            }
            events.forEach(System.out::println);
            System.out.println("ReplicaConsistencyTest: " + checks + " checks, " + midResync + " inside a resync ("
                    + mixedRaw + " with a raw image that is no prefix), "
                    + killsA + " kill -9 A, " + killsB + " kill -9 B, " + w.acked + " writes, "
                    + (System.currentTimeMillis() - t0) + " ms");

            // heal: everything acknowledged arrives, images equal
            ab.restore();
            ab.rateLimit(0);
            w.paused = true;
            Writer pw = w;
            AgentPair.await("writer idle", 30_000, () -> pw.idle);
            long last = w.acked;
            a.call("POST", "/v1/disks/vs1/mode", "{\"mode\":\"SYNC\"}", 200);
            a.call("POST", "/v1/disks/vs1/wait-sync", "{\"timeoutMs\":45000}", 200);
            long[] na = new long[1];
            long[] nb = new long[1];
            byte[] ia = Files.readAllBytes(a.image());
            byte[] ib = Files.readAllBytes(b.image());
            if (!java.util.Arrays.equals(ia, ib)) {
                String pa = checkPrefix(ia, w, na);
                String pb = checkPrefix(ib, w, nb);
                StringBuilder d = new StringBuilder();
                for (int sl = 0; sl < SLOTS && d.length() < 600; sl++) {
                    long va = ByteBuffer.wrap(ia, sl * STRIDE, 8).getLong();
                    long vb = ByteBuffer.wrap(ib, sl * STRIDE, 8).getLong();
                    if (va != vb) {
                        d.append(" slot ").append(sl).append(" A=").append(va).append(" B=").append(vb).append(';');
                    }
                }
                Thread.sleep(1000);
                boolean later = java.util.Arrays.equals(Files.readAllBytes(a.image()), Files.readAllBytes(b.image()));
                fail("A != B after wait-sync: A prefix " + na[0] + " (" + pa + "), B prefix " + nb[0] + " (" + pb
                        + "), last acked " + last + ", writer acked now " + w.acked + ";" + d + " equal 1 s later: " + later
                        + "\n" + tag + "\nA: " + a.status() + "\nB: " + b.status());
            }
            long[] n = new long[1];
            assertEquals(null, checkPrefix(Files.readAllBytes(b.image()), w, n));
            assertEquals(last, n[0] >= last ? last : n[0], "an acknowledged write is missing at B");
            a.call("POST", "/v1/disks/vs1/mode", "{\"mode\":\"ASYNC\"}", 200);

            // a forced failover in the middle of a resync rolls B back and says so
            ab.rateLimit(4 << 20);
            JsonNode st = null;
            for (int attempt = 0; attempt < 8; attempt++) {
                ab.cut();
                w.paused = false;
                Thread.sleep(600);
                ab.restore();
                awaitSessionUp(b);
                // cut as soon as the resync has started overwriting (it lasts ~1 s at this rate)
                long until = System.currentTimeMillis() + 5_000;
                while (b.status().get("consistent").asBoolean() && System.currentTimeMillis() < until) {
                    Thread.sleep(5);
                }
                ab.cut();
                awaitSessionDown(b);
                st = b.status();
                if (!st.get("consistent").asBoolean()) {
                    break;
                }
            }
            w.paused = true;
            assertFalse(st.get("consistent").asBoolean(), "never caught B inside a resync: " + st);
            JsonNode refused = b.call("POST", "/v1/disks/vs1/promote", "{}", 409);
            assertTrue(refused.get("error").asText().contains("inconsistent"), refused.toString());
            JsonNode pr = b.call("POST", "/v1/disks/vs1/promote", "{\"force\":true}", 200);
            JsonNode rep = pr.get("lastPromote");
            assertTrue(rep.get("rolledBack").asBoolean(), pr.toString());
            assertTrue(rep.get("rolledBackBytes").asLong() > 0, pr.toString());
            assertTrue(rep.get("rpoSeconds").asDouble() > 0, pr.toString());
            assertTrue(pr.get("consistent").asBoolean(), pr.toString());
            assertEquals("PRIMARY", pr.get("role").asText());
            assertFalse(Files.exists(UndoJournal.fileFor(b.image())), "journal left after rollback");
            String bad = checkPrefix(Files.readAllBytes(b.image()), w, n);
            assertEquals(null, bad, "promoted image after rollback");
            System.out.println("ReplicaConsistencyTest: forced promote inside a resync: " + rep
                    + ", restored prefix " + n[0] + " of " + w.acked + " writes");
        }
    }

    /**
     * The real failover path after a crash: B (a separate agent process) is killed with SIGKILL
     * while a resync is overwriting it, once its image on disk is a torn mix (no prefix: checked),
     * restarted cut off from A (so the resync cannot finish), and force-promoted through the
     * control API. The image it then serves over NBD (read back with nbdcopy) must be a prefix of
     * the write stream: the agent's own rollback, not a re-implementation of it, is what is checked.
     */
    @Test
    @Timeout(120)
    void forcedPromoteAfterKillInsideAResyncServesAPrefix() throws Exception {
        Tools.require("nbdcopy");
        long seed = Long.getLong("wanmig.seed", System.nanoTime());
        String tag = "seed " + seed + " (replay with -Dwanmig.seed=" + seed + ")";
        System.out.println("ReplicaConsistencyTest kill+promote: " + tag);
        try (ProcessPair p = new ProcessPair("kill-promote-")) {
            AgentProcess a = p.a;
            AgentProcess b = p.b;
            LinkProxy ab = p.ab;
            LinkProxy ba = p.ba;
            p.start();
            Writer w = p.startWriter(seed);
            awaitSessionUp(b);
            // the initial sync ends and writes stream to B: its last consistent state is not empty
            AgentPair.await("initial sync done", 30_000, () -> {
                try {
                    JsonNode s = a.status();
                    return s.get("peerConnected").asBoolean() && s.get("resyncRemainingBytes").asLong() == 0
                            && b.status().get("consistent").asBoolean();
                } catch (Exception e) {
                    return false;
                }
            });
            Thread.sleep(300);
            ab.rateLimit(4 << 20); // from now on a resync after a 600 ms cut takes about a second

            // Kill B once the resync has overwritten part of it: its image on disk is then a torn mix
            // (checked below, so the test cannot pass by killing B before any overwrite).
            Random r = new Random(seed);
            boolean killedInside = false;
            String rawMix = null;
            for (int attempt = 0; attempt < 12 && rawMix == null; attempt++) {
                ab.cut();
                awaitSessionDown(b);
                Thread.sleep(600); // writes while cut: the restore starts a resync that overwrites B
                ab.restore();
                awaitSessionUp(b);
                long until = System.currentTimeMillis() + 5_000;
                while (b.status().get("consistent").asBoolean() && System.currentTimeMillis() < until) {
                    Thread.sleep(5);
                }
                Thread.sleep(100 + r.nextInt(400)); // into the overwriting (the resync lasts about a second)
                if (!b.status().get("consistent").asBoolean()) {
                    b.kill9();
                    killedInside = inconsistentOnDisk(b.image());
                    rawMix = killedInside ? checkPrefix(Files.readAllBytes(b.image()), w, new long[1]) : null;
                    if (rawMix == null) { // the resync ended first, or had not overwritten yet: go again
                        p.restartB();
                    }
                }
            }
            assertTrue(killedInside && rawMix != null, "never killed B inside a resync with a torn image on disk, "
                    + tag);
            System.out.println("ReplicaConsistencyTest kill+promote: B killed, its image on disk: " + rawMix);
            ab.cut(); // the restarted B stays away from A: the resync cannot finish
            ba.cut(); // and B, once primary, does not reach A either
            b.start();
            JsonNode st = b.status();
            assertFalse(st.get("consistent").asBoolean(), "restarted B forgot it is inconsistent: " + st);
            JsonNode refused = b.call("POST", "/v1/disks/vs1/promote", "{}", 409);
            assertTrue(refused.get("error").asText().contains("inconsistent"), refused.toString());
            JsonNode pr = b.call("POST", "/v1/disks/vs1/promote", "{\"force\":true}", 200);
            JsonNode rep = pr.get("lastPromote");
            assertTrue(rep.get("rolledBack").asBoolean(), pr.toString());
            assertEquals("PRIMARY", pr.get("role").asText(), pr.toString());
            assertTrue(pr.get("consistent").asBoolean(), pr.toString());

            Path served = dir.resolve("served.img");
            Tools.run(java.time.Duration.ofSeconds(60), "nbdcopy", "nbd://127.0.0.1:" + b.nbd + "/vs1",
                    served.toString()).ok();
            long[] n = new long[1];
            String bad = checkPrefix(Files.readAllBytes(served), w, n);
            assertEquals(null, bad, "image served by B after kill -9 inside a resync and forced promote, " + tag);
            assertTrue(n[0] > 0, "B served the empty image, the check proves nothing, " + tag);
            System.out.println("ReplicaConsistencyTest kill+promote: " + rep + ", served prefix " + n[0]
                    + " of " + w.acked + " writes");
        }
    }
}
