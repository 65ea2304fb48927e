package org.wanmig.planner;

import org.onosproject.net.DeviceId;
import org.onosproject.net.flow.FlowRule;
import org.onosproject.net.flow.TrafficSelector;

import java.util.List;
import java.util.Objects;

/**
 * The identity of a rule in a switch's table: device, table, priority and selector. A switch holds
 * at most one rule per key (an OpenFlow ADD to a taken key replaces the rule), so this is what
 * desired and actual state are compared on, by the reconciler, both southbound adapters and the
 * test fakes alike. The one place rule identity is defined.
 */
public final class RuleKey {
    private final DeviceId device;
    private final int table;
    private final int priority;
    private final TrafficSelector selector;

    private RuleKey(DeviceId device, int table, int priority, TrafficSelector selector) {
        this.device = Objects.requireNonNull(device);
        this.table = table;
        this.priority = priority;
        this.selector = Objects.requireNonNull(selector);
    }

    public static RuleKey of(FlowRule r) {
        return new RuleKey(r.deviceId(), r.tableId(), r.priority(), r.selector());
    }

    public DeviceId device() {
        return device;
    }

    public int table() {
        return table;
    }

    public int priority() {
        return priority;
    }

    public TrafficSelector selector() {
        return selector;
    }

    /** Whether {@code a} and {@code b} are the same rule: same key, treatment and cookie. */
    public static boolean sameRule(FlowRule a, FlowRule b) {
        return of(a).equals(of(b)) && a.treatment().equals(b.treatment()) && a.id().value() == b.id().value();
    }

    /** Whether two lists hold the same rules ({@link #sameRule}) in the same order. */
    public static boolean sameRules(List<FlowRule> a, List<FlowRule> b) {
        if (a.size() != b.size()) {
            return false;
        }
        for (int i = 0; i < a.size(); i++) {
            if (!sameRule(a.get(i), b.get(i))) {
                return false;
            }
        }
        return true;
    }

    @Override
    public boolean equals(Object o) {
        if (!(o instanceof RuleKey)) {
            return false;
        }
        RuleKey k = (RuleKey) o;
        return device.equals(k.device) && table == k.table && priority == k.priority && selector.equals(k.selector);
    }

    @Override
    public int hashCode() {
        return Objects.hash(device, table, priority, selector);
    }

    @Override
    public String toString() {
        return device + "/" + table + "/" + priority + "/" + selector.criteria();
    }
}
