package org.wanmig.testing;

import org.junit.jupiter.api.Test;
import org.onlab.packet.EthType;
import org.onlab.packet.Ethernet;
import org.onlab.packet.IpPrefix;
import org.onlab.packet.MacAddress;
import org.onlab.packet.MplsLabel;
import org.onosproject.net.DeviceId;
import org.onosproject.net.PortNumber;
import org.onosproject.net.flow.DefaultFlowRule;
import org.onosproject.net.flow.DefaultTrafficSelector;
import org.onosproject.net.flow.DefaultTrafficTreatment;
import org.onosproject.net.flow.FlowRule;
import org.onosproject.net.flow.TrafficSelector;
import org.onosproject.net.flow.TrafficTreatment;
import org.wanmig.planner.RuleKey;
import org.wanmig.spi.NetworkProgrammer;
import org.wanmig.spi.SwitchException;

import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Function;
import java.util.stream.Collectors;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * What every {@link NetworkProgrammer} must do, run against each adapter (ONOS on its test
 * adapters with a late-confirming FlowRuleService, the embedded one against a real Open vSwitch):
 * confirmed install, replacement by key, removal by key, read-back of exactly the rules installed
 * (the reconciler diffs against it), refusals and disconnected switches reported the same way.
 */
public abstract class NetworkProgrammerContract {
    protected static final long WAIT_S = 20;
    private final AtomicLong nextRule = new AtomicLong(1);

    /** The adapter under test. */
    protected abstract NetworkProgrammer programmer();

    /** A switch that is connected and holds none of this application's rules. */
    protected abstract DeviceId connectedSwitch() throws Exception;

    /** A switch that is not connected. */
    protected abstract DeviceId absentSwitch();

    /** The top 16 bits of this application's cookies (its app id). */
    protected abstract long cookieTag();

    protected FlowRule rule(DeviceId d, int priority, TrafficSelector s, TrafficTreatment t) {
        return DefaultFlowRule.builder().forDevice(d).forTable(0).withPriority(priority)
                .withCookie(cookieTag() | nextRule.getAndIncrement()).makePermanent()
                .withSelector(s).withTreatment(t).build();
    }

    /** The kinds of rule the planner makes: push at an ingress PE, label switching, pop at egress, punt. */
    protected List<FlowRule> plannerLikeRules(DeviceId d) {
        FlowRule push = rule(d, 2000, DefaultTrafficSelector.builder().matchEthType(Ethernet.TYPE_IPV4)
                        .matchIPDst(IpPrefix.valueOf("10.20.0.7/32")).build(),
                DefaultTrafficTreatment.builder().pushMpls().setMpls(MplsLabel.mplsLabel(1001))
                        .setOutput(PortNumber.portNumber(2)).build());
        FlowRule hairpin = rule(d, 2001, DefaultTrafficSelector.builder().matchEthType(Ethernet.TYPE_IPV4)
                        .matchIPDst(IpPrefix.valueOf("10.20.0.7/32")).matchInPort(PortNumber.portNumber(2)).build(),
                DefaultTrafficTreatment.builder().pushMpls().setMpls(MplsLabel.mplsLabel(1001))
                        .setOutput(PortNumber.IN_PORT).build());
        FlowRule transit = rule(d, 1500, DefaultTrafficSelector.builder().matchEthType(Ethernet.MPLS_UNICAST)
                        .matchMplsLabel(MplsLabel.mplsLabel(1002)).build(),
                DefaultTrafficTreatment.builder().setOutput(PortNumber.portNumber(3)).build());
        FlowRule pop = rule(d, 1500, DefaultTrafficSelector.builder().matchEthType(Ethernet.MPLS_UNICAST)
                        .matchMplsLabel(MplsLabel.mplsLabel(1003)).build(),
                DefaultTrafficTreatment.builder().popMpls(EthType.EtherType.IPV4.ethType())
                        .setEthSrc(MacAddress.valueOf("02:57:a9:00:00:01"))
                        .setEthDst(MacAddress.valueOf("02:57:a9:00:00:02"))
                        .setOutput(PortNumber.portNumber(4)).build());
        FlowRule site = rule(d, 900, DefaultTrafficSelector.builder().matchEthType(Ethernet.TYPE_IPV4)
                        .matchIPSrc(IpPrefix.valueOf("10.20.0.7/32")).matchIPDst(IpPrefix.valueOf("10.1.0.0/24")).build(),
                DefaultTrafficTreatment.builder().setOutput(PortNumber.portNumber(1)).build());
        FlowRule arp = rule(d, 100, DefaultTrafficSelector.builder().matchEthType(Ethernet.TYPE_ARP).build(),
                DefaultTrafficTreatment.builder().punt().build());
        return List.of(push, hairpin, transit, pop, site, arp);
    }

    protected static <T> T await(CompletableFuture<T> f) throws Exception {
        return f.get(WAIT_S, TimeUnit.SECONDS);
    }

    private Map<RuleKey, FlowRule> table(DeviceId d) throws Exception {
        return await(programmer().read(d)).stream().collect(Collectors.toMap(RuleKey::of, Function.identity()));
    }

    private static void assertHolds(Map<RuleKey, FlowRule> table, FlowRule r) {
        FlowRule held = table.get(RuleKey.of(r));
        assertTrue(held != null && RuleKey.sameRule(held, r), () -> "expected " + r + " in " + table.values());
    }

    @Test
    void installIsConfirmedAndReadBackExactly() throws Exception {
        DeviceId d = connectedSwitch();
        List<FlowRule> rules = plannerLikeRules(d);
        await(programmer().install(rules));
        Map<RuleKey, FlowRule> table = table(d);
        rules.forEach(r -> assertHolds(table, r));
        assertEquals(rules.size(), table.size(), () -> "only what was installed: " + table.values());
    }

    @Test
    void installWithATakenKeyReplacesTheRule() throws Exception {
        DeviceId d = connectedSwitch();
        FlowRule old = plannerLikeRules(d).get(2);
        await(programmer().install(List.of(old)));
        FlowRule next = rule(d, old.priority(), old.selector(),
                DefaultTrafficTreatment.builder().setOutput(PortNumber.portNumber(5)).build());
        await(programmer().install(List.of(next)));
        Map<RuleKey, FlowRule> table = table(d);
        assertEquals(1, table.size(), () -> table.values().toString());
        assertHolds(table, next);
    }

    @Test
    void removeGoesByKeyAndLeavesTheRest() throws Exception {
        DeviceId d = connectedSwitch();
        List<FlowRule> rules = plannerLikeRules(d);
        await(programmer().install(rules));
        await(programmer().remove(rules.subList(0, 2)));
        Map<RuleKey, FlowRule> table = table(d);
        assertFalse(table.containsKey(RuleKey.of(rules.get(0))));
        assertFalse(table.containsKey(RuleKey.of(rules.get(1))));
        rules.subList(2, rules.size()).forEach(r -> assertHolds(table, r));
        await(programmer().remove(rules));
        assertEquals(Map.of(), table(d));
    }

    @Test
    void refusedRuleFailsTheBatchWithItsCookie() throws Exception {
        DeviceId d = connectedSwitch();
        // no switch has port 70000: OpenFlow switches refuse it (BAD_OUT_PORT)
        FlowRule bad = rule(d, 300, DefaultTrafficSelector.builder().matchInPort(PortNumber.portNumber(5)).build(),
                DefaultTrafficTreatment.builder().setOutput(PortNumber.portNumber(70000)).build());
        ExecutionException e = assertThrows(ExecutionException.class,
                () -> await(programmer().install(List.of(bad))));
        SwitchException se = assertInstanceOf(SwitchException.class, e.getCause());
        assertEquals(d, se.device());
        assertEquals(bad.id().value(), se.cookie());
        assertFalse(table(d).containsKey(RuleKey.of(bad)));
    }

    @Test
    void installOnADisconnectedSwitchFailsAndRemovalIsDeferred() throws Exception {
        DeviceId absent = absentSwitch();
        assertFalse(programmer().isAvailable(absent));
        FlowRule r = plannerLikeRules(absent).get(2);
        ExecutionException e = assertThrows(ExecutionException.class, () -> await(programmer().install(List.of(r))));
        SwitchException se = assertInstanceOf(SwitchException.class, e.getCause());
        assertEquals(absent, se.device());
        await(programmer().remove(List.of(r))); // completes: the switch is reconciled when it connects
    }

    @Test
    void preparedRulesChangeNothingUntilInstalledThenInstallExactly() throws Exception {
        DeviceId d = connectedSwitch();
        List<FlowRule> rules = plannerLikeRules(d);
        programmer().prepare(rules);
        assertEquals(Map.of(), table(d), "a prepare sends nothing");
        await(programmer().install(rules));
        Map<RuleKey, FlowRule> table = table(d);
        rules.forEach(r -> assertHolds(table, r));
        assertEquals(rules.size(), table.size(), () -> "only what was installed: " + table.values());
        // installed again after a removal (a rollback, then the move once more): not prepared any more
        await(programmer().remove(rules));
        await(programmer().install(rules));
        Map<RuleKey, FlowRule> again = table(d);
        rules.forEach(r -> assertHolds(again, r));
    }

    @Test
    void aPreparedRuleTheSwitchRefusesStillFailsItsInstall() throws Exception {
        DeviceId d = connectedSwitch();
        FlowRule bad = rule(d, 300, DefaultTrafficSelector.builder().matchInPort(PortNumber.portNumber(5)).build(),
                DefaultTrafficTreatment.builder().setOutput(PortNumber.portNumber(70000)).build());
        FlowRule good = plannerLikeRules(d).get(2);
        programmer().prepare(List.of(good, bad));
        ExecutionException e = assertThrows(ExecutionException.class,
                () -> await(programmer().install(List.of(good, bad))));
        assertEquals(bad.id().value(), assertInstanceOf(SwitchException.class, e.getCause()).cookie());
        assertFalse(table(d).containsKey(RuleKey.of(bad)));
    }

    @Test
    void emptyChangeSetsCompleteAtOnce() throws Exception {
        await(programmer().install(List.of()));
        await(programmer().remove(List.of()));
    }
}
