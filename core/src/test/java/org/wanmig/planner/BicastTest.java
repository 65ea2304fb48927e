package org.wanmig.planner;

import org.junit.jupiter.api.Test;
import org.onlab.packet.Ethernet;
import org.onlab.packet.MplsLabel;
import org.onosproject.net.PortNumber;
import org.onosproject.net.flow.DefaultTrafficSelector;
import org.onosproject.net.flow.DefaultTrafficTreatment;
import org.onosproject.net.flow.FlowRule;
import org.onosproject.net.flow.TrafficSelector;
import org.onosproject.net.flow.TrafficTreatment;
import org.wanmig.api.Migration;
import org.wanmig.api.MigrationId;
import org.wanmig.config.ConfigException;
import org.wanmig.config.DataCenter;
import org.wanmig.config.VirtualServer;
import org.wanmig.config.WanTopology;
import org.wanmig.testing.Topologies;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The optional bicast copy at PE_A: delivered at A as before, and copied into the tunnel. */
class BicastTest {

    private static Migration migration(WanTopology t) {
        return Migration.requested(MigrationId.of(3), "vs1", "dcA", "dcB", 2,
                LabelAllocator.allocate(t.labels(), List.of(), t.clientSites()), 0);
    }

    private static WanTopology topology(boolean bicast) {
        return Topologies.topology(Topologies.TWO_DC, c -> Topologies.migration(c).put("bicast", bicast));
    }

    private static MigrationPlan plan(boolean bicast) {
        WanTopology t = topology(bicast);
        return new NetworkPlanner(t, Topologies.APP_ID).migration(migration(t));
    }

    @Test
    void offByDefaultAsInThePaper() {
        assertTrue(plan(false).bicast().isEmpty());
        WanTopology t = Topologies.topology(Topologies.TWO_DC);
        assertTrue(!t.settings().bicast());
    }

    @Test
    void copyDeliversLocallyThenPushesTheForwardLabelIntoTheTunnel() {
        WanTopology t = topology(true);
        DataCenter a = t.dataCenter("dcA").orElseThrow();
        int label = migration(t).labels().forward();
        VirtualServer vs1 = t.server("vs1").orElseThrow();
        MigrationPlan p = plan(true);
        assertEquals(2, p.bicast().size());
        PortNumber into = p.forwardPath().get(0).port();
        TrafficSelector toServer = DefaultTrafficSelector.builder().matchEthType(Ethernet.TYPE_IPV4)
                .matchIPDst(vs1.ip().toIpPrefix()).build();
        for (FlowRule r : p.bicast()) {
            assertEquals(a.pe(), r.deviceId());
            assertTrue(r.priority() > NetworkPlanner.PRIORITY_SERVER_ROUTE && r.priority() < NetworkPlanner.PRIORITY_REDIRECT,
                    "above the server's route, below the cutover's redirect: " + RuleFormatter.format(r));
            assertTrue(Cookies.ofMigration(r.id().value(), 3));
            boolean hairpin = r.selector().equals(DefaultTrafficSelector.builder(toServer).matchInPort(into).build());
            assertTrue(hairpin || r.selector().equals(toServer), RuleFormatter.format(r));
            TrafficTreatment expected = DefaultTrafficTreatment.builder()
                    .setEthSrc(t.gatewayMac()).setEthDst(vs1.mac()).setOutput(vs1.portAt("dcA").orElseThrow())
                    .pushMpls().setMpls(MplsLabel.mplsLabel(label))
                    .setOutput(hairpin ? PortNumber.IN_PORT : into).build();
            assertEquals(expected.allInstructions(), r.treatment().allInstructions(), RuleFormatter.format(r));
        }
    }

    @Test
    void preparedCarriesTheCopyAndTeardownRemovesIt() {
        MigrationPlan p = plan(true);
        assertTrue(p.prepared().containsAll(p.bicast()));
        assertTrue(p.all().containsAll(p.bicast()));
        assertTrue(p.prepared().stream().noneMatch(p.redirects()::contains), "the redirect waits for the cutover");
    }

    @Test
    void bicastMustBeABoolean() {
        ConfigException e = assertThrows(ConfigException.class, () -> Topologies.topology(Topologies.TWO_DC,
                c -> Topologies.migration(c).put("bicast", "yes")));
        assertEquals("migration.bicast", e.problems().get(0).path());
    }
}
