package org.wanmig.impl;

import org.wanmig.testing.WanmigFixtures;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.onlab.packet.Ethernet;
import org.onlab.packet.Ip4Prefix;
import org.onosproject.net.DeviceId;
import org.onosproject.net.PortNumber;
import org.onosproject.net.device.DeviceServiceAdapter;
import org.onosproject.net.flow.DefaultFlowRule;
import org.onosproject.net.flow.DefaultTrafficSelector;
import org.onosproject.net.flow.DefaultTrafficTreatment;
import org.onosproject.net.flow.FlowEntry.FlowEntryState;
import org.onosproject.net.flow.FlowRule;
import org.onosproject.net.flow.FlowRuleEvent;
import org.onosproject.net.flow.FlowRuleOperation;
import org.onosproject.net.flow.FlowRuleOperations;
import org.wanmig.planner.Cookies;
import org.wanmig.spi.SwitchException;

import java.time.Duration;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArraySet;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.wanmig.testing.WanmigFixtures.APP_ID;

class FlowRuleNetworkProgrammerTest {
    private static final DeviceId PE_A = DeviceId.deviceId("of:000000000000000a");
    private static final DeviceId S1 = DeviceId.deviceId("of:0000000000000001");

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
    void installCompletesOnlyWhenEverySwitchConfirmedEveryRule() throws Exception {
        FlowRule a = rule(PE_A, 1, "10.2.0.10/32", 2);
        FlowRule b = rule(S1, 2, "10.2.0.10/32", 3);
        CompletableFuture<Void> done = programmer.install(List.of(a, b));

        assertEquals(List.of(a, b), flows.rules(FlowRuleOperation.Type.ADD));
        flows.confirmAdded(a);
        assertFalse(done.isDone(), "one rule is still unconfirmed");
        flows.confirmAdded(b);
        done.get(1, TimeUnit.SECONDS);
    }

    @Test
    void confirmationOnAnotherDeviceDoesNotCount() {
        FlowRule a = rule(PE_A, 1, "10.2.0.10/32", 2);
        CompletableFuture<Void> done = programmer.install(List.of(a));
        // same cookie, other switch: not our rule
        flows.confirmAdded(rule(S1, 1, "10.2.0.10/32", 2));
        assertFalse(done.isDone());
    }

    @Test
    void unconfirmedInstallFailsAfterTheSwitchTimeoutNamingSwitchAndCookie() {
        FlowRule a = rule(PE_A, 1, "10.2.0.10/32", 2);
        flows.put(a, FlowEntryState.PENDING_ADD);
        CompletableFuture<Void> done = programmer.install(List.of(a));

        SwitchException e = switchFailure(done);
        assertEquals(PE_A, e.device());
        assertEquals(a.id().value(), e.cookie());
        assertTrue(e.getMessage().contains("not confirmed") && e.getMessage().contains("PENDING_ADD"), e.getMessage());
    }

    @Test
    void installOnDisconnectedSwitchIsRefusedAtOnce() {
        down.add(S1);
        FlowRule a = rule(PE_A, 1, "10.2.0.10/32", 2);
        FlowRule b = rule(S1, 2, "10.2.0.10/32", 3);
        long t0 = System.nanoTime();
        SwitchException e = switchFailure(programmer.install(List.of(a, b)));
        assertEquals(S1, e.device());
        assertTrue(e.getMessage().contains("not connected"), e.getMessage());
        assertTrue(System.nanoTime() - t0 < 250_000_000L, "refused without waiting for the timeout");
    }

    @Test
    void ruleAlreadyInTheTableExactlyAsWantedNeedsNoNewConfirmation() throws Exception {
        FlowRule a = rule(PE_A, 1, "10.2.0.10/32", 2);
        flows.put(a, FlowEntryState.ADDED);
        programmer.install(List.of(a)).get(1, TimeUnit.SECONDS);
    }

    @Test
    void updatedEntryConfirmsOnlyWhenItIsTheWantedRule() throws Exception {
        FlowRule wanted = rule(PE_A, 1, "10.2.0.10/32", 2);
        FlowRule older = rule(PE_A, 1, "10.2.0.10/32", 9); // same cookie, other output
        CompletableFuture<Void> done = programmer.install(List.of(wanted));

        flows.fire(FlowRuleEvent.Type.RULE_UPDATED, flows.put(older, FlowEntryState.ADDED));
        assertFalse(done.isDone(), "an update of the old rule confirms nothing");
        flows.fire(FlowRuleEvent.Type.RULE_UPDATED, flows.put(wanted, FlowEntryState.PENDING_ADD));
        assertFalse(done.isDone(), "PENDING_ADD is not in the switch yet");
        flows.fire(FlowRuleEvent.Type.RULE_UPDATED, flows.put(wanted, FlowEntryState.ADDED));
        done.get(1, TimeUnit.SECONDS);
    }

    @Test
    void switchRejectionFailsTheBatch() {
        FlowRule a = rule(PE_A, 1, "10.2.0.10/32", 2);
        CompletableFuture<Void> done = programmer.install(List.of(a));
        FlowRuleOperations applied = flows.operations.get(0);
        applied.callback().onError(FlowRuleOperations.builder().add(a).build());

        SwitchException e = switchFailure(done);
        assertEquals(a.id().value(), e.cookie());
        assertTrue(e.getMessage().contains("rejected"), e.getMessage());
    }

    @Test
    void ourRuleWithTheSameMatchButAnotherCookieIsRemovedBeforeTheNewOneIsAdded() {
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
    void removalIsConfirmedByRuleRemoved() throws Exception {
        FlowRule a = rule(PE_A, 1, "10.2.0.10/32", 2);
        flows.put(a, FlowEntryState.ADDED);
        CompletableFuture<Void> done = programmer.remove(List.of(a));
        assertEquals(List.of(a), flows.rules(FlowRuleOperation.Type.REMOVE));
        assertFalse(done.isDone());
        flows.confirmRemoved(a);
        done.get(1, TimeUnit.SECONDS);
    }

    @Test
    void removingARuleThatIsNotThereCompletesAtOnce() throws Exception {
        programmer.remove(List.of(rule(PE_A, 1, "10.2.0.10/32", 2))).get(1, TimeUnit.SECONDS);
    }

    @Test
    void unconfirmedRemovalFailsAfterTheTimeout() {
        FlowRule a = rule(PE_A, 1, "10.2.0.10/32", 2);
        flows.put(a, FlowEntryState.PENDING_REMOVE);
        SwitchException e = switchFailure(programmer.remove(List.of(a)));
        assertTrue(e.getMessage().contains("removal not confirmed"), e.getMessage());
    }

    @Test
    void isAvailableAsksTheDeviceService() {
        down.add(S1);
        assertFalse(programmer.isAvailable(S1));
        assertTrue(programmer.isAvailable(PE_A));
    }

    @Test
    void emptyBatchesCompleteWithoutTouchingOnos() throws Exception {
        programmer.install(List.of()).get(1, TimeUnit.SECONDS);
        programmer.remove(List.of()).get(1, TimeUnit.SECONDS);
        assertTrue(flows.operations.isEmpty());
    }

    @Test
    void closeStopsListening() {
        programmer.close();
        assertTrue(flows.listeners.isEmpty());
    }
}
