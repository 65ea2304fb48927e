package org.wanmig.embedded.openflow;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.onlab.packet.MplsLabel;
import org.onlab.packet.VlanId;
import org.onosproject.net.DeviceId;
import org.onosproject.net.PortNumber;
import org.onosproject.net.flow.DefaultFlowRule;
import org.onosproject.net.flow.DefaultTrafficSelector;
import org.onosproject.net.flow.DefaultTrafficTreatment;
import org.onosproject.net.flow.FlowRule;
import org.onosproject.net.flow.TrafficSelector;
import org.wanmig.planner.Cookies;
import org.wanmig.spi.SwitchException;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;

/** The prepared translations' bookkeeping, without a switch (their install: OpenFlowProgrammerContractOvsIT). */
class OpenFlowNetworkProgrammerTest {
    private static final DeviceId PE = FlowRuleTranslator.deviceId(0xa);
    private final OpenFlowController controller = new OpenFlowController(OpenFlowConfig.builder()
            .bindAddress("127.0.0.1").port(0).confirmTimeout(Duration.ofSeconds(1)).build());
    private final OpenFlowNetworkProgrammer programmer = new OpenFlowNetworkProgrammer(controller);
    private int next = 1;

    @AfterEach
    void stop() {
        programmer.close();
        controller.close();
    }

    private FlowRule rule(TrafficSelector selector) {
        return DefaultFlowRule.builder().forDevice(PE).forTable(0).withPriority(2000)
                .withCookie(Cookies.TAG | next++).makePermanent().withSelector(selector)
                .withTreatment(DefaultTrafficTreatment.builder().pushMpls().setMpls(MplsLabel.mplsLabel(1001))
                        .setOutput(PortNumber.portNumber(2)).build()).build();
    }

    private List<FlowRule> rules(int n) {
        List<FlowRule> rules = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            rules.add(rule(DefaultTrafficSelector.builder().matchInPort(PortNumber.portNumber(1 + i % 40)).build()));
        }
        return rules;
    }

    @Test
    void anInstallTakesItsPreparedRulesEvenWhenItFails() throws Exception {
        List<FlowRule> redirect = rules(2);
        programmer.prepare(redirect);
        assertEquals(2, programmer.preparedCount());
        ExecutionException e = assertThrows(ExecutionException.class,
                () -> programmer.install(redirect).get(5, TimeUnit.SECONDS));
        assertEquals(PE, assertInstanceOf(SwitchException.class, e.getCause()).device());   // not connected
        assertEquals(0, programmer.preparedCount(), "each prepared rule serves one install");
    }

    @Test
    void aRuleThatCannotBeTranslatedIsNotPreparedAndItsInstallRefusesIt() {
        FlowRule vlan = rule(DefaultTrafficSelector.builder().matchVlanId(VlanId.vlanId((short) 10)).build());
        programmer.prepare(List.of(vlan));
        assertEquals(0, programmer.preparedCount());
        ExecutionException e = assertThrows(ExecutionException.class,
                () -> programmer.install(List.of(vlan)).get(5, TimeUnit.SECONDS));
        assertEquals(vlan.id().value(), assertInstanceOf(SwitchException.class, e.getCause()).cookie());
    }

    @Test
    void preparedRulesNeverInstalledAreDroppedPastTheBound() {
        programmer.prepare(rules(OpenFlowNetworkProgrammer.MAX_PREPARED));
        assertEquals(OpenFlowNetworkProgrammer.MAX_PREPARED, programmer.preparedCount());
        programmer.prepare(rules(3));
        assertEquals(3, programmer.preparedCount());
    }
}
