package org.wanmig.planner;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.onosproject.net.flow.DefaultFlowRule;
import org.onosproject.net.flow.DefaultTrafficTreatment;
import org.onosproject.net.flow.FlowRule;
import org.onosproject.net.PortNumber;
import org.wanmig.testing.RuleTable;

import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.stream.Collectors;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class RouteDiffTest {

    static Stream<Scenario> scenarios() {
        return Scenario.all();
    }

    private static Set<RuleKey> keys(List<FlowRule> rules) {
        return rules.stream().map(RuleKey::of).collect(Collectors.toSet());
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("scenarios")
    void routeDiffNeverRemovesAKeyItReinstalls(Scenario s) {
        RuleDiff diff = RuleDiff.between(s.planner.serverRoutes(s.server, s.from.name()),
                s.planner.serverRoutes(s.server, s.to.name()));
        Set<RuleKey> both = new HashSet<>(keys(diff.toInstall()));
        both.retainAll(keys(diff.toRemove()));
        assertTrue(both.isEmpty(), "removed and reinstalled: " + both.size());
        assertTrue(!diff.toInstall().isEmpty(), "the routes change");
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("scenarios")
    void applyingTheDiffGivesExactlyTheDestinationRoutes(Scenario s) {
        List<FlowRule> a = s.planner.serverRoutes(s.server, s.from.name());
        List<FlowRule> b = s.planner.serverRoutes(s.server, s.to.name());
        RuleTable table = new RuleTable(a).apply(RuleDiff.between(a, b));
        assertTrue(table.holdsExactly(b), "missing " + table.missing(b));
        RuleTable back = table.apply(RuleDiff.between(b, a));
        assertTrue(back.holdsExactly(a), "missing " + back.missing(a));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("scenarios")
    void sameRulesGiveAnEmptyDiff(Scenario s) {
        List<FlowRule> a = s.baseline(s.from.name());
        RuleDiff diff = RuleDiff.between(a, s.baseline(s.from.name()));
        assertEquals(List.of(), diff.toInstall());
        assertEquals(List.of(), diff.toRemove());
    }

    @Test
    void changedTreatmentIsReinstalledInPlace() {
        Scenario s = Scenario.of(org.wanmig.testing.Topologies.TWO_DC, "vs1", "dcA", "dcB");
        FlowRule r = s.planner.serverRoutes(s.server, "dcA").get(0);
        FlowRule changed = DefaultFlowRule.builder().forDevice(r.deviceId()).forTable(r.tableId())
                .withPriority(r.priority()).withSelector(r.selector()).withCookie(r.id().value())
                .withTreatment(DefaultTrafficTreatment.builder().setOutput(PortNumber.portNumber(9)).build())
                .makePermanent().build();
        RuleDiff diff = RuleDiff.between(List.of(r), List.of(changed));
        assertEquals(List.of(changed), diff.toInstall());
        assertEquals(List.of(), diff.toRemove());
    }
}
