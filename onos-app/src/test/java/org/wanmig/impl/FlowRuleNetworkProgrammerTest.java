package org.wanmig.impl;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;
import org.onlab.packet.Ethernet;
import org.onlab.packet.Ip4Prefix;
import org.onosproject.net.DeviceId;
import org.onosproject.net.PortNumber;
import org.onosproject.net.device.DeviceServiceAdapter;
import org.onosproject.net.flow.DefaultFlowRule;
import org.onosproject.net.flow.DefaultTrafficSelector;
import org.onosproject.net.flow.DefaultTrafficTreatment;
import org.onosproject.net.flow.FlowEntry;
import org.onosproject.net.flow.FlowEntry.FlowEntryState;
import org.onosproject.net.flow.FlowRule;
import org.onosproject.net.flow.FlowRuleOperation;
import org.wanmig.planner.Cookies;
import org.wanmig.spi.NetworkProgrammer;
import org.wanmig.spi.SwitchException;
import org.wanmig.testing.NetworkProgrammerContract;

import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArraySet;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.wanmig.testing.WanmigFixtures.APP_ID;

class FlowRuleNetworkProgrammerTest {
    private static final DeviceId PE_A = DeviceId.deviceId("of:000000000000000a");
    private static final DeviceId S1 = DeviceId.deviceId("of:0000000000000001");

    /** The adapter contract, on a FlowRuleService that confirms 40 ms late on its own thread. */
    @Nested
    class Contract extends NetworkProgrammerContract {
        private final FakeFlowRuleService flows = new FakeFlowRuleService(40);
        private final AtomicLong nextSwitch = new AtomicLong(0x100);
        private FlowRuleNetworkProgrammer programmer;

        @BeforeEach
        void setUp() {
            programmer = new FlowRuleNetworkProgrammer(flows, new DeviceServiceAdapter() {
                @Override
                public boolean isAvailable(DeviceId deviceId) {
                    return !deviceId.toString().startsWith("of:dead");
                }
            }, APP_ID, () -> Duration.ofSeconds(5));
        }

        @AfterEach
        void tearDown() {
            programmer.close();
            flows.shutdown();
        }

        @Override
        protected NetworkProgrammer programmer() {
            return programmer;
        }

        @Override
        protected DeviceId connectedSwitch() {
            return DeviceId.deviceId(String.format("of:%016x", nextSwitch.getAndIncrement()));
        }

        @Override
        protected DeviceId absentSwitch() {
            return DeviceId.deviceId("of:dead000000000001");
        }

        @Override
        protected long cookieTag() {
            return (long) APP_ID.id() << 48;
        }
    }

    private final FakeFlowRuleService flows = new FakeFlowRuleService();
    private final Set<DeviceId> down = new CopyOnWriteArraySet<>();
    private FlowRuleNetworkProgrammer programmer;

    @BeforeEach
    void setUp() {
        programmer = new FlowRuleNetworkProgrammer(flows, new DeviceServiceAdapter() {
            @Override
            public boolean isAvailable(DeviceId deviceId) {
                return !down.contains(deviceId);
            }
        }, APP_ID, () -> Duration.ofMillis(300));
    }

    @AfterEach
    void tearDown() {
        programmer.close();
        flows.shutdown();
    }

    private static FlowRule rule(DeviceId device, int index, String prefix, int port) {
        return rule(device, Cookies.cookie(APP_ID.id(), Cookies.KIND_MIGRATION, 5, index), prefix, port);
    }

    private static FlowRule rule(DeviceId device, long cookie, String prefix, int port) {
        return DefaultFlowRule.builder().forDevice(device).forTable(0).withPriority(1000)
                .withSelector(DefaultTrafficSelector.builder().matchEthType(Ethernet.TYPE_IPV4)
                        .matchIPDst(Ip4Prefix.valueOf(prefix)).build())
                .withTreatment(DefaultTrafficTreatment.builder().setOutput(PortNumber.portNumber(port)).build())
                .withCookie(cookie).makePermanent().build();
    }

    private static SwitchException switchFailure(CompletableFuture<Void> f) {
        ExecutionException e = assertThrows(ExecutionException.class, () -> f.get(2, TimeUnit.SECONDS));
        return assertInstanceOf(SwitchException.class, e.getCause());
    }

    @Test
    void installCompletesExactlyWhenEveryOperationsContextReportsSuccess() {
        FlowRule a = rule(PE_A, 1, "10.2.0.10/32", 2);
        FlowRule b = rule(S1, 2, "10.2.0.10/32", 3);
        CompletableFuture<Void> done = programmer.install(List.of(a, b));

        assertEquals(List.of(a, b), flows.rules(FlowRuleOperation.Type.ADD));
        // the store shows both rules in place (as after a stats poll): not a confirmation
        flows.put(a, FlowEntryState.ADDED);
        flows.put(b, FlowEntryState.ADDED);
        assertFalse(done.isDone(), "confirmed only by the operations' contexts");
        flows.operations.get(0).callback().onSuccess(flows.operations.get(0));
        assertFalse(done.isDone(), "S1 has not confirmed yet");
        flows.operations.get(1).callback().onSuccess(flows.operations.get(1));
        assertTrue(done.isDone(), "complete on the last onSuccess, on the caller's thread");
        assertFalse(done.isCompletedExceptionally());
    }

    @Test
    void unconfirmedInstallFailsAfterTheSwitchTimeoutNamingTheSwitch() {
        FlowRule a = rule(PE_A, 1, "10.2.0.10/32", 2);
        SwitchException e = switchFailure(programmer.install(List.of(a)));
        assertEquals(PE_A, e.device());
        assertTrue(e.getMessage().contains("not confirmed"), e.getMessage());
    }

    @Test
    void timeoutNamesTheSwitchAndCookieThatDidNotConfirm() {
        FlowRule a = rule(PE_A, 1, "10.2.0.10/32", 2);
        FlowRule b1 = rule(S1, 2, "10.2.0.10/32", 3);
        FlowRule b2 = rule(S1, 3, "10.2.0.11/32", 3);
        flows.silent.add(S1);
        CompletableFuture<Void> installed = programmer.install(List.of(a, b1, b2));
        flows.confirmPending(); // PE_A confirms, S1 never answers
        SwitchException e = switchFailure(installed);
        assertEquals(S1, e.device());
        assertEquals(b1.id().value(), e.cookie());
        assertTrue(e.getMessage().contains("not confirmed"), e.getMessage());

        flows.silent.remove(S1);
        flows.put(a, FlowEntryState.ADDED);
        flows.put(b1, FlowEntryState.ADDED);
        flows.silent.add(S1);
        CompletableFuture<Void> removed = programmer.remove(List.of(a, b1));
        flows.confirmPending();
        SwitchException r = switchFailure(removed);
        assertEquals(S1, r.device());
        assertEquals(b1.id().value(), r.cookie());
    }

    @Test
    void installOnDisconnectedSwitchIsRefusedAtOnceAndNothingIsApplied() {
        down.add(S1);
        FlowRule a = rule(PE_A, 1, "10.2.0.10/32", 2);
        FlowRule b = rule(S1, 2, "10.2.0.10/32", 3);
        SwitchException e = switchFailure(programmer.install(List.of(a, b)));
        assertEquals(S1, e.device());
        assertTrue(e.getMessage().contains("not connected"), e.getMessage());
        assertTrue(flows.operations.isEmpty());
    }

    @Test
    void switchRejectionFailsTheBatchWithTheCookie() {
        FlowRule a = rule(PE_A, 1, "10.2.0.10/32", 2);
        CompletableFuture<Void> done = programmer.install(List.of(a));
        flows.operations.get(0).callback().onError(
                org.onosproject.net.flow.FlowRuleOperations.builder().add(a).build());
        SwitchException e = switchFailure(done);
        assertEquals(a.id().value(), e.cookie());
        assertTrue(e.getMessage().contains("refused"), e.getMessage());
    }

    @Test
    void ourRuleWithTheSameKeyButAnotherCookieIsRemovedBeforeTheNewOneIsAdded() {
        FlowRule old = rule(PE_A, Cookies.cookie(APP_ID.id(), Cookies.KIND_SERVER_ROUTE, 1, 1), "10.2.0.10/32", 2);
        flows.put(old, FlowEntryState.ADDED);
        FlowRule next = rule(PE_A, 7, "10.2.0.10/32", 3);
        programmer.install(List.of(next));

        List<java.util.Set<FlowRuleOperation>> stages = flows.operations.get(0).stages();
        assertEquals(2, stages.size(), "removal first, then the addition");
        assertEquals(old.id(), stages.get(0).iterator().next().rule().id());
        assertEquals(FlowRuleOperation.Type.REMOVE, stages.get(0).iterator().next().type());
        assertEquals(next.id(), stages.get(1).iterator().next().rule().id());
    }

    @Test
    void theStoreIsReadOncePerDeviceNotOncePerRule() {
        Map<DeviceId, Integer> reads = new ConcurrentHashMap<>();
        FakeFlowRuleService counting = new FakeFlowRuleService() {
            @Override
            public Iterable<FlowEntry> getFlowEntries(DeviceId deviceId) {
                reads.merge(deviceId, 1, Integer::sum);
                return super.getFlowEntries(deviceId);
            }
        };
        FlowRule old = rule(PE_A, Cookies.cookie(APP_ID.id(), Cookies.KIND_SERVER_ROUTE, 1, 1), "10.2.0.10/32", 2);
        counting.put(old, FlowEntryState.ADDED);
        List<FlowRule> rules = List.of(rule(PE_A, 1, "10.2.0.10/32", 3), rule(PE_A, 2, "10.2.0.11/32", 3),
                rule(PE_A, 3, "10.2.0.12/32", 3), rule(S1, 4, "10.2.0.10/32", 3), rule(S1, 5, "10.2.0.11/32", 3));
        FlowRuleNetworkProgrammer p = new FlowRuleNetworkProgrammer(counting, new DeviceServiceAdapter() {
            @Override
            public boolean isAvailable(DeviceId deviceId) {
                return true;
            }
        }, APP_ID, () -> Duration.ofSeconds(5));
        try {
            p.install(rules);
            assertEquals(Map.of(PE_A, 1, S1, 1), reads);
            assertEquals(List.of(old), counting.rules(FlowRuleOperation.Type.REMOVE), "the stale rule is still found");
            reads.clear();
            p.remove(rules);
            assertEquals(Map.of(PE_A, 1, S1, 1), reads);
        } finally {
            p.close();
            counting.shutdown();
        }
    }

    @Test
    void removalWaitsForOnSuccess() throws Exception {
        FlowRule a = rule(PE_A, 1, "10.2.0.10/32", 2);
        flows.put(a, FlowEntryState.ADDED);
        CompletableFuture<Void> done = programmer.remove(List.of(a));
        assertEquals(List.of(a), flows.rules(FlowRuleOperation.Type.REMOVE));
        assertFalse(done.isDone());
        flows.confirmPending();
        done.get(1, TimeUnit.SECONDS);
        assertEquals(List.of(), programmer.read(PE_A).get());
    }

    @Test
    void readShowsOurEntriesThatAreNotOnTheirWayOut() throws Exception {
        FlowRule added = rule(PE_A, 1, "10.2.0.10/32", 2);
        FlowRule pending = rule(PE_A, 2, "10.2.0.11/32", 2);
        FlowRule leaving = rule(PE_A, 3, "10.2.0.12/32", 2);
        FlowRule foreign = rule(PE_A, 0x0042_0000_0000_0001L, "10.2.0.13/32", 2);
        flows.put(added, FlowEntryState.ADDED);
        flows.put(pending, FlowEntryState.PENDING_ADD);
        flows.put(leaving, FlowEntryState.PENDING_REMOVE);
        flows.put(foreign, FlowEntryState.ADDED);
        Set<Long> ids = new java.util.HashSet<>();
        programmer.read(PE_A).get().forEach(r -> ids.add(r.id().value()));
        assertEquals(Set.of(added.id().value(), pending.id().value()), ids);
    }

    @Test
    void isAvailableAsksTheDeviceService() {
        down.add(S1);
        assertFalse(programmer.isAvailable(S1));
        assertTrue(programmer.isAvailable(PE_A));
    }

    @Test
    void closeFailsWhatIsStillWaiting() {
        CompletableFuture<Void> done = programmer.install(List.of(rule(PE_A, 1, "10.2.0.10/32", 2)));
        programmer.close();
        switchFailure(done);
    }
}
