package org.wanmig.replication;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.wanmig.replication.agent.Agent;
import org.wanmig.replication.core.DiskMeta;
import org.wanmig.replication.core.Mode;
import org.wanmig.replication.core.Role;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The switchover inside a hypervisor's pause: the replica of a live synchronous stream takes over
 * in one call (promote with takeover), the old primary is fenced by the new generation, and a
 * rollback afterwards makes the old primary primary again at a newer generation, losing nothing.
 */
@Timeout(120)
class TakeoverTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path dir;

    private static byte[] pattern(int b, int len) {
        byte[] d = new byte[len];
        java.util.Arrays.fill(d, (byte) b);
        return d;
    }

    @Test
    void replicaOfALiveSyncStreamTakesOverAndTheOldPrimaryIsFenced() throws Exception {
        try (AgentPair p = new AgentPair(dir, 8 << 20)) {
            p.syncUp(p.a);
            try (NbdTestClient a = new NbdTestClient(p.a.nbdPort(), "vs1")) {
                for (int i = 0; i < 16; i++) {
                    assertEquals(0, a.write(i * 65536L, pattern(0x40 + i, 4096)), "acknowledged at A");
                }
            }
            JsonNode took = JSON.readTree(p.ok(p.b, "POST", "/v1/disks/vs1/promote", "{\"takeover\":true}"));
            assertEquals("PRIMARY", took.get("role").asText(), took.toString());
            assertEquals(1, took.get("generation").asLong(), took.toString());
            assertTrue(took.get("lastPromote").get("handedOver").asBoolean(), "nothing can be missing: " + took);
            // A learns the new generation from B's stream (or from its own refused reconnect)
            AgentPair.await("A fenced", 10_000, () -> p.a.disk("vs1").role() == Role.REPLICA);
            assertEquals(1, p.a.disk("vs1").generation());
            try (NbdTestClient a = new NbdTestClient(p.a.nbdPort(), "vs1")) {
                assertEquals(1, a.write(0, pattern(0x77, 4096)), "the old primary refuses writes (EPERM)");
                assertEquals(0, a.flush(), "and still answers FLUSH");
            }
            byte[] b = Files.readAllBytes(p.imageB());
            for (int i = 0; i < 16; i++) {
                assertEquals(0x40 + i, b[i * 65536 + 100], "write " + i + " acknowledged at A is at B");
            }
            // B's writes reach A; then a rollback: B demoted with handover, A promoted above B
            try (NbdTestClient bc = new NbdTestClient(p.b.nbdPort(), "vs1")) {
                assertEquals(0, bc.write(3 << 20, pattern(0x55, 4096)));
            }
            p.syncUp(p.b);
            p.ok(p.b, "POST", "/v1/disks/vs1/demote", "{\"timeoutMs\":5000}");
            JsonNode back = JSON.readTree(p.ok(p.a, "POST", "/v1/disks/vs1/promote", null));
            assertEquals("PRIMARY", back.get("role").asText(), back.toString());
            assertEquals(2, back.get("generation").asLong(), "newer than B's: " + back);
            p.syncUp(p.a);
            AgentPair.assertSameBytes(p.imageA(), p.imageB());
            assertEquals(0x55, Files.readAllBytes(p.imageA())[(3 << 20) + 1]);
        }
    }

    /**
     * Back and forth: A, a SYNC primary for the move, is demoted after it; on the way back it takes
     * over again and must replicate asynchronously, like the first new primary. Its SYNC of the
     * earlier move stayed in its meta: promoted with it, every write of the guest at A waited for
     * B. The same for a promote after a demote (paper mode's reverse of roles).
     */
    @Test
    void aCopyPromotedAgainIsAsynchronousWhateverItsModeAsAnEarlierPrimary() throws Exception {
        try (AgentPair p = new AgentPair(dir, 8 << 20)) {
            p.syncUp(p.a);
            assertEquals(Mode.SYNC, p.a.disk("vs1").mode());
            p.ok(p.b, "POST", "/v1/disks/vs1/promote", "{\"takeover\":true}");
            p.ok(p.a, "POST", "/v1/disks/vs1/demote", "{\"timeoutMs\":1}");
            AgentPair.await("A a replica", 10_000, () -> p.a.disk("vs1").role() == Role.REPLICA);
            assertEquals(Mode.ASYNC, p.b.disk("vs1").mode(), "B after its take-over");
            p.syncUp(p.b);   // the move back
            // as the MMS's take-over check: until A has B's STATUS (sent every 250 ms) on its new stream
            AgentPair.await("A ready to take over", 10_000, () -> p.a.disk("vs1").takeOverLacking() == null);
            JsonNode back = JSON.readTree(p.ok(p.a, "POST", "/v1/disks/vs1/promote", "{\"takeover\":true}"));
            assertEquals("PRIMARY", back.get("role").asText(), back.toString());
            assertEquals("ASYNC", back.get("mode").asText(), "A after taking over again: " + back);
            assertEquals(Mode.ASYNC, p.a.disk("vs1").mode());
            p.ok(p.b, "POST", "/v1/disks/vs1/demote", "{\"timeoutMs\":1}");
            AgentPair.await("B a replica", 10_000, () -> p.b.disk("vs1").role() == Role.REPLICA);
            // and once more by demote then promote, B having been a SYNC primary
            p.syncUp(p.a);
            p.ok(p.a, "POST", "/v1/disks/vs1/demote", "{\"timeoutMs\":5000}");
            JsonNode promoted = JSON.readTree(p.ok(p.b, "POST", "/v1/disks/vs1/promote", null));
            assertEquals("ASYNC", promoted.get("mode").asText(), "B promoted after a demote: " + promoted);
            try (NbdTestClient b = new NbdTestClient(p.b.nbdPort(), "vs1")) {
                assertEquals(0, b.write(0, pattern(0x21, 4096)), "B writes as primary");
            }
        }
    }

    /**
     * After a take-over from the live synchronous stream, the old primary holds a prefix of the new
     * primary's content: fenced by the new generation (first test) or demoted by the MMS right after
     * the pause (second), it keeps its identity, and the new primary sends it only what it wrote
     * since, instead of hash-comparing the whole disk on both sides while the guest resumes. A block
     * changed behind the agents' back at A shows which resync ran: a full compare would overwrite it.
     */
    @Test
    void theFencedOldPrimaryKeepsItsIdentityAndGetsOnlyWhatTheNewPrimaryWroteSince() throws Exception {
        oldPrimaryKeepsItsIdentity(false);
    }

    @Test
    void theOldPrimaryDemotedAfterThePauseKeepsItsIdentity() throws Exception {
        oldPrimaryKeepsItsIdentity(true);
    }

    private void oldPrimaryKeepsItsIdentity(boolean retire) throws Exception {
        try (AgentPair p = new AgentPair(dir, 8 << 20)) {
            p.syncUp(p.a);
            try (NbdTestClient a = new NbdTestClient(p.a.nbdPort(), "vs1")) {
                for (int i = 0; i < 8; i++) {
                    assertEquals(0, a.write(i * 65536L, pattern(0x30 + i, 4096)));
                }
            }
            String identity = p.a.disk("vs1").syncId();
            assertEquals(identity, p.b.disk("vs1").syncId(), "in sync: one identity");
            p.ok(p.b, "POST", "/v1/disks/vs1/promote", "{\"takeover\":true}");
            if (retire) {
                p.ok(p.a, "POST", "/v1/disks/vs1/demote", "{\"timeoutMs\":1}");
            }
            AgentPair.await("A a replica", 10_000, () -> p.a.disk("vs1").role() == Role.REPLICA);
            assertEquals(identity, p.a.disk("vs1").syncId(), "A kept its identity");
            assertEquals(identity, p.b.disk("vs1").syncId(), "B took over with it");
            // A block neither agent writes from here, changed in A's image file directly
            int planted = 6 << 20;
            try (java.nio.channels.FileChannel ch = java.nio.channels.FileChannel.open(p.imageA(),
                    java.nio.file.StandardOpenOption.WRITE)) {
                ch.write(java.nio.ByteBuffer.wrap(pattern(0x66, 4096)), planted);
                ch.force(true);
            }
            try (NbdTestClient bc = new NbdTestClient(p.b.nbdPort(), "vs1")) {
                assertEquals(0, bc.write(2 << 20, pattern(0x55, 4096)), "B writes as primary");
            }
            p.syncUp(p.b);
            byte[] a = Files.readAllBytes(p.imageA());
            assertEquals(0x55, a[(2 << 20) + 7], "B's write since the take-over reached A");
            for (int i = 0; i < 8; i++) {
                assertEquals(0x30 + i, a[i * 65536 + 9], "A's own acknowledged write " + i);
            }
            assertEquals(0x66, a[planted + 5], "no full hash-compare: the untouched block was not rewritten");
            assertEquals(Role.REPLICA, p.a.disk("vs1").role());
        }
    }

    /**
     * The MMS's rollback of a pause whose take-over answer it never got: B took over at generation
     * 1 but neither side's stream told A. A (demoted by the rollback) becomes primary again above
     * that take-over, at 2, not at the 1 a plain promote would take and tie with; when the links
     * heal B is fenced by it and follows A, whose writes since reach it.
     */
    @Test
    void theOldPrimaryReclaimsAboveATakeOverItNeverHeardOfAndTheCopyThatTookOverFollowsIt() throws Exception {
        try (AgentPair p = new AgentPair(dir, 8 << 20)) {
            p.syncUp(p.a);
            try (NbdTestClient a = new NbdTestClient(p.a.nbdPort(), "vs1")) {
                assertEquals(0, a.write(0, pattern(0x31, 4096)));
            }
            p.ab.cut();
            p.ba.cut();
            AgentPair.await("B's session down", 10_000, () -> !p.b.disk("vs1").sessionUp());
            // B cannot take over without the live stream; it took over just before the cut (as
            // the pause's call would have): promote it the way the agent does inside the call
            assertEquals(Role.REPLICA, p.b.disk("vs1").role());
            p.b.disk("vs1").becomePrimary(false);
            assertEquals(1, p.b.disk("vs1").generation());
            p.ok(p.a, "POST", "/v1/disks/vs1/demote", "{\"timeoutMs\":1}");   // the rollback's retire
            assertEquals(0, p.a.disk("vs1").generation(), "A never heard of generation 1");

            JsonNode back = JSON.readTree(p.ok(p.a, "POST", "/v1/disks/vs1/promote", "{\"aboveTakeOver\":true}"));
            assertEquals("PRIMARY", back.get("role").asText(), back.toString());
            assertEquals(2, back.get("generation").asLong(), "above B's take-over, not tied with it: " + back);
            try (NbdTestClient a = new NbdTestClient(p.a.nbdPort(), "vs1")) {
                assertEquals(0, a.write(65536, pattern(0x32, 4096)), "A takes writes");
            }
            p.ab.restore();
            p.ba.restore();
            AgentPair.await("B fenced by A's generation", 15_000, () -> p.b.disk("vs1").role() == Role.REPLICA);
            p.syncUp(p.a);
            AgentPair.assertSameBytes(p.imageA(), p.imageB());
            assertEquals(0x32, Files.readAllBytes(p.imageB())[65536 + 3]);
            assertEquals(Role.PRIMARY, p.a.disk("vs1").role(), "A not fenced by B");
        }
    }

    /**
     * A named take-over asked again (a restarted MMS whose predecessor's call reached this copy) is
     * answered as done, also after this agent restarted; a copy primary by another take-over, or by
     * a plain promote, refuses it rather than claiming a take-over it did not do.
     */
    @Test
    void aNamedTakeoverAskedAgainIsAnsweredAsDoneAndAnotherIsRefused() throws Exception {
        try (AgentPair p = new AgentPair(dir, 8 << 20)) {
            p.syncUp(p.a);
            JsonNode took = JSON.readTree(p.ok(p.b, "POST", "/v1/disks/vs1/promote",
                    "{\"takeover\":true,\"takeoverId\":\"migration-7\"}"));
            assertEquals(1, took.get("generation").asLong(), took.toString());
            assertEquals("migration-7", took.get("lastPromote").get("takeOverId").asText(), took.toString());
            JsonNode again = JSON.readTree(p.ok(p.b, "POST", "/v1/disks/vs1/promote",
                    "{\"takeover\":true,\"takeoverId\":\"migration-7\"}"));
            assertEquals(1, again.get("generation").asLong(), "done, not done twice: " + again);
            String[] other = p.call(p.b, "POST", "/v1/disks/vs1/promote", "{\"takeover\":true,\"takeoverId\":\"migration-8\"}");
            assertEquals("409", other[0], other[1]);
            assertTrue(other[1].contains("primary already, not by take-over migration-8 (by take-over migration-7)"),
                    other[1]);

            // the name is in the metadata: a restarted agent still knows it
            AgentPair.await("B's generation durable", 5_000, () -> p.b.disk("vs1").metaDurable().isDone());
            p.b.close();
            p.b = new Agent(AgentPair.config(dir.resolve("b"), 8 << 20, Role.REPLICA, p.ba.port(), AgentPair.PSK));
            p.ab.target(new java.net.InetSocketAddress("127.0.0.1", p.b.peerPort()));
            assertEquals(Role.PRIMARY, p.b.disk("vs1").role());
            JsonNode afterRestart = JSON.readTree(p.ok(p.b, "POST", "/v1/disks/vs1/promote",
                    "{\"takeover\":true,\"takeoverId\":\"migration-7\"}"));
            assertEquals(1, afterRestart.get("generation").asLong(), afterRestart.toString());

            // a copy made primary by a plain promote did no take-over of that name
            p.ok(p.b, "POST", "/v1/disks/vs1/demote", "{\"timeoutMs\":5000}");
            AgentPair.await("A fenced or following", 10_000, () -> p.a.disk("vs1").role() == Role.REPLICA);
            p.ok(p.a, "POST", "/v1/disks/vs1/promote", null);
            String[] plain = p.call(p.a, "POST", "/v1/disks/vs1/promote", "{\"takeover\":true,\"takeoverId\":\"migration-7\"}");
            assertEquals("409", plain[0], plain[1]);
            assertTrue(plain[1].contains("primary already, not by take-over migration-7"), plain[1]);
        }
    }

    @Test
    void takeoverIsRefusedWhenTheStreamIsNotSynchronousOrNotLive() throws Exception {
        try (AgentPair p = new AgentPair(dir, 8 << 20)) {
            p.syncUp(p.a);
            p.ok(p.a, "POST", "/v1/disks/vs1/mode", "{\"mode\":\"ASYNC\"}");
            AgentPair.await("B sees ASYNC", 5_000, () -> "ASYNC".equals(status(p, p.b).get("mode").asText()));
            String[] r = p.call(p.b, "POST", "/v1/disks/vs1/promote", "{\"takeover\":true}");
            assertEquals("409", r[0], r[1]);
            assertTrue(r[1].contains("not SYNC"), r[1]);

            p.syncUp(p.a);
            p.ab.cut();
            p.ba.cut();
            AgentPair.await("B's session down", 10_000, () -> !p.b.disk("vs1").sessionUp());
            r = p.call(p.b, "POST", "/v1/disks/vs1/promote", "{\"takeover\":true}");
            assertEquals("409", r[0], r[1]);
            assertTrue(r[1].contains("not streaming"), r[1]);
            assertEquals(Role.REPLICA, p.b.disk("vs1").role(), "nothing changed at B");
            assertEquals(Role.PRIMARY, p.a.disk("vs1").role(), "nor at A");
            assertEquals("400", p.call(p.b, "POST", "/v1/disks/vs1/promote", "{\"takeover\":true,\"force\":true}")[0]);
        }
    }

    @Test
    void takeoverCheckAnswersReadyAndChangesNothingSoTheRealTakeoverStillSucceeds() throws Exception {
        try (AgentPair p = new AgentPair(dir, 8 << 20)) {
            p.syncUp(p.a);
            try (NbdTestClient a = new NbdTestClient(p.a.nbdPort(), "vs1")) {
                for (int i = 0; i < 8; i++) {
                    assertEquals(0, a.write(i * 65536L, pattern(0x20 + i, 4096)), "acknowledged at A");
                }
            }
            AgentPair.await("B sees SYNC", 5_000, () -> "SYNC".equals(status(p, p.b).get("mode").asText()));
            Path meta = DiskMeta.fileFor(p.imageB());
            JsonNode metaBefore = durableState(meta);

            JsonNode ready = JSON.readTree(p.ok(p.b, "POST", "/v1/disks/vs1/promote", "{\"takeover\":true,\"check\":true}"));
            assertTrue(ready.get("takeoverReady").asBoolean(), ready.toString());
            assertEquals("REPLICA", ready.get("role").asText(), "the answer is the status as it is: " + ready);
            assertEquals(0, ready.get("generation").asLong(), ready.toString());
            // nothing changed: role, generation, the durable metadata, the stream
            assertEquals(Role.REPLICA, p.b.disk("vs1").role());
            assertEquals(0, p.b.disk("vs1").generation());
            assertEquals(metaBefore, durableState(meta), "the metadata file holds what it held");
            assertTrue(p.b.disk("vs1").sessionUp(), "the stream from A is still live");
            assertEquals(Role.PRIMARY, p.a.disk("vs1").role(), "A untouched");
            // asking twice is harmless, and A's writes still reach B: the stream's frames are still applied
            p.ok(p.b, "POST", "/v1/disks/vs1/promote", "{\"takeover\":true,\"check\":true}");
            try (NbdTestClient a = new NbdTestClient(p.a.nbdPort(), "vs1")) {
                assertEquals(0, a.write(1 << 20, pattern(0x66, 4096)), "A still primary and replicating synchronously");
            }
            assertEquals(0x66, Files.readAllBytes(p.imageB())[(1 << 20) + 7], "the SYNC write after the check is at B");

            JsonNode took = JSON.readTree(p.ok(p.b, "POST", "/v1/disks/vs1/promote", "{\"takeover\":true}"));
            assertEquals("PRIMARY", took.get("role").asText(), took.toString());
            assertEquals(1, took.get("generation").asLong(), took.toString());
            assertTrue(took.get("lastPromote").get("handedOver").asBoolean(), took.toString());
            AgentPair.await("A fenced", 10_000, () -> p.a.disk("vs1").role() == Role.REPLICA);

            String[] again = p.call(p.b, "POST", "/v1/disks/vs1/promote", "{\"takeover\":true,\"check\":true}");
            assertEquals("409", again[0], "a primary cannot take over: " + again[1]);
            assertTrue(again[1].contains("cannot take over from the live primary: not a replica"), again[1]);
        }
    }

    @Test
    void takeoverCheckRefusesWithTheReasonWhenNotSynchronousOrNotLiveAndChangesNothing() throws Exception {
        try (AgentPair p = new AgentPair(dir, 8 << 20)) {
            p.syncUp(p.a);
            p.ok(p.a, "POST", "/v1/disks/vs1/mode", "{\"mode\":\"ASYNC\"}");
            AgentPair.await("B sees ASYNC", 5_000, () -> "ASYNC".equals(status(p, p.b).get("mode").asText()));
            Path meta = DiskMeta.fileFor(p.imageB());
            JsonNode metaBefore = durableState(meta);
            String[] r = p.call(p.b, "POST", "/v1/disks/vs1/promote", "{\"takeover\":true,\"check\":true}");
            assertEquals("409", r[0], r[1]);
            assertTrue(r[1].contains("cannot take over from the live primary: the primary replicates ASYNC, not SYNC"), r[1]);
            assertEquals(metaBefore, durableState(meta));
            assertTrue(p.b.disk("vs1").sessionUp(), "the stream goes on");

            p.ab.cut();
            p.ba.cut();
            AgentPair.await("B's session down", 10_000, () -> !p.b.disk("vs1").sessionUp());
            metaBefore = durableState(meta);
            r = p.call(p.b, "POST", "/v1/disks/vs1/promote", "{\"takeover\":true,\"check\":true}");
            assertEquals("409", r[0], r[1]);
            assertTrue(r[1].contains("the primary is not streaming to us"), r[1]);
            assertEquals(metaBefore, durableState(meta));
            assertEquals(Role.REPLICA, p.b.disk("vs1").role(), "nothing changed at B");
            assertEquals(0, p.b.disk("vs1").generation());
            assertEquals(Role.PRIMARY, p.a.disk("vs1").role(), "nor at A");
        }
    }

    @Test
    void takeoverCheckBodyIsValidated() throws Exception {
        try (AgentPair p = new AgentPair(dir, 8 << 20)) {
            String[][] bad = {
                    {"{\"takeover\":true,\"check\":\"yes\"}", "check must be a boolean"},
                    {"{\"takeover\":true,\"check\":1}", "check must be a boolean"},
                    {"{\"check\":true}", "check needs takeover"},
                    {"{\"takeover\":false,\"check\":true}", "check needs takeover"},
                    {"{\"force\":true,\"check\":true}", "check needs takeover"},
                    {"{\"takeover\":true,\"check\":true,\"force\":true}", "exclude each other"},
                    {"{\"takeover\":true,\"takeoverId\":5}", "takeoverId must be"},
                    {"{\"takeover\":true,\"takeoverId\":\"\"}", "takeoverId must be"},
                    {"{\"takeover\":true,\"takeoverId\":\"a b\"}", "takeoverId must be"},
                    {"{\"takeover\":true,\"takeoverId\":\"" + "x".repeat(129) + "\"}", "takeoverId must be"},
                    {"{\"takeoverId\":\"migration-1\"}", "takeoverId needs takeover"},
                    {"{\"aboveTakeOver\":\"yes\"}", "aboveTakeOver must be a boolean"},
                    {"{\"aboveTakeOver\":true,\"force\":true}", "aboveTakeOver excludes force and takeover"},
                    {"{\"aboveTakeOver\":true,\"takeover\":true}", "aboveTakeOver excludes force and takeover"},
            };
            for (String[] b : bad) {
                String[] r = p.call(p.b, "POST", "/v1/disks/vs1/promote", b[0]);
                assertEquals("400", r[0], b[0] + " -> " + r[1]);
                assertTrue(r[1].contains(b[1]), b[0] + " -> " + r[1]);
            }
            assertEquals(Role.REPLICA, p.b.disk("vs1").role(), "no refused body promoted anything");
            assertEquals(Role.PRIMARY, p.a.disk("vs1").role());
        }
    }

    @Test
    void theNewGenerationIsPersistedOnlyOnceTheTakeOversAnswerIsWritten() throws Exception {
        try (AgentPair p = new AgentPair(dir, 8 << 20)) {
            p.syncUp(p.a);
            AgentPair.await("B sees SYNC", 5_000, () -> "SYNC".equals(status(p, p.b).get("mode").asText()));
            Path meta = DiskMeta.fileFor(p.imageB());
            java.util.concurrent.CompletableFuture<Void> answered = new java.util.concurrent.CompletableFuture<>();
            assertEquals(1, p.b.takeOver("vs1", "migration-9", answered).generation());
            Thread.sleep(300);
            assertEquals(0, durableState(meta).get("generation").asLong(), "no persist while the answer is written");
            assertTrue(!p.b.disk("vs1").metaDurable().isDone());
            answered.complete(null);
            p.b.disk("vs1").metaDurable().get(10, java.util.concurrent.TimeUnit.SECONDS);
            assertEquals(1, durableState(meta).get("generation").asLong());
            assertEquals("PRIMARY", durableState(meta).get("role").asText());
        }
    }

    @Test
    void aWriteRightAfterTheTakeoverIsAcknowledgedOnlyOnceTheNewGenerationIsDurable() throws Exception {
        try (AgentPair p = new AgentPair(dir, 8 << 20)) {
            p.syncUp(p.a);
            AgentPair.await("B sees SYNC", 5_000, () -> "SYNC".equals(status(p, p.b).get("mode").asText()));
            java.util.concurrent.CountDownLatch persist = new java.util.concurrent.CountDownLatch(1);
            p.b.disk("vs1").holdDeferredPersist(persist);
            Path meta = DiskMeta.fileFor(p.imageB());
            java.util.concurrent.ExecutorService writer = java.util.concurrent.Executors.newSingleThreadExecutor();
            try {
                JsonNode took = JSON.readTree(p.ok(p.b, "POST", "/v1/disks/vs1/promote", "{\"takeover\":true}"));
                assertEquals("PRIMARY", took.get("role").asText(), "answered before the meta is persisted: " + took);
                assertEquals(1, took.get("generation").asLong());
                assertEquals(0, durableState(meta).get("generation").asLong(), "not on disk yet");

                java.util.concurrent.Future<Integer> write = writer.submit(() -> {
                    try (NbdTestClient b = new NbdTestClient(p.b.nbdPort(), "vs1")) {
                        return b.write(2 << 20, pattern(0x5b, 4096));
                    }
                });
                Thread.sleep(2500);   // long enough for A's reconnect, after its backoff, to meet B's generation
                assertTrue(!write.isDone(), "no acknowledgement while the generation is not durable");
                assertEquals(0, Files.readAllBytes(p.imageB())[(2 << 20) + 1], "nor the image written");
                assertEquals(Role.PRIMARY, p.a.disk("vs1").role(), "nor the generation sent to A");

                persist.countDown();
                assertEquals(0, write.get(10, java.util.concurrent.TimeUnit.SECONDS), "acknowledged once durable");
                JsonNode onDisk = durableState(meta);
                assertEquals(1, onDisk.get("generation").asLong(), onDisk.toString());
                assertEquals("PRIMARY", onDisk.get("role").asText(), onDisk.toString());
                assertEquals(0x5b, Files.readAllBytes(p.imageB())[(2 << 20) + 1]);
                AgentPair.await("A fenced once the generation is durable", 10_000,
                        () -> p.a.disk("vs1").role() == Role.REPLICA);
                assertEquals(1, p.a.disk("vs1").generation());
            } finally {
                persist.countDown();
                writer.shutdownNow();
            }
        }
    }

    @Test
    void aCrashBeforeTheGenerationIsDurableLeavesAReplicaAtTheOldGenerationThatAcknowledgedNothing() throws Exception {
        try (AgentPair p = new AgentPair(dir, 8 << 20)) {
            try (NbdTestClient a = new NbdTestClient(p.a.nbdPort(), "vs1")) {
                assertEquals(0, a.write(0, pattern(0x31, 65536)));
            }
            p.syncUp(p.a);
            AgentPair.await("B sees SYNC", 5_000, () -> "SYNC".equals(status(p, p.b).get("mode").asText()));
            java.util.concurrent.CountDownLatch persist = new java.util.concurrent.CountDownLatch(1);
            p.b.disk("vs1").holdDeferredPersist(persist);
            java.util.concurrent.ExecutorService writer = java.util.concurrent.Executors.newSingleThreadExecutor();
            Path crashed = dir.resolve("b-crashed");
            try {
                p.ok(p.b, "POST", "/v1/disks/vs1/promote", "{\"takeover\":true}");
                java.util.concurrent.Future<Integer> write = writer.submit(() -> {
                    try (NbdTestClient b = new NbdTestClient(p.b.nbdPort(), "vs1")) {
                        return b.write(0, pattern(0x77, 4096));
                    }
                });
                Thread.sleep(300);
                assertTrue(!write.isDone(), "the guest's write waits");
                // the crash: what B's files hold at this instant is all a restarted B has
                Files.createDirectories(crashed);
                for (String f : new String[] {"vs1.img", "vs1.img.wanmig.json", "vs1.img.dirty"}) {
                    if (Files.exists(p.dir.resolve("b").resolve(f))) {
                        Files.copy(p.dir.resolve("b").resolve(f), crashed.resolve(f));
                    }
                }
                assertTrue(!write.isDone(), "nothing was acknowledged before the crash");
            } finally {
                persist.countDown();
                writer.shutdownNow();
            }
            org.wanmig.replication.agent.Agent restarted = new org.wanmig.replication.agent.Agent(AgentPair.config(crashed,
                    8 << 20, Role.REPLICA, 1, AgentPair.PSK));
            try {
                assertEquals(Role.REPLICA, restarted.disk("vs1").role(), "B comes back a replica");
                assertEquals(0, restarted.disk("vs1").generation(), "at the old generation");
                byte[] image = Files.readAllBytes(crashed.resolve("vs1.img"));
                assertEquals(0x31, image[5], "the unacknowledged write never reached the image: still A's content");
                assertEquals(0x31, image[65535]);
            } finally {
                restarted.close();
            }
        }
    }

    @Test
    void theNewStreamStartsOnlyOnceTheTakeoverIsAnswered() throws Exception {
        try (AgentPair p = new AgentPair(dir, 8 << 20)) {
            p.syncUp(p.a);
            AgentPair.await("B sees SYNC", 5_000, () -> "SYNC".equals(status(p, p.b).get("mode").asText()));
            java.util.concurrent.CompletableFuture<Void> answered = new java.util.concurrent.CompletableFuture<>();
            assertEquals(Role.PRIMARY, p.b.takeOver("vs1", answered).role());
            Thread.sleep(1500);
            assertEquals(Role.PRIMARY, p.a.disk("vs1").role(), "no stream to A (which would fence it) before the answer");
            assertEquals(0, p.a.disk("vs1").generation());
            answered.complete(null);
            AgentPair.await("A fenced by B's stream once answered", 10_000, () -> p.a.disk("vs1").role() == Role.REPLICA);
            assertEquals(1, p.a.disk("vs1").generation());
        }
    }

    @Test
    void aTakeoverWhoseGenerationCannotBePersistedAcknowledgesNoWriteAndFencesNothing() throws Exception {
        try (AgentPair p = new AgentPair(dir, 8 << 20)) {
            try (NbdTestClient a = new NbdTestClient(p.a.nbdPort(), "vs1")) {
                assertEquals(0, a.write(0, pattern(0x31, 65536)));
            }
            p.syncUp(p.a);
            AgentPair.await("B sees SYNC", 5_000, () -> "SYNC".equals(status(p, p.b).get("mode").asText()));
            // a real failure of the durable replace: its temporary file cannot be opened for writing
            Path meta = DiskMeta.fileFor(p.imageB());
            Path blocker = meta.resolveSibling(meta.getFileName() + ".tmp");
            Files.createDirectories(blocker);
            try {
                JsonNode took = JSON.readTree(p.ok(p.b, "POST", "/v1/disks/vs1/promote", "{\"takeover\":true}"));
                assertEquals("PRIMARY", took.get("role").asText(), "answered before the persist: " + took);
                AgentPair.await("the deferred persist failed", 5_000,
                        () -> p.b.disk("vs1").metaDurable().isCompletedExceptionally());
                try (NbdTestClient b = new NbdTestClient(p.b.nbdPort(), "vs1")) {
                    assertEquals(5, b.write(0, pattern(0x77, 4096)), "EIO: the role is not durable, nothing acknowledged");
                    assertEquals(5, b.flush(), "nor a flush");
                }
                assertEquals(0x31, Files.readAllBytes(p.imageB())[5], "the image untouched");
                assertEquals(0, durableState(meta).get("generation").asLong(), "the old generation on disk");
                Thread.sleep(1500);   // A's reconnect would meet B's generation: it must not be shown one not durable
                assertEquals(Role.PRIMARY, p.a.disk("vs1").role(), "A not fenced by a generation B may lose");
                assertEquals(0, p.a.disk("vs1").generation());
            } finally {
                Files.deleteIfExists(blocker);
            }
        }
    }

    /** The metadata file as JSON, without the replica's currency time (the agent refreshes it every few seconds). */
    private static JsonNode durableState(Path meta) throws java.io.IOException {
        com.fasterxml.jackson.databind.node.ObjectNode n = (com.fasterxml.jackson.databind.node.ObjectNode) JSON.readTree(
                Files.readAllBytes(meta));
        n.remove("currentAtMillis");
        return n;
    }

    private static JsonNode status(AgentPair p, org.wanmig.replication.agent.Agent x) {
        try {
            return JSON.readTree(p.ok(x, "GET", "/v1/disks/vs1", null));
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }
}
