package org.wanmig.planner;

import org.onosproject.net.flow.FlowRule;
import org.onosproject.net.flow.criteria.Criterion;
import org.onosproject.net.flow.instructions.Instruction;

import java.util.Comparator;
import java.util.stream.Collectors;

/** One line per rule, for humans: switch, priority, match, actions, cookie. */
public final class RuleFormatter {
    private RuleFormatter() {
    }

    public static String format(FlowRule r) {
        String match = r.selector().criteria().stream().sorted(Comparator.comparing(Criterion::type))
                .map(Object::toString).map(String::toLowerCase).collect(Collectors.joining(","));
        String actions = r.treatment().allInstructions().stream().map(RuleFormatter::instruction)
                .collect(Collectors.joining(","));
        return String.format("%s prio=%d %s -> %s cookie=0x%x", r.deviceId(), r.priority(), match, actions,
                r.id().value());
    }

    private static String instruction(Instruction i) {
        return i.toString().toLowerCase().replace("l2modification:", "").replace("output:", "output:");
    }
}
