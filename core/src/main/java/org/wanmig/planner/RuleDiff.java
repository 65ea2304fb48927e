package org.wanmig.planner;

import org.onosproject.net.flow.FlowRule;

import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The change from one rule set to another. A switch holds one rule per (priority, match), so
 * rules are compared on their {@link RuleKey}: a new rule with an old key replaces it in place, and only old
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
        Map<RuleKey, FlowRule> old = index(from);
        Map<RuleKey, FlowRule> next = index(to);
        List<FlowRule> additions = new ArrayList<>();
        List<FlowRule> replacements = new ArrayList<>();
        next.forEach((k, r) -> {
            FlowRule was = old.get(k);
            if (was == null) {
                additions.add(r);
            } else if (!RuleKey.sameRule(was, r)) {
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

    private static Map<RuleKey, FlowRule> index(Collection<FlowRule> rules) {
        Map<RuleKey, FlowRule> map = new HashMap<>();
        rules.forEach(r -> map.put(RuleKey.of(r), r));
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
}
