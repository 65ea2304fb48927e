package org.wanmig.replication;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.wanmig.api.Promotion;
import org.wanmig.config.WanTopology;
import org.wanmig.drivers.AgentReplicationClient;
import org.wanmig.replication.agent.Agent;
import org.wanmig.replication.core.Role;
import org.wanmig.api.Migration;
import org.wanmig.api.MigrationId;
import org.wanmig.lifecycle.MigrationManager;

import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

import static org.wanmig.replication.AgentPair.pattern;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The MMS's failover promotion against two real agents: dcA is lost (cut off, then its agent
 * killed) with writes it acknowledged that never reached dcB; the MMS promotes dcB's copy with a
 * new generation and reports the lag; dcA's agent, restarted as configured (primary), meets the
 * newer generation and becomes a fenced replica that reports its unreplicated writes, then resyncs.
 */
class FailoverPromoteTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final long SIZE = 8 << 20;

    @Test
    void theReplicaIsPromotedOnceWithANewGenerationAndTheReturningPrimaryIsFenced(@TempDir Path dir) throws Exception {
        try (AgentPair p = new AgentPair(dir, SIZE)) {
            WanTopology t = p.topology(3);
            var vs1 = t.server("vs1").orElseThrow();
            var dcA = t.dataCenter("dcA").orElseThrow();
            var dcB = t.dataCenter("dcB").orElseThrow();
            // dcA drops off the WAN, acknowledges 128 KiB more, then dies
            p.syncedThenPartitioned();
            try (NbdTestClient a = new NbdTestClient(p.a.nbdPort(), "vs1")) {
                assertEquals(0, a.write(4 << 20, pattern(0x33, 128 << 10)));
            }
            p.a.close();
            p.a = null;

            AgentReplicationClient mms = new AgentReplicationClient();
            Promotion promoted = mms.promote(vs1, dcB, dcA).get(30, TimeUnit.SECONDS);
            assertEquals(1, promoted.generation(), promoted.toString());
            assertTrue(promoted.detail().startsWith("promoted at dcB to generation 1 (forced, dcA lost)"), promoted.detail());
            assertTrue(promoted.rpoSeconds() >= 0, "the agent bounds the span lost: " + promoted);
            assertEquals(Role.PRIMARY, p.b.disk("vs1").role());
            // asked again (a new leader that lost the record of the first): nothing changes
            Promotion again = mms.promote(vs1, dcB, dcA).get(30, TimeUnit.SECONDS);
            assertEquals(1, again.generation());
            assertTrue(again.detail().startsWith("already primary at dcB"), again.detail());
            try (NbdTestClient b = new NbdTestClient(p.b.nbdPort(), "vs1")) {
                assertEquals(0, b.write(2 << 20, pattern(0x22, 64 << 10)), "the promoted copy serves writes");
            }

            // dcA comes back: its agent restarts as configured (primary) and meets generation 1
            p.a = new Agent(AgentPair.config(dir.resolve("a"), SIZE, Role.PRIMARY, p.ab.port(), AgentPair.PSK));
            p.ba.target(new InetSocketAddress("127.0.0.1", p.a.peerPort()));
            p.ab.restore();
            p.ba.restore();
            Agent back = p.a;
            AgentPair.await("A fenced", 20_000, () -> back.disk("vs1").role() == Role.REPLICA);
            try (NbdTestClient a = new NbdTestClient(p.a.nbdPort(), "vs1")) {
                assertEquals(1, a.write(0, pattern(0x44, 4096)), "split brain refused: the old primary answers EPERM");
            }
            JsonNode st = JSON.readTree(p.ok(p.a, "GET", "/v1/disks/vs1", null));
            assertEquals(1, st.get("generation").asLong(), st.toString());
            assertEquals(2 * 65536, st.get("fenced").get("unreplicatedBytes").asLong(),
                    "its acknowledged writes that never reached dcB are reported: " + st);
            // then replaced by a resync from the new primary
            p.syncUp(p.b);
            AgentPair.assertSameBytes(p.imageA(), p.imageB());
        }
    }

    /**
     * After a failover to dcB, a migration back to dcA while dcA's copy is still the stale one
     * (its link not back, no resync) never promotes it: PREPARING waits for dcB to be in sync with
     * dcA, which cannot happen, and the migration fails with dcB still the only primary.
     */
    @Test
    void aMigrationBackBeforeTheResyncNeverPromotesTheStaleCopy(@TempDir Path dir) throws Exception {
        try (AgentPair p = new AgentPair(dir, SIZE)) {
            p.syncedThenPartitioned();
            try (NbdTestClient a = new NbdTestClient(p.a.nbdPort(), "vs1")) {
                assertEquals(0, a.write(4 << 20, pattern(0x33, 64 << 10)), "written at dcA only");
            }
            MigrationManager mms = AgentPair.migrationManager(p.topology(3));
            try {
                mms.takeOver().get(10, TimeUnit.SECONDS);
                // the failover's storage and routing steps, as the FailoverRunner takes them
                assertEquals(1, mms.promote("vs1", "dcB", "dcA").get(30, TimeUnit.SECONDS).generation());
                mms.route("vs1", "dcB").get(10, TimeUnit.SECONDS);
                assertEquals("dcB", mms.location("vs1"));
                // back to dcA at once: its copy lacks dcB's generation and holds writes dcB never had
                MigrationId id = mms.startMigration("vs1", "dcA").id();
                AgentPair.await("the migration back to end", 30_000, () -> !mms.migration(id).orElseThrow().isActive());
                Migration m = mms.migration(id).orElseThrow();
                assertTrue(m.error() != null && m.error().contains("PREPARING"), m.timeline().toString());
                assertEquals(Role.PRIMARY, p.b.disk("vs1").role(), "dcB stays the primary");
                assertEquals(1, p.b.disk("vs1").generation());
                assertTrue(p.a.status("vs1").lastPromote() == null || p.a.disk("vs1").generation() < 1,
                        "dcA's stale copy was never promoted: " + p.a.status("vs1"));
                assertEquals("dcB", mms.location("vs1"));
            } finally {
                mms.shutdown();
            }
        }
    }
}
