package org.wanmig.drivers;

import com.sun.net.httpserver.HttpServer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.wanmig.api.Migration;
import org.wanmig.api.MigrationId;
import org.wanmig.api.TunnelLabels;
import org.wanmig.config.WanTopology;
import org.wanmig.spi.HypervisorListener;
import org.wanmig.testing.Poll;
import org.wanmig.testing.Topologies;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

class DriversTest {
    private HttpServer server;
    private final List<String> requests = new CopyOnWriteArrayList<>();

    @AfterEach
    void stop() {
        if (server != null) {
            server.stop(0);
        }
    }

    /** A hypervisor controller answering every POST with {@code status}. */
    private URI controller(int status) throws IOException {
        server = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
        server.createContext("/", ex -> {
            requests.add(ex.getRequestMethod() + " " + ex.getRequestURI().getPath() + " "
                    + new String(ex.getRequestBody().readAllBytes(), StandardCharsets.UTF_8));
            byte[] body = (status / 100 == 2 ? "{}" : "{\"error\":\"busy\"}").getBytes(StandardCharsets.UTF_8);
            ex.sendResponseHeaders(status, body.length);
            ex.getResponseBody().write(body);
            ex.close();
        });
        server.start();
        return URI.create("http://127.0.0.1:" + server.getAddress().getPort() + "/hv");
    }

    private static Migration migration() {
        return Migration.requested(MigrationId.of(3), "vs1", "dcA", "dcB", 2, new TunnelLabels(1000, Map.of()), 0);
    }

    private static final class Reports implements HypervisorListener {
        final List<String> seen = new CopyOnWriteArrayList<>();

        @Override
        public void completed(MigrationId id, String detail) {
            seen.add("completed " + id);
        }

        @Override
        public void failed(MigrationId id, String reason) {
            seen.add("failed " + id + ": " + reason);
        }
    }

    @Test
    void configPicksTheDriver() {
        HypervisorDrivers drivers = new HypervisorDrivers(URI.create("http://127.0.0.1:8181/onos/wanmig"));
        WanTopology http = Topologies.topology(Topologies.TWO_DC);
        assertInstanceOf(HttpHypervisorDriver.class, drivers.apply(http));
        assertSame(drivers.apply(http), drivers.apply(http), "one driver per URL");
        assertInstanceOf(RestReportedHypervisor.class, drivers.apply(Topologies.topology(Topologies.TWO_DC_DIRECT)));
    }

    @Test
    void httpDriverPostsTheMigrationWithItsCallback() throws Exception {
        URI url = controller(202);
        WanTopology t = Topologies.topology(Topologies.TWO_DC);
        Reports reports = new Reports();
        new HttpHypervisorDriver(url, URI.create("http://mms:8181/onos/wanmig")).migrate(migration(),
                t.server("vs1").orElseThrow(), t.dataCenter("dcA").orElseThrow(), t.dataCenter("dcB").orElseThrow(), reports);
        Poll.until("the request", () -> !requests.isEmpty());
        String req = requests.get(0);
        assertTrue(req.startsWith("POST /hv/migrations "), req);
        assertTrue(req.contains("\"callback\":\"http://mms:8181/onos/wanmig/migrations/3/hypervisor\""), req);
        assertTrue(req.contains("\"destinationPort\":2") && req.contains("\"destinationPe\":\"of:000000000000000b\""), req);
        assertTrue(reports.seen.isEmpty(), "an accepted request reports nothing yet");
    }

    @Test
    void httpDriverReportsARefusalAsFailure() throws Exception {
        URI url = controller(503);
        WanTopology t = Topologies.topology(Topologies.TWO_DC);
        Reports reports = new Reports();
        new HttpHypervisorDriver(url, URI.create("http://mms/")).migrate(migration(), t.server("vs1").orElseThrow(),
                t.dataCenter("dcA").orElseThrow(), t.dataCenter("dcB").orElseThrow(), reports);
        Poll.until("the failure report", () -> !reports.seen.isEmpty());
        assertTrue(reports.seen.get(0).startsWith("failed 3: ") && reports.seen.get(0).contains("503"), reports.seen.toString());
    }

    @Test
    void httpDriverAbortSaysWhetherTheServerMoved() throws Exception {
        URI url = controller(200);
        WanTopology t = Topologies.topology(Topologies.TWO_DC);
        new HttpHypervisorDriver(url, URI.create("http://mms/")).abort(migration(), t.server("vs1").orElseThrow(),
                t.dataCenter("dcA").orElseThrow(), t.dataCenter("dcB").orElseThrow(), true);
        Poll.until("the abort", () -> !requests.isEmpty());
        assertEquals("POST /hv/migrations/3/abort {\"serverMoved\":true}", requests.get(0));
    }

    @Test
    void replicationWithoutAgentsCompletesAtOnce() throws Exception {
        WanTopology t = Topologies.topology(Topologies.TWO_DC);
        AgentReplicationClient c = new AgentReplicationClient();
        var vs1 = t.server("vs1").orElseThrow();
        var a = t.dataCenter("dcA").orElseThrow();
        var b = t.dataCenter("dcB").orElseThrow();
        c.goSynchronous(vs1, a, b, Duration.ofSeconds(1)).get(5, TimeUnit.SECONDS);
        c.reverseRoles(vs1, a, b).get(5, TimeUnit.SECONDS);
        c.restore(vs1, a, b).get(5, TimeUnit.SECONDS);
    }

    @Test
    void demoteCarriesTheBudgetToTheAgent() throws Exception {
        URI agent = controller(200);
        String base = agent.toString().replace("/hv", "");
        WanTopology t = Topologies.topology(Topologies.TWO_DC, c -> {
            Topologies.entry(c, "dataCenters", 0).put("agent", base + "/a");
            Topologies.entry(c, "dataCenters", 1).put("agent", base + "/b");
        });
        AgentReplicationClient c = new AgentReplicationClient(() -> Duration.ofSeconds(42));
        var vs1 = t.server("vs1").orElseThrow();
        c.reverseRoles(vs1, t.dataCenter("dcA").orElseThrow(), t.dataCenter("dcB").orElseThrow())
                .get(5, TimeUnit.SECONDS);
        assertEquals("POST /a/v1/disks/vs1/demote {\"timeoutMs\":42000}", requests.get(0));
        assertEquals("POST /b/v1/disks/vs1/promote {}", requests.get(1));
    }

    @Test
    void httpDriverRestartsTheServerAtTheDestinationPe() throws Exception {
        URI url = controller(200);
        WanTopology t = Topologies.topology(Topologies.TWO_DC);
        String detail = new HttpHypervisorDriver(url, URI.create("http://mms/")).restart(t.server("vs1").orElseThrow(),
                t.dataCenter("dcB").orElseThrow(), 2).get(5, TimeUnit.SECONDS);
        String req = requests.get(0);
        assertTrue(req.startsWith("POST /hv/servers/vs1/restart "), req);
        assertTrue(req.contains("\"destinationPe\":\"of:000000000000000b\"") && req.contains("\"destinationPort\":2"), req);
        assertTrue(detail.startsWith("hypervisor (http): "), detail);
    }

    @Test
    void httpDriverRestartFailsWhenTheControllerRefuses() throws Exception {
        URI url = controller(503);
        WanTopology t = Topologies.topology(Topologies.TWO_DC);
        var f = new HttpHypervisorDriver(url, URI.create("http://mms/")).restart(t.server("vs1").orElseThrow(),
                t.dataCenter("dcB").orElseThrow(), 2);
        var e = org.junit.jupiter.api.Assertions.assertThrows(java.util.concurrent.ExecutionException.class,
                () -> f.get(5, TimeUnit.SECONDS));
        assertTrue(e.getCause().getMessage().contains("503"), e.getCause().getMessage());
    }

    @Test
    void aDriverWithoutRestartSaysSo() {
        WanTopology t = Topologies.topology(Topologies.TWO_DC);
        var f = new org.wanmig.spi.HypervisorDriver() {
            @Override
            public String name() {
                return "plain";
            }

            @Override
            public void migrate(Migration m, org.wanmig.config.VirtualServer s, org.wanmig.config.DataCenter a,
                                org.wanmig.config.DataCenter b, HypervisorListener l) {
            }

            @Override
            public void abort(Migration m, org.wanmig.config.VirtualServer s, org.wanmig.config.DataCenter a,
                              org.wanmig.config.DataCenter b, boolean moved) {
            }
        }.restart(t.server("vs1").orElseThrow(), t.dataCenter("dcB").orElseThrow(), 2);
        var e = org.junit.jupiter.api.Assertions.assertThrows(java.util.concurrent.ExecutionException.class, f::get);
        assertTrue(e.getCause().getMessage().contains("'plain' hypervisor driver cannot restart"), e.getMessage());
    }

    @Test
    void promoteWithoutAnAgentReportsNothingPromoted() throws Exception {
        WanTopology t = Topologies.topology(Topologies.TWO_DC);
        var p = new AgentReplicationClient().promote(t.server("vs1").orElseThrow(), t.dataCenter("dcB").orElseThrow(),
                t.dataCenter("dcA").orElseThrow()).get(5, TimeUnit.SECONDS);
        assertEquals(-1, p.generation());
        assertTrue(p.detail().contains("no replication agent at dcB"), p.detail());
    }
}
