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
    private final List<FlowRule> toInstall;
    private final List<FlowRule> toRemove;

    private RuleDiff(List<FlowRule> toInstall, List<FlowRule> toRemove) {
        this.toInstall = List.copyOf(toInstall);
        this.toRemove = List.copyOf(toRemove);
    }

    public static RuleDiff between(Collection<FlowRule> from, Collection<FlowRule> to) {
        Map<Key, FlowRule> old = index(from);
        Map<Key, FlowRule> next = index(to);
        List<FlowRule> install = new ArrayList<>();
        next.forEach((k, r) -> {
            FlowRule was = old.get(k);
            if (was == null || !was.treatment().equals(r.treatment()) || was.id().value() != r.id().value()) {
                install.add(r);
            }
        });
        List<FlowRule> remove = new ArrayList<>();
        old.forEach((k, r) -> {
            if (!next.containsKey(k)) {
                remove.add(r);
            }
        });
        return new RuleDiff(install, remove);
    }

    private static Map<Key, FlowRule> index(Collection<FlowRule> rules) {
        Map<Key, FlowRule> map = new HashMap<>();
        rules.forEach(r -> map.put(Key.of(r), r));
        return map;
    }

    public List<FlowRule> toInstall() {
        return toInstall;
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
