package org.wanmig.embedded.cli;

import com.fasterxml.jackson.databind.node.ObjectNode;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.onosproject.codec.CodecService;
import org.wanmig.api.EvacuationService;
import org.wanmig.api.Migration;
import org.wanmig.api.MigrationService;
import org.wanmig.api.MigrationState;
import org.wanmig.codec.WanmigCodecs;
import org.wanmig.config.WanTopology;
import org.wanmig.config.WanTopologyParser;
import org.wanmig.embedded.http.EmbeddedCodecService;
import org.wanmig.embedded.http.EmbeddedServiceDirectory;
import org.wanmig.embedded.http.RestLimits;
import org.wanmig.embedded.http.RestServer;
import org.wanmig.evacuation.EvacuationHost;
import org.wanmig.lifecycle.MigrationManager;
import org.wanmig.planner.PlannerService;
import org.wanmig.spi.Leadership;
import org.wanmig.store.InMemoryEvacuationStore;
import org.wanmig.store.InMemoryMigrationStore;
import org.wanmig.testing.WanmigFixtures;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The command-line client's evacuation commands over real HTTP, with the live progress display. */
class EvacuationClientTest {
    private MigrationManager manager;
    private EvacuationHost host;
    private RestServer server;
    private RestMigrationService remote;

    @BeforeEach
    void start() throws Exception {
        ObjectNode config = WanmigFixtures.restDriverConfig();
        ((ObjectNode) config.path("migration")).put("drainSeconds", 0);
        WanTopology topology = WanTopologyParser.parse(config);
        manager = WanmigFixtures.drivingManager(topology, new WanmigFixtures.RecordingNetwork(),
                new InMemoryMigrationStore());
        host = new EvacuationHost(manager, manager, new InMemoryEvacuationStore(), () -> topology, Leadership.STANDALONE,
                System::currentTimeMillis);
        host.takeOver();
        server = new RestServer("127.0.0.1", 0, RestLimits.DEFAULTS, "onos", "rocks", null,
                new EmbeddedServiceDirectory(Map.of(MigrationService.class, manager, EvacuationService.class, host,
                        PlannerService.class, (PlannerService) manager::planner,
                        CodecService.class, EmbeddedCodecService.of(WanmigCodecs.all()))));
        server.start();
        remote = new RestMigrationService("http://127.0.0.1:" + server.port() + "/onos/wanmig", "onos", "rocks");
    }

    @AfterEach
    void stop() {
        server.close();
        host.close();
        manager.shutdown();
    }

    /** Exit code, then what was printed. */
    private Object[] run(String... args) throws Exception {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        int rc = new WanmigClient(remote, new PrintStream(bytes, true, StandardCharsets.UTF_8)).run(List.of(args));
        return new Object[]{rc, bytes.toString(StandardCharsets.UTF_8)};
    }

    @Test
    void evacuateFollowsTheProgressUntilTheEnd() throws Exception {
        CompletableFuture<Object[]> follow = CompletableFuture.supplyAsync(() -> {
            try {
                return run("wanmig-evacuate", "dcA", "--to", "dcB");
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        });
        // the hypervisor's report, once the evacuation's migration waits for it
        Migration m = null;
        for (int i = 0; i < 500 && m == null; i++) {
            m = manager.activeMigration("vs1").filter(x -> x.state() == MigrationState.MIGRATING).orElse(null);
            Thread.sleep(10);
        }
        assertTrue(m != null, "the evacuation started vs1's migration");
        Thread.sleep(300); // the client shows the in-flight progress first
        manager.hypervisorCompleted(m.id(), "running at dcB");
        Object[] result = follow.get(30, TimeUnit.SECONDS);
        String out = (String) result[1];
        assertEquals(0, result[0], out);
        assertTrue(out.startsWith("evacuation 1: 1 servers from dcA to dcB"), out);
        assertTrue(out.contains("progress: done 0/1, in flight 1, queued 0"), out);
        assertTrue(out.contains("progress: done 1/1, in flight 0, queued 0"), out);
        assertTrue(out.contains("vs1: moved to dcB"), out);
        assertTrue(out.trim().endsWith("evacuation 1 COMPLETED"), out);

        Object[] list = run("wanmig-evacuations");
        assertTrue(((String) list[1]).contains("COMPLETED"), (String) list[1]);
        Object[] one = run("wanmig-evacuations", "1");
        assertTrue(((String) one[1]).contains("vs1          -> dcB      DONE"), (String) one[1]);
    }

    @Test
    void abortAndRefusalsThroughTheClient() throws Exception {
        Object[] started = run("wanmig-evacuate", "dcA", "--no-wait");
        assertEquals(0, started[0]);
        Object[] aborted = run("wanmig-evacuation-abort", "1");
        assertEquals(0, aborted[0], (String) aborted[1]);
        assertTrue(((String) aborted[1]).contains("ABORT"), (String) aborted[1]);
        assertEquals(1, run("wanmig-evacuate", "dcZ")[0], "unknown data center refused");
        assertEquals(1, run("wanmig-evacuations", "7")[0], "unknown id refused");
        assertEquals(2, run("wanmig-evacuate")[0], "usage");
    }

    @Test
    void failoverFollowsEveryServerToItsDestination() throws Exception {
        Object[] result = run("wanmig-failover", "dcA", "--to", "dcB");
        String out = (String) result[1];
        assertEquals(0, result[0], out);
        assertTrue(out.startsWith("failover 1: dcA declared lost, 1 servers to dcB"), out);
        assertTrue(out.contains("vs1: promoted at dcB") || out.contains("vs1: no replication agent at dcB"), out);
        assertTrue(out.contains("vs1: restarted at dcB"), out);
        assertTrue(out.contains("vs1: routed to dcB directly"), out);
        assertTrue(out.trim().endsWith("failover 1 COMPLETED"), out);
        assertEquals("dcB", manager.location("vs1"));
        Object[] one = run("wanmig-evacuations", "1");
        assertTrue(((String) one[1]).startsWith("failover 1: dcA declared lost by the operator"), (String) one[1]);
        assertTrue(((String) one[1]).contains("step=ROUTED"), (String) one[1]);
    }

    @Test
    void failoverRefusalsThroughTheClient() throws Exception {
        assertEquals(1, run("wanmig-failover", "dcZ")[0], "unknown data center refused");
        assertEquals(1, run("wanmig-failover", "dcA", "--to", "dcA")[0], "the lost DC as destination refused");
        assertEquals(2, run("wanmig-failover")[0], "usage");
        assertEquals(1, run("wanmig-failover", "dcA", "--to")[0], "--to needs a value");
        assertEquals("dcA", manager.location("vs1"), "nothing changed");
    }
}
