package org.wanmig.lifecycle;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.onosproject.net.flow.FlowRule;
import org.wanmig.api.Migration;
import org.wanmig.api.MigrationId;
import org.wanmig.planner.Cookies;
import org.wanmig.planner.MigrationPlan;
import org.wanmig.planner.RouteChange;
import org.wanmig.planner.RuleFormatter;
import org.wanmig.planner.RuleKey;
import org.wanmig.testing.Poll;
import org.wanmig.testing.Topologies;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.wanmig.api.MigrationState.COMPLETED;
import static org.wanmig.api.MigrationState.CUTOVER;
import static org.wanmig.api.MigrationState.DRAINING;
import static org.wanmig.api.MigrationState.MIGRATING;
import static org.wanmig.api.MigrationState.PREPARING;
import static org.wanmig.api.MigrationState.ROLLED_BACK;
import static org.wanmig.api.MigrationState.ROUTES_UPDATED;

/** A new manager over the same store and switches picks up what the old one left in flight. */
class ResumeTest {
    private LifecycleFixture before;
    private LifecycleFixture after;

    @AfterEach
    void stop() {
        if (before != null) {
            before.close();
        }
        if (after != null) {
            after.close();
        }
    }

    @Test
    void migratingResumesAndCompletesWhenTheHypervisorReports() {
        before = LifecycleFixture.start();
        MigrationId id = before.migrating("vs1");
        before.close();
        after = before.restart(c -> { });
        assertEquals(MIGRATING, after.state(id));
        org.wanmig.testing.Poll.until("the hypervisor asked again", () -> after.hypervisor.migrations().contains(id));
        after.manager.hypervisorCompleted(id, "moved while the controller restarted");
        Migration m = after.awaitState(id, COMPLETED);
        assertEquals(1, m.timeline().stream().filter(e -> e.state() == MIGRATING).count());
        after.assertAtDestination(id);
    }

    @Test
    void preparingRollsBackAfterRestart() {
        before = LifecycleFixture.start();
        before.replication.holdSync();
        MigrationId id = before.startMigration("vs1");
        before.awaitState(id, PREPARING);
        before.close();
        after = before.restart(c -> { });
        Migration m = after.awaitEnd(id);
        assertEquals(ROLLED_BACK, m.state());
        assertTrue(m.error().contains("restarted while PREPARING"), m.error());
        after.assertBackAtSource(id);
    }

    @Test
    void drainingCompletesAfterRestart() {
        before = LifecycleFixture.start(LifecycleFixture.drainSeconds(60));
        MigrationId id = before.draining("vs1");
        assertFalse(before.network.rulesOfMigration(id.value()).isEmpty());
        before.close();
        after = before.restart(LifecycleFixture.drainSeconds(0.05));
        after.awaitState(id, COMPLETED);
        after.assertAtDestination(id);
    }

    @Test
    void recordLeftInRoutesUpdatedDrainsAndCompletes() {
        // what a controller that stopped right after the route update leaves behind
        org.wanmig.config.WanTopology topology = org.wanmig.config.WanTopologyParser.parse(
                LifecycleFixture.config(c -> { }));
        org.wanmig.store.InMemoryMigrationStore store = new org.wanmig.store.InMemoryMigrationStore();
        org.wanmig.testing.FakeNetwork network = new org.wanmig.testing.FakeNetwork();
        Migration m = Migration.requested(store.nextId(), "vs1", "dcA", "dcB", 2,
                new org.wanmig.api.TunnelLabels(1000, java.util.Map.of("site1", 1001)), 1);
        for (var s : java.util.List.of(PREPARING, MIGRATING, CUTOVER, ROUTES_UPDATED)) {
            m = m.transition(s, 2, "");
        }
        MigrationPlan plan = new org.wanmig.planner.NetworkPlanner(topology, org.wanmig.testing.Topologies.APP_ID)
                .migration(m);
        store.put(m);
        store.setPlacement("vs1", "dcB");
        network.install(plan.tunnel());
        network.install(plan.redirects());

        after = LifecycleFixture.start(topology, network, store);
        Migration done = after.awaitState(m.id(), COMPLETED);
        assertEquals(java.util.List.of(DRAINING, COMPLETED), done.timeline().subList(5, 7).stream()
                .map(e -> e.state()).collect(java.util.stream.Collectors.toList()));
        after.assertAtDestination(m.id());
    }

    @Test
    void restartInTheRouteUpdateGoesOnAfterTheStepsOnTheSwitchesAtItsPace() {
        before = LifecycleFixture.start(c -> Topologies.migration(c).put("routeStepGapMs", 5000));
        RouteChange change = before.routeChange("dcA", "dcB");
        List<FlowRule> first = change.steps().get(0);
        MigrationId id = before.migrating("vs1");
        before.manager.hypervisorCompleted(id, "moved");
        // the first step confirmed; the second waits out the 5 s gap when the controller stops
        Poll.until("the first route step", () -> before.network.tables().missing(first).isEmpty());
        before.close();
        assertEquals(CUTOVER, before.state(id));
        int installsBefore = before.network.installs().size();
        int removesBefore = before.network.removes().size();

        after = before.restart(c -> Topologies.migration(c).put("routeStepGapMs", 300));
        Migration m = after.awaitState(id, COMPLETED);
        after.assertAtDestination(id);
        // nothing of the first step was turned back meanwhile: no other rule for its keys, no removal
        Map<RuleKey, FlowRule> firstByKey = Reconciler.index(first);
        List<List<FlowRule>> installs = after.network.installs();
        List<Long> times = after.network.installTimes();
        for (List<FlowRule> batch : installs.subList(installsBefore, installs.size())) {
            for (FlowRule r : batch) {
                FlowRule mine = firstByKey.get(RuleKey.of(r));
                assertTrue(mine == null || RuleKey.sameRule(mine, r), "first step's rule turned back: "
                        + RuleFormatter.format(r));
            }
        }
        for (List<FlowRule> batch : after.network.removes().subList(removesBefore, after.network.removes().size())) {
            batch.forEach(r -> assertFalse(firstByKey.containsKey(RuleKey.of(r)), "first step's rule removed: "
                    + RuleFormatter.format(r)));
        }
        // the steps left, each once, in order, the new gap apart
        List<Long> sent = new ArrayList<>();
        for (int i = installsBefore; i < installs.size(); i++) {
            if (installs.get(i).stream().allMatch(r -> Cookies.kind(r.id().value()) == Cookies.KIND_SERVER_ROUTE)) {
                assertTrue(RuleKey.sameRules(change.steps().get(1 + sent.size()), installs.get(i)),
                        "route install " + sent.size() + " after the restart is step " + (2 + sent.size()));
                sent.add(times.get(i));
            }
        }
        assertEquals(change.steps().size() - 1, sent.size(), "the steps left");
        for (int i = 1; i < sent.size(); i++) {
            assertTrue((sent.get(i) - sent.get(i - 1)) / 1_000_000 >= 300, "step sent a gap after the one before");
        }
        assertTrue(m.timeline().stream().anyMatch(e -> e.detail().contains("went on at step 2 of "
                + change.steps().size())), m.timeline().toString());
    }

    @Test
    void idsAreNotReusedAfterRestart() {
        before = LifecycleFixture.start();
        MigrationId id = before.migrating("vs1");
        before.close();
        after = before.restart(c -> { });
        MigrationId next = after.migrating("vs2");
        assertTrue(next.value() > id.value());
    }
}
