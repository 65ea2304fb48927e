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
import org.onosproject.net.flow.instructions.Instruction;
import org.onosproject.net.flow.instructions.Instructions;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;

/**
 * FlowRuleService as far as the programmer uses it, behaving like FlowRuleManager over real
 * switches: operations are applied stage by stage to a flow table, and the operations' context is
 * told the outcome asynchronously and late (after {@code confirmDelayMs}), or only when the test
 * calls {@link #confirmPending()} if the delay is negative. A switch refuses an output to a port that
 * no switch has (above 0xff00), like OVS does. Flow-stats events (RULE_ADDED) are fired too, at
 * once, to show that confirmation does not depend on them.
 */
public class FakeFlowRuleService extends FlowRuleServiceAdapter {
    public final List<FlowRuleOperations> operations = new CopyOnWriteArrayList<>();
    public final List<FlowRuleListener> listeners = new CopyOnWriteArrayList<>();
    public final Map<DeviceId, Map<Long, FlowEntry>> table = new ConcurrentHashMap<>();
    public final Set<DeviceId> silent = ConcurrentHashMap.newKeySet();
    private final List<FlowRuleOperations> pending = new CopyOnWriteArrayList<>();
    private final ScheduledExecutorService late = Executors.newSingleThreadScheduledExecutor(r -> {
        Thread t = new Thread(r, "fake-flow-confirm");
        t.setDaemon(true);
        return t;
    });
    private final long confirmDelayMs;

    /** Confirms every operation {@code confirmDelayMs} after it is applied; negative: when told to. */
    public FakeFlowRuleService(long confirmDelayMs) {
        this.confirmDelayMs = confirmDelayMs;
    }

    public FakeFlowRuleService() {
        this(-1);
    }

    @Override
    public void apply(FlowRuleOperations ops) {
        operations.add(ops);
        if (confirmDelayMs < 0) {
            pending.add(ops);
        } else {
            late.schedule(() -> execute(ops), confirmDelayMs, TimeUnit.MILLISECONDS);
        }
    }

    /** Applies and confirms every operation held so far. */
    public void confirmPending() {
        List<FlowRuleOperations> now = new ArrayList<>(pending);
        pending.removeAll(now);
        now.forEach(this::execute);
    }

    /** What the switches do with a batch, then the context's callback, as FlowRuleManager reports it. */
    private void execute(FlowRuleOperations ops) {
        FlowRuleOperations.Builder failed = FlowRuleOperations.builder();
        boolean anyFailed = false;
        for (Set<FlowRuleOperation> stage : ops.stages()) {
            for (FlowRuleOperation op : stage) {
                FlowRule r = op.rule();
                if (silent.contains(r.deviceId())) {
                    return; // a switch that never answers: no callback at all
                }
                if (op.type() == FlowRuleOperation.Type.REMOVE) {
                    confirmRemoved(r);
                } else if (refuses(r)) {
                    failed.add(r);
                    anyFailed = true;
                } else {
                    confirmAdded(r);
                }
            }
        }
        if (ops.callback() != null) {
            if (anyFailed) {
                ops.callback().onError(failed.build());
            } else {
                ops.callback().onSuccess(ops);
            }
        }
    }

    private static boolean refuses(FlowRule r) {
        for (Instruction i : r.treatment().allInstructions()) {
            if (i instanceof Instructions.OutputInstruction) {
                var port = ((Instructions.OutputInstruction) i).port();
                if (!port.isLogical() && port.toLong() >= 0xff00) {
                    return true;
                }
            }
        }
        return false;
    }

    public void shutdown() {
        late.shutdownNow();
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

    /** The rule is in the switch: state ADDED and RULE_ADDED, as FlowRuleManager reports it. */
    public void confirmAdded(FlowRule rule) {
        fire(FlowRuleEvent.Type.RULE_ADDED, put(rule, FlowEntryState.ADDED));
    }

    /** The rule left the switch: the entry goes and RULE_REMOVED fires. */
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
