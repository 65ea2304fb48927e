package org.wanmig.lifecycle;

import com.fasterxml.jackson.databind.node.ObjectNode;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.onosproject.net.DeviceId;
import org.onosproject.net.PortNumber;
import org.onosproject.net.flow.DefaultFlowRule;
import org.onosproject.net.flow.DefaultTrafficTreatment;
import org.onosproject.net.flow.FlowRule;
import org.onosproject.net.flow.criteria.Criterion;
import org.wanmig.api.Migration;
import org.wanmig.api.MigrationId;
import org.wanmig.planner.Cookies;
import org.wanmig.planner.MigrationPlan;
import org.wanmig.planner.RouteChange;
import org.wanmig.planner.RuleFormatter;
import org.wanmig.planner.RuleKey;
import org.wanmig.testing.FakeNetwork;
import org.wanmig.testing.Poll;
import org.wanmig.testing.Topologies;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.wanmig.api.MigrationState.COMPLETED;
import static org.wanmig.api.MigrationState.CUTOVER;
import static org.wanmig.api.MigrationState.DRAINING;
import static org.wanmig.api.MigrationState.FAILED;
import static org.wanmig.api.MigrationState.MIGRATING;
import static org.wanmig.api.MigrationState.PREPARING;
import static org.wanmig.api.MigrationState.ROLLED_BACK;
import static org.wanmig.api.MigrationState.ROUTES_UPDATED;

/** A new manager over the same store and switches picks up what the old one left in flight. */
class ResumeTest {
    private LifecycleFixture before;
    private LifecycleFixture after;
    /** Managers between {@link #before} and {@link #after}, each killed in its turn. */
    private final List<LifecycleFixture> between = new ArrayList<>();

    @AfterEach
    void stop() {
        between.forEach(LifecycleFixture::close);
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

    /** The longest route step gap the configuration takes: a manager is killed well inside it. */
    private static final int LONG_GAP_MS = 5000;

    /**
     * The 2-DC WAN with dcA's prefix routed to PE_A: vs1's routes to dcB are all new keys, added
     * nearest PE_B first, so its route change takes four steps of one switch each (PE_B, core2,
     * core1, then the site's edge), {@code gapMs} apart.
     */
    private static Consumer<ObjectNode> fourSteps(int gapMs) {
        return c -> {
            Topologies.entry(c, "dataCenters", 0).put("prefix", "10.2.0.0/24");
            Topologies.migration(c).put("routeStepGapMs", gapMs);
        };
    }

    /**
     * The server-route install batches sent from {@code from} to {@code to}, each as the number of
     * the step of {@code change} it is (from 1), 0 for one that is no step.
     */
    private static List<Integer> routeSteps(FakeNetwork network, int from, int to, RouteChange change) {
        List<Integer> steps = new ArrayList<>();
        for (List<FlowRule> batch : network.installs().subList(from, to)) {
            if (batch.stream().allMatch(r -> Cookies.kind(r.id().value()) == Cookies.KIND_SERVER_ROUTE)) {
                int n = 0;
                for (int i = 0; i < change.steps().size() && n == 0; i++) {
                    n = RuleKey.sameRules(change.steps().get(i), batch) ? i + 1 : 0;
                }
                steps.add(n);
            }
        }
        return steps;
    }

    /** When each server-route install batch from {@code from} on was sent (System.nanoTime()). */
    private static List<Long> routeStepTimes(FakeNetwork network, int from) {
        List<List<FlowRule>> installs = network.installs();
        List<Long> times = network.installTimes();
        List<Long> sent = new ArrayList<>();
        for (int i = from; i < installs.size(); i++) {
            if (installs.get(i).stream().allMatch(r -> Cookies.kind(r.id().value()) == Cookies.KIND_SERVER_ROUTE)) {
                sent.add(times.get(i));
            }
        }
        return sent;
    }

    private static void assertPaced(List<Long> sent, long gapMs) {
        for (int i = 1; i < sent.size(); i++) {
            long ms = (sent.get(i) - sent.get(i - 1)) / 1_000_000;
            assertTrue(ms >= gapMs, "route step sent " + ms + " ms after the one before, not " + gapMs);
        }
    }

    /**
     * No install from {@code installsFrom} on gives a key of {@code kept} another rule, and no
     * removal from {@code removesFrom} on takes one.
     */
    private static void assertKept(FakeNetwork network, List<FlowRule> kept, int installsFrom, int removesFrom) {
        Map<RuleKey, FlowRule> byKey = Reconciler.index(kept);
        List<List<FlowRule>> installs = network.installs();
        for (List<FlowRule> batch : installs.subList(installsFrom, installs.size())) {
            for (FlowRule r : batch) {
                FlowRule mine = byKey.get(RuleKey.of(r));
                assertTrue(mine == null || RuleKey.sameRule(mine, r), "a rule on the switches turned back: "
                        + RuleFormatter.format(r));
            }
        }
        List<List<FlowRule>> removes = network.removes();
        for (List<FlowRule> batch : removes.subList(removesFrom, removes.size())) {
            batch.forEach(r -> assertFalse(byKey.containsKey(RuleKey.of(r)), "a rule on the switches removed: "
                    + RuleFormatter.format(r)));
        }
    }

    private static List<FlowRule> stepsUpTo(RouteChange change, int n) {
        List<FlowRule> rules = new ArrayList<>();
        change.steps().subList(0, n).forEach(rules::addAll);
        return rules;
    }

    /**
     * From {@link #before}, with vs1's route update under way: each manager is killed once step
     * {@code n} of {@code change} is on the switches (its next step waits out the longest gap allowed),
     * and the next one takes over, until the one killed after step {@code last}; returns that one.
     */
    private LifecycleFixture killedAfterEachStepUpTo(int last, RouteChange change) {
        LifecycleFixture f = before;
        for (int n = 1; n <= last; n++) {
            List<FlowRule> step = change.steps().get(n - 1);
            LifecycleFixture current = f;
            Poll.until("route step " + n + " on the switches",
                    () -> current.network.tables().missing(step).isEmpty());
            current.close();
            if (n < last) {
                f = current.restart(fourSteps(LONG_GAP_MS));
                between.add(f);
            }
        }
        return f;
    }

    /** Starts {@link #before} with vs1 moved and its route update, of four steps, under way; returns its migration. */
    private MigrationId movedIntoAFourStepUpdate() {
        before = LifecycleFixture.start(fourSteps(LONG_GAP_MS));
        assertEquals(4, before.routeChange("dcA", "dcB").steps().size(), "one step per switch");
        MigrationId id = before.migrating("vs1");
        before.manager.hypervisorCompleted(id, "moved");
        return id;
    }

    @Test
    void twoRestartsInOneRouteUpdateEachGoOnAfterTheStepsOnTheSwitches() {
        MigrationId id = movedIntoAFourStepUpdate();
        RouteChange change = before.routeChange("dcA", "dcB");
        FakeNetwork network = before.network;
        // killed after step 1; the second manager takes over and is killed after step 2
        Poll.until("route step 1", () -> network.tables().missing(change.steps().get(0)).isEmpty());
        before.close();
        int installs1 = network.installs().size();
        int removes1 = network.removes().size();
        LifecycleFixture second = before.restart(fourSteps(LONG_GAP_MS));
        between.add(second);
        Poll.until("route step 2", () -> network.tables().missing(change.steps().get(1)).isEmpty());
        second.close();
        assertEquals(CUTOVER, second.state(id));
        int installs2 = network.installs().size();
        int removes2 = network.removes().size();

        after = second.restart(fourSteps(300));
        Migration m = after.awaitState(id, COMPLETED);
        after.assertAtDestination(id);
        // nothing on the switches was turned back by a take-over: step 1 after the first, steps 1-2 after the second
        assertKept(network, change.steps().get(0), installs1, removes1);
        assertKept(network, stepsUpTo(change, 2), installs2, removes2);
        // each step left sent once, in order, by the manager that took over; the third one's at its pace
        assertEquals(List.of(2), routeSteps(network, installs1, installs2, change),
                "route installs of the second manager");
        assertEquals(List.of(3, 4), routeSteps(network, installs2, network.installs().size(), change),
                "route installs of the third manager");
        assertPaced(routeStepTimes(network, installs2), 300);
        assertTrue(m.timeline().stream().anyMatch(e -> e.detail().contains("went on at step 3 of 4")),
                m.timeline().toString());
    }

    @Test
    void aSwitchOfTheStepUnderWayNotConnectedAtTheTakeOverFailsTheUpdateAndTheSourceRoutesAreRestored() {
        before = LifecycleFixture.start(c -> Topologies.migration(c).put("routeStepGapMs", LONG_GAP_MS));
        RouteChange change = before.routeChange("dcA", "dcB");
        List<FlowRule> first = change.steps().get(0);
        DeviceId core2 = RollbackTest.CORE2;
        assertTrue(first.stream().anyMatch(r -> r.deviceId().equals(core2)), "core2 is in step 1");
        FakeNetwork network = before.network;
        MigrationId id = before.migrating("vs1");
        before.manager.hypervisorCompleted(id, "moved");
        Poll.until("route step 1", () -> network.tables().missing(first).isEmpty());
        before.close();
        // core2 holds its part of step 1 but cannot be read: nothing later shows that step was confirmed
        network.disconnect(core2);

        after = before.restart(c -> Topologies.migration(c).put("routeStepGapMs", 300));
        Migration m = after.awaitEnd(id);
        assertEquals(FAILED, m.state(), after.describe(id));
        assertTrue(m.error().startsWith("ROUTES_UPDATED failed") && m.error().contains(core2 + ": switch not connected"),
                m.error());
        assertTrue(m.timeline().stream().anyMatch(e -> e.detail().contains(core2 + " not read at the take-over")
                && e.detail().contains("route step 1 of 2 sent again")), m.timeline().toString());
        assertEquals(List.of(id + " moved=true"), after.hypervisor.aborts(), "the hypervisor takes vs1 back");
        // every connected switch holds the source routes at once; core2 is brought in line when it returns
        List<FlowRule> connected = after.manager.baselineRules().stream().filter(r -> !r.deviceId().equals(core2))
                .collect(java.util.stream.Collectors.toList());
        assertTrue(network.tables().missing(connected).isEmpty(), "source routes missing: "
                + network.tables().missing(connected));
        network.reconnect(core2);
        after.manager.switchConnected(core2);
        Poll.until("core2 in line", () -> network.tables().holdsExactly(after.manager.baselineRules()));
        after.assertBackAtSource(id);
    }

    @Test
    void aSwitchOfAConfirmedStepNotConnectedAtTheTakeOverKeepsItsStepAndTheUpdateGoesOn() {
        MigrationId id = movedIntoAFourStepUpdate();
        RouteChange change = before.routeChange("dcA", "dcB");
        FakeNetwork network = before.network;
        LifecycleFixture third = killedAfterEachStepUpTo(3, change);
        // step 2's switch cannot be read; step 3, on the switches, was sent only once step 2 was confirmed
        DeviceId core2 = change.steps().get(1).get(0).deviceId();
        assertEquals(RollbackTest.CORE2, core2);
        network.disconnect(core2);
        int installs = network.installs().size();
        int removes = network.removes().size();

        after = third.restart(fourSteps(300));
        Migration m = after.awaitEnd(id);
        assertEquals(COMPLETED, m.state(), after.describe(id));
        assertKept(network, stepsUpTo(change, 3), installs, removes);
        assertEquals(List.of(4), routeSteps(network, installs, network.installs().size(), change), "the step left, once");
        assertTrue(m.timeline().stream().anyMatch(e -> e.detail().contains(core2 + " not read at the take-over")
                && e.detail().contains("route steps 1-2 taken as confirmed there")), m.timeline().toString());
        assertTrue(m.timeline().stream().anyMatch(e -> e.detail().contains("went on at step 4 of 4")),
                m.timeline().toString());
        // when core2 returns it is read and brought in line: its step stays, the tunnel's rules on it go
        network.reconnect(core2);
        after.manager.switchConnected(core2);
        Poll.until("core2 in line", () -> network.tables().holdsExactly(after.manager.baselineRules()));
        after.assertAtDestination(id);
        assertKept(network, stepsUpTo(change, 3), installs, removes);
    }

    @Test
    void aRuleOfAStepReadBackWithOtherActionsIsNotTrustedAndItsStepIsSentAgain() {
        MigrationId id = movedIntoAFourStepUpdate();
        RouteChange change = before.routeChange("dcA", "dcB");
        FakeNetwork network = before.network;
        LifecycleFixture second = killedAfterEachStepUpTo(2, change);
        // PE_B's delivery rule of step 1 reads back with its key and cookie but another output port;
        // step 2, on the switches, must not make it trusted
        FlowRule good = change.steps().get(0).stream()
                .filter(r -> r.selector().getCriterion(Criterion.Type.IPV4_SRC) == null).findFirst().orElseThrow();
        FlowRule garbled = DefaultFlowRule.builder().forDevice(good.deviceId()).forTable(good.tableId())
                .withPriority(good.priority()).withSelector(good.selector()).withCookie(good.id().value())
                .withTreatment(DefaultTrafficTreatment.builder().setOutput(PortNumber.portNumber(3)).build())
                .makePermanent().build();
        network.tables().install(List.of(garbled));
        assertFalse(network.tables().holds(good));
        int installs = network.installs().size();

        after = second.restart(fourSteps(300));
        Migration m = after.awaitState(id, COMPLETED);
        after.assertAtDestination(id);
        // step 1 is sent again in full, before anything after it, and every step after it in order at the pace
        assertEquals(List.of(1, 2, 3, 4), routeSteps(network, installs, network.installs().size(), change));
        assertPaced(routeStepTimes(network, installs), 300);
        assertTrue(m.timeline().stream().noneMatch(e -> e.detail().contains("went on at step")), m.timeline().toString());
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
