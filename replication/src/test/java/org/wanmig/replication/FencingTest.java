package org.wanmig.replication;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.wanmig.replication.core.ReplicatedDisk;
import org.wanmig.replication.core.Role;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.logging.Handler;
import java.util.logging.Level;
import java.util.logging.LogRecord;
import java.util.logging.Logger;

import static org.wanmig.replication.AgentPair.pattern;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Generations: after a failover the old primary that comes back is fenced, reports, and is overwritten. */
@Timeout(120)
class FencingTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path dir;

    @Test
    void oldPrimaryReturningAfterFailoverIsFencedReportsAndResyncs() throws Exception {
        List<String> warnings = Collections.synchronizedList(new ArrayList<>());
        Handler capture = new Handler() {
            @Override public void publish(LogRecord r) {
                if (r.getLevel().intValue() >= Level.WARNING.intValue()) {
                    warnings.add(r.getMessage());
                }
            }
            @Override public void flush() { }
            @Override public void close() { }
        };
        Logger diskLog = Logger.getLogger(ReplicatedDisk.class.getName());
        diskLog.addHandler(capture);
        try (AgentPair p = new AgentPair(dir, 8 << 20)) {
            // A's data center drops off the WAN
            p.syncedThenPartitioned();
            // unplanned failover to B
            JsonNode pr = JSON.readTree(p.ok(p.b, "POST", "/v1/disks/vs1/promote", "{\"force\":true}"));
            assertEquals("PRIMARY", pr.get("role").asText());
            assertEquals(1, pr.get("generation").asLong());
            assertEquals(0, p.a.disk("vs1").generation());
            // both write: B as the new primary, A because nobody told it yet (split brain, for now)
            try (NbdTestClient b = new NbdTestClient(p.b.nbdPort(), "vs1")) {
                assertEquals(0, b.write(2 << 20, pattern(0x22, 64 << 10)));
            }
            try (NbdTestClient a = new NbdTestClient(p.a.nbdPort(), "vs1")) {
                assertEquals(0, a.write(4 << 20, pattern(0x33, 128 << 10)), "A still primary while cut off");
                assertEquals(0, a.write(6 << 20, pattern(0x34, 4096)));
            }
            // the WAN comes back: A meets generation 1 and stops
            p.ab.restore();
            p.ba.restore();
            AgentPair.await("A fenced", 15_000, () -> p.a.disk("vs1").role() == Role.REPLICA);
            try (NbdTestClient a = new NbdTestClient(p.a.nbdPort(), "vs1")) {
                assertEquals(1, a.write(0, pattern(0x44, 4096)), "fenced old primary must answer EPERM");
                assertEquals(0, a.flush(), "FLUSH still succeeds on the fenced copy");
            }
            JsonNode st = JSON.readTree(p.ok(p.a, "GET", "/v1/disks/vs1", null));
            assertEquals("REPLICA", st.get("role").asText());
            assertEquals(1, st.get("generation").asLong(), st.toString());
            JsonNode fenced = st.get("fenced");
            assertEquals(0, fenced.get("ownGeneration").asLong(), st.toString());
            assertEquals(1, fenced.get("peerGeneration").asLong(), st.toString());
            // two 64 KiB blocks at 4 MiB and one at 6 MiB were written only at A
            assertEquals(3 * 65536, fenced.get("unreplicatedBytes").asLong(), st.toString());
            assertEquals(3, fenced.get("unreplicatedBlocks").asLong(), st.toString());
            assertEquals("[\"4194304+131072\",\"6291456+65536\"]", fenced.get("unreplicatedExtents").toString());
            assertTrue(warnings.stream().anyMatch(m -> m.contains("FENCED") && m.contains("4194304+131072")),
                    "fencing is logged with the extents: " + warnings);
            String metrics = p.ok(p.a, "GET", "/metrics", null);
            assertTrue(metrics.matches("(?s).*wanmig_replication_fenced_unreplicated_bytes\\{disk=\"vs1\"[^}]*\\} 196608\n.*"),
                    metrics);
            assertTrue(metrics.matches("(?s).*wanmig_replication_generation\\{disk=\"vs1\"[^}]*\\} 1\n.*"), metrics);
            // B's resync overwrites A's unreplicated writes: A == B
            p.syncUp(p.b);
            AgentPair.assertSameBytes(p.imageA(), p.imageB());
            byte[] a = Files.readAllBytes(p.imageA());
            assertEquals(0x22, a[(2 << 20) + 5]);
            assertEquals(0, a[(4 << 20) + 5], "A's unreplicated write was discarded");
            assertEquals(0x11, a[5]);
            // B is still the only primary, and its writes keep flowing to A
            assertEquals(Role.PRIMARY, p.b.disk("vs1").role());
            try (NbdTestClient b = new NbdTestClient(p.b.nbdPort(), "vs1")) {
                assertEquals(0, b.write(1 << 20, pattern(0x55, 4096)));
            }
            p.syncUp(p.b);
            AgentPair.assertSameBytes(p.imageA(), p.imageB());
            // A promoted later (planned move back) takes generation 2
            p.ok(p.b, "POST", "/v1/disks/vs1/demote", null);
            JsonNode back = JSON.readTree(p.ok(p.a, "POST", "/v1/disks/vs1/promote", null));
            assertEquals(2, back.get("generation").asLong(), back.toString());
            assertTrue(back.get("lastPromote").get("handedOver").asBoolean(), back.toString());
            assertEquals(0.0, back.get("lastPromote").get("rpoSeconds").asDouble(), back.toString());
            assertTrue(back.get("fenced") == null, "fence report cleared by the promote: " + back);
        } finally {
            diskLog.removeHandler(capture);
        }
    }
}
