package org.wanmig.planner;

import org.onosproject.net.flow.FlowRule;

import java.util.List;

/**
 * A server's routes moved from one data center to another, in an order that never strands a
 * packet: first the rules for keys the old routes lack (the switches downstream on the new
 * path), then the changed rules, nearest the new PE first, each step confirmed before the next.
 * Every switch that changes then points at one that already forwards the new way, so a packet
 * follows either the old routes (to the old PE, whose redirect tunnels it) or the new ones.
 * {@link #removals()} go last.
 */
public final class RouteChange {
    private final List<List<FlowRule>> steps;
    private final List<FlowRule> removals;

    RouteChange(List<List<FlowRule>> steps, List<FlowRule> removals) {
        this.steps = steps.stream().filter(s -> !s.isEmpty()).map(List::copyOf)
                .collect(java.util.stream.Collectors.toUnmodifiableList());
        this.removals = List.copyOf(removals);
    }

    /** Install steps, in order. */
    public List<List<FlowRule>> steps() {
        return steps;
    }

    /** Rules of the old routes whose keys the new routes lack. */
    public List<FlowRule> removals() {
        return removals;
    }

    public int installCount() {
        return steps.stream().mapToInt(List::size).sum();
    }
}
