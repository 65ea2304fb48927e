package org.wanmig.testing;

import org.onlab.packet.Ethernet;
import org.onlab.packet.Ip4Address;
import org.onlab.packet.IpPrefix;
import org.onlab.packet.MacAddress;
import org.onosproject.net.ConnectPoint;
import org.onosproject.net.DeviceId;
import org.onosproject.net.PortNumber;
import org.onosproject.net.flow.FlowRule;
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
import org.wanmig.config.WanLink;
import org.wanmig.config.WanTopology;
import org.wanmig.planner.RuleFormatter;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Deque;
import java.util.List;
import java.util.Optional;
import java.util.stream.Collectors;

/**
 * Follows one packet through the flow tables of the WAN the way OpenFlow 1.3 switches would:
 * at each switch the highest-priority matching rule applies (two matching rules of one priority
 * is an error), its push/pop/set actions change the packet, its output sends it over the link at
 * that port or, at a port with no WAN link, out of the WAN (delivered). As on real switches, an
 * output to the port the packet came in on is dropped unless the rule says IN_PORT. A goto-table
 * goes on at the same switch in a later table (a miss there drops the packet).
 * Understands eth_type, ipv4 src/dst, mpls label and in_port matches; anything else fails the walk.
 */
public final class PacketWalker {
    private static final int MAX_HOPS = 32;

    private final WanTopology topology;
    private final List<FlowRule> rules;

    public PacketWalker(WanTopology topology, Collection<FlowRule> rules) {
        this.topology = topology;
        this.rules = List.copyOf(rules);
    }

    /** An IPv4 packet as a host sends it to its gateway. */
    public static Packet ipv4(Ip4Address src, Ip4Address dst, MacAddress ethSrc, MacAddress ethDst) {
        return new Packet(Ethernet.TYPE_IPV4, src, dst, new ArrayDeque<>(), ethSrc, ethDst);
    }

    /** Sends {@code packet} into the switch at {@code ingress} and follows it until it leaves or is lost. */
    public Trace walk(ConnectPoint ingress, Packet packet) {
        Trace trace = new Trace();
        Packet p = packet.copy();
        DeviceId at = ingress.deviceId();
        PortNumber in = ingress.port();
        int table = 0;
        for (int hop = 0; hop < MAX_HOPS; hop++) {
            Optional<FlowRule> rule = lookup(at, table, in, p, trace);
            if (rule.isEmpty()) {
                return trace.drop("no rule matches at " + at + " table " + table + " (in port " + in + ") for " + p);
            }
            trace.hops.add(new Hop(at, in, rule.get(), p.copy()));
            PortNumber out = null;
            for (Instruction i : rule.get().treatment().allInstructions()) {
                PortNumber o = apply(i, p, trace);
                if (trace.error != null) {
                    return trace;
                }
                if (o != null) {
                    if (out != null) {
                        return trace.drop("rule with two outputs at " + at + ": " + RuleFormatter.format(rule.get()));
                    }
                    out = o;
                }
            }
            if (rule.get().treatment().tableTransition() != null) {
                int next = rule.get().treatment().tableTransition().tableId();
                if (out != null || next <= table) {
                    return trace.drop("goto-table " + next + " after an output or backwards at " + at + ": "
                            + RuleFormatter.format(rule.get()));
                }
                table = next; // OpenFlow 1.3: the pipeline goes on at the same switch
                continue;
            }
            table = 0;
            if (out == null) {
                return trace.drop("rule without output at " + at + ": " + RuleFormatter.format(rule.get()));
            }
            if (PortNumber.IN_PORT.equals(out)) {
                out = in;
            } else if (out.equals(in)) {
                return trace.drop("output to the ingress port " + at + "/" + in
                        + " (OpenFlow drops it; IN_PORT is needed): " + RuleFormatter.format(rule.get()));
            }
            if (out.isLogical()) {
                return trace.drop("output to logical port " + out + " at " + at);
            }
            ConnectPoint exit = new ConnectPoint(at, out);
            Optional<WanLink> link = linkAt(exit);
            if (link.isEmpty()) {
                trace.deliveredAt = exit;
                trace.delivered = p;
                return trace;
            }
            if (!link.get().isUp()) {
                return trace.drop("sent over link " + link.get() + " which is down");
            }
            ConnectPoint far = link.get().one().equals(exit) ? link.get().two() : link.get().one();
            at = far.deviceId();
            in = far.port();
        }
        return trace.drop("more than " + MAX_HOPS + " hops: a loop");
    }

    private Optional<WanLink> linkAt(ConnectPoint cp) {
        return topology.links().stream().filter(l -> l.one().equals(cp) || l.two().equals(cp)).findFirst();
    }

    private Optional<FlowRule> lookup(DeviceId at, int table, PortNumber in, Packet p, Trace trace) {
        List<FlowRule> matching = rules.stream().filter(r -> r.deviceId().equals(at) && r.tableId() == table)
                .filter(r -> matches(r, in, p)).collect(Collectors.toList());
        int best = matching.stream().mapToInt(FlowRule::priority).max().orElse(-1);
        List<FlowRule> top = matching.stream().filter(r -> r.priority() == best).collect(Collectors.toList());
        if (top.size() > 1) {
            trace.drop("ambiguous: " + top.size() + " rules of priority " + best + " match at " + at + ": "
                    + top.stream().map(RuleFormatter::format).collect(Collectors.joining(" | ")));
            return Optional.empty();
        }
        return top.stream().findFirst();
    }

    private static boolean matches(FlowRule r, PortNumber in, Packet p) {
        for (Criterion c : r.selector().criteria()) {
            switch (c.type()) {
                case IN_PORT:
                    if (!((PortCriterion) c).port().equals(in)) {
                        return false;
                    }
                    break;
                case ETH_TYPE:
                    if ((((EthTypeCriterion) c).ethType().toShort() & 0xffff) != (p.ethType & 0xffff)) {
                        return false;
                    }
                    break;
                case IPV4_DST:
                    if (p.ethType != Ethernet.TYPE_IPV4 || !((IPCriterion) c).ip().contains(p.dst)) {
                        return false;
                    }
                    break;
                case IPV4_SRC:
                    if (p.ethType != Ethernet.TYPE_IPV4 || !((IPCriterion) c).ip().contains(p.src)) {
                        return false;
                    }
                    break;
                case MPLS_LABEL:
                    if (p.ethType != Ethernet.MPLS_UNICAST || p.labels.isEmpty()
                            || p.labels.peek() != ((MplsCriterion) c).label().toInt()) {
                        return false;
                    }
                    break;
                default:
                    throw new IllegalArgumentException("the packet walker does not understand " + c + " in "
                            + RuleFormatter.format(r));
            }
        }
        return true;
    }

    /** Applies one action; returns the output port if it is an output. */
    private static PortNumber apply(Instruction i, Packet p, Trace trace) {
        if (i.type() == Instruction.Type.OUTPUT) {
            return ((OutputInstruction) i).port();
        }
        if (i.type() != Instruction.Type.L2MODIFICATION) {
            trace.drop("unsupported instruction " + i);
            return null;
        }
        L2ModificationInstruction l2 = (L2ModificationInstruction) i;
        switch (l2.subtype()) {
            case ETH_SRC:
                p.ethSrc = ((ModEtherInstruction) l2).mac();
                break;
            case ETH_DST:
                p.ethDst = ((ModEtherInstruction) l2).mac();
                break;
            case MPLS_PUSH:
                p.labels.push(0);
                p.ethType = ((ModMplsHeaderInstruction) l2).ethernetType().toShort();
                break;
            case MPLS_LABEL:
                if (p.labels.isEmpty()) {
                    trace.drop("set mpls label on a packet without a label");
                    return null;
                }
                p.labels.pop();
                p.labels.push(((ModMplsLabelInstruction) l2).label().toInt());
                break;
            case MPLS_POP:
                if (p.labels.isEmpty()) {
                    trace.drop("pop mpls on a packet without a label");
                    return null;
                }
                p.labels.pop();
                if (p.labels.isEmpty()) {
                    p.ethType = ((ModMplsHeaderInstruction) l2).ethernetType().toShort();
                }
                break;
            default:
                trace.drop("unsupported instruction " + i);
                return null;
        }
        return null;
    }

    /** The headers the walker follows. */
    public static final class Packet {
        short ethType;
        final Ip4Address src;
        final Ip4Address dst;
        final Deque<Integer> labels;
        MacAddress ethSrc;
        MacAddress ethDst;

        Packet(short ethType, Ip4Address src, Ip4Address dst, Deque<Integer> labels, MacAddress ethSrc,
               MacAddress ethDst) {
            this.ethType = ethType;
            this.src = src;
            this.dst = dst;
            this.labels = labels;
            this.ethSrc = ethSrc;
            this.ethDst = ethDst;
        }

        Packet copy() {
            return new Packet(ethType, src, dst, new ArrayDeque<>(labels), ethSrc, ethDst);
        }

        public int ethType() {
            return ethType & 0xffff;
        }

        public List<Integer> labels() {
            return new ArrayList<>(labels);
        }

        public MacAddress ethSrc() {
            return ethSrc;
        }

        public MacAddress ethDst() {
            return ethDst;
        }

        public Ip4Address dst() {
            return dst;
        }

        @Override
        public String toString() {
            return String.format("[0x%04x %s>%s labels=%s %s>%s]", ethType & 0xffff, src, dst, labels, ethSrc, ethDst);
        }
    }

    /** One switch passed: where the packet came in, as it arrived, and the rule that handled it. */
    public static final class Hop {
        public final DeviceId device;
        public final PortNumber in;
        public final FlowRule rule;
        public final Packet arrived;

        Hop(DeviceId device, PortNumber in, FlowRule rule, Packet arrived) {
            this.device = device;
            this.in = in;
            this.rule = rule;
            this.arrived = arrived;
        }

        @Override
        public String toString() {
            return device + "/" + in + " " + arrived + " -> " + RuleFormatter.format(rule);
        }
    }

    /** Where a packet went. */
    public static final class Trace {
        final List<Hop> hops = new ArrayList<>();
        ConnectPoint deliveredAt;
        Packet delivered;
        String error;

        Trace drop(String why) {
            if (error == null) {
                error = why;
            }
            return this;
        }

        public List<Hop> hops() {
            return hops;
        }

        public List<DeviceId> switches() {
            return hops.stream().map(h -> h.device).collect(Collectors.toList());
        }

        public boolean isDelivered() {
            return error == null && deliveredAt != null;
        }

        public ConnectPoint deliveredAt() {
            return deliveredAt;
        }

        /** The packet as it left the WAN. */
        public Packet delivered() {
            return delivered;
        }

        /** Every label the packet carried on its way. */
        public List<Integer> labelsSeen() {
            List<Integer> seen = new ArrayList<>();
            hops.forEach(h -> h.arrived.labels.forEach(l -> {
                if (!seen.contains(l)) {
                    seen.add(l);
                }
            }));
            return seen;
        }

        public String error() {
            return error;
        }

        @Override
        public String toString() {
            StringBuilder s = new StringBuilder();
            hops.forEach(h -> s.append("\n  ").append(h));
            s.append("\n  => ").append(error != null ? "LOST: " + error : "delivered at " + deliveredAt + " " + delivered);
            return s.toString();
        }
    }

    /** The first usable host address of a prefix, e.g. 10.0.1.1 for 10.0.1.0/24. */
    public static Ip4Address firstHost(IpPrefix prefix) {
        return Ip4Address.valueOf(prefix.address().getIp4Address().toInt() + 1);
    }
}
