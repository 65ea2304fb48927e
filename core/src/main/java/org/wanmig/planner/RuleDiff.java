package org.wanmig.planner;

import org.onosproject.net.DeviceId;
import org.onosproject.net.flow.FlowRule;
import org.onosproject.net.flow.TrafficSelector;

import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * The change from one rule set to another. A switch holds one rule per (priority, match), so
 * rules are compared on that key: a new rule with an old key replaces it in place, and only old
 * keys that the new set lacks are removed. Removing by key must never delete a replacement.
 */
public final class RuleDiff {
    private final List<FlowRule> additions;
    private final List<FlowRule> replacements;
    private final List<FlowRule> toRemove;

    private RuleDiff(List<FlowRule> additions, List<FlowRule> replacements, List<FlowRule> toRemove) {
        this.additions = List.copyOf(additions);
        this.replacements = List.copyOf(replacements);
        this.toRemove = List.copyOf(toRemove);
    }

    public static RuleDiff between(Collection<FlowRule> from, Collection<FlowRule> to) {
        Map<Key, FlowRule> old = index(from);
        Map<Key, FlowRule> next = index(to);
        List<FlowRule> additions = new ArrayList<>();
        List<FlowRule> replacements = new ArrayList<>();
        next.forEach((k, r) -> {
            FlowRule was = old.get(k);
            if (was == null) {
                additions.add(r);
            } else if (!was.treatment().equals(r.treatment()) || was.id().value() != r.id().value()) {
                replacements.add(r);
            }
        });
        List<FlowRule> remove = new ArrayList<>();
        old.forEach((k, r) -> {
            if (!next.containsKey(k)) {
                remove.add(r);
            }
        });
        return new RuleDiff(additions, replacements, remove);
    }

    private static Map<Key, FlowRule> index(Collection<FlowRule> rules) {
        Map<Key, FlowRule> map = new HashMap<>();
        rules.forEach(r -> map.put(Key.of(r), r));
        return map;
    }

    /** Everything to install: {@link #additions()} and {@link #replacements()}. */
    public List<FlowRule> toInstall() {
        List<FlowRule> all = new ArrayList<>(additions);
        all.addAll(replacements);
        return all;
    }

    /**
     * Rules for keys the old set lacks: on a new path these are the switches downstream of the
     * first one that changes, so they go in (confirmed) before any {@link #replacements()} turns
     * traffic onto that path; otherwise packets meet a switch with no rule for them yet.
     */
    public List<FlowRule> additions() {
        return additions;
    }

    /** Rules that change what an existing key does: installed after the additions. */
    public List<FlowRule> replacements() {
        return replacements;
    }

    public List<FlowRule> toRemove() {
        return toRemove;
    }

    /** Identity of a rule in a switch's table. */
    public static final class Key {
        private final DeviceId device;
        private final int table;
        private final int priority;
        private final TrafficSelector selector;

        private Key(DeviceId device, int table, int priority, TrafficSelector selector) {
            this.device = device;
            this.table = table;
            this.priority = priority;
            this.selector = selector;
        }

        public static Key of(FlowRule r) {
            return new Key(r.deviceId(), r.tableId(), r.priority(), r.selector());
        }

        @Override
        public boolean equals(Object o) {
            if (!(o instanceof Key)) {
                return false;
            }
            Key k = (Key) o;
            return device.equals(k.device) && table == k.table && priority == k.priority
                    && selector.equals(k.selector);
        }

        @Override
        public int hashCode() {
            return Objects.hash(device, table, priority, selector);
        }
    }
}
