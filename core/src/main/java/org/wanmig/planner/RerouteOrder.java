package org.wanmig.planner;

import org.onosproject.net.ConnectPoint;
import org.onosproject.net.DeviceId;
import org.onosproject.net.PortNumber;
import org.onosproject.net.flow.FlowRule;
import org.onosproject.net.flow.instructions.Instruction;
import org.onosproject.net.flow.instructions.Instructions;
import org.wanmig.config.WanGraph;

import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * Any change of hop-by-hop routes (a link failed or recovered, a new configuration) in the order
 * that is make-before-break: rules for new keys first (the switches that join the new paths), then
 * the changed rules, those nearest the traffic's exit first, then the removals. A switch that
 * changes then points at one that already forwards the new way, and the old rules go only once
 * the new ones are confirmed. The exit distance is read off the new rules themselves: follow the
 * same match from switch to switch over the WAN until a rule leaves the WAN (or none is found).
 * Rules that send into a link that just failed are the exception (see {@link #between}).
 */
public final class RerouteOrder {
    private static final int UNKNOWN = Integer.MAX_VALUE;

    private RerouteOrder() {
    }

    /**
     * The change from {@code before} (planned on {@code was}) to {@code after} (planned on {@code graph}).
     * A rule that sends into a link that is up in {@code was} but not in {@code graph} carries nothing
     * any more: its replacement goes in with the first step, since no order can make it worse, and a
     * failure is repaired in one confirmed step. Working rules keep the strict order.
     */
    public static RouteChange between(Collection<FlowRule> before, Collection<FlowRule> after, WanGraph was,
                                      WanGraph graph) {
        RuleDiff diff = RuleDiff.between(before, after);
        Map<List<Object>, FlowRule> byRoute = new HashMap<>();
        after.forEach(r -> byRoute.put(route(r.deviceId(), r), r));
        Map<List<Object>, FlowRule> old = new HashMap<>();
        before.forEach(r -> old.put(route(r.deviceId(), r), r));
        List<FlowRule> first = new ArrayList<>(diff.additions());
        TreeMap<Integer, List<FlowRule>> byDistance = new TreeMap<>();
        for (FlowRule r : diff.replacements()) {
            if (intoDeadLink(old.get(route(r.deviceId(), r)), was, graph)) {
                first.add(r);
            } else {
                byDistance.computeIfAbsent(hopsToExit(r, byRoute, graph), d -> new ArrayList<>()).add(r);
            }
        }
        List<List<FlowRule>> steps = new ArrayList<>();
        steps.add(first);
        steps.addAll(byDistance.values());
        return new RouteChange(steps, diff.toRemove());
    }

    /** The same, for rules planned on one WAN (no link changed state: nothing is broken). */
    public static RouteChange between(Collection<FlowRule> before, Collection<FlowRule> after, WanGraph graph) {
        return between(before, after, graph, graph);
    }

    private static boolean intoDeadLink(FlowRule old, WanGraph was, WanGraph graph) {
        PortNumber out = old == null ? null : output(old);
        return out != null && far(was, old.deviceId(), out) != null && far(graph, old.deviceId(), out) == null;
    }

    private static int hopsToExit(FlowRule rule, Map<List<Object>, FlowRule> byRoute, WanGraph graph) {
        int hops = 0;
        FlowRule at = rule;
        while (true) {
            PortNumber out = output(at);
            DeviceId next = out == null ? null : far(graph, at.deviceId(), out);
            if (next == null) {
                return hops; // leaves the WAN here: delivered
            }
            at = byRoute.get(route(next, at));
            if (at == null || ++hops > byRoute.size()) {
                return UNKNOWN; // no onward rule (or a loop): change it last
            }
        }
    }

    private static DeviceId far(WanGraph graph, DeviceId device, PortNumber port) {
        if (port.isLogical()) {
            return null;
        }
        try {
            ConnectPoint other = graph.far(new ConnectPoint(device, port));
            return other.deviceId();
        } catch (IllegalArgumentException notAWanLink) {
            return null;
        }
    }

    private static PortNumber output(FlowRule r) {
        for (Instruction i : r.treatment().allInstructions()) {
            if (i.type() == Instruction.Type.OUTPUT) {
                return ((Instructions.OutputInstruction) i).port();
            }
        }
        return null;
    }

    /** A rule's match (table, priority, selector) at {@code device}: the same route one hop on. */
    private static List<Object> route(DeviceId device, FlowRule r) {
        return List.of(device, r.tableId(), r.priority(), r.selector());
    }
}
