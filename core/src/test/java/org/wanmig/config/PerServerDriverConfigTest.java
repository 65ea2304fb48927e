package org.wanmig.config;

import com.fasterxml.jackson.databind.node.ObjectNode;
import org.junit.jupiter.api.Test;

import java.util.Optional;
import java.util.function.Consumer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.wanmig.config.ConfigAssertions.assertOnlyProblem;
import static org.wanmig.config.ConfigAssertions.assertProblem;
import static org.wanmig.config.ConfigAssertions.rejected;
import static org.wanmig.testing.Topologies.TWO_DC;
import static org.wanmig.testing.Topologies.TWO_DC_TWO_SERVERS;
import static org.wanmig.testing.Topologies.config;
import static org.wanmig.testing.Topologies.entry;
import static org.wanmig.testing.Topologies.repositoryFile;

/** servers[].hypervisor (a driver per server) and servers[].replicated. */
class PerServerDriverConfigTest {

    /** TWO_DC_TWO_SERVERS (default driver "rest") with vs2's own settings. */
    private static ObjectNode vs2(Consumer<ObjectNode> server, Consumer<ObjectNode> hypervisor) {
        return config(TWO_DC_TWO_SERVERS, c -> {
            server.accept(entry(c, "servers", 1));
            hypervisor.accept((ObjectNode) c.with("migration").with("hypervisor"));
        });
    }

    private static void agents(ObjectNode hv) {
        hv.putObject("agents").put("dcA", "http://127.0.0.1:8401").put("dcB", "http://127.0.0.1:8402");
    }

    @Test
    void aServerWithoutDriverUsesTheDefault() {
        WanTopology t = WanTopologyParser.parse(config(TWO_DC_TWO_SERVERS));
        assertEquals(Optional.empty(), t.server("vs1").orElseThrow().hypervisor());
        assertTrue(t.server("vs1").orElseThrow().replicated(), "replicated unless said otherwise");
        assertEquals("rest", t.settings().hypervisorDriver());
    }

    @Test
    void aQemuServerNextToEmulatedOnesReadsTheQemuAgents() {
        WanTopology t = WanTopologyParser.parse(vs2(s -> s.put("hypervisor", "qemu"), hv -> {
            agents(hv);
            hv.put("maxBandwidthMbps", 200);
        }));
        assertEquals(Optional.of("qemu"), t.server("vs2").orElseThrow().hypervisor());
        assertEquals("rest", t.settings().hypervisorDriver(), "the default stays");
        assertEquals(2, t.settings().qemu().agents().size());
        assertEquals(200, t.settings().qemu().maxBandwidthMbps());
    }

    @Test
    void withoutAQemuServerTheAgentsAreNotRead() {
        WanTopology t = WanTopologyParser.parse(vs2(s -> { }, PerServerDriverConfigTest::agents));
        assertEquals(QemuOptions.NONE, t.settings().qemu());
    }

    @Test
    void anUnknownDriverIsRejected() {
        assertOnlyProblem(rejected(vs2(s -> s.put("hypervisor", "vmware"), hv -> { })),
                "servers[1].hypervisor", "unknown driver '\"vmware\"'");
        assertOnlyProblem(rejected(vs2(s -> s.put("hypervisor", 3), hv -> { })),
                "servers[1].hypervisor", "unknown driver");
    }

    @Test
    void aQemuServerWithoutTheQemuAgentsIsRejected() {
        assertOnlyProblem(rejected(vs2(s -> s.put("hypervisor", "qemu"), hv -> { })),
                "servers[1].hypervisor", "the qemu driver needs migration.hypervisor.agents");
    }

    @Test
    void aQemuServerNeedsAnAgentInEveryDataCenter() {
        assertOnlyProblem(rejected(vs2(s -> s.put("hypervisor", "qemu"), hv -> {
            agents(hv);
            ((ObjectNode) hv.get("agents")).remove("dcB");
        })), "migration.hypervisor.agents", "missing the hypervisor agent of data center dcB");
    }

    @Test
    void aQemuServerWithoutAnyMigrationSectionIsRejected() {
        ObjectNode c = config(TWO_DC_TWO_SERVERS, x -> {
            x.remove("migration");
            entry(x, "servers", 0).put("hypervisor", "qemu");
        });
        assertOnlyProblem(rejected(c), "servers[0].hypervisor", "the qemu driver needs migration.hypervisor.agents");
    }

    @Test
    void anHttpServerNeedsTheControllerUrl() {
        assertOnlyProblem(rejected(vs2(s -> s.put("hypervisor", "http"), hv -> { })),
                "servers[1].hypervisor", "the http driver needs migration.hypervisor.url");
        WanTopology t = WanTopologyParser.parse(vs2(s -> s.put("hypervisor", "http"),
                hv -> hv.put("url", "http://127.0.0.1:8300")));
        assertEquals(Optional.of("http"), t.server("vs2").orElseThrow().hypervisor());
    }

    @Test
    void aQemuDefaultWithAnHttpServer() {
        WanTopology t = WanTopologyParser.parse(config(TWO_DC, c -> {
            ObjectNode hv = (ObjectNode) c.with("migration").with("hypervisor");
            hv.put("driver", "qemu").put("url", "http://127.0.0.1:8300");
            agents(hv);
            entry(c, "servers", 0).put("hypervisor", "http");
        }));
        assertEquals("qemu", t.settings().hypervisorDriver());
        assertEquals(Optional.of("http"), t.server("vs1").orElseThrow().hypervisor());
    }

    @Test
    void replicatedMustBeABoolean() {
        WanTopology t = WanTopologyParser.parse(vs2(s -> s.put("replicated", false), hv -> { }));
        assertFalse(t.server("vs2").orElseThrow().replicated());
        assertTrue(t.server("vs1").orElseThrow().replicated());
        assertProblem(rejected(vs2(s -> s.put("replicated", "no"), hv -> { })), "servers[1].replicated",
                "must be true or false");
    }

    @Test
    void theEvacuationDemosVmTestbedMixesDrivers() {
        WanTopology t = WanTopologyParser.parseNetcfg(repositoryFile("mininet-topos/wanmig-3dc-6vs-vm.json"));
        assertEquals("http", t.settings().hypervisorDriver());
        assertEquals(Optional.of("qemu"), t.server("vm1").orElseThrow().hypervisor());
        assertTrue(t.server("vm1").orElseThrow().replicated());
        for (String vs : new String[] {"vs1", "vs2", "vs3", "vs4", "vs5", "vs6"}) {
            assertEquals(Optional.empty(), t.server(vs).orElseThrow().hypervisor(), vs);
            assertFalse(t.server(vs).orElseThrow().replicated(), vs + ": emulated, no disk on the agents");
        }
        assertEquals(3, t.settings().qemu().agents().size());
    }
}
