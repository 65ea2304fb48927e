package org.wanmig.testing;

import org.onosproject.net.flow.FlowRule;
import org.wanmig.planner.RuleDiff;
import org.wanmig.planner.RuleKey;

import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Predicate;
import java.util.stream.Collectors;

/**
 * The flow tables of every switch, as a switch keeps them: one rule per device, table, priority
 * and selector; installing a rule with a held key replaces it, removing goes by key. Thread-safe.
 */
public final class RuleTable {
    private final Map<RuleKey, FlowRule> rules = new LinkedHashMap<>();

    public RuleTable() {
    }

    public RuleTable(Collection<FlowRule> initial) {
        install(initial);
    }

    public synchronized RuleTable install(Collection<FlowRule> added) {
        added.forEach(r -> rules.put(RuleKey.of(r), r));
        return this;
    }

    public synchronized RuleTable remove(Collection<FlowRule> removed) {
        removed.forEach(r -> rules.remove(RuleKey.of(r)));
        return this;
    }

    /** Applies a diff the way the lifecycle does: install first, then remove. */
    public RuleTable apply(RuleDiff diff) {
        install(diff.toInstall());
        return remove(diff.toRemove());
    }

    public synchronized List<FlowRule> rules() {
        return new ArrayList<>(rules.values());
    }

    public synchronized List<FlowRule> rules(Predicate<FlowRule> which) {
        return rules.values().stream().filter(which).collect(Collectors.toList());
    }

    public synchronized boolean holds(FlowRule r) {
        FlowRule held = rules.get(RuleKey.of(r));
        return held != null && RuleKey.sameRule(held, r);
    }

    /** The rules of {@code expected} this table lacks or holds with another treatment or cookie. */
    public synchronized List<FlowRule> missing(Collection<FlowRule> expected) {
        return expected.stream().filter(r -> !holds(r)).collect(Collectors.toList());
    }

    /** Whether this table holds exactly {@code expected}: same keys, treatments and cookies. */
    public synchronized boolean holdsExactly(Collection<FlowRule> expected) {
        return missing(expected).isEmpty() && rules.size() == new RuleTable(expected).rules.size();
    }

    public synchronized RuleTable copy() {
        return new RuleTable(rules.values());
    }

    public synchronized int size() {
        return rules.size();
    }
}
