package org.wanmig.codec;

import com.fasterxml.jackson.databind.node.ObjectNode;
import org.junit.jupiter.api.Test;
import org.wanmig.api.Migration;
import org.wanmig.api.MigrationId;
import org.wanmig.api.MigrationState;
import org.wanmig.config.WanTopology;
import org.wanmig.planner.LabelAllocator;
import org.wanmig.planner.MigrationPlan;
import org.wanmig.planner.NetworkPlanner;
import org.wanmig.planner.RuleKey;
import org.wanmig.testing.Topologies;

import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** A record read back from a store carries its plan exactly as planned: every rule equal. */
class PlanCodecTest {

    @Test
    void recordWithPlanRoundTripsThroughTheStoreForm() throws Exception {
        WanTopology topology = Topologies.topology(Topologies.THREE_DC, c -> Topologies.migration(c).put("bicast", true));
        NetworkPlanner planner = new NetworkPlanner(topology, Topologies.APP_ID);
        Migration m = Migration.requested(MigrationId.of(4), "vs1", "dcA", "dcC", 2,
                LabelAllocator.allocate(topology.labels(), List.of(), topology.clientSites()), 1);
        MigrationPlan plan = planner.migration(m, 3);
        m = m.withPlan(plan, m.labels()).transition(MigrationState.PREPARING, 2, "x").withHypervisorReported()
                .withSwitchedInPause().withSwitchoverUnknown(1_796_000_000_000L);

        WanmigCodecContext context = new WanmigCodecContext(Map.of());
        MigrationCodec codec = new MigrationCodec();
        String stored = codec.encode(m, context).toString();
        Migration back = codec.decode((ObjectNode) context.mapper().readTree(stored), context);

        assertEquals(m, back);
        assertTrue(back.hypervisorReported() && back.switchedInPause() && back.switchoverUnknown());
        assertEquals(3, back.plan().revision());
        assertEquals(plan.all().size(), back.plan().all().size());
        for (int i = 0; i < plan.all().size(); i++) {
            assertTrue(RuleKey.sameRule(plan.all().get(i), back.plan().all().get(i)), plan.all().get(i).toString());
        }
        assertEquals(plan.forwardPath(), back.plan().forwardPath());
    }

    /** A rule as stored before shared tunnels (PE_B popped and delivered in table 0) reads back as it was. */
    @Test
    void ruleStoredBeforeSharedTunnelsStillLoads() throws Exception {
        String legacy = "{\"device\":\"of:000000000000000b\",\"table\":0,\"priority\":1500,"
                + "\"cookie\":\"0x57a9200004000003\",\"match\":{\"ethType\":34887,\"mplsLabel\":1000},"
                + "\"actions\":[{\"popMpls\":2048},{\"ethSrc\":\"00:00:5E:00:01:01\"},"
                + "{\"ethDst\":\"00:00:00:00:02:10\"},{\"output\":2}]}";
        org.onosproject.net.flow.FlowRule r = PlanCodec.rule(new com.fasterxml.jackson.databind.ObjectMapper()
                .readTree(legacy));
        assertEquals(0, r.tableId());
        assertEquals(null, r.treatment().tableTransition());
        assertEquals(4, r.treatment().immediate().size());
        assertTrue(PlanCodec.rule(r, new com.fasterxml.jackson.databind.ObjectMapper())
                .path("gotoTable").isMissingNode(), "written back as before");

        // and the shared tunnel's egress keeps its goto-table through the store
        WanTopology topology = Topologies.topology(Topologies.TWO_DC);
        NetworkPlanner planner = new NetworkPlanner(topology, Topologies.APP_ID);
        org.onosproject.net.flow.FlowRule egress = planner.pairTunnel("dcA", "dcB",
                LabelAllocator.allocate(topology.labels(), List.of(), topology.clientSites())).stream()
                .filter(x -> x.treatment().tableTransition() != null).findFirst().orElseThrow();
        org.onosproject.net.flow.FlowRule back = PlanCodec.rule(PlanCodec.rule(egress,
                new com.fasterxml.jackson.databind.ObjectMapper()));
        assertTrue(RuleKey.sameRule(egress, back), back.toString());
        assertEquals(NetworkPlanner.TABLE_TUNNEL_DELIVERY, back.treatment().tableTransition().tableId());
    }
}
