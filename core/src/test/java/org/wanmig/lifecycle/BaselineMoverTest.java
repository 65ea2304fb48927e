package org.wanmig.lifecycle;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.onosproject.net.ConnectPoint;
import org.onosproject.net.flow.FlowRule;
import org.wanmig.config.VirtualServer;
import org.wanmig.config.WanGraph;
import org.wanmig.config.WanLink;
import org.wanmig.config.WanTopology;
import org.wanmig.planner.NetworkPlanner;
import org.wanmig.planner.RuleDiff;
import org.wanmig.testing.FakeNetwork;
import org.wanmig.testing.Poll;
import org.wanmig.testing.Topologies;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Old baseline rules go a grace period after the new ones are confirmed, and a quick second move takes them over. */
class BaselineMoverTest {
    private final ScheduledExecutorService lifecycle = Executors.newSingleThreadScheduledExecutor();
    private final FakeNetwork network = new FakeNetwork();
    private final BaselineMover mover = new BaselineMover(network, lifecycle);

    private final WanTopology up = Topologies.topology(Topologies.THREE_DC);
    private final WanTopology down = up.withLink(new WanLink(ConnectPoint.deviceConnectPoint("of:0000000000000002/4"),
            ConnectPoint.deviceConnectPoint("of:0000000000000005/4"), false));

    @AfterEach
    void stop() {
        lifecycle.shutdownNow();
    }

    private static List<FlowRule> baseline(WanTopology t) {
        NetworkPlanner p = new NetworkPlanner(t, Topologies.APP_ID);
        List<FlowRule> rules = new ArrayList<>(p.siteRoutes());
        for (VirtualServer v : t.servers()) {
            rules.addAll(p.serverRoutes(v, v.dc()));
        }
        return rules;
    }

    private void onLifecycle(Runnable r) throws Exception {
        lifecycle.submit(r).get(5, TimeUnit.SECONDS);
    }

    @Test
    void oldRulesStayUntilTheGraceEnds() throws Exception {
        // the link is back: routes return from the detour over core2, whose rules then go
        network.install(baseline(down));
        long t0 = System.nanoTime();
        onLifecycle(() -> mover.move(baseline(down), baseline(up), WanGraph.of(down), WanGraph.of(up)).join());
        assertTrue(network.tables().missing(baseline(up)).isEmpty(), "new rules confirmed");
        boolean oldStillThere = !RuleDiff.between(network.tables().rules(), baseline(up)).toRemove().isEmpty();
        long elapsedMs = (System.nanoTime() - t0) / 1_000_000;
        if (elapsedMs < BaselineMover.STALE_RULE_GRACE.toMillis()) {
            assertTrue(oldStillThere, "old rules removed before the grace ended");
        }
        Poll.until("old rules removed after the grace",
                () -> RuleDiff.between(network.tables().rules(), baseline(up)).toRemove().isEmpty());
        assertEquals(new HashSet<>(baseline(up)), new HashSet<>(network.tables().rules()));
    }

    @Test
    void aSecondMoveInsideTheGraceKeepsWhatItWantsAndRemovesTheRest() throws Exception {
        network.install(baseline(up));
        onLifecycle(() -> {
            // down and straight back up: the first move's old rules are wanted again
            mover.move(baseline(up), baseline(down), WanGraph.of(up), WanGraph.of(down));
            mover.move(baseline(down), baseline(up), WanGraph.of(down), WanGraph.of(up));
        });
        Poll.until("the detour's rules removed",
                () -> RuleDiff.between(network.tables().rules(), baseline(up)).toRemove().isEmpty());
        Thread.sleep(BaselineMover.STALE_RULE_GRACE.toMillis() * 2);
        assertEquals(new HashSet<>(baseline(up)), new HashSet<>(network.tables().rules()),
                "exactly the baseline: nothing wanted was removed, nothing stale left");
        assertFalse(network.removes().isEmpty());
        assertEquals(1, network.removes().size(), "one removal, after the last move");
    }
}
