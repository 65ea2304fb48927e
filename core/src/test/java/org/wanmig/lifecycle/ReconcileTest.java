package org.wanmig.lifecycle;

import com.fasterxml.jackson.databind.node.ObjectNode;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.onlab.packet.Ethernet;
import org.onlab.packet.IpPrefix;
import org.onosproject.net.DeviceId;
import org.onosproject.net.PortNumber;
import org.onosproject.net.flow.DefaultFlowRule;
import org.onosproject.net.flow.DefaultTrafficSelector;
import org.onosproject.net.flow.DefaultTrafficTreatment;
import org.onosproject.net.flow.FlowRule;
import org.wanmig.api.Migration;
import org.wanmig.api.TunnelLabels;
import org.wanmig.api.MigrationId;
import org.wanmig.config.WanTopology;
import org.wanmig.planner.Cookies;
import org.wanmig.planner.MigrationPlan;
import org.wanmig.planner.RuleKey;
import org.wanmig.store.InMemoryMigrationStore;
import org.wanmig.testing.FakeNetwork;
import org.wanmig.testing.Poll;
import org.wanmig.testing.Topologies;

import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import java.util.stream.Collectors;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.wanmig.api.MigrationState.COMPLETED;
import static org.wanmig.api.MigrationState.FAILED;
import static org.wanmig.api.MigrationState.MIGRATING;

/**
 * The reconciler through the manager: a restart adopts what the switches hold and changes only the
 * difference, stored plans survive configuration changes, and a link failure re-plans a tunnel
 * make-before-break.
 */
class ReconcileTest {
    private LifecycleFixture before;
    private LifecycleFixture after;

    @AfterEach
    void stop() {
        for (LifecycleFixture f : new LifecycleFixture[]{before, after}) {
            if (f != null) {
                f.close();
            }
        }
    }

    // ---- adoption on restart ------------------------------------------------------------------------

    @Test
    void restartAdoptsEveryRuleAndSendsNothing() {
        before = LifecycleFixture.start();
        MigrationId id = before.migrating("vs1");
        int installs = before.network.installs().size();
        int removes = before.network.removes().size();
        before.close();

        after = before.restart(c -> { });
        Poll.until("the hypervisor asked again", () -> after.hypervisor.migrations().contains(id));
        assertEquals(installs, after.network.installs().size(), "nothing installed: the switches hold it all");
        assertEquals(removes, after.network.removes().size(), "nothing removed: no blanket delete");
        Set<DeviceId> read = new HashSet<>(after.network.reads());
        assertTrue(read.containsAll(after.topology.allSwitches()), "every switch read: " + read);

        after.manager.hypervisorCompleted(id, "moved");
        after.awaitState(id, COMPLETED);
        after.assertAtDestination(id);
    }

    @Test
    void restartRepairsOnlyWhatDiffers() {
        before = LifecycleFixture.start();
        MigrationId id = before.migrating("vs1");
        MigrationPlan plan = before.record(id).plan();
        before.close();
        // behind the controller's back: one tunnel rule lost, one stray rule of ours, one foreign rule
        FlowRule lost = plan.tunnel().get(0);
        before.network.tables().remove(List.of(lost));
        FlowRule stray = rule(lost.deviceId(), Cookies.cookie(Topologies.APP_ID.id(), Cookies.KIND_MIGRATION, 99, 0),
                "10.77.0.0/24");
        FlowRule foreign = rule(lost.deviceId(), 0x0042_0000_0000_0001L, "10.78.0.0/24");
        before.network.tables().install(List.of(stray, foreign));
        int installs = before.network.installs().size();
        int removes = before.network.removes().size();

        after = before.restart(c -> { });
        Poll.until("the lost rule back", () -> after.network.tables().holds(lost));
        Poll.until("the stray rule gone", () -> !after.network.tables().holds(stray));
        List<FlowRule> installed = after.network.installs().subList(installs, after.network.installs().size())
                .stream().flatMap(List::stream).collect(Collectors.toList());
        assertEquals(List.of(RuleKey.of(lost)), installed.stream().map(RuleKey::of).collect(Collectors.toList()),
                "only the missing rule installed");
        List<FlowRule> removed = after.network.removes().subList(removes, after.network.removes().size())
                .stream().flatMap(List::stream).collect(Collectors.toList());
        assertEquals(List.of(RuleKey.of(stray)), removed.stream().map(RuleKey::of).distinct()
                .collect(Collectors.toList()), "only the stray rule removed");
        // a rule that is not ours is never touched (the adapter does not report it)
        assertEquals(MIGRATING, after.state(id));
    }

    private static FlowRule rule(DeviceId d, long cookie, String prefix) {
        return DefaultFlowRule.builder().forDevice(d).forTable(0).withPriority(1234).withCookie(cookie)
                .withSelector(DefaultTrafficSelector.builder().matchEthType(Ethernet.TYPE_IPV4)
                        .matchIPDst(IpPrefix.valueOf(prefix)).build())
                .withTreatment(DefaultTrafficTreatment.builder().setOutput(PortNumber.portNumber(1)).build())
                .makePermanent().build();
    }

    @Test
    void aReportArrivingWhileTheRestartedManagerReadsTheTablesIsNotUndoneByTheResume() throws Exception {
        before = LifecycleFixture.start();
        MigrationId id = before.migrating("vs1");
        before.close();
        before.network.holdReads();
        MigrationManager manager = new MigrationManager(before.topology, Topologies.APP_ID, before.network,
                t -> before.hypervisor, before.replication, before.store,
                org.wanmig.spi.Leadership.STANDALONE, java.time.Clock.systemUTC());
        try {
            java.util.concurrent.CompletableFuture<Void> takenOver = manager.takeOver();
            assertFalse(takenOver.isDone(), "still reading the tables");
            // the redirect is being confirmed while the tables are still being read
            before.network.holdNext(FakeNetwork.anyRuleOfMigration(id.value()));
            java.util.concurrent.CompletableFuture.runAsync(
                    () -> manager.hypervisorCompleted(id, "reported while the new manager starts"));
            Poll.until("the redirect sent", () -> before.network.heldCount() == 1);
            before.network.releaseReads();
            takenOver.get(10, TimeUnit.SECONDS);
            before.network.releaseHeld();
            Poll.until("COMPLETED", () -> before.store.get(id).orElseThrow().state() == COMPLETED,
                    () -> before.store.get(id).orElseThrow().toString());
        } finally {
            manager.shutdown();
        }
    }

    // ---- stored plans across configuration changes ---------------------------------------------------

    private static Consumer<ObjectNode> addSite() {
        return c -> Topologies.array(c, "clientSites").addObject().put("name", "site9")
                .put("switch", "of:0000000000000001").put("port", 9)
                .put("mac", "00:00:00:00:09:09").put("gateway", "10.9.0.254")
                .putArray("prefixes").add("10.9.0.0/24");
    }

    @Test
    void resumeAfterTheNetcfgChangedUsesTheStoredPlanAndCompletes() {
        before = LifecycleFixture.start();
        MigrationId id = before.migrating("vs1");
        MigrationPlan plan = before.record(id).plan();
        before.close();

        after = before.restart(addSite()); // a recomputed plan would need a label for the new site
        Poll.until("the hypervisor asked again", () -> after.hypervisor.migrations().contains(id));
        assertEquals(MIGRATING, after.state(id));
        assertEquals(plan, after.record(id).plan(), "the stored plan, not a recomputation");
        assertTrue(after.network.tables().missing(plan.prepared()).isEmpty(), "tunnel in place");
        after.manager.hypervisorCompleted(id, "moved");
        after.awaitState(id, COMPLETED);
        after.assertAtDestination(id);
    }

    @Test
    void aMigrationTheNetcfgNoLongerNamesFailsAloneAndTheOtherGoesOn() {
        before = LifecycleFixture.start();
        MigrationId first = before.migrating("vs1");
        MigrationId second = before.migrating("vs2");
        assertFalse(before.network.rulesOfMigration(second.value()).isEmpty());
        before.close();

        after = before.restart(c -> Topologies.array(c, "servers").remove(1)); // vs2 is gone
        Migration gone = after.awaitEnd(second);
        assertEquals(FAILED, gone.state());
        assertTrue(gone.error().contains("no longer names"), gone.error());
        Poll.until("its rules removed by cookie", () -> after.network.rulesOfMigration(second.value()).isEmpty());

        after.manager.hypervisorCompleted(first, "moved");
        after.awaitState(first, COMPLETED);
        after.assertAtDestination(first);
    }

    // ---- link failures -------------------------------------------------------------------------------

    private static ObjectNode threeDc(Consumer<ObjectNode> edit) {
        ObjectNode c = Topologies.config(Topologies.THREE_DC);
        Topologies.migration(c).put("prepareTimeoutSeconds", 10).put("migrateTimeoutSeconds", 10)
                .put("switchTimeoutSeconds", 10).put("drainSeconds", 0.05);
        edit.accept(c);
        return c;
    }

    /** Link 7 (of:2/4 - of:5/4) is dcA's shortest way to dcC; link 5 (of:5/2 - of:c/1) is PE_C's only link. */
    @Test
    void linkDownOnTheTunnelReplansMakeBeforeBreakAndTheMigrationCompletes() throws Exception {
        WanTopology up = org.wanmig.config.WanTopologyParser.parse(threeDc(c -> { }));
        FakeNetwork network = new FakeNetwork();
        before = LifecycleFixture.start(up, network, new InMemoryMigrationStore());
        MigrationId id = before.manager.startMigration("vs1", "dcC").id();
        before.awaitState(id, MIGRATING);
        Migration m0 = before.record(id);
        assertTrue(MigrationManager.hops(m0.plan()).contains("of:0000000000000002/4"), MigrationManager.hops(m0.plan()));
        int installs = network.installs().size();
        int removes = network.removes().size();

        before.manager.updateTopology(up.withLink(up.links().get(7).withUp(false))).get(10, TimeUnit.SECONDS);
        Migration m1 = before.record(id);
        assertEquals(1, m1.plan().revision());
        assertFalse(MigrationManager.hops(m1.plan()).contains("of:0000000000000002/4"));
        assertNotEquals(m0.labels(), m1.labels(), "the new path has labels of its own");
        assertTrue(LifecycleFixture.lastDetail(m1).contains("re-planned"), m1.toString());
        assertEquals(MIGRATING, m1.state());
        assertTrue(network.tables().missing(m1.plan().prepared()).isEmpty(), "new tunnel in place");
        Set<RuleKey> newKeys = m1.plan().prepared().stream().map(RuleKey::of).collect(Collectors.toSet());
        // the old path drains for MigrationManager.OLD_PATH_GRACE after the new one is confirmed
        org.wanmig.testing.Poll.until("old tunnel gone", () -> m0.plan().prepared().stream()
                .filter(r -> !newKeys.contains(RuleKey.of(r))).noneMatch(r -> network.tables().holds(r)));
        // make-before-break: every rule of the new revision was installed before anything was removed
        List<List<FlowRule>> laterInstalls = network.installs().subList(installs, network.installs().size());
        assertFalse(laterInstalls.isEmpty());
        assertTrue(network.removes().size() > removes, "old rules removed");
        List<FlowRule> dropped = m0.plan().prepared().stream().filter(r -> !newKeys.contains(RuleKey.of(r)))
                .collect(Collectors.toList());
        assertFalse(laterInstalls.stream().flatMap(List::stream)
                .anyMatch(r -> dropped.stream().anyMatch(o -> RuleKey.of(o).equals(RuleKey.of(r)))),
                "no rule of the old path touched before its removal");

        before.manager.hypervisorCompleted(id, "moved");
        Migration done = before.awaitState(id, COMPLETED);
        assertTrue(network.rulesOfMigration(id.value()).isEmpty(), "both revisions gone: "
                + network.rulesOfMigration(id.value()));
        assertEquals("dcC", before.manager.location("vs1"), done.toString());
    }

    /** Two migrations of one DC pair share the tunnel; both are re-planned onto one new one, no key holds two rules. */
    @Test
    void linkDownUnderTwoMigrationsOfOnePairMovesTheSharedTunnelOnce() throws Exception {
        WanTopology up = org.wanmig.config.WanTopologyParser.parse(threeDc(c -> { }));
        FakeNetwork network = new FakeNetwork();
        before = LifecycleFixture.start(up, network, new InMemoryMigrationStore());
        MigrationId one = before.manager.startMigration("vs1", "dcC").id();
        MigrationId two = before.manager.startMigration("vs2", "dcC").id();
        before.awaitState(one, MIGRATING);
        before.awaitState(two, MIGRATING);
        TunnelLabels old = before.record(one).labels();
        assertEquals(old, before.record(two).labels(), "one pair, one tunnel");

        before.manager.updateTopology(up.withLink(up.links().get(7).withUp(false))).get(10, TimeUnit.SECONDS);
        Migration m1 = before.record(one);
        Migration m2 = before.record(two);
        assertEquals(1, m1.plan().revision());
        assertEquals(1, m2.plan().revision());
        assertNotEquals(old, m1.labels(), "the new path has labels of its own");
        assertEquals(m1.labels(), m2.labels(), "and both migrations hold them");
        for (Migration m : List.of(m1, m2)) {
            assertTrue(network.tables().missing(m.plan().prepared()).isEmpty(), "tunnel of " + m.server() + " in place");
        }
        // gone after MigrationManager.OLD_PATH_GRACE
        org.wanmig.testing.Poll.until("the old path's rules gone", () -> network.pairTunnelRules().stream()
                .noneMatch(r -> Cookies.owner(r.id().value()) == old.forward()), () -> "" + network.pairTunnelRules());

        before.manager.hypervisorCompleted(one, "moved");
        before.awaitState(one, COMPLETED);
        assertTrue(network.tables().missing(m2.plan().prepared()).isEmpty(), "vs2's tunnel stays");
        before.manager.hypervisorCompleted(two, "moved");
        before.awaitState(two, COMPLETED);
        assertTrue(network.pairTunnelRules().isEmpty(), "the shared tunnel goes with the last: "
                + network.pairTunnelRules());
        before.assertAtDestination(one);
        before.assertAtDestination(two);
    }

    @Test
    void noPathLeftBeforeTheCutoverRollsBackWithTheReason() throws Exception {
        WanTopology up = org.wanmig.config.WanTopologyParser.parse(threeDc(c -> { }));
        FakeNetwork network = new FakeNetwork();
        before = LifecycleFixture.start(up, network, new InMemoryMigrationStore());
        MigrationId id = before.manager.startMigration("vs1", "dcC").id();
        before.awaitState(id, MIGRATING);

        // the effective topology: configuration validation never sees a partitioned WAN
        org.wanmig.config.WanLink peC = up.links().get(5);
        before.manager.updateTopology(up.withLink(peC.withUp(false))).get(10, TimeUnit.SECONDS);
        Migration m = before.awaitEnd(id);
        assertEquals(FAILED, m.state());
        assertTrue(m.error().contains("no WAN path"), m.error());
        assertTrue(network.rulesOfMigration(id.value()).isEmpty(), "tunnel removed");
        assertEquals("dcA", before.manager.location("vs1"));
    }

    // ---- retention -------------------------------------------------------------------------------------

    @Test
    void finishedRecordsArePrunedAfterTheRetentionAndActiveOnesNever() {
        before = LifecycleFixture.start(c -> Topologies.migration(c).put("retentionHours", 0.00001)); // 36 ms
        MigrationId done = before.draining("vs1");
        before.awaitState(done, COMPLETED);
        MigrationId active = before.migrating("vs2");
        Poll.until("the finished record pruned", () -> {
            before.manager.pruneFinished();
            return before.store.get(done).isEmpty();
        });
        assertTrue(before.store.get(active).isPresent(), "an active migration is never pruned");
    }
}
