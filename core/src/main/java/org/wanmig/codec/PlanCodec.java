package org.wanmig.codec;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.onlab.packet.EthType;
import org.onlab.packet.IpPrefix;
import org.onlab.packet.MacAddress;
import org.onlab.packet.MplsLabel;
import org.onosproject.net.ConnectPoint;
import org.onosproject.net.DeviceId;
import org.onosproject.net.PortNumber;
import org.onosproject.net.flow.DefaultFlowRule;
import org.onosproject.net.flow.DefaultTrafficSelector;
import org.onosproject.net.flow.DefaultTrafficTreatment;
import org.onosproject.net.flow.FlowRule;
import org.onosproject.net.flow.TrafficSelector;
import org.onosproject.net.flow.TrafficTreatment;
import org.onosproject.net.flow.criteria.Criterion;
import org.onosproject.net.flow.criteria.EthTypeCriterion;
import org.onosproject.net.flow.criteria.IPCriterion;
import org.onosproject.net.flow.criteria.MplsCriterion;
import org.onosproject.net.flow.criteria.PortCriterion;
import org.onosproject.net.flow.instructions.Instruction;
import org.onosproject.net.flow.instructions.Instructions;
import org.onosproject.net.flow.instructions.L2ModificationInstruction;
import org.wanmig.planner.MigrationPlan;

import java.util.ArrayList;
import java.util.List;

/**
 * JSON of a stored {@link MigrationPlan}: its paths and every rule of every phase, written out
 * criterion by criterion and action by action (only what the planner makes), so a record read back
 * yields rules equal to those planned. Anything else is refused rather than approximated.
 */
public final class PlanCodec {
    private PlanCodec() {
    }

    public static ObjectNode encode(MigrationPlan plan, ObjectMapper mapper) {
        ObjectNode node = mapper.createObjectNode().put("revision", plan.revision());
        node.set("forwardPath", path(plan.forwardPath(), mapper));
        node.set("reversePath", path(plan.reversePath(), mapper));
        node.set("tunnel", rules(plan.tunnel(), mapper));
        node.set("reverseIngress", rules(plan.reverseIngress(), mapper));
        node.set("redirects", rules(plan.redirects(), mapper));
        node.set("bicast", rules(plan.bicast(), mapper));
        return node;
    }

    public static MigrationPlan decode(JsonNode node) {
        return new MigrationPlan(node.path("revision").asInt(), path(node.path("forwardPath")),
                path(node.path("reversePath")), rules(node.path("tunnel")), rules(node.path("reverseIngress")),
                rules(node.path("redirects")), rules(node.path("bicast")));
    }

    private static ArrayNode path(List<ConnectPoint> hops, ObjectMapper mapper) {
        ArrayNode list = mapper.createArrayNode();
        hops.forEach(cp -> list.add(cp.deviceId() + "/" + cp.port().toLong()));
        return list;
    }

    private static List<ConnectPoint> path(JsonNode list) {
        List<ConnectPoint> hops = new ArrayList<>();
        for (JsonNode hop : list) {
            String s = hop.asText();
            int slash = s.lastIndexOf('/');
            hops.add(new ConnectPoint(DeviceId.deviceId(s.substring(0, slash)),
                    PortNumber.portNumber(Long.parseLong(s.substring(slash + 1)))));
        }
        return hops;
    }

    private static ArrayNode rules(List<FlowRule> rules, ObjectMapper mapper) {
        ArrayNode list = mapper.createArrayNode();
        rules.forEach(r -> list.add(rule(r, mapper)));
        return list;
    }

    private static List<FlowRule> rules(JsonNode list) {
        List<FlowRule> rules = new ArrayList<>();
        list.forEach(r -> rules.add(rule(r)));
        return rules;
    }

    public static ObjectNode rule(FlowRule r, ObjectMapper mapper) {
        ObjectNode node = mapper.createObjectNode().put("device", r.deviceId().toString())
                .put("table", r.tableId()).put("priority", r.priority())
                .put("cookie", "0x" + Long.toHexString(r.id().value()));
        ObjectNode match = node.putObject("match");
        for (Criterion c : r.selector().criteria()) {
            switch (c.type()) {
                case ETH_TYPE:
                    match.put("ethType", ((EthTypeCriterion) c).ethType().toShort() & 0xffff);
                    break;
                case IN_PORT:
                    match.put("inPort", ((PortCriterion) c).port().toLong());
                    break;
                case IPV4_SRC:
                    match.put("ipv4Src", ((IPCriterion) c).ip().toString());
                    break;
                case IPV4_DST:
                    match.put("ipv4Dst", ((IPCriterion) c).ip().toString());
                    break;
                case MPLS_LABEL:
                    match.put("mplsLabel", ((MplsCriterion) c).label().toInt());
                    break;
                default:
                    throw new IllegalArgumentException("criterion the planner never makes: " + c);
            }
        }
        ArrayNode actions = node.putArray("actions");
        if (!r.treatment().deferred().isEmpty() || r.treatment().writeMetadata() != null
                || r.treatment().metered() != null || !r.treatment().meters().isEmpty()) {
            throw new IllegalArgumentException("instruction the planner never makes: " + r.treatment());
        }
        if (r.treatment().tableTransition() != null) {
            // absent in plans stored before shared tunnels (they had one table), so they read back as they were
            node.put("gotoTable", r.treatment().tableTransition().tableId());
        }
        for (Instruction i : r.treatment().immediate()) {
            if (i.type() == Instruction.Type.OUTPUT) {
                actions.addObject().put("output", ((Instructions.OutputInstruction) i).port().toLong());
                continue;
            }
            if (i.type() != Instruction.Type.L2MODIFICATION) {
                throw new IllegalArgumentException("instruction the planner never makes: " + i);
            }
            L2ModificationInstruction l2 = (L2ModificationInstruction) i;
            switch (l2.subtype()) {
                case ETH_SRC:
                    actions.addObject().put("ethSrc",
                            ((L2ModificationInstruction.ModEtherInstruction) l2).mac().toString());
                    break;
                case ETH_DST:
                    actions.addObject().put("ethDst",
                            ((L2ModificationInstruction.ModEtherInstruction) l2).mac().toString());
                    break;
                case MPLS_PUSH:
                    actions.addObject().put("pushMpls", true);
                    break;
                case MPLS_POP:
                    actions.addObject().put("popMpls", ((L2ModificationInstruction.ModMplsHeaderInstruction) l2)
                            .ethernetType().toShort() & 0xffff);
                    break;
                case MPLS_LABEL:
                    actions.addObject().put("mplsLabel",
                            ((L2ModificationInstruction.ModMplsLabelInstruction) l2).label().toInt());
                    break;
                default:
                    throw new IllegalArgumentException("instruction the planner never makes: " + i);
            }
        }
        return node;
    }

    public static FlowRule rule(JsonNode node) {
        JsonNode m = node.path("match");
        TrafficSelector.Builder selector = DefaultTrafficSelector.builder();
        if (m.has("inPort")) {
            selector.matchInPort(PortNumber.portNumber(m.get("inPort").asLong()));
        }
        if (m.has("ethType")) {
            selector.matchEthType((short) m.get("ethType").asInt());
        }
        if (m.has("ipv4Src")) {
            selector.matchIPSrc(IpPrefix.valueOf(m.get("ipv4Src").asText()));
        }
        if (m.has("ipv4Dst")) {
            selector.matchIPDst(IpPrefix.valueOf(m.get("ipv4Dst").asText()));
        }
        if (m.has("mplsLabel")) {
            selector.matchMplsLabel(MplsLabel.mplsLabel(m.get("mplsLabel").asInt()));
        }
        TrafficTreatment.Builder treatment = DefaultTrafficTreatment.builder();
        for (JsonNode a : node.path("actions")) {
            if (a.has("output")) {
                treatment.setOutput(PortNumber.portNumber(a.get("output").asLong()));
            } else if (a.has("ethSrc")) {
                treatment.setEthSrc(MacAddress.valueOf(a.get("ethSrc").asText()));
            } else if (a.has("ethDst")) {
                treatment.setEthDst(MacAddress.valueOf(a.get("ethDst").asText()));
            } else if (a.has("pushMpls")) {
                treatment.pushMpls();
            } else if (a.has("popMpls")) {
                treatment.popMpls(new EthType(a.get("popMpls").asInt()));
            } else if (a.has("mplsLabel")) {
                treatment.setMpls(MplsLabel.mplsLabel(a.get("mplsLabel").asInt()));
            } else {
                throw new IllegalArgumentException("unknown action in a stored rule: " + a);
            }
        }
        if (node.has("gotoTable")) {
            treatment.transition(node.get("gotoTable").asInt());
        }
        return DefaultFlowRule.builder().forDevice(DeviceId.deviceId(node.path("device").asText()))
                .forTable(node.path("table").asInt()).withPriority(node.path("priority").asInt())
                .withCookie(Long.parseUnsignedLong(node.path("cookie").asText().substring(2), 16))
                .withSelector(selector.build()).withTreatment(treatment.build()).makePermanent().build();
    }
}
