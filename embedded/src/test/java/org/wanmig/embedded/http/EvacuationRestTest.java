package org.wanmig.embedded.http;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.onosproject.codec.CodecService;
import org.wanmig.api.EvacuationService;
import org.wanmig.api.MigrationService;
import org.wanmig.codec.WanmigCodecs;
import org.wanmig.config.WanTopology;
import org.wanmig.config.WanTopologyParser;
import org.wanmig.evacuation.EvacuationHost;
import org.wanmig.lifecycle.MigrationManager;
import org.wanmig.planner.PlannerService;
import org.wanmig.spi.Leadership;
import org.wanmig.store.InMemoryEvacuationStore;
import org.wanmig.store.InMemoryMigrationStore;
import org.wanmig.testing.WanmigFixtures;
import org.wanmig.testing.WanmigFixtures.RecordingNetwork;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Base64;
import java.util.Map;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Predicate;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.wanmig.testing.WanmigFixtures.MAPPER;

/**
 * /evacuations over real HTTP on the embedded REST server: the shared resource's methods on an
 * EvacuationHost over a real MigrationManager (the 'rest' hypervisor driver, so a migration waits
 * in flight until reported), with the errors of the other operations (400 naming the field, 404,
 * 409 naming the servers that do not fit, 503 not leader).
 */
class EvacuationRestTest {
    private static final String BASIC = "Basic " + Base64.getEncoder()
            .encodeToString("onos:rocks".getBytes(StandardCharsets.UTF_8));

    private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
    private final AtomicBoolean leader = new AtomicBoolean(true);
    private final Leadership leadership = new Leadership() {
        @Override
        public boolean isLeader() {
            return leader.get();
        }

        @Override
        public String leader() {
            return leader.get() ? "local" : "onos-2";
        }
    };
    private MigrationManager manager;
    private EvacuationHost host;
    private RestServer server;

    private void start(ObjectNode config) throws Exception {
        WanTopology topology = WanTopologyParser.parse(config);
        RecordingNetwork network = new RecordingNetwork();
        manager = WanmigFixtures.drivingManager(topology, network, new InMemoryMigrationStore());
        host = new EvacuationHost(manager, new InMemoryEvacuationStore(), () -> topology, leadership,
                System::currentTimeMillis);
        host.takeOver();
        server = new RestServer("127.0.0.1", 0, RestLimits.DEFAULTS, "onos", "rocks", null,
                new EmbeddedServiceDirectory(Map.of(MigrationService.class, manager,
                        EvacuationService.class, host, PlannerService.class, (PlannerService) manager::planner,
                        CodecService.class, EmbeddedCodecService.of(WanmigCodecs.all()))));
        server.start();
    }

    @AfterEach
    void stop() {
        if (server != null) {
            server.close();
        }
        if (host != null) {
            host.close();
        }
        if (manager != null) {
            manager.shutdown();
        }
    }

    private static final class Reply {
        final int status;
        final JsonNode body;

        Reply(HttpResponse<String> r) throws Exception {
            status = r.statusCode();
            body = r.body().isEmpty() ? MAPPER.nullNode() : MAPPER.readTree(r.body());
        }
    }

    private Reply send(HttpRequest.Builder request) throws Exception {
        return new Reply(http.send(request.header("Authorization", BASIC).timeout(Duration.ofSeconds(30)).build(),
                HttpResponse.BodyHandlers.ofString()));
    }

    private URI uri(String path) {
        return URI.create("http://127.0.0.1:" + server.port() + "/onos/wanmig/" + path);
    }

    private Reply get(String path) throws Exception {
        return send(HttpRequest.newBuilder(uri(path)));
    }

    private Reply post(String path, String json) throws Exception {
        return send(HttpRequest.newBuilder(uri(path)).header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(json)));
    }

    private static void assertError(Reply r, int status, String field) {
        assertEquals(status, r.status, r.body.toString());
        assertFalse(r.body.path("error").asText().isBlank(), r.body.toString());
        if (field == null) {
            assertTrue(r.body.path("field").isNull(), r.body.toString());
        } else {
            assertEquals(field, r.body.path("field").asText(), r.body.toString());
        }
    }

    private JsonNode eventually(String path, Predicate<JsonNode> condition) throws Exception {
        for (int i = 0; i < 500; i++) {
            JsonNode body = get(path).body;
            if (condition.test(body)) {
                return body;
            }
            Thread.sleep(10);
        }
        throw new AssertionError("never: " + path + " as expected; last " + get(path).body);
    }

    @Test
    void startShowAndAbortAnEvacuation() throws Exception {
        start(WanmigFixtures.restDriverConfig());
        assertEquals(0, get("evacuations").body.path("evacuations").size());

        Reply started = post("evacuations", "{\"source\":\"dcA\"}");
        assertEquals(201, started.status, started.body.toString());
        long id = started.body.path("id").asLong();
        assertEquals("dcA", started.body.path("source").asText());
        assertEquals("vs1", started.body.path("servers").get(0).path("server").asText());
        assertEquals("dcB", started.body.path("servers").get(0).path("destination").asText());
        assertTrue(started.body.path("plannedMillis").asLong() > 0, started.body.toString());
        assertTrue(started.body.path("eta").isTextual() && started.body.path("projectedEta").isTextual());
        assertEquals(1, get("evacuations").body.path("evacuations").size());

        JsonNode running = eventually("evacuations/" + id, e -> e.path("progress").path("inFlight").asInt() == 1);
        long migration = running.path("servers").get(0).path("migration").asLong();
        assertEquals("MIGRATING", get("migrations/" + migration).body.path("state").asText());
        assertError(post("evacuations", "{\"source\":\"dcA\",\"servers\":[\"vs1\"]}"), 409, "servers");

        Reply aborted = post("evacuations/" + id + "/abort", "");
        assertEquals(200, aborted.status, aborted.body.toString());
        assertTrue(aborted.body.path("state").asText().startsWith("ABORT"), aborted.body.toString());
        JsonNode end = eventually("evacuations/" + id, e -> e.path("state").asText().equals("ABORTED"));
        assertEquals("CANCELLED", end.path("servers").get(0).path("state").asText());
        assertEquals(1, end.path("progress").path("cancelled").asInt());
        assertEquals("ROLLED_BACK", get("migrations/" + migration).body.path("state").asText());
        assertError(post("evacuations/" + id + "/abort", ""), 409, "id");
    }

    @Test
    void errorsNameTheField() throws Exception {
        start(WanmigFixtures.restDriverConfig());
        assertError(post("evacuations", "{\"to\":[\"dcB\"]}"), 400, "source");
        assertError(post("evacuations", "{\"source\":\"dcA\",\"speed\":1}"), 400, "speed");
        assertError(post("evacuations", "{\"source\":\"dcA\",\"to\":\"dcB\"}"), 400, "to");
        assertError(post("evacuations", "{\"source\":\"dcA\",\"servers\":[1]}"), 400, "servers");
        assertError(post("evacuations", "{\"source\":"), 400, "body");
        assertError(post("evacuations", "{\"source\":\"dcZ\"}"), 404, "source");
        assertError(post("evacuations", "{\"source\":\"dcA\",\"to\":[\"dcA\"]}"), 400, "destinations");
        assertError(post("evacuations", "{\"source\":\"dcA\",\"servers\":[\"nope\"]}"), 404, "servers");
        assertError(get("evacuations/abc"), 400, "id");
        assertError(get("evacuations/42"), 404, "id");
        assertError(post("evacuations/42/abort", ""), 404, "id");
        assertEquals(0, get("evacuations").body.path("evacuations").size(), "a refused request records nothing");
    }

    @Test
    void infeasibleCapacityIs409NamingTheServers() throws Exception {
        ObjectNode config = WanmigFixtures.restDriverConfig();
        ((ObjectNode) config.path("dataCenters").get(1)).putObject("capacity").put("memoryMiB", 512);
        start(config);
        Reply r = post("evacuations", "{\"source\":\"dcA\"}");
        assertError(r, 409, "destinations");
        assertTrue(r.body.path("error").asText().contains("vs1"), r.body.toString());
        assertTrue(manager.migrations().isEmpty());
    }

    @Test
    void notTheLeaderIs503ButRecordsAreShown() throws Exception {
        start(WanmigFixtures.restDriverConfig());
        long id = post("evacuations", "{\"source\":\"dcA\"}").body.path("id").asLong();
        leader.set(false);
        assertError(post("evacuations", "{\"source\":\"dcA\"}"), 503, null);
        assertError(post("evacuations/" + id + "/abort", ""), 503, null);
        assertTrue(get("evacuations/" + id).body.path("active").asBoolean());
        assertEquals(1, get("evacuations").body.path("evacuations").size());
    }
}
