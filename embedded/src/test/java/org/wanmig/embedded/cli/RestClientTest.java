package org.wanmig.embedded.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.onosproject.codec.CodecService;
import org.onosproject.core.DefaultApplicationId;
import org.onosproject.net.DeviceId;
import org.onosproject.net.flow.FlowRule;
import org.wanmig.api.MigrationService;
import org.wanmig.api.WanmigException;
import org.wanmig.codec.WanmigCodecs;
import org.wanmig.config.WanTopology;
import org.wanmig.config.WanTopologyParser;
import org.wanmig.drivers.AgentReplicationClient;
import org.wanmig.drivers.HypervisorDrivers;
import org.wanmig.embedded.http.EmbeddedCodecService;
import org.wanmig.embedded.http.EmbeddedServiceDirectory;
import org.wanmig.embedded.http.RestLimits;
import org.wanmig.embedded.http.RestServer;
import org.wanmig.lifecycle.MigrationManager;
import org.wanmig.planner.Cookies;
import org.wanmig.planner.PlannerService;
import org.wanmig.spi.Leadership;
import org.wanmig.spi.NetworkProgrammer;
import org.wanmig.store.InMemoryMigrationStore;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The embedded REST server and the command-line client over real HTTP, on a real
 * MigrationManager whose switches confirm every rule at once.
 */
class RestClientTest {
    private MigrationManager manager;
    private RestServer server;
    private RestMigrationService remote;
    private final Set<FlowRule> installed = ConcurrentHashMap.newKeySet();

    /** Switches that confirm everything; what they hold is {@link #installed}. */
    private final NetworkProgrammer switches = new NetworkProgrammer() {
        @Override
        public CompletableFuture<Void> install(Collection<FlowRule> rules) {
            installed.addAll(rules);
            return CompletableFuture.completedFuture(null);
        }

        @Override
        public CompletableFuture<Void> remove(Collection<FlowRule> rules) {
            installed.removeAll(rules);
            return CompletableFuture.completedFuture(null);
        }

        @Override
        public boolean isAvailable(DeviceId device) {
            return true;
        }
    };

    @BeforeEach
    void start() throws Exception {
        ObjectNode netcfg = (ObjectNode) new ObjectMapper().readTree(
                Files.readString(Path.of("src/test/resources/openflow/two-dc.json")));
        ObjectNode migration = ((ObjectNode) netcfg.path("apps").path("org.wanmig.app").path("wanmig"))
                .putObject("migration");
        migration.put("drainSeconds", 0.1).putObject("hypervisor").put("driver", "rest");
        WanTopology topology = WanTopologyParser.parseNetcfg(netcfg);
        manager = new MigrationManager(topology, new DefaultApplicationId(Cookies.EMBEDDED_APP_ID, "org.wanmig.app"),
                switches, new HypervisorDrivers(URI.create("http://127.0.0.1/unused")), new AgentReplicationClient(),
                new InMemoryMigrationStore(), Leadership.STANDALONE, Clock.systemUTC());
        manager.takeOver().get(10, TimeUnit.SECONDS);
        server = new RestServer("127.0.0.1", 0, RestLimits.DEFAULTS, "onos", "rocks", "t0ken",
                new EmbeddedServiceDirectory(Map.of(MigrationService.class, manager,
                        PlannerService.class, (PlannerService) manager::planner,
                        CodecService.class, EmbeddedCodecService.of(WanmigCodecs.all()))));
        server.start();
        remote = new RestMigrationService("http://127.0.0.1:" + server.port() + "/onos/wanmig", "onos", "rocks");
    }

    @AfterEach
    void stop() {
        server.close();
        manager.shutdown();
    }

    private String run(String... args) throws Exception {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        int rc = new WanmigClient(remote, new PrintStream(bytes, true, StandardCharsets.UTF_8)).run(List.of(args));
        String out = bytes.toString(StandardCharsets.UTF_8);
        assertEquals(0, rc, out);
        return out;
    }

    @Test
    void clientMigratesAServerThroughTheRestApi() throws Exception {
        assertTrue(run("wanmig-servers").contains("location=dcA"));
        assertTrue(run("wanmig-migrate", "vs1", "dcB", "--no-wait").contains("PREPARING"));
        String rules = run("wanmig-migration", "1", "--rules");
        assertTrue(rules.contains("redirect:") && rules.contains("mpls"), rules);
        run("wanmig-hypervisor-done", "1");
        long deadline = System.currentTimeMillis() + 10_000;
        while (!run("wanmig-migrations").contains("COMPLETED") && System.currentTimeMillis() < deadline) {
            Thread.sleep(50);
        }
        assertTrue(run("wanmig-migration", "1").contains("COMPLETED"));
        assertTrue(run("wanmig-servers").contains("location=dcB"));
        assertTrue(installed.stream().noneMatch(r -> Cookies.ofMigration(r.id().value(), 1)), "tunnel torn down");
    }

    @Test
    void refusalsArriveAsTheServersExceptions() {
        WanmigException unknown = assertThrows(WanmigException.class, () -> remote.startMigration("nope", "dcB"));
        assertEquals(WanmigException.Kind.NOT_FOUND, unknown.kind());
        assertEquals("server", unknown.field());
        remote.startMigration("vs1", "dcB");
        WanmigException twice = assertThrows(WanmigException.class, () -> remote.startMigration("vs1", "dcB"));
        assertEquals(WanmigException.Kind.CONFLICT, twice.kind());
        assertEquals(1, remote.migrations().size(), "the refused request changed nothing");
    }

    @Test
    void everyRequestNeedsCredentials() throws Exception {
        HttpClient http = HttpClient.newHttpClient();
        URI uri = URI.create("http://127.0.0.1:" + server.port() + "/onos/wanmig/servers");
        assertEquals(401, http.send(HttpRequest.newBuilder(uri).build(), HttpResponse.BodyHandlers.ofString()).statusCode());
        assertEquals(401, http.send(HttpRequest.newBuilder(uri).header("Authorization", "Bearer wrong").build(),
                HttpResponse.BodyHandlers.ofString()).statusCode());
        assertEquals(200, http.send(HttpRequest.newBuilder(uri).header("Authorization", "Bearer t0ken").build(),
                HttpResponse.BodyHandlers.ofString()).statusCode());
        HttpResponse<String> missing = http.send(HttpRequest.newBuilder(URI.create(uri + "/nothing"))
                .header("Authorization", "Bearer t0ken").build(), HttpResponse.BodyHandlers.ofString());
        assertEquals(404, missing.statusCode());
        HttpResponse<String> dotted = http.send(HttpRequest.newBuilder(URI.create(uri + "/../nothing"))
                .header("Authorization", "Bearer t0ken").build(), HttpResponse.BodyHandlers.ofString());
        assertEquals(400, dotted.statusCode(), "dot segments are refused, not resolved");
    }
}
