package org.wanmig.lifecycle;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.onosproject.net.DeviceId;
import org.onosproject.net.flow.FlowRule;
import org.wanmig.api.Migration;
import org.wanmig.api.MigrationId;
import org.wanmig.api.MigrationState;
import org.wanmig.planner.Cookies;
import org.wanmig.planner.RouteChange;
import org.wanmig.planner.RuleKey;
import org.wanmig.spi.SwitchException;
import org.wanmig.testing.FakeNetwork;
import org.wanmig.testing.Poll;
import org.wanmig.testing.Topologies;

import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.wanmig.api.MigrationState.CUTOVER;
import static org.wanmig.api.MigrationState.DRAINING;
import static org.wanmig.api.MigrationState.FAILED;
import static org.wanmig.api.MigrationState.MIGRATING;
import static org.wanmig.api.MigrationState.PREPARING;
import static org.wanmig.api.MigrationState.ROLLED_BACK;
import static org.wanmig.lifecycle.LifecycleFixture.lastDetail;

/**
 * Abort and failure from every state a migration can rest in before completion: everything returns
 * to the source and no rule of the migration stays in any switch. (REQUESTED and ROUTES_UPDATED are
 * left in the same lifecycle step that enters them, so nothing can happen while in them; ResumeTest
 * covers a record stored in ROUTES_UPDATED.)
 */
class RollbackTest {
    static final DeviceId CORE2 = DeviceId.deviceId("of:0000000000000003");
    private LifecycleFixture f;

    @AfterEach
    void stop() {
        if (f != null) {
            f.close();
        }
    }

    @Test
    void aHypervisorReportingFailureIsNotHeldForTheRollback() throws Exception {
        f = LifecycleFixture.start();
        MigrationId id = f.migrating("vs1");
        f.replication.holdRestore();   // the rollback's storage step answers only when released
        // The qemu driver reports from the thread that holds the source monitor's one connection,
        // which the rollback's abort needs: held until the rollback ended (up to the switch
        // timeout, 10 s here), that abort queued behind it.
        java.util.concurrent.CompletableFuture.runAsync(() -> f.manager.failed(id, "QEMU migration failed"))
                .get(5, java.util.concurrent.TimeUnit.SECONDS);
        assertFalse(f.replication.restoreHeld().isDone(), "reported while the rollback is under way");
        f.replication.restoreHeld().complete(null);
        assertEquals(FAILED, f.awaitEnd(id).state(), f.describe(id));
        f.assertBackAtSource(id);
    }

    /**
     * The source's agent is down when the migration fails (killed in pre-copy) and back a moment
     * later: the rollback's storage step is tried again until it is applied, so the source's copy
     * does not stay SYNC for good (as it did when one failed try ended the rollback).
     */
    @Test
    void aSourceAgentBackWithinTheBudgetGetsItsStorageBackAndTheRollbackIsComplete() {
        Migration end = failedWithTheSourceAgentDown(3, java.time.Duration.ofSeconds(10));
        assertEquals(4, f.replication.restores(), f.replication.calls().toString());
        assertFalse(lastDetail(end).contains("rollback incomplete"), f.describe(end.id()));
        assertTrue(end.timeline().stream().anyMatch(e -> e.detail().startsWith("storage not back at dcA (dcA agent:"
                + " Connection refused); trying again every 0.05 s for up to 10 s")), f.describe(end.id()));
        assertTrue(end.timeline().stream().anyMatch(e -> e.detail().equals("storage back at dcA (try 4)")),
                f.describe(end.id()));
        f.assertBackAtSource(end.id());
    }

    @Test
    void aSourceAgentAwayBeyondTheBudgetLeavesTheRollbackIncompleteSayingSo() {
        Migration end = failedWithTheSourceAgentDown(Integer.MAX_VALUE, java.time.Duration.ofMillis(400));
        String last = lastDetail(end);
        assertTrue(last.contains("rollback incomplete: storage: dcA agent: Connection refused ("), last);
        assertTrue(last.contains(" tries in 0 s)"), last);
        long tries = f.replication.restores();
        assertTrue(tries >= 2 && tries <= 9, "tried again within the budget only: " + tries);
        long after = tries;
        try {
            Thread.sleep(300);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        assertEquals(after, f.replication.restores(), "no try after the migration ended");
    }

    /** vs1 MIGRATING, its hypervisor failing while the source's agent refuses the first {@code refusals} restores. */
    private Migration failedWithTheSourceAgentDown(int refusals, java.time.Duration budget) {
        f = LifecycleFixture.start();
        f.manager.retryStorage(java.time.Duration.ofMillis(50), budget);
        MigrationId id = f.migrating("vs1");
        f.replication.failRestores(refusals, new IllegalStateException("dcA agent: Connection refused"));
        f.manager.failed(id, "QEMU migration failed");
        Migration end = f.awaitEnd(id);
        assertEquals(FAILED, end.state(), f.describe(id));
        return end;
    }

    /** How to bring a migration into a state and how that state fails. */
    enum Phase {
        PREPARING_TUNNEL_UNCONFIRMED(PREPARING, false) {
            @Override
            MigrationId reach(LifecycleFixture f) {
                f.network.holdNext(FakeNetwork.anyRuleOfMigration(1));
                MigrationId id = f.startMigration("vs1");
                f.awaitState(id, PREPARING);
                return id;
            }

            @Override
            void fail(LifecycleFixture f, MigrationId id) {
                f.network.failHeld(new SwitchException(CORE2, 0, "switch disconnected"));
            }
        },
        MIGRATING_HYPERVISOR_COPYING(MIGRATING, false) {
            @Override
            MigrationId reach(LifecycleFixture f) {
                return f.migrating("vs1");
            }

            @Override
            void fail(LifecycleFixture f, MigrationId id) {
                f.manager.hypervisorFailed(id, "out of memory at dcB");
            }
        },
        CUTOVER_ROUTES_UNCONFIRMED(CUTOVER, true) {
            @Override
            MigrationId reach(LifecycleFixture f) {
                MigrationId id = f.migrating("vs1");
                f.network.holdNext(FakeNetwork.anyServerRoute());
                f.manager.hypervisorCompleted(id, "moved");
                f.awaitState(id, CUTOVER);
                Poll.until("the route update sent", () -> f.network.heldCount() == 1);
                return id;
            }

            @Override
            void fail(LifecycleFixture f, MigrationId id) {
                f.network.failHeld(new SwitchException(CORE2, 0, "switch disconnected"));
            }
        },
        DRAINING_TUNNEL_KEPT(DRAINING, true) {
            @Override
            MigrationId reach(LifecycleFixture f) {
                return f.draining("vs1");
            }

            @Override
            void fail(LifecycleFixture f, MigrationId id) {
                f.manager.hypervisorFailed(id, "vs1 crashed at dcB");
            }
        };

        final MigrationState state;
        final boolean serverMoved;

        Phase(MigrationState state, boolean serverMoved) {
            this.state = state;
            this.serverMoved = serverMoved;
        }

        abstract MigrationId reach(LifecycleFixture f);

        abstract void fail(LifecycleFixture f, MigrationId id);
    }

    private static LifecycleFixture fixtureFor(Phase p) {
        // a drain long enough to act while DRAINING
        return LifecycleFixture.start(p == Phase.DRAINING_TUNNEL_KEPT ? LifecycleFixture.drainSeconds(60) : c -> { });
    }

    private void assertHypervisorToldIfAsked(Phase p, MigrationId id) {
        if (p.state.ordinal() >= MIGRATING.ordinal()) {
            assertEquals(List.of(id + " moved=" + p.serverMoved), f.hypervisor.aborts());
        } else {
            assertTrue(f.hypervisor.aborts().isEmpty(), "never asked, nothing to abort");
        }
    }

    @ParameterizedTest
    @EnumSource(Phase.class)
    void abortReturnsEverythingToTheSource(Phase p) {
        f = fixtureFor(p);
        MigrationId id = p.reach(f);
        assertEquals(p.state, f.state(id));
        f.manager.abort(id);
        Migration m = f.awaitEnd(id);
        assertEquals(ROLLED_BACK, m.state(), f.describe(id));
        assertTrue(m.error().startsWith("aborted by operator in " + p.state), m.error());
        f.assertBackAtSource(id);
        assertHypervisorToldIfAsked(p, id);
        assertTrue(f.manager.activeMigration("vs1").isEmpty());
        assertEquals(List.of(), f.network.repeatedRemovals(), "each stale rule sent for removal once");
    }

    @ParameterizedTest
    @EnumSource(Phase.class)
    void failureReturnsEverythingToTheSource(Phase p) {
        f = fixtureFor(p);
        MigrationId id = p.reach(f);
        p.fail(f, id);
        Migration m = f.awaitEnd(id);
        assertEquals(FAILED, m.state(), f.describe(id));
        assertNotNull(m.error());
        f.assertBackAtSource(id);
        assertHypervisorToldIfAsked(p, id);
    }

    @Test
    void switchFailureNamesTheSwitch() {
        f = LifecycleFixture.start();
        Phase.CUTOVER_ROUTES_UNCONFIRMED.reach(f);
        f.network.failHeld(new SwitchException(CORE2, 0, "switch disconnected"));
        Migration m = f.awaitEnd(MigrationId.of(1));
        assertTrue(m.error().contains("of:0000000000000003"), m.error());
        assertTrue(m.error().startsWith("ROUTES_UPDATED failed") || m.error().startsWith("CUTOVER"), m.error());
    }

    @Test
    void switchRefusingATunnelRuleFailsTheMigrationNamingTheSwitch() {
        f = LifecycleFixture.start();
        f.network.refuseRulesOn(CORE2);
        MigrationId id = f.startMigration("vs1");
        Migration m = f.awaitEnd(id);
        assertEquals(FAILED, m.state());
        assertTrue(m.error().contains("PREPARING failed") && m.error().contains("of:0000000000000003"), m.error());
        assertTrue(f.network.rulesOfMigration(id.value()).isEmpty(), "tunnel rules on other switches removed");
        assertTrue(f.hypervisor.migrations().isEmpty());
    }

    @Test
    void sourceSwitchRefusingTheRestoreStillLosesEveryTunnelRule() {
        f = LifecycleFixture.start(LifecycleFixture.drainSeconds(60));
        MigrationId id = f.draining("vs1"); // routes lead to the destination: the rollback must restore them
        f.network.refuseRulesOn(DeviceId.deviceId("of:000000000000000a")); // PE_A delivers to the server again
        Migration m = f.manager.abort(id);
        m = f.awaitEnd(id);
        assertEquals(FAILED, m.state(), "a rollback that could not restore every route is a failure");
        assertTrue(lastDetail(m).contains("rollback incomplete"), m.toString());
        assertTrue(f.network.rulesOfMigration(id.value()).isEmpty(), "tunnel and redirect removed anyway");
    }

    @Test
    void abortBeforeTheRoutesMovedChangesNoSourceRouteAndNeedsNone() {
        f = LifecycleFixture.start();
        MigrationId id = f.migrating("vs1");
        int installs = f.network.installs().size();
        // cs1 would refuse anything now, but the source routes never changed: only removals are needed
        f.network.refuseRulesOn(DeviceId.deviceId("of:0000000000000001"));
        f.manager.abort(id);
        Migration m = f.awaitEnd(id);
        assertEquals(ROLLED_BACK, m.state(), m.toString());
        assertEquals(installs, f.network.installs().size(), "nothing reinstalled: " + f.network.installs());
        f.assertBackAtSource(id);
    }

    @Test
    void abortInThePacedRouteUpdateSendsNoFurtherStepAndRestoresTheSourceRoutesAtThePace() {
        f = LifecycleFixture.start(c -> Topologies.migration(c).put("routeStepGapMs", 1000));
        RouteChange forward = f.routeChange("dcA", "dcB");
        RouteChange back = f.routeChange("dcB", "dcA");
        MigrationId id = f.migrating("vs1");
        f.manager.hypervisorCompleted(id, "moved");
        Poll.until("the first route step", () -> f.network.tables().missing(forward.steps().get(0)).isEmpty());
        int mark = f.network.installs().size();
        f.manager.abort(id);
        Migration m = f.awaitEnd(id);
        assertEquals(ROLLED_BACK, m.state(), m.toString());
        f.assertBackAtSource(id);
        // the forward steps left were not sent after the abort (they would undo the restore until
        // the next converge); the way back went step by step, in order, the gap apart
        List<List<FlowRule>> installs = f.network.installs();
        List<Long> times = f.network.installTimes();
        List<Long> sent = new ArrayList<>();
        for (int i = mark; i < installs.size(); i++) {
            List<FlowRule> batch = installs.get(i);
            for (List<FlowRule> step : forward.steps().subList(1, forward.steps().size())) {
                assertFalse(batch.stream().anyMatch(r -> step.stream().anyMatch(s -> RuleKey.sameRule(s, r))),
                        "a forward route step sent after the abort: " + batch);
            }
            if (batch.stream().allMatch(r -> Cookies.kind(r.id().value()) == Cookies.KIND_SERVER_ROUTE)) {
                assertTrue(sent.size() < back.steps().size() && RuleKey.sameRules(back.steps().get(sent.size()), batch),
                        "route install " + sent.size() + " after the abort is the way back's step " + (sent.size() + 1));
                sent.add(times.get(i));
            }
        }
        assertEquals(back.steps().size(), sent.size(), "the way back's steps");
        for (int i = 1; i < sent.size(); i++) {
            long gapMs = (sent.get(i) - sent.get(i - 1)) / 1_000_000;
            assertTrue(gapMs >= 1000, "way back's step " + (i + 1) + " sent " + gapMs + " ms after the one before");
        }
    }

    @Test
    void redirectFailingAfterTheReportTellsTheHypervisorTheServerMoved() {
        f = LifecycleFixture.start();
        MigrationId id = f.migrating("vs1");
        f.network.refuseRulesOn(DeviceId.deviceId("of:000000000000000a")); // PE_A: the redirect is refused
        f.manager.hypervisorCompleted(id, "running at B");
        Migration m = f.awaitEnd(id);
        assertEquals(FAILED, m.state());
        assertTrue(m.hypervisorReported(), "the report was stored before the redirect");
        assertTrue(m.error().startsWith("CUTOVER failed"), m.error());
        assertEquals(List.of(id + " moved=true"), f.hypervisor.aborts(),
                "the server runs at B: the hypervisor must bring it back");
    }

    @Test
    void storageFailingToReverseFailsTheMigrationAndReturnsToSource() {
        f = LifecycleFixture.start();
        f.replication.failReverse(new IllegalStateException("dcB agent: promote refused"));
        MigrationId id = f.migrating("vs1");
        f.manager.hypervisorCompleted(id, "moved");
        Migration m = f.awaitEnd(id);
        assertEquals(FAILED, m.state());
        assertTrue(m.error().contains("promote refused"), m.error());
        f.assertBackAtSource(id);
        assertEquals(List.of(id + " moved=true"), f.hypervisor.aborts());
    }

    @Test
    void aMovedServerItsHypervisorCannotTakeBackKeepsItsRoutesAndStorageAtTheDestination() {
        f = LifecycleFixture.start();
        f.hypervisor.keepMovedServers();
        f.replication.failReverse(new IllegalStateException("dcB agent: promote timed out"));
        MigrationId id = f.migrating("vs1");
        f.manager.hypervisorCompleted(id, "QEMU completed, guest resumed at dcB");
        Migration m = f.awaitEnd(id);
        assertEquals(FAILED, m.state(), f.describe(id));
        assertEquals(List.of(id + " moved=true"), f.hypervisor.aborts());
        assertEquals("dcB", f.manager.location("vs1"), "placed where it runs");
        assertTrue(f.network.rulesOfMigration(id.value()).isEmpty(), "tunnel and redirect removed");
        assertTrue(f.network.tables().holdsExactly(f.manager.baselineRules()),
                "exactly the baseline with vs1 at dcB: " + f.network.tables().missing(f.manager.baselineRules()));
        assertFalse(f.replication.calls().stream().anyMatch(c -> c.startsWith("restore")),
                "storage not taken back to where the server no longer runs: " + f.replication.calls());
        assertEquals(2, f.replication.calls().stream().filter(c -> c.equals("reverse vs1 dcA>dcB")).count(),
                "the reversal asked again: " + f.replication.calls());
        String last = lastDetail(m);
        assertTrue(last.contains("vs1 stays at dcB") && last.contains("storage: "), last);
    }

    @Test
    void aMovedServerInThePauseStaysAtTheDestinationWithItsStorage() throws Exception {
        f = LifecycleFixture.start();
        f.hypervisor.keepMovedServers();
        MigrationId id = f.migrating("vs1");
        f.manager.preSwitchover(id, "paused").toCompletableFuture().get(5, java.util.concurrent.TimeUnit.SECONDS);
        f.network.refuseRulesOn(DeviceId.deviceId("of:0000000000000002"));  // a core switch refuses the route change
        f.manager.hypervisorCompleted(id, "QEMU completed, guest resumed at dcB");
        Migration m = f.awaitEnd(id);
        assertEquals(FAILED, m.state(), f.describe(id));
        assertEquals(List.of(id + " moved=true"), f.hypervisor.aborts());
        assertEquals("dcB", f.manager.location("vs1"));
        assertEquals(List.of("sync vs1 dcA>dcB", "takeover vs1 dcA>dcB", "retire vs1 dcA"), f.replication.calls(),
                "dcB took over in the pause and stays primary: no restore to dcA");
    }

    @Test
    void storageFailingToSyncFailsInPreparing() {
        f = LifecycleFixture.start();
        f.replication.holdSync();
        MigrationId id = f.startMigration("vs1");
        f.awaitState(id, PREPARING);
        f.replication.failSyncs(new IllegalStateException("dcA agent unreachable"));
        Migration m = f.awaitEnd(id);
        assertEquals(FAILED, m.state());
        assertTrue(m.error().contains("dcA agent unreachable"), m.error());
        f.assertBackAtSource(id);
    }

    @Test
    void hypervisorRefusingTheRequestFailsTheMigration() {
        f = LifecycleFixture.start();
        f.hypervisor.refuse(new IllegalStateException("no capacity at dcB"));
        MigrationId id = f.startMigration("vs1");
        Migration m = f.awaitEnd(id);
        assertEquals(FAILED, m.state());
        assertTrue(m.error().contains("no capacity at dcB"), m.error());
        f.assertBackAtSource(id);
    }
}
