package org.wanmig.replication;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
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

    private static JsonNode status(AgentPair p, org.wanmig.replication.agent.Agent x) {
        try {
            return JSON.readTree(p.ok(x, "GET", "/v1/disks/vs1", null));
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }
}
