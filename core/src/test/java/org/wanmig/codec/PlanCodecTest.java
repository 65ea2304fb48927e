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
                .withSwitchedInPause();

        WanmigCodecContext context = new WanmigCodecContext(Map.of());
        MigrationCodec codec = new MigrationCodec();
        String stored = codec.encode(m, context).toString();
        Migration back = codec.decode((ObjectNode) context.mapper().readTree(stored), context);

        assertEquals(m, back);
        assertTrue(back.hypervisorReported() && back.switchedInPause());
        assertEquals(3, back.plan().revision());
        assertEquals(plan.all().size(), back.plan().all().size());
        for (int i = 0; i < plan.all().size(); i++) {
            assertTrue(RuleKey.sameRule(plan.all().get(i), back.plan().all().get(i)), plan.all().get(i).toString());
        }
        assertEquals(plan.forwardPath(), back.plan().forwardPath());
    }
}
