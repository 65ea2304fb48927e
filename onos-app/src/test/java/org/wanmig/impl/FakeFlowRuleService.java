package org.wanmig.impl;

import org.onosproject.net.DeviceId;
import org.onosproject.net.flow.DefaultFlowEntry;
import org.onosproject.net.flow.FlowEntry;
import org.onosproject.net.flow.FlowEntry.FlowEntryState;
import org.onosproject.net.flow.FlowRule;
import org.onosproject.net.flow.FlowRuleEvent;
import org.onosproject.net.flow.FlowRuleListener;
import org.onosproject.net.flow.FlowRuleOperation;
import org.onosproject.net.flow.FlowRuleOperations;
import org.onosproject.net.flow.FlowRuleServiceAdapter;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.stream.Collectors;

/**
 * FlowRuleService as far as the programmer uses it: records operations, keeps a flow table the
 * test fills, and lets the test fire the events ONOS would fire as switches confirm.
 */
public class FakeFlowRuleService extends FlowRuleServiceAdapter {
    public final List<FlowRuleOperations> operations = new CopyOnWriteArrayList<>();
    public final List<FlowRuleListener> listeners = new CopyOnWriteArrayList<>();
    public final Map<DeviceId, Map<Long, FlowEntry>> table = new ConcurrentHashMap<>();

    @Override
    public void apply(FlowRuleOperations ops) {
        operations.add(ops);
    }

    @Override
    public void applyFlowRules(FlowRule... rules) {
        FlowRuleOperations.Builder b = FlowRuleOperations.builder();
        for (FlowRule r : rules) {
            b.add(r);
        }
        apply(b.build());
    }

    @Override
    public void removeFlowRules(FlowRule... rules) {
        FlowRuleOperations.Builder b = FlowRuleOperations.builder();
        for (FlowRule r : rules) {
            b.remove(r);
        }
        apply(b.build());
    }

    @Override
    public Iterable<FlowEntry> getFlowEntries(DeviceId deviceId) {
        return new ArrayList<>(table.getOrDefault(deviceId, Map.of()).values());
    }

    @Override
    public void addListener(FlowRuleListener listener) {
        listeners.add(listener);
    }

    @Override
    public void removeListener(FlowRuleListener listener) {
        listeners.remove(listener);
    }

    /** Rules of every operation of {@code type}, in the order they were applied. */
    public List<FlowRule> rules(FlowRuleOperation.Type type) {
        return operations.stream().flatMap(o -> o.stages().stream()).flatMap(s -> s.stream())
                .filter(op -> op.type() == type).map(FlowRuleOperation::rule).collect(Collectors.toList());
    }

    /** Puts an entry in the table, as ONOS's store would hold it. */
    public FlowEntry put(FlowRule rule, FlowEntryState state) {
        FlowEntry e = new DefaultFlowEntry(rule, state, 0, 0, 0);
        table.computeIfAbsent(rule.deviceId(), d -> new ConcurrentHashMap<>()).put(rule.id().value(), e);
        return e;
    }

    /** The switch confirmed the rule: state ADDED and RULE_ADDED, as FlowRuleManager reports it. */
    public void confirmAdded(FlowRule rule) {
        fire(FlowRuleEvent.Type.RULE_ADDED, put(rule, FlowEntryState.ADDED));
    }

    /** The switch confirmed the removal: the entry goes and RULE_REMOVED fires. */
    public void confirmRemoved(FlowRule rule) {
        FlowEntry gone = table.getOrDefault(rule.deviceId(), Map.of()).remove(rule.id().value());
        fire(FlowRuleEvent.Type.RULE_REMOVED, gone != null ? gone
                : new DefaultFlowEntry(rule, FlowEntryState.REMOVED, 0, 0, 0));
    }

    public void fire(FlowRuleEvent.Type type, FlowRule subject) {
        FlowRuleEvent event = new FlowRuleEvent(type, subject);
        listeners.forEach(l -> l.event(event));
    }
}
