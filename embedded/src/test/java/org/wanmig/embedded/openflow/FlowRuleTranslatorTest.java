package org.wanmig.embedded.openflow;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import org.junit.jupiter.api.Test;
import org.onlab.packet.EthType;
import org.onlab.packet.IpPrefix;
import org.onlab.packet.MacAddress;
import org.onlab.packet.MplsLabel;
import org.onlab.packet.VlanId;
import org.onosproject.net.DeviceId;
import org.onosproject.net.PortNumber;
import org.onosproject.net.flow.DefaultFlowRule;
import org.onosproject.net.flow.DefaultTrafficSelector;
import org.onosproject.net.flow.DefaultTrafficTreatment;
import org.onosproject.net.flow.FlowRule;
import org.onosproject.net.flow.TrafficSelector;
import org.onosproject.net.flow.TrafficTreatment;
import org.projectfloodlight.openflow.protocol.OFFactories;
import org.projectfloodlight.openflow.protocol.OFFlowMod;
import org.projectfloodlight.openflow.protocol.OFFlowModCommand;
import org.projectfloodlight.openflow.protocol.OFFlowStatsEntry;
import org.projectfloodlight.openflow.protocol.OFMessage;
import org.projectfloodlight.openflow.protocol.action.OFAction;
import org.projectfloodlight.openflow.protocol.action.OFActionOutput;
import org.projectfloodlight.openflow.protocol.action.OFActionPopMpls;
import org.projectfloodlight.openflow.protocol.action.OFActionPushMpls;
import org.projectfloodlight.openflow.protocol.action.OFActionSetField;
import org.projectfloodlight.openflow.protocol.instruction.OFInstructionApplyActions;
import org.projectfloodlight.openflow.protocol.match.Match;
import org.projectfloodlight.openflow.protocol.match.MatchField;
import org.projectfloodlight.openflow.protocol.oxm.OFOxmEthDst;
import org.projectfloodlight.openflow.protocol.oxm.OFOxmEthSrc;
import org.projectfloodlight.openflow.protocol.oxm.OFOxmMplsLabel;
import org.projectfloodlight.openflow.types.IPv4Address;
import org.projectfloodlight.openflow.types.IPv4AddressWithMask;
import org.projectfloodlight.openflow.types.OFBufferId;
import org.projectfloodlight.openflow.types.OFPort;
import org.projectfloodlight.openflow.types.TableId;
import org.projectfloodlight.openflow.types.U32;
import org.projectfloodlight.openflow.types.U64;
import org.wanmig.spi.SwitchException;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.wanmig.embedded.openflow.FlowRuleTranslator.OF13;

class FlowRuleTranslatorTest {
    static final DeviceId PE_A = DeviceId.deviceId("of:00000000000000a1");
    static final long COOKIE = 0x57A9_0000_0001_0002L;

    static FlowRule rule(TrafficSelector selector, TrafficTreatment treatment) {
        return DefaultFlowRule.builder().forDevice(PE_A).forTable(0).withPriority(40000)
                .withCookie(COOKIE).makePermanent().withSelector(selector).withTreatment(treatment).build();
    }

    /** Serialises and parses the message again: what the switch would receive. */
    static OFFlowMod wire(OFFlowMod mod) throws Exception {
        ByteBuf buf = Unpooled.buffer();
        mod.writeTo(buf);
        OFMessage parsed = OFFactories.getGenericReader().readFrom(buf);
        assertEquals(0, buf.readableBytes());
        assertEquals(mod, parsed);
        return (OFFlowMod) parsed;
    }

    static List<OFAction> actions(OFFlowMod mod) {
        assertEquals(1, mod.getInstructions().size());
        return ((OFInstructionApplyActions) mod.getInstructions().get(0)).getActions();
    }

    @Test
    void mplsPushRuleTranslatesEveryField() throws Exception {
        FlowRule r = rule(DefaultTrafficSelector.builder()
                        .matchInPort(PortNumber.portNumber(3))
                        .matchEthType(EthType.EtherType.IPV4.ethType().toShort())
                        .matchIPSrc(IpPrefix.valueOf("10.1.0.0/16"))
                        .matchIPDst(IpPrefix.valueOf("10.2.0.7/32"))
                        .build(),
                DefaultTrafficTreatment.builder()
                        .setEthSrc(MacAddress.valueOf("02:00:00:00:00:a1"))
                        .setEthDst(MacAddress.valueOf("02:00:00:00:00:b1"))
                        .pushMpls()
                        .setMpls(MplsLabel.mplsLabel(1001))
                        .setOutput(PortNumber.portNumber(7))
                        .build());
        OFFlowMod mod = wire(FlowRuleTranslator.toFlowAdd(r, 42));

        assertEquals(OFFlowModCommand.ADD, mod.getCommand());
        assertEquals(42, mod.getXid());
        assertEquals(U64.of(COOKIE), mod.getCookie());
        assertEquals(TableId.of(0), mod.getTableId());
        assertEquals(40000, mod.getPriority());
        assertEquals(0, mod.getIdleTimeout());
        assertEquals(0, mod.getHardTimeout());
        assertEquals(OFBufferId.NO_BUFFER, mod.getBufferId());

        Match m = mod.getMatch();
        assertEquals(OFPort.of(3), m.get(MatchField.IN_PORT));
        assertEquals(0x0800, m.get(MatchField.ETH_TYPE).getValue());
        assertTrue(m.isPartiallyMasked(MatchField.IPV4_SRC));
        assertEquals(IPv4AddressWithMask.of("10.1.0.0/16"), m.getMasked(MatchField.IPV4_SRC));
        assertTrue(m.isExact(MatchField.IPV4_DST));
        assertEquals(IPv4Address.of("10.2.0.7"), m.get(MatchField.IPV4_DST));

        List<OFAction> a = actions(mod);
        assertEquals(5, a.size());
        assertEquals("02:00:00:00:00:a1", ((OFOxmEthSrc) ((OFActionSetField) a.get(0)).getField()).getValue().toString());
        assertEquals("02:00:00:00:00:b1", ((OFOxmEthDst) ((OFActionSetField) a.get(1)).getField()).getValue().toString());
        assertEquals(0x8847, ((OFActionPushMpls) a.get(2)).getEthertype().getValue());
        assertEquals(U32.of(1001), ((OFOxmMplsLabel) ((OFActionSetField) a.get(3)).getField()).getValue());
        assertEquals(OFPort.of(7), ((OFActionOutput) a.get(4)).getPort());
    }

    @Test
    void mplsTransitAndPopRules() throws Exception {
        TrafficSelector mpls = DefaultTrafficSelector.builder()
                .matchInPort(PortNumber.portNumber(1))
                .matchEthType(EthType.EtherType.MPLS_UNICAST.ethType().toShort())
                .matchMplsLabel(MplsLabel.mplsLabel(1001))
                .build();
        OFFlowMod swap = wire(FlowRuleTranslator.toFlowAdd(rule(mpls, DefaultTrafficTreatment.builder()
                .setMpls(MplsLabel.mplsLabel(1002)).setOutput(PortNumber.portNumber(2)).build()), 1));
        assertEquals(U32.of(1001), swap.getMatch().get(MatchField.MPLS_LABEL));
        assertEquals(0x8847, swap.getMatch().get(MatchField.ETH_TYPE).getValue());
        assertEquals(U32.of(1002), ((OFOxmMplsLabel) ((OFActionSetField) actions(swap).get(0)).getField()).getValue());

        OFFlowMod pop = wire(FlowRuleTranslator.toFlowAdd(rule(mpls, DefaultTrafficTreatment.builder()
                .popMpls(EthType.EtherType.IPV4.ethType()).setOutput(PortNumber.portNumber(4)).build()), 2));
        assertEquals(0x0800, ((OFActionPopMpls) actions(pop).get(0)).getEthertype().getValue());

        OFFlowMod popArp = wire(FlowRuleTranslator.toFlowAdd(rule(mpls, DefaultTrafficTreatment.builder()
                .popMpls(EthType.EtherType.ARP.ethType()).setOutput(PortNumber.portNumber(4)).build()), 3));
        assertEquals(0x0806, ((OFActionPopMpls) actions(popArp).get(0)).getEthertype().getValue());
    }

    @Test
    void arpToControllerSendsWholeFrame() throws Exception {
        OFFlowMod mod = wire(FlowRuleTranslator.toFlowAdd(rule(
                DefaultTrafficSelector.builder().matchEthType((short) 0x0806).build(),
                DefaultTrafficTreatment.builder().setOutput(PortNumber.CONTROLLER).build()), 5));
        assertEquals(0x0806, mod.getMatch().get(MatchField.ETH_TYPE).getValue());
        OFActionOutput out = (OFActionOutput) actions(mod).get(0);
        assertEquals(OFPort.CONTROLLER, out.getPort());
        assertEquals(0xffff, out.getMaxLen());
    }

    @Test
    void outputToInPortUsesTheInPortAction() throws Exception {
        OFFlowMod mod = wire(FlowRuleTranslator.toFlowAdd(rule(
                DefaultTrafficSelector.builder().matchInPort(PortNumber.portNumber(1))
                        .matchEthType((short) 0x0800).build(),
                DefaultTrafficTreatment.builder().pushMpls().setMpls(MplsLabel.mplsLabel(1000))
                        .setOutput(PortNumber.IN_PORT).build()), 6));
        OFActionOutput out = (OFActionOutput) actions(mod).get(actions(mod).size() - 1);
        assertEquals(OFPort.IN_PORT, out.getPort());
    }

    @Test
    void emptyTreatmentIsDrop() throws Exception {
        OFFlowMod mod = wire(FlowRuleTranslator.toFlowAdd(rule(
                DefaultTrafficSelector.builder().matchInPort(PortNumber.portNumber(9)).build(),
                DefaultTrafficTreatment.builder().build()), 5));
        assertTrue(mod.getInstructions().isEmpty());
    }

    @Test
    void deleteStrictCarriesMatchPriorityAndCookie() throws Exception {
        FlowRule r = rule(DefaultTrafficSelector.builder().matchEthType((short) 0x0800)
                        .matchIPDst(IpPrefix.valueOf("10.2.0.7/32")).build(),
                DefaultTrafficTreatment.builder().setOutput(PortNumber.portNumber(2)).build());
        OFFlowMod del = wire(FlowRuleTranslator.toFlowDeleteStrict(r, 9));
        assertEquals(OFFlowModCommand.DELETE_STRICT, del.getCommand());
        assertEquals(40000, del.getPriority());
        assertEquals(U64.of(COOKIE), del.getCookie());
        assertEquals(U64.ZERO, del.getCookieMask());
        assertEquals(OFPort.ANY, del.getOutPort());
        assertEquals(FlowRuleTranslator.toFlowAdd(r, 0).getMatch(), del.getMatch());

        OFFlowMod modify = wire(FlowRuleTranslator.toFlowModifyStrict(r, 10));
        assertEquals(OFFlowModCommand.MODIFY_STRICT, modify.getCommand());
        assertEquals(FlowRuleTranslator.toFlowAdd(r, 0).getInstructions(), modify.getInstructions());
    }

    @Test
    void unsupportedCriterionIsRefusedWithCookie() {
        FlowRule r = rule(DefaultTrafficSelector.builder().matchVlanId(VlanId.vlanId((short) 10)).build(),
                DefaultTrafficTreatment.builder().setOutput(PortNumber.portNumber(2)).build());
        SwitchException e = assertThrows(SwitchException.class, () -> FlowRuleTranslator.toFlowAdd(r, 1));
        assertEquals(COOKIE, e.cookie());
        assertEquals(PE_A, e.device());
    }

    @Test
    void unsupportedInstructionIsRefused() {
        FlowRule r = rule(DefaultTrafficSelector.builder().matchInPort(PortNumber.portNumber(1)).build(),
                DefaultTrafficTreatment.builder().setVlanId(VlanId.vlanId((short) 5))
                        .setOutput(PortNumber.portNumber(2)).build());
        assertThrows(SwitchException.class, () -> FlowRuleTranslator.toFlowAdd(r, 1));
        FlowRule deferred = rule(DefaultTrafficSelector.builder().matchInPort(PortNumber.portNumber(1)).build(),
                DefaultTrafficTreatment.builder().deferred().setOutput(PortNumber.portNumber(2)).build());
        assertThrows(SwitchException.class, () -> FlowRuleTranslator.toFlowAdd(deferred, 1));
        FlowRule flood = rule(DefaultTrafficSelector.builder().matchInPort(PortNumber.portNumber(1)).build(),
                DefaultTrafficTreatment.builder().setOutput(PortNumber.FLOOD).build());
        assertThrows(SwitchException.class, () -> FlowRuleTranslator.toFlowAdd(flood, 1));
    }

    @Test
    void missingPrerequisitesAreRefused() {
        FlowRule ipWithoutEthType = rule(DefaultTrafficSelector.builder()
                        .matchIPDst(IpPrefix.valueOf("10.2.0.7/32")).build(),
                DefaultTrafficTreatment.builder().setOutput(PortNumber.portNumber(2)).build());
        assertThrows(SwitchException.class, () -> FlowRuleTranslator.toFlowAdd(ipWithoutEthType, 1));
        FlowRule labelWithArp = rule(DefaultTrafficSelector.builder().matchEthType((short) 0x0806)
                        .matchMplsLabel(MplsLabel.mplsLabel(5)).build(),
                DefaultTrafficTreatment.builder().setOutput(PortNumber.portNumber(2)).build());
        assertThrows(SwitchException.class, () -> FlowRuleTranslator.toFlowAdd(labelWithArp, 1));
    }

    @Test
    void statsEntryReadsBackAsTheRuleThatMadeIt() {
        FlowRule r = rule(DefaultTrafficSelector.builder().matchEthType((short) 0x0800)
                        .matchIPDst(IpPrefix.valueOf("10.2.0.0/24")).matchInPort(PortNumber.portNumber(1)).build(),
                DefaultTrafficTreatment.builder().setOutput(PortNumber.portNumber(2)).build());
        OFFlowMod add = FlowRuleTranslator.toFlowAdd(r, 1);
        // The switch reports the fields in its own order and the output max_len it keeps.
        Match reordered = OF13.buildMatch()
                .setMasked(MatchField.IPV4_DST, IPv4AddressWithMask.of("10.2.0.0/24"))
                .setExact(MatchField.IN_PORT, OFPort.of(1))
                .setExact(MatchField.ETH_TYPE, org.projectfloodlight.openflow.types.EthType.IPv4)
                .build();
        OFFlowStatsEntry same = entry(add.getCookie(), reordered,
                List.of(OF13.instructions().applyActions(List.of(OF13.actions().output(OFPort.of(2), 0xffe5)))));
        FlowRule back = FlowRuleTranslator.toFlowRule(r.deviceId(), same).orElseThrow();
        assertTrue(org.wanmig.planner.RuleKey.sameRule(r, back), back::toString);

        OFFlowStatsEntry otherOutput = entry(add.getCookie(), reordered,
                List.of(OF13.instructions().applyActions(List.of(OF13.actions().output(OFPort.of(3), 0)))));
        FlowRule other = FlowRuleTranslator.toFlowRule(r.deviceId(), otherOutput).orElseThrow();
        assertEquals(org.wanmig.planner.RuleKey.of(r), org.wanmig.planner.RuleKey.of(other));
        assertFalse(org.wanmig.planner.RuleKey.sameRule(r, other));

        OFFlowStatsEntry otherMatch = entry(add.getCookie(), OF13.buildMatch()
                .setExact(MatchField.ETH_TYPE, org.projectfloodlight.openflow.types.EthType.IPv4).build(),
                add.getInstructions());
        assertFalse(org.wanmig.planner.RuleKey.of(r).equals(org.wanmig.planner.RuleKey.of(
                FlowRuleTranslator.toFlowRule(r.deviceId(), otherMatch).orElseThrow())));

        // a rule using anything the planner never makes is not read as one of ours
        OFFlowStatsEntry vlan = entry(add.getCookie(), OF13.buildMatch()
                .setExact(MatchField.VLAN_VID, org.projectfloodlight.openflow.types.OFVlanVidMatch.ofVlan(5)).build(),
                add.getInstructions());
        assertTrue(FlowRuleTranslator.toFlowRule(r.deviceId(), vlan).isEmpty());
    }

    @Test
    void everyPlannerRuleOfTheSampleTopologyRoundTrips() {
        // with dcA's prefix: aggregate routes (masked ipv4 matches) and a server's exception routes too
        org.wanmig.planner.NetworkPlanner planner = new org.wanmig.planner.NetworkPlanner(
                org.wanmig.testing.Topologies.topology(org.wanmig.testing.Topologies.THREE_DC,
                        c -> org.wanmig.testing.Topologies.entry(c, "dataCenters", 0).put("prefix", "10.2.0.0/24")),
                org.wanmig.testing.Topologies.APP_ID);
        java.util.List<FlowRule> rules = new java.util.ArrayList<>(planner.infrastructure());
        rules.addAll(planner.siteRoutes());
        rules.addAll(planner.dcRoutes());
        org.wanmig.config.VirtualServer vs = planner.topology().servers().iterator().next();
        rules.addAll(planner.serverRoutes(vs, vs.dc()));
        org.wanmig.config.DataCenter other = planner.topology().dataCenters().stream()
                .filter(d -> !d.name().equals(vs.dc())).findFirst().orElseThrow();
        rules.addAll(planner.serverRoutes(vs, other.name()));

        rules.addAll(planner.migration(org.wanmig.api.Migration.requested(org.wanmig.api.MigrationId.of(3),
                vs.name(), vs.dc(), other.name(), planner.attachment(vs, other.name()).toLong(),
                org.wanmig.planner.LabelAllocator.allocate(planner.topology().labels(), java.util.List.of(),
                        planner.topology().clientSites()), 0)).all());
        assertTrue(rules.stream().anyMatch(r -> r.treatment().tableTransition() != null), "the pair's egress at PE_B");
        assertTrue(rules.stream().anyMatch(r -> r.tableId() == org.wanmig.planner.NetworkPlanner.TABLE_TUNNEL_DELIVERY));
        for (FlowRule r : rules) {
            OFFlowMod add = FlowRuleTranslator.toFlowAdd(r, 1);
            FlowRule back = FlowRuleTranslator.toFlowRule(r.deviceId(), OF13.buildFlowStatsEntry()
                    .setCookie(add.getCookie()).setTableId(add.getTableId()).setPriority(add.getPriority())
                    .setMatch(add.getMatch()).setInstructions(add.getInstructions()).build()).orElseThrow();
            assertTrue(org.wanmig.planner.RuleKey.sameRule(r, back), () -> r + " read back as " + back);
        }
    }

    @Test
    void cookieTagAndDeviceIds() {
        assertTrue(org.wanmig.planner.Cookies.isOurs(COOKIE));
        assertFalse(org.wanmig.planner.Cookies.isOurs(0x1234_0000_0000_0001L));
        assertFalse(org.wanmig.planner.Cookies.isOurs(0));
        assertEquals(DeviceId.deviceId("of:00000000000000a1"), FlowRuleTranslator.deviceId(0xa1));
        assertEquals(0xfedcba9876543210L, FlowRuleTranslator.dpid(FlowRuleTranslator.deviceId(0xfedcba9876543210L)));
        assertThrows(IllegalArgumentException.class, () -> FlowRuleTranslator.dpid(DeviceId.deviceId("rest:x")));
    }

    private static OFFlowStatsEntry entry(U64 cookie, Match match,
                                          List<org.projectfloodlight.openflow.protocol.instruction.OFInstruction> ins) {
        return OF13.buildFlowStatsEntry().setTableId(TableId.of(0)).setPriority(40000).setCookie(cookie)
                .setMatch(match).setInstructions(ins).build();
    }

    @Test
    void parsedFlowModIsAFlowMod() throws Exception {
        assertInstanceOf(OFFlowMod.class, wire(FlowRuleTranslator.toFlowAdd(rule(
                DefaultTrafficSelector.builder().matchInPort(PortNumber.portNumber(1)).build(),
                DefaultTrafficTreatment.builder().setOutput(PortNumber.portNumber(2)).build()), 1)));
    }
}
