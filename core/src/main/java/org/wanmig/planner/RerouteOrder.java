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
 */
public final class RerouteOrder {
    private static final int UNKNOWN = Integer.MAX_VALUE;

    private RerouteOrder() {
    }

    /** The change from {@code before} to {@code after}; {@code graph} is the WAN the new rules were planned on. */
    public static RouteChange between(Collection<FlowRule> before, Collection<FlowRule> after, WanGraph graph) {
        RuleDiff diff = RuleDiff.between(before, after);
        Map<List<Object>, FlowRule> byRoute = new HashMap<>();
        after.forEach(r -> byRoute.put(route(r.deviceId(), r), r));
        TreeMap<Integer, List<FlowRule>> byDistance = new TreeMap<>();
        for (FlowRule r : diff.replacements()) {
            byDistance.computeIfAbsent(hopsToExit(r, byRoute, graph), d -> new ArrayList<>()).add(r);
        }
        List<List<FlowRule>> steps = new ArrayList<>();
        steps.add(diff.additions());
        steps.addAll(byDistance.values());
        return new RouteChange(steps, diff.toRemove());
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
