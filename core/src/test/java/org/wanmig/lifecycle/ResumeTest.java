package org.wanmig.lifecycle;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.wanmig.api.Migration;
import org.wanmig.api.MigrationId;
import org.wanmig.planner.MigrationPlan;

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
    void idsAreNotReusedAfterRestart() {
        before = LifecycleFixture.start();
        MigrationId id = before.migrating("vs1");
        before.close();
        after = before.restart(c -> { });
        MigrationId next = after.migrating("vs2");
        assertTrue(next.value() > id.value());
    }
}
