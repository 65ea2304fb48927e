package org.wanmig.lifecycle;

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
import org.wanmig.planner.Cookies;
import org.wanmig.testing.FakeNetwork;
import org.wanmig.testing.Topologies;

import java.util.ArrayList;
import java.time.Duration;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The reconciler's diff and order on its own, over the fake switches. */
class ReconcilerTest {
    private static final DeviceId S1 = DeviceId.deviceId("of:0000000000000001");
    private static final DeviceId S2 = DeviceId.deviceId("of:0000000000000002");

    private final ExecutorService lifecycle = Executors.newSingleThreadExecutor();
    private final FakeNetwork network = new FakeNetwork();
    private volatile List<FlowRule> desired = List.of();
    private final Reconciler reconciler = new Reconciler(network, lifecycle, () -> desired);

    @AfterEach
    void stop() {
        lifecycle.shutdownNow();
    }

    private static FlowRule rule(DeviceId d, int index, String prefix, int port) {
        return DefaultFlowRule.builder().forDevice(d).forTable(0).withPriority(1000)
                .withCookie(Cookies.cookie(Topologies.APP_ID.id(), Cookies.KIND_SERVER_ROUTE, 1, index))
                .withSelector(DefaultTrafficSelector.builder().matchEthType(Ethernet.TYPE_IPV4)
                        .matchIPDst(IpPrefix.valueOf(prefix)).build())
                .withTreatment(DefaultTrafficTreatment.builder().setOutput(PortNumber.portNumber(port)).build())
                .makePermanent().build();
    }

    /** Runs {@code task} on the lifecycle thread, as the manager does, and waits for what it returns. */
    private <T> T onLifecycle(Supplier<CompletableFuture<T>> task) throws Exception {
        return CompletableFuture.supplyAsync(task, lifecycle).thenCompose(f -> f).get(5, TimeUnit.SECONDS);
    }

    @Test
    void additionsThenReplacementsThenRemovalsEachConfirmedAndOnlyTheDifference() throws Exception {
        FlowRule kept = rule(S1, 1, "10.0.1.0/24", 1);
        FlowRule changedBefore = rule(S1, 2, "10.0.2.0/24", 1);
        FlowRule gone = rule(S2, 3, "10.0.3.0/24", 1);
        network.tables().install(List.of(kept, changedBefore, gone));
        onLifecycle(() -> reconciler.adopt(S1));
        onLifecycle(() -> reconciler.adopt(S2));

        FlowRule changedAfter = rule(S1, 2, "10.0.2.0/24", 7);
        FlowRule added = rule(S2, 4, "10.0.4.0/24", 2);
        desired = List.of(kept, changedAfter, added);
        network.holdNext(batch -> batch.contains(added));
        CompletableFuture<Reconciler.Outcome> done = CompletableFuture.supplyAsync(
                () -> reconciler.converge(null, Set.of()), lifecycle).thenCompose(f -> f);

        org.wanmig.testing.Poll.until("the addition sent", () -> network.heldCount() == 1);
        assertEquals(List.of(List.of(added)), network.installs(), "the addition alone, first");
        assertTrue(network.removes().isEmpty(), "nothing removed before the addition is confirmed");
        network.releaseHeld();
        Reconciler.Outcome outcome = done.get(5, TimeUnit.SECONDS);

        assertEquals(List.of(List.of(added), List.of(changedAfter)), network.installs());
        assertEquals(List.of(List.of(gone)), network.removes());
        assertEquals("1 added, 1 replaced, 1 removed", outcome.toString());
        assertTrue(network.tables().holdsExactly(desired));

        // again: nothing to do, nothing sent
        assertTrue(onLifecycle(() -> reconciler.converge(null, Set.of())).changedNothing());
        assertEquals(2, network.installs().size());
    }

    @Test
    void aPathChangeCompletesWhenTheNewRulesAreInAndDrainsTheOldPathAfterTheGrace() throws Exception {
        FlowRule ingressBefore = rule(S1, 1, "10.0.1.0/24", 1);      // S1 -> old path
        FlowRule oldHop = rule(S2, 2, "10.0.1.0/24", 3);             // on the old path only
        FlowRule oldHopBack = rule(S2, 3, "10.0.3.0/24", 3);         // old path too, wanted again later
        network.tables().install(List.of(ingressBefore, oldHop, oldHopBack));
        onLifecycle(() -> reconciler.adopt(S1));
        onLifecycle(() -> reconciler.adopt(S2));

        FlowRule ingressAfter = rule(S1, 1, "10.0.1.0/24", 2);       // S1 -> new path
        desired = List.of(ingressAfter);
        Reconciler.Outcome outcome = onLifecycle(() -> reconciler.convergeThenDrain(Duration.ofMillis(400)));

        assertEquals("0 added, 1 replaced, 2 removed", outcome.toString());
        assertTrue(network.tables().holds(ingressAfter), "the new rule is confirmed when it completes");
        assertTrue(network.removes().isEmpty(), "the old path is still there for packets on it");
        desired = List.of(ingressAfter, oldHopBack);                 // wanted again within the grace
        org.wanmig.testing.Poll.until("the old path removed", () -> !network.removes().isEmpty());
        assertEquals(List.of(List.of(oldHop)), network.removes(), "only what is still undesired goes");
        assertTrue(network.tables().holdsExactly(desired));
    }

    @Test
    void aRuleWantedAgainWhileItsRemovalAwaitsConfirmationIsInstalledAgain() throws Exception {
        FlowRule rule = rule(S1, 1, "10.0.1.0/24", 1);
        network.tables().install(List.of(rule));
        onLifecycle(() -> reconciler.adopt(S1));

        desired = List.of();                 // e.g. the switch reconnected while its links were down
        network.holdRemovals();
        CompletableFuture<Reconciler.Outcome> first = CompletableFuture.supplyAsync(
                () -> reconciler.converge(null, Set.of()), lifecycle).thenCompose(f -> f);
        org.wanmig.testing.Poll.until("the removal sent", () -> network.heldCount() == 1);

        desired = List.of(rule);             // its link is back before the removal is confirmed
        CompletableFuture<Reconciler.Outcome> second = CompletableFuture.supplyAsync(
                () -> reconciler.converge(null, Set.of()), lifecycle).thenCompose(f -> f);
        org.wanmig.testing.Poll.until("the second change sent", () -> network.installs().size() == 1);
        network.releaseHeld();
        first.get(5, TimeUnit.SECONDS);
        assertEquals("1 added, 0 replaced, 0 removed", second.get(5, TimeUnit.SECONDS).toString());
        assertTrue(network.tables().holdsExactly(desired), "the rule is on the switch again");
        assertTrue(onLifecycle(() -> reconciler.converge(null, Set.of())).changedNothing());
    }

    @Test
    void aDisconnectedSwitchIsSkippedUnlessRequiredAndAnUnknownOneLosesNothing() throws Exception {
        FlowRule foreignToUs = rule(S2, 9, "10.0.9.0/24", 1); // on S2 but S2 was never read
        network.tables().install(List.of(foreignToUs));
        FlowRule want = rule(S1, 1, "10.0.1.0/24", 1);
        desired = List.of(want);
        network.disconnect(S1);

        Reconciler.Outcome skipped = onLifecycle(() -> reconciler.converge(null, Set.of()));
        assertTrue(skipped.changedNothing(), "S1 is away: it is reconciled when it connects");
        assertTrue(network.removes().isEmpty(), "S2's table is unknown: nothing removed there");

        CompletableFuture<Reconciler.Outcome> required = CompletableFuture.supplyAsync(
                () -> reconciler.converge(null, Set.of(S1)), lifecycle).thenCompose(f -> f);
        assertTrue(assertFails(required).getMessage().contains("not connected"));

        network.reconnect(S1);
        onLifecycle(() -> reconciler.adopt(S1));
        onLifecycle(() -> reconciler.converge(Set.of(S1), Set.of()));
        assertTrue(network.tables().holds(want));
        assertTrue(network.tables().holds(foreignToUs));
    }

    private static Throwable assertFails(CompletableFuture<?> f) {
        try {
            f.get(5, TimeUnit.SECONDS);
        } catch (Exception e) {
            return e.getCause() != null ? e.getCause() : e;
        }
        throw new AssertionError("expected a failure");
    }

    @Test
    void aStaleRuleIsRemovedOnceUnlessAnInstallWasSentForItSince() throws Exception {
        FlowRule r = rule(S1, 1, "10.0.1.0/24", 1);
        network.tables().install(List.of(r));
        onLifecycle(() -> reconciler.adopt(S1));
        onLifecycle(() -> reconciler.converge(null, Set.of()));
        onLifecycle(() -> reconciler.removeUndesired(List.of(r)));
        assertEquals(List.of(List.of(r)), network.removes(), "converge removed it; the cleanup does not again");

        // An install the switch did not confirm may still have reached it: the cleanup removes it.
        network.holdNext(batch -> batch.contains(r));
        CompletableFuture<Void> sent = CompletableFuture.supplyAsync(() -> reconciler.installUnrecorded(List.of(r)),
                lifecycle).thenCompose(f -> f);
        org.wanmig.testing.Poll.until("the install sent", () -> network.heldCount() == 1);
        network.failHeld(new IllegalStateException("no barrier reply"));
        assertTrue(sent.isCompletedExceptionally() || sent.handle((x, e) -> e != null).get(5, TimeUnit.SECONDS));
        assertTrue(network.tables().holds(r));
        onLifecycle(() -> reconciler.removeUndesired(List.of(r)));
        assertFalse(network.tables().holds(r));
        assertEquals(List.of(), network.repeatedRemovals());
    }

    @Test
    void removeUndesiredNeverTakesARuleThatIsWantedAgain() throws Exception {
        FlowRule r = rule(S1, 1, "10.0.1.0/24", 1);
        network.tables().install(List.of(r));
        desired = List.of(r);
        onLifecycle(() -> reconciler.removeUndesired(new ArrayList<>(List.of(r))));
        assertTrue(network.tables().holds(r));
        assertFalse(network.removes().stream().anyMatch(b -> b.contains(r)));
    }
}
