package org.wanmig.lifecycle;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.onosproject.net.flow.FlowRule;
import org.wanmig.api.Migration;
import org.wanmig.api.MigrationId;
import org.wanmig.api.MigrationState;
import org.wanmig.planner.Cookies;
import org.wanmig.planner.RouteChange;
import org.wanmig.planner.RuleKey;
import org.wanmig.testing.FakeNetwork;
import org.wanmig.testing.Poll;
import org.wanmig.testing.Topologies;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.wanmig.api.MigrationState.COMPLETED;
import static org.wanmig.api.MigrationState.CUTOVER;
import static org.wanmig.api.MigrationState.DRAINING;
import static org.wanmig.api.MigrationState.MIGRATING;
import static org.wanmig.api.MigrationState.PREPARING;
import static org.wanmig.api.MigrationState.REQUESTED;
import static org.wanmig.api.MigrationState.ROUTES_UPDATED;

class HappyPathTest {
    private LifecycleFixture f;

    @AfterEach
    void stop() {
        if (f != null) {
            f.close();
        }
    }

    @Test
    void migrationPassesEveryStateOnceInOrderToCompleted() {
        f = LifecycleFixture.start();
        List<MigrationState> told = new CopyOnWriteArrayList<>();
        f.manager.addListener(m -> told.add(m.state()));
        MigrationId id = f.migrating("vs1");
        Migration atCutover = f.manager.hypervisorCompleted(id, "vs1 runs in dcB");
        assertTrue(atCutover.state().serverMoved(), atCutover.toString());
        Migration done = f.awaitState(id, COMPLETED);

        List<MigrationState> expected = List.of(REQUESTED, PREPARING, MIGRATING, CUTOVER, ROUTES_UPDATED, DRAINING, COMPLETED);
        assertEquals(expected, LifecycleFixture.states(done));
        assertEquals(expected, told, "listeners told of every transition");
        assertNull(done.error());
        String cutover = done.timeline().get(3).detail();
        assertTrue(cutover.startsWith("redirect confirmed in"), cutover);
        assertTrue(cutover.contains("vs1 runs in dcB"), cutover);
        f.assertAtDestination(id);
        assertEquals(List.of(id), f.hypervisor.migrations());
        assertEquals(List.of("sync vs1 dcA>dcB", "reverse vs1 dcA>dcB"), f.replication.calls());
        assertTrue(f.manager.activeMigration("vs1").isEmpty());
        assertEquals(List.of(), f.network.repeatedRemovals(), "each stale rule sent for removal once");
    }

    @Test
    void redirectIsInstalledAloneAndBeforeAnyRouteChanges() {
        f = LifecycleFixture.start();
        MigrationId id = f.migrating("vs1");
        int before = f.network.installs().size();
        f.manager.hypervisorCompleted(id, null);
        f.awaitState(id, COMPLETED);
        List<List<FlowRule>> after = new ArrayList<>(f.network.installs().subList(before, f.network.installs().size()));
        List<FlowRule> cutover = after.get(0);
        assertTrue(cutover.stream().allMatch(r -> Cookies.ofMigration(r.id().value(), id.value())
                && r.deviceId().equals(f.topology.dataCenter("dcA").orElseThrow().pe())), "first the redirect at PE_A");
        assertTrue(after.get(1).stream().allMatch(r -> Cookies.kind(r.id().value()) == Cookies.KIND_SERVER_ROUTE),
                "then the routes");
    }

    @Test
    void routeStepsAreSentTheStepGapApart() {
        f = LifecycleFixture.start(c -> Topologies.migration(c).put("routeStepGapMs", 300));
        MigrationId id = f.migrating("vs1");
        int before = f.network.installs().size();
        f.manager.hypervisorCompleted(id, null);
        f.awaitState(id, COMPLETED);
        List<List<FlowRule>> installs = f.network.installs();
        List<Long> times = f.network.installTimes();
        List<Long> routeSteps = new ArrayList<>();
        for (int i = before; i < installs.size(); i++) {
            if (installs.get(i).stream().allMatch(r -> Cookies.kind(r.id().value()) == Cookies.KIND_SERVER_ROUTE)) {
                routeSteps.add(times.get(i));
            }
        }
        assertTrue(routeSteps.size() >= 2, "a route change of several steps: " + routeSteps.size());
        for (int i = 1; i < routeSteps.size(); i++) {
            long gapMs = (routeSteps.get(i) - routeSteps.get(i - 1)) / 1_000_000;
            assertTrue(gapMs >= 300, "step " + i + " sent " + gapMs + " ms after the one before");
        }
    }

    @Test
    void aSwitchThatReconnectsInThePacedRouteUpdateGetsItsStepAtThePace() {
        f = LifecycleFixture.start(c -> Topologies.migration(c).put("routeStepGapMs", 1500));
        RouteChange change = f.routeChange("dcA", "dcB");
        List<FlowRule> second = change.steps().get(1);
        MigrationId id = f.migrating("vs1");
        f.manager.hypervisorCompleted(id, null);
        Poll.until("the first route step", () -> f.network.tables().missing(change.steps().get(0)).isEmpty());
        long firstAt = System.nanoTime();
        // a switch of the second step reconnects: read, and brought in line with the desired state
        int reads = f.network.reads().size();
        f.manager.switchConnected(second.get(0).deviceId());
        f.awaitState(id, COMPLETED);
        assertTrue(f.network.reads().size() > reads, "the reconnected switch was read");
        List<List<FlowRule>> installs = f.network.installs();
        List<Long> times = f.network.installTimes();
        for (int i = 0; i < installs.size(); i++) {
            if (installs.get(i).stream().anyMatch(r -> second.stream().anyMatch(s -> RuleKey.sameRule(s, r)))) {
                long ms = (times.get(i) - firstAt) / 1_000_000;
                assertTrue(ms >= 1400, "the second step's rules went in " + ms + " ms after the first step");
                break;
            }
        }
        f.assertAtDestination(id);
    }

    @Test
    void tunnelMustBeConfirmedBeforeTheHypervisorIsAsked() {
        f = LifecycleFixture.start();
        f.network.holdNext(FakeNetwork.anyRuleOfMigration(1));
        MigrationId id = f.startMigration("vs1");
        f.awaitState(id, PREPARING);
        assertEquals(1, f.network.heldCount());
        assertTrue(f.hypervisor.migrations().isEmpty(), "asked before the tunnel was confirmed");
        f.network.releaseHeld();
        f.awaitState(id, MIGRATING);
        assertEquals(List.of(id), f.hypervisor.migrations());
    }

    @Test
    void storageMustBeInSyncBeforeTheHypervisorIsAsked() {
        f = LifecycleFixture.start();
        f.replication.holdSync();
        MigrationId id = f.startMigration("vs1");
        f.awaitState(id, PREPARING);
        assertTrue(f.network.rulesOfMigration(id.value()).size() > 0, "the tunnel is installed meanwhile");
        assertTrue(f.hypervisor.migrations().isEmpty(), "asked before storage was in sync");
        f.replication.completeSyncs();
        f.awaitState(id, MIGRATING);
    }

    @Test
    void preparedTunnelHoldsNoRedirect() {
        f = LifecycleFixture.start();
        MigrationId id = f.migrating("vs1");
        assertTrue(f.network.rulesOfMigration(id.value()).stream()
                .noneMatch(r -> r.priority() >= org.wanmig.planner.NetworkPlanner.PRIORITY_REDIRECT
                        && r.deviceId().equals(f.topology.dataCenter("dcA").orElseThrow().pe())));
        assertEquals("dcA", f.manager.location("vs1"));
    }

    @Test
    void bicastCopiesAreInPlaceWhileMigratingAndGoneAfterwards() {
        f = LifecycleFixture.start(c -> org.wanmig.testing.Topologies.migration(c).put("bicast", true));
        org.wanmig.api.MigrationId id = f.migrating("vs1");
        java.util.List<org.onosproject.net.flow.FlowRule> copies =
                f.manager.planner().migration(f.record(id)).bicast();
        assertEquals(2, copies.size());
        assertTrue(f.network.rulesOfMigration(id.value()).containsAll(copies), "copies installed before the move");
        f.manager.hypervisorCompleted(id, "moved");
        f.awaitState(id, MigrationState.COMPLETED);
        assertTrue(f.network.rulesOfMigration(id.value()).isEmpty(), "copies torn down with the tunnel");
    }
}
