package org.wanmig.drivers;

import com.fasterxml.jackson.databind.node.ObjectNode;
import com.sun.net.httpserver.HttpServer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.wanmig.api.Migration;
import org.wanmig.api.MigrationId;
import org.wanmig.api.TunnelLabels;
import org.wanmig.config.DataCenter;
import org.wanmig.config.VirtualServer;
import org.wanmig.config.WanTopology;
import org.wanmig.spi.HypervisorDriver;
import org.wanmig.spi.HypervisorListener;
import org.wanmig.testing.Topologies;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.URI;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.wanmig.testing.Topologies.entry;

/** A hypervisor driver per server: routing by servers[].hypervisor, and storage left alone when not replicated. */
class PerServerHypervisorDriverTest {
    private HttpServer agent;

    @AfterEach
    void stop() {
        if (agent != null) {
            agent.stop(0);
        }
    }

    /** Records every call with the server it was for. */
    private static final class Recording implements HypervisorDriver {
        final String name;
        final List<String> calls = new ArrayList<>();

        Recording(String name) {
            this.name = name;
        }

        @Override
        public String name() {
            return name;
        }

        @Override
        public void migrate(Migration m, VirtualServer server, DataCenter from, DataCenter to, HypervisorListener l) {
            calls.add("migrate " + server.name());
        }

        @Override
        public void abort(Migration m, VirtualServer server, DataCenter from, DataCenter to, boolean moved) {
            calls.add("abort " + server.name());
        }

        @Override
        public CompletableFuture<String> restart(VirtualServer server, DataCenter at, long port) {
            calls.add("restart " + server.name());
            return CompletableFuture.completedFuture(name + " restarted " + server.name());
        }
    }

    /** TWO_DC_TWO_SERVERS (default "rest"): vs2 is a QEMU guest. */
    private static WanTopology mixed() {
        return Topologies.topology(Topologies.TWO_DC_TWO_SERVERS, c -> {
            entry(c, "servers", 1).put("hypervisor", "qemu");
            ((ObjectNode) c.with("migration").with("hypervisor")).putObject("agents")
                    .put("dcA", "http://127.0.0.1:8401").put("dcB", "http://127.0.0.1:8402");
        });
    }

    private static Migration migration(String server) {
        return Migration.requested(MigrationId.of(5), server, "dcA", "dcB", 2, new TunnelLabels(1000, Map.of()), 0);
    }

    @Test
    void eachCallGoesToTheServersDriver() {
        WanTopology t = mixed();
        Recording rest = new Recording("rest");
        Recording qemu = new Recording("qemu");
        PerServerHypervisorDriver d = new PerServerHypervisorDriver("rest",
                name -> "qemu".equals(name) ? qemu : rest);
        VirtualServer vs1 = t.server("vs1").orElseThrow();
        VirtualServer vs2 = t.server("vs2").orElseThrow();
        DataCenter a = t.dataCenter("dcA").orElseThrow();
        DataCenter b = t.dataCenter("dcB").orElseThrow();
        d.migrate(migration("vs1"), vs1, a, b, null);
        d.migrate(migration("vs2"), vs2, a, b, null);
        d.abort(migration("vs2"), vs2, a, b, false);
        assertEquals("qemu restarted vs2", d.restart(vs2, b, 2).join());
        assertEquals("rest restarted vs1", d.restart(vs1, b, 2).join());
        assertEquals(List.of("migrate vs1", "restart vs1"), rest.calls);
        assertEquals(List.of("migrate vs2", "abort vs2", "restart vs2"), qemu.calls);
        assertEquals("qemu", d.nameFor(vs2));
        assertEquals("rest", d.nameFor(vs1));
        assertEquals("rest", d.name());
    }

    @Test
    void configuredDriversAreRoutedPerServerAndKept() {
        HypervisorDrivers drivers = new HypervisorDrivers(URI.create("http://127.0.0.1:8181/onos/wanmig"));
        WanTopology t = mixed();
        PerServerHypervisorDriver d = assertInstanceOf(PerServerHypervisorDriver.class, drivers.apply(t));
        HypervisorDriver qemu = d.driverFor(t.server("vs2").orElseThrow());
        assertInstanceOf(QemuHypervisorDriver.class, qemu);
        assertInstanceOf(RestReportedHypervisor.class, d.driverFor(t.server("vs1").orElseThrow()));
        PerServerHypervisorDriver again = assertInstanceOf(PerServerHypervisorDriver.class, drivers.apply(t));
        assertSame(qemu, again.driverFor(t.server("vs2").orElseThrow()),
                "one qemu driver while its settings stay: its migrations' sessions live in it");
        // the rest driver really answers for vs1: it has no hypervisor to call
        String restart = d.restart(t.server("vs1").orElseThrow(), t.dataCenter("dcB").orElseThrow(), 2).join();
        assertTrue(restart.startsWith("hypervisor (rest): not called"), restart);
    }

    @Test
    void onlyAQemuGuestInPauseModeSwitchesOverInThePause() {
        HypervisorDrivers drivers = new HypervisorDrivers(URI.create("http://127.0.0.1:8181/onos/wanmig"));
        WanTopology t = mixed();
        HypervisorDriver d = drivers.apply(t);
        assertTrue(d.switchesOverInPause(t.server("vs2").orElseThrow()), "qemu, switchover pause (the default)");
        assertTrue(!d.switchesOverInPause(t.server("vs1").orElseThrow()), "rest: the report comes after the move");
        WanTopology paper = Topologies.topology(Topologies.TWO_DC_TWO_SERVERS, c -> {
            entry(c, "servers", 1).put("hypervisor", "qemu");
            ObjectNode hv = (ObjectNode) c.with("migration").with("hypervisor");
            hv.put("switchover", "paper");
            hv.putObject("agents").put("dcA", "http://127.0.0.1:8401").put("dcB", "http://127.0.0.1:8402");
        });
        assertTrue(!drivers.apply(paper).switchesOverInPause(paper.server("vs2").orElseThrow()), "qemu in the paper's order");
    }

    @Test
    void withoutPerServerDriversTheDefaultDriverItself() {
        HypervisorDrivers drivers = new HypervisorDrivers(URI.create("http://127.0.0.1:8181/onos/wanmig"));
        WanTopology same = Topologies.topology(Topologies.TWO_DC_TWO_SERVERS,
                c -> entry(c, "servers", 1).put("hypervisor", "rest"));
        assertInstanceOf(RestReportedHypervisor.class, drivers.apply(same));
    }

    /** A replication agent that counts the calls it gets. */
    private URI countingAgent(List<String> calls) throws IOException {
        agent = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
        agent.createContext("/", ex -> {
            calls.add(ex.getRequestMethod() + " " + ex.getRequestURI().getPath());
            byte[] body = "{\"inSync\":true,\"role\":\"PRIMARY\",\"generation\":1}".getBytes();
            ex.sendResponseHeaders(200, body.length);
            ex.getResponseBody().write(body);
            ex.close();
        });
        agent.start();
        return URI.create("http://127.0.0.1:" + agent.getAddress().getPort());
    }

    @Test
    void storageOfAServerThatIsNotReplicatedIsLeftAlone() throws Exception {
        List<String> calls = new CopyOnWriteArrayList<>();
        URI url = countingAgent(calls);
        WanTopology t = Topologies.topology(Topologies.TWO_DC_TWO_SERVERS, c -> {
            entry(c, "dataCenters", 0).put("agent", url.toString());
            entry(c, "dataCenters", 1).put("agent", url.toString());
            entry(c, "servers", 0).put("replicated", false);
        });
        DataCenter a = t.dataCenter("dcA").orElseThrow();
        DataCenter b = t.dataCenter("dcB").orElseThrow();
        AgentReplicationClient client = new AgentReplicationClient();
        VirtualServer emulated = t.server("vs1").orElseThrow();
        client.goSynchronous(emulated, a, b, Duration.ofSeconds(5)).get(5, TimeUnit.SECONDS);
        client.reverseRoles(emulated, a, b).get(5, TimeUnit.SECONDS);
        client.restore(emulated, a, b).get(5, TimeUnit.SECONDS);
        assertTrue(client.promote(emulated, b, a).get(5, TimeUnit.SECONDS).detail().contains("not replicated"));
        assertTrue(client.takeOver("migration-1", emulated, a, b).get(5, TimeUnit.SECONDS).contains("not replicated"));
        client.retire(emulated, a).get(5, TimeUnit.SECONDS);
        assertEquals(null, client.checkTakeOver(emulated, a, b).get(5, TimeUnit.SECONDS), "nothing to check");
        assertEquals(List.of(), calls, "no agent call for a disk that is not on the agents");
        client.goSynchronous(t.server("vs2").orElseThrow(), a, b, Duration.ofSeconds(5)).get(5, TimeUnit.SECONDS);
        // (a GET may come too: the replica's agent connection opened early for the take-over in the pause)
        assertEquals(List.of("POST /v1/disks/vs2/mode", "POST /v1/disks/vs2/wait-sync"),
                calls.stream().filter(c -> c.startsWith("POST")).collect(java.util.stream.Collectors.toList()));
    }
}
