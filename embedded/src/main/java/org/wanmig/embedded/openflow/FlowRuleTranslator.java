package org.wanmig.embedded.openflow;

import org.onlab.packet.IpPrefix;
import org.onlab.packet.MplsLabel;
import org.onosproject.net.flow.DefaultFlowRule;
import org.onosproject.net.flow.DefaultTrafficSelector;
import org.onosproject.net.flow.DefaultTrafficTreatment;
import org.onosproject.net.DeviceId;
import org.onosproject.net.PortNumber;
import org.onosproject.net.flow.FlowRule;
import org.onosproject.net.flow.TrafficSelector;
import org.onosproject.net.flow.TrafficTreatment;
import org.onosproject.net.flow.criteria.Criterion;
import org.onosproject.net.flow.criteria.EthTypeCriterion;
import org.onosproject.net.flow.criteria.IPCriterion;
import org.onosproject.net.flow.criteria.MplsCriterion;
import org.onosproject.net.flow.criteria.PortCriterion;
import org.onosproject.net.flow.instructions.Instruction;
import org.onosproject.net.flow.instructions.Instructions.OutputInstruction;
import org.onosproject.net.flow.instructions.L2ModificationInstruction;
import org.onosproject.net.flow.instructions.L2ModificationInstruction.ModEtherInstruction;
import org.onosproject.net.flow.instructions.L2ModificationInstruction.ModMplsHeaderInstruction;
import org.onosproject.net.flow.instructions.L2ModificationInstruction.ModMplsLabelInstruction;
import org.projectfloodlight.openflow.protocol.OFFactories;
import org.projectfloodlight.openflow.protocol.OFFactory;
import org.projectfloodlight.openflow.protocol.OFFlowMod;
import org.projectfloodlight.openflow.protocol.OFFlowStatsEntry;
import org.projectfloodlight.openflow.protocol.OFVersion;
import org.projectfloodlight.openflow.protocol.action.OFAction;
import org.projectfloodlight.openflow.protocol.action.OFActionOutput;
import org.projectfloodlight.openflow.protocol.action.OFActionPopMpls;
import org.projectfloodlight.openflow.protocol.action.OFActionPushMpls;
import org.projectfloodlight.openflow.protocol.action.OFActionSetField;
import org.projectfloodlight.openflow.protocol.oxm.OFOxm;
import org.projectfloodlight.openflow.protocol.oxm.OFOxmEthDst;
import org.projectfloodlight.openflow.protocol.oxm.OFOxmEthSrc;
import org.projectfloodlight.openflow.protocol.oxm.OFOxmMplsLabel;
import org.projectfloodlight.openflow.protocol.instruction.OFInstruction;
import org.projectfloodlight.openflow.protocol.instruction.OFInstructionApplyActions;
import org.projectfloodlight.openflow.protocol.instruction.OFInstructionGotoTable;
import org.projectfloodlight.openflow.protocol.match.Match;
import org.projectfloodlight.openflow.protocol.match.MatchField;
import org.projectfloodlight.openflow.protocol.match.MatchFields;
import org.projectfloodlight.openflow.types.EthType;
import org.projectfloodlight.openflow.types.IPv4Address;
import org.projectfloodlight.openflow.types.IPv4AddressWithMask;
import org.projectfloodlight.openflow.types.MacAddress;
import org.projectfloodlight.openflow.types.OFBufferId;
import org.projectfloodlight.openflow.types.OFGroup;
import org.projectfloodlight.openflow.types.OFPort;
import org.projectfloodlight.openflow.types.TableId;
import org.projectfloodlight.openflow.types.U32;
import org.projectfloodlight.openflow.types.U64;
import org.wanmig.spi.SwitchException;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * Translates the ONOS flow rules the wanmig planner builds into OpenFlow 1.3 flow-mods, and compares
 * them with the flow-stats entries a switch reports. Only the criteria and instructions the planner
 * uses are translated; anything else is refused with a {@link SwitchException} rather than being
 * approximated, so a rule is either installed exactly as planned or not at all.
 */
public final class FlowRuleTranslator {
    /** OFPCML_NO_BUFFER: send the whole packet to the controller, unbuffered. */
    static final int NO_BUFFER_MAX_LEN = 0xffff;

    static final OFFactory OF13 = OFFactories.getFactory(OFVersion.OF_13);

    private static final int ETH_TYPE_IPV4 = 0x0800;
    private static final int ETH_TYPE_MPLS = 0x8847;

    private FlowRuleTranslator() {
    }

    /** The OpenFlow cookie of a rule: ONOS uses the cookie given to withCookie() as the flow id. */
    public static long cookie(FlowRule rule) {
        return rule.id().value();
    }

    /** OFPFC_ADD: installs the rule, replacing one with the same table, priority and match. */
    public static OFFlowMod toFlowAdd(FlowRule rule, long xid) {
        return OF13.buildFlowAdd()
                .setXid(xid)
                .setCookie(U64.of(cookie(rule)))
                .setTableId(tableId(rule))
                .setPriority(rule.priority())
                .setIdleTimeout(rule.isPermanent() ? 0 : rule.timeout())
                .setHardTimeout(rule.hardTimeout())
                .setBufferId(OFBufferId.NO_BUFFER)
                .setMatch(toMatch(rule.deviceId(), cookie(rule), rule.selector()))
                .setInstructions(toInstructions(rule.deviceId(), cookie(rule), rule.treatment()))
                .build();
    }

    /** OFPFC_MODIFY_STRICT: changes the instructions of the rule with exactly this match and priority. */
    public static OFFlowMod toFlowModifyStrict(FlowRule rule, long xid) {
        return OF13.buildFlowModifyStrict()
                .setXid(xid)
                .setCookie(U64.of(cookie(rule)))
                .setTableId(tableId(rule))
                .setPriority(rule.priority())
                .setBufferId(OFBufferId.NO_BUFFER)
                .setMatch(toMatch(rule.deviceId(), cookie(rule), rule.selector()))
                .setInstructions(toInstructions(rule.deviceId(), cookie(rule), rule.treatment()))
                .build();
    }

    /**
     * OFPFC_DELETE_STRICT by match and priority. The cookie is carried for traceability but the
     * cookie mask stays 0: the contract removes by device, priority and selector.
     */
    public static OFFlowMod toFlowDeleteStrict(FlowRule rule, long xid) {
        return OF13.buildFlowDeleteStrict()
                .setXid(xid)
                .setCookie(U64.of(cookie(rule)))
                .setCookieMask(U64.ZERO)
                .setTableId(tableId(rule))
                .setPriority(rule.priority())
                .setOutPort(OFPort.ANY)
                .setOutGroup(OFGroup.ANY)
                .setMatch(toMatch(rule.deviceId(), cookie(rule), rule.selector()))
                .build();
    }

    /**
     * The rule a flow-stats entry holds, in the planner's terms, so the reconciler compares what a
     * switch has with what it wants by {@link org.wanmig.planner.RuleKey} and treatment. The inverse of
     * {@link #toFlowAdd}: every criterion and action that translates forward translates back to an
     * equal selector and treatment. Empty for an entry using anything else (not one of ours as planned).
     */
    public static Optional<FlowRule> toFlowRule(DeviceId device, OFFlowStatsEntry entry) {
        TrafficSelector.Builder selector = DefaultTrafficSelector.builder();
        Match match = entry.getMatch();
        for (MatchField<?> field : match.getMatchFields()) {
            if (match.isFullyWildcarded(field)) {
                continue;
            }
            if (field.id == MatchFields.IN_PORT && match.isExact(field)) {
                selector.matchInPort(PortNumber.portNumber(match.get(MatchField.IN_PORT).getPortNumber()));
            } else if (field.id == MatchFields.ETH_TYPE && match.isExact(field)) {
                selector.matchEthType((short) match.get(MatchField.ETH_TYPE).getValue());
            } else if (field.id == MatchFields.IPV4_SRC || field.id == MatchFields.IPV4_DST) {
                @SuppressWarnings("unchecked")
                MatchField<IPv4Address> ip = (MatchField<IPv4Address>) field;
                IpPrefix prefix = match.isExact(ip)
                        ? IpPrefix.valueOf(match.get(ip).getInt(), 32)
                        : IpPrefix.valueOf(match.getMasked(ip).getValue().getInt(),
                                match.getMasked(ip).getMask().asCidrMaskLength());
                if (field.id == MatchFields.IPV4_SRC) {
                    selector.matchIPSrc(prefix);
                } else {
                    selector.matchIPDst(prefix);
                }
            } else if (field.id == MatchFields.MPLS_LABEL && match.isExact(field)) {
                selector.matchMplsLabel(MplsLabel.mplsLabel((int) match.get(MatchField.MPLS_LABEL).getValue()));
            } else {
                return Optional.empty();
            }
        }
        TrafficTreatment.Builder treatment = DefaultTrafficTreatment.builder();
        for (OFInstruction instruction : entry.getInstructions()) {
            if (instruction instanceof OFInstructionGotoTable) {
                treatment.transition((int) ((OFInstructionGotoTable) instruction).getTableId().getValue());
                continue;
            }
            if (!(instruction instanceof OFInstructionApplyActions)) {
                return Optional.empty();
            }
            for (OFAction action : ((OFInstructionApplyActions) instruction).getActions()) {
                if (!addAction(treatment, action)) {
                    return Optional.empty();
                }
            }
        }
        FlowRule.Builder rule = DefaultFlowRule.builder().forDevice(device).forTable(entry.getTableId().getValue())
                .withPriority(entry.getPriority()).withCookie(entry.getCookie().getValue())
                .withSelector(selector.build()).withTreatment(treatment.build());
        if (entry.getIdleTimeout() == 0 && entry.getHardTimeout() == 0) {
            rule.makePermanent();
        } else {
            rule.makeTemporary(entry.getIdleTimeout()).withHardTimeout(entry.getHardTimeout());
        }
        return Optional.of(rule.build());
    }

    private static boolean addAction(TrafficTreatment.Builder treatment, OFAction action) {
        if (action instanceof OFActionOutput) {
            OFPort port = ((OFActionOutput) action).getPort();
            treatment.setOutput(OFPort.CONTROLLER.equals(port) ? PortNumber.CONTROLLER
                    : OFPort.IN_PORT.equals(port) ? PortNumber.IN_PORT : PortNumber.portNumber(port.getPortNumber()));
        } else if (action instanceof OFActionPushMpls) {
            if (((OFActionPushMpls) action).getEthertype().getValue() != ETH_TYPE_MPLS) {
                return false;
            }
            treatment.pushMpls();
        } else if (action instanceof OFActionPopMpls) {
            treatment.popMpls(new org.onlab.packet.EthType(((OFActionPopMpls) action).getEthertype().getValue()));
        } else if (action instanceof OFActionSetField) {
            OFOxm<?> oxm = ((OFActionSetField) action).getField();
            if (oxm instanceof OFOxmEthSrc) {
                treatment.setEthSrc(org.onlab.packet.MacAddress.valueOf(((OFOxmEthSrc) oxm).getValue().getBytes()));
            } else if (oxm instanceof OFOxmEthDst) {
                treatment.setEthDst(org.onlab.packet.MacAddress.valueOf(((OFOxmEthDst) oxm).getValue().getBytes()));
            } else if (oxm instanceof OFOxmMplsLabel) {
                treatment.setMpls(MplsLabel.mplsLabel((int) ((OFOxmMplsLabel) oxm).getValue().getValue()));
            } else {
                return false;
            }
        } else {
            return false;
        }
        return true;
    }

    private static TableId tableId(FlowRule rule) {
        return TableId.of(rule.tableId());
    }

    static Match toMatch(DeviceId device, long cookie, TrafficSelector selector) {
        Match.Builder match = OF13.buildMatch();
        Integer ethType = null;
        for (Criterion criterion : selector.criteria()) {
            if (criterion.type() == Criterion.Type.ETH_TYPE) {
                ethType = ((EthTypeCriterion) criterion).ethType().toShort() & 0xffff;
            }
        }
        for (Criterion criterion : selector.criteria()) {
            switch (criterion.type()) {
                case IN_PORT:
                    match.setExact(MatchField.IN_PORT, physicalPort(device, cookie,
                            ((PortCriterion) criterion).port(), "IN_PORT"));
                    break;
                case ETH_TYPE:
                    match.setExact(MatchField.ETH_TYPE, EthType.of(ethType));
                    break;
                case IPV4_SRC:
                case IPV4_DST:
                    requireEthType(device, cookie, criterion, ethType, ETH_TYPE_IPV4);
                    setIpv4(match, device, cookie, criterion.type() == Criterion.Type.IPV4_SRC
                            ? MatchField.IPV4_SRC : MatchField.IPV4_DST, ((IPCriterion) criterion).ip());
                    break;
                case MPLS_LABEL:
                    requireEthType(device, cookie, criterion, ethType, ETH_TYPE_MPLS);
                    match.setExact(MatchField.MPLS_LABEL,
                            U32.of(((MplsCriterion) criterion).label().toInt()));
                    break;
                default:
                    throw new SwitchException(device, cookie, "criterion not supported by the OpenFlow 1.3 "
                            + "southbound: " + criterion);
            }
        }
        return match.build();
    }

    private static void requireEthType(DeviceId device, long cookie, Criterion criterion,
                                       Integer ethType, int required) {
        // OpenFlow 1.3 prerequisites: the switch would refuse the match anyway, but later and less clearly.
        if (ethType == null || ethType != required) {
            throw new SwitchException(device, cookie, criterion.type() + " needs ETH_TYPE 0x"
                    + Integer.toHexString(required) + " in the same selector");
        }
    }

    private static void setIpv4(Match.Builder match, DeviceId device, long cookie,
                                MatchField<IPv4Address> field, IpPrefix prefix) {
        if (!prefix.isIp4()) {
            throw new SwitchException(device, cookie, field.getName() + " needs an IPv4 prefix: " + prefix);
        }
        IPv4Address address = IPv4Address.of(prefix.address().toOctets());
        int length = prefix.prefixLength();
        if (length == 32) {
            match.setExact(field, address);
        } else if (length > 0) {
            match.setMasked(field, IPv4AddressWithMask.of(address, IPv4Address.ofCidrMaskLength(length)));
        }
        // A /0 prefix selects every address: it is the same as not matching the field at all.
    }

    static List<OFInstruction> toInstructions(DeviceId device, long cookie, TrafficTreatment treatment) {
        if (!treatment.deferred().isEmpty() || treatment.clearedDeferred()
                || treatment.writeMetadata() != null || treatment.metered() != null
                || !treatment.meters().isEmpty() || treatment.statTrigger() != null) {
            throw new SwitchException(device, cookie, "only immediate actions and goto-table are supported: "
                    + treatment);
        }
        List<OFAction> actions = new ArrayList<>();
        for (Instruction instruction : treatment.immediate()) {
            if (instruction.type() != Instruction.Type.NOACTION) { // ONOS's explicit "drop"
                actions.add(toAction(device, cookie, instruction));
            }
        }
        // No actions means drop; OpenFlow 1.3 expresses that with no instruction at all.
        List<OFInstruction> instructions = new ArrayList<>();
        if (!actions.isEmpty()) {
            instructions.add(OF13.instructions().applyActions(actions));
        }
        if (treatment.tableTransition() != null) {
            // a shared tunnel's egress at PE_B pops the label, then looks the address up in the delivery table
            instructions.add(OF13.instructions().gotoTable(TableId.of(treatment.tableTransition().tableId())));
        }
        return List.copyOf(instructions);
    }

    private static OFAction toAction(DeviceId device, long cookie, Instruction instruction) {
        if (instruction.type() == Instruction.Type.OUTPUT) {
            PortNumber port = ((OutputInstruction) instruction).port();
            if (PortNumber.CONTROLLER.equals(port)) {
                return OF13.actions().output(OFPort.CONTROLLER, NO_BUFFER_MAX_LEN);
            }
            // IN_PORT: a switch drops an output to the arrival port unless the action names IN_PORT,
            // and the cutover at a PE with one WAN port sends traffic back the way it came
            OFPort out = PortNumber.IN_PORT.equals(port) ? OFPort.IN_PORT : physicalPort(device, cookie, port, "OUTPUT");
            return OF13.actions().output(out, 0);
        }
        if (instruction.type() == Instruction.Type.L2MODIFICATION) {
            L2ModificationInstruction l2 = (L2ModificationInstruction) instruction;
            switch (l2.subtype()) {
                case ETH_SRC:
                    return OF13.actions().setField(OF13.oxms().ethSrc(mac((ModEtherInstruction) l2)));
                case ETH_DST:
                    return OF13.actions().setField(OF13.oxms().ethDst(mac((ModEtherInstruction) l2)));
                case MPLS_PUSH:
                    return OF13.actions().pushMpls(ethType((ModMplsHeaderInstruction) l2));
                case MPLS_POP:
                    return OF13.actions().popMpls(ethType((ModMplsHeaderInstruction) l2));
                case MPLS_LABEL:
                    return OF13.actions().setField(OF13.oxms().mplsLabel(
                            U32.of(((ModMplsLabelInstruction) l2).label().toInt())));
                default:
                    break;
            }
        }
        throw new SwitchException(device, cookie, "instruction not supported by the OpenFlow 1.3 southbound: "
                + instruction);
    }

    private static OFPort physicalPort(DeviceId device, long cookie, PortNumber port, String what) {
        if (port.isLogical()) {
            throw new SwitchException(device, cookie, what + " to logical port " + port + " is not supported");
        }
        return OFPort.of((int) port.toLong());
    }

    private static MacAddress mac(ModEtherInstruction instruction) {
        return MacAddress.of(instruction.mac().toBytes());
    }

    private static EthType ethType(ModMplsHeaderInstruction instruction) {
        return EthType.of(instruction.ethernetType().toShort() & 0xffff);
    }

    /** The ONOS device id of a datapath: "of:" and 16 hex digits, as ONOS's OpenFlow provider names it. */
    public static DeviceId deviceId(long dpid) {
        return DeviceId.deviceId(String.format("of:%016x", dpid));
    }

    /** The datapath id of an "of:" device id. */
    public static long dpid(DeviceId device) {
        String id = device.toString();
        if (!id.startsWith("of:") || id.length() != 19) {
            throw new IllegalArgumentException("not an OpenFlow device id: " + id);
        }
        return Long.parseUnsignedLong(id.substring(3), 16);
    }
}
