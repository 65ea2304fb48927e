package org.wanmig.replication;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.wanmig.replication.agent.Agent;
import org.wanmig.replication.core.Role;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The control API contract the MMS client relies on. */
@Timeout(120)
class ControlApiTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String[] FIELDS = {"disk", "role", "mode", "inSync", "peerConnected", "lagBlocks",
        "lagBytes", "rpoSeconds", "throughputBytesPerSec", "sizeBytes", "resyncRemainingBytes"};

    @TempDir
    Path dir;

    @Test
    void authStatusModeAndErrors() throws Exception {
        try (AgentPair p = new AgentPair(dir, 4 << 20)) {
            HttpClient c = HttpClient.newHttpClient();
            String base = "http://127.0.0.1:" + p.a.controlPort();
            for (String path : new String[]{"/v1/disks", "/v1/disks/vs1", "/metrics"}) {
                HttpResponse<String> r = c.send(HttpRequest.newBuilder(URI.create(base + path)).build(),
                        HttpResponse.BodyHandlers.ofString());
                assertEquals(401, r.statusCode(), path);
                r = c.send(HttpRequest.newBuilder(URI.create(base + path)).header("Authorization", "Bearer nope")
                        .build(), HttpResponse.BodyHandlers.ofString());
                assertEquals(401, r.statusCode(), path);
            }
            HttpResponse<String> bad = c.send(HttpRequest.newBuilder(URI.create(base + "/v1/disks/vs1/mode"))
                    .POST(HttpRequest.BodyPublishers.ofString("{\"mode\":\"SYNC\"}")).build(),
                    HttpResponse.BodyHandlers.ofString());
            assertEquals(401, bad.statusCode());
            assertEquals("ASYNC", p.a.disk("vs1").mode().name(), "unauthenticated call changed the mode");

            JsonNode list = JSON.readTree(p.ok(p.a, "GET", "/v1/disks", null));
            assertTrue(list.isArray());
            assertEquals(1, list.size());
            for (String f : FIELDS) {
                assertTrue(list.get(0).has(f), "status lacks " + f + ": " + list);
            }
            assertEquals("vs1", list.get(0).get("disk").asText());
            assertEquals("PRIMARY", list.get(0).get("role").asText());
            assertEquals(4 << 20, list.get(0).get("sizeBytes").asLong());

            String[] nf = p.call(p.a, "GET", "/v1/disks/nope", null);
            assertEquals("404", nf[0]);
            assertTrue(JSON.readTree(nf[1]).has("error"));
            assertEquals("404", p.call(p.a, "POST", "/v1/disks/nope/mode", "{\"mode\":\"SYNC\"}")[0]);

            for (String body : new String[]{"{\"mode\":\"FAST\"}", "{\"mode\":\"sync\"}", "not json", "{}", "[1]",
                "{\"mode\":1}"}) {
                String[] r = p.call(p.a, "POST", "/v1/disks/vs1/mode", body);
                assertEquals("400", r[0], body + " -> " + r[1]);
                JsonNode e = JSON.readTree(r[1]);
                assertEquals("mode", e.get("field").asText());
                assertTrue(e.has("error"));
            }
            assertEquals("ASYNC", JSON.readTree(p.ok(p.a, "GET", "/v1/disks/vs1", null)).get("mode").asText());
            assertEquals("400", p.call(p.a, "POST", "/v1/disks/vs1/wait-sync", "{\"timeoutMs\":-5}")[0]);
            // the MMS sends its demote budget; a nonsensical one is refused before anything changes
            assertEquals("400", p.call(p.a, "POST", "/v1/disks/vs1/demote", "{\"timeoutMs\":0}")[0]);
            assertEquals("PRIMARY", JSON.readTree(p.ok(p.a, "GET", "/v1/disks/vs1", null)).get("role").asText());

            JsonNode s = JSON.readTree(p.ok(p.a, "POST", "/v1/disks/vs1/mode", "{\"mode\":\"SYNC\"}"));
            assertEquals("SYNC", s.get("mode").asText());
            JsonNode w = JSON.readTree(p.ok(p.a, "POST", "/v1/disks/vs1/wait-sync", "{\"timeoutMs\":20000}"));
            assertTrue(w.get("inSync").asBoolean());
            assertEquals(0, w.get("lagBytes").asLong());

            String metrics = p.ok(p.a, "GET", "/metrics", null);
            assertTrue(metrics.contains("wanmig_replication_role_primary{disk=\"vs1\",role=\"PRIMARY\",mode=\"SYNC\"} 1"),
                    metrics);
            assertTrue(metrics.contains("wanmig_replication_in_sync{disk=\"vs1\",role=\"PRIMARY\",mode=\"SYNC\"} 1"),
                    metrics);
            assertTrue(metrics.contains("# TYPE wanmig_replication_shipped_bytes_total counter"), metrics);

            // link down: wait-sync times out with 408 and the status inside
            p.ab.cut();
            Tools.qemuIo(AgentPair.url(p.a), "write -P 0x21 0 64k").ok();
            String[] t = p.call(p.a, "POST", "/v1/disks/vs1/wait-sync", "{\"timeoutMs\":300}");
            assertEquals("408", t[0], t[1]);
            JsonNode tn = JSON.readTree(t[1]);
            assertEquals("timeout", tn.get("error").asText());
            assertFalse(tn.get("inSync").asBoolean());
            assertEquals(65536, tn.get("resyncRemainingBytes").asLong());
            p.ab.restore();
            p.ok(p.a, "POST", "/v1/disks/vs1/wait-sync", "{\"timeoutMs\":20000}");
        }
    }

    @Test
    void promoteRefusedWhenReplicaKnownBehind() throws Exception {
        try (AgentPair p = new AgentPair(dir, 16 << 20)) {
            AgentPair.await("link", 10_000, () -> p.a.disk("vs1").isLinkUp());
            p.ab.rateLimit(1 << 20); // a slow WAN: ASYNC lag builds up
            String[] writes = new String[32];
            for (int i = 0; i < writes.length; i++) {
                writes[i] = "write -P 0x55 " + (i * 256) + "k 256k"; // many records: status frames interleave
            }
            Tools.qemuIo(AgentPair.url(p.a), writes).ok();
            AgentPair.await("replica learns its lag", 30_000, () -> p.b.disk("vs1").knownBehind());
            p.ab.cut();
            AgentPair.await("session down", 10_000, () -> !p.b.disk("vs1").sessionUp());
            String[] r = p.call(p.b, "POST", "/v1/disks/vs1/promote", null);
            assertEquals("409", r[0], r[1]);
            assertTrue(JSON.readTree(r[1]).get("error").asText().contains("behind"), r[1]);
            assertEquals(Role.REPLICA, p.b.disk("vs1").role());
            // unplanned failover: force
            JsonNode f = JSON.readTree(p.ok(p.b, "POST", "/v1/disks/vs1/promote", "{\"force\":true}"));
            assertEquals("PRIMARY", f.get("role").asText());
        }
    }

    @Test
    void interruptedResyncResumesAfterRestart() throws Exception {
        AgentPair p = new AgentPair(dir, 32 << 20);
        try {
            p.syncUp(p.a);
            p.ok(p.a, "POST", "/v1/disks/vs1/mode", "{\"mode\":\"ASYNC\"}");
            p.ab.cut();
            AgentPair.await("link down", 10_000, () -> !p.a.disk("vs1").isLinkUp());
            Tools.qemuIo(AgentPair.url(p.a), "write -P 0x66 0 16M").ok();
            assertEquals(16 << 20, p.a.disk("vs1").status().resyncRemainingBytes());
            p.ab.rateLimit(2 << 20);
            p.ab.restore();
            AgentPair.await("partial resync", 30_000,
                () -> p.a.disk("vs1").status().resyncRemainingBytes() < (10 << 20));
            // crash-free restart of A in the middle of the resync
            p.ab.cut();
            p.a.close();
            p.a = new Agent(AgentPair.config(dir.resolve("a"), 32 << 20, Role.PRIMARY, p.ab.port(), AgentPair.PSK));
            long remaining = p.a.disk("vs1").status().resyncRemainingBytes();
            assertTrue(remaining > 0 && remaining < (14 << 20), "resumed with " + remaining + " bytes to resync");
            p.ab.rateLimit(0);
            p.ab.resetCounters();
            p.ab.restore();
            p.syncUp(p.a);
            AgentPair.assertSameBytes(p.imageA(), p.imageB());
            assertTrue(p.ab.forwardBytes() < remaining + (1 << 20),
                    "after restart shipped " + p.ab.forwardBytes() + " for " + remaining + " remaining");
        } finally {
            p.close();
        }
    }
}
