package org.wanmig.planner;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.onlab.packet.EthType;
import org.onlab.packet.Ethernet;
import org.onlab.packet.Ip4Prefix;
import org.onlab.packet.MplsLabel;
import org.onosproject.net.ConnectPoint;
import org.onosproject.net.DeviceId;
import org.onosproject.net.PortNumber;
import org.onosproject.net.flow.DefaultTrafficSelector;
import org.onosproject.net.flow.DefaultTrafficTreatment;
import org.onosproject.net.flow.FlowRule;
import org.onosproject.net.flow.TrafficSelector;
import org.onosproject.net.flow.TrafficTreatment;
import org.onosproject.net.flow.criteria.Criterion;
import org.wanmig.config.ClientSite;
import org.wanmig.config.WanGraph;

import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.stream.Collectors;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/** The migration rules, hop by hop, on every test WAN. */
class TunnelRulesTest {

    static Stream<Scenario> scenarios() {
        return Scenario.all();
    }

    private static TrafficSelector byLabel(int label) {
        return DefaultTrafficSelector.builder().matchEthType(Ethernet.MPLS_UNICAST)
                .matchMplsLabel(MplsLabel.mplsLabel(label)).build();
    }

    private static TrafficTreatment push(int label, PortNumber out) {
        return DefaultTrafficTreatment.builder().pushMpls().setMpls(MplsLabel.mplsLabel(label)).setOutput(out).build();
    }

    /** The one rule of {@code rules} at {@code device} with {@code selector}. */
    private static FlowRule ruleAt(List<FlowRule> rules, DeviceId device, TrafficSelector selector) {
        List<FlowRule> found = rules.stream().filter(r -> r.deviceId().equals(device) && r.selector().equals(selector))
                .collect(Collectors.toList());
        if (found.size() != 1) {
            fail(found.size() + " rules at " + device + " match " + selector + " in "
                    + rules.stream().map(RuleFormatter::format).collect(Collectors.joining("\n  ", "\n  ", "")));
        }
        return found.get(0);
    }

    private static void assertLinkByLink(WanGraph graph, List<ConnectPoint> path, DeviceId start, DeviceId end) {
        assertEquals(start, path.get(0).deviceId());
        for (int i = 0; i < path.size(); i++) {
            DeviceId next = graph.neighbour(path.get(i).deviceId(), path.get(i).port());
            assertEquals(i + 1 < path.size() ? path.get(i + 1).deviceId() : end, next, "hop " + i + " of " + path);
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("scenarios")
    void forwardAndReversePathsRunLinkByLinkBetweenThePes(Scenario s) {
        WanGraph graph = WanGraph.of(s.topology);
        assertLinkByLink(graph, s.plan.forwardPath(), s.from.pe(), s.to.pe());
        assertLinkByLink(graph, s.plan.reversePath(), s.to.pe(), s.from.pe());
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("scenarios")
    void redirectPushesForwardLabelTowardNextHop(Scenario s) {
        FlowRule redirect = s.plan.redirect();
        PortNumber out = s.plan.forwardPath().get(0).port();
        assertEquals(s.from.pe(), redirect.deviceId());
        assertEquals(NetworkPlanner.PRIORITY_REDIRECT, redirect.priority());
        assertEquals(DefaultTrafficSelector.builder().matchEthType(Ethernet.TYPE_IPV4)
                .matchIPDst(s.server.ip().toIpPrefix()).build(), redirect.selector());
        assertEquals(push(s.migration.labels().forward(), out), redirect.treatment());
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("scenarios")
    void redirectArrivingOnTheTunnelPortLeavesByInPort(Scenario s) {
        PortNumber out = s.plan.forwardPath().get(0).port();
        FlowRule hairpin = ruleAt(s.plan.redirects(), s.from.pe(), DefaultTrafficSelector.builder()
                .matchEthType(Ethernet.TYPE_IPV4).matchIPDst(s.server.ip().toIpPrefix()).matchInPort(out).build());
        assertTrue(hairpin.priority() > NetworkPlanner.PRIORITY_REDIRECT, "must win over the redirect");
        assertEquals(push(s.migration.labels().forward(), PortNumber.IN_PORT), hairpin.treatment());
        assertEquals(2, s.plan.redirects().size());
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("scenarios")
    void everyTransitHopSwitchesTheForwardLabel(Scenario s) {
        int label = s.migration.labels().forward();
        for (ConnectPoint hop : s.plan.forwardPath().subList(1, s.plan.forwardPath().size())) {
            FlowRule r = ruleAt(s.plan.tunnel(), hop.deviceId(), byLabel(label));
            assertEquals(NetworkPlanner.PRIORITY_TUNNEL, r.priority());
            assertEquals(DefaultTrafficTreatment.builder().setOutput(hop.port()).build(), r.treatment(), "at " + hop);
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("scenarios")
    void destinationPePopsAndDeliversToServerPort(Scenario s) {
        // the pair's egress pops and goes on in the delivery table, where the server's address picks its port
        FlowRule r = ruleAt(s.plan.tunnel(), s.to.pe(), byLabel(s.migration.labels().forward()));
        assertEquals(DefaultTrafficTreatment.builder().popMpls(EthType.EtherType.IPV4.ethType())
                .transition(NetworkPlanner.TABLE_TUNNEL_DELIVERY).build(), r.treatment());
        assertEquals(Cookies.KIND_TUNNEL, Cookies.kind(r.id().value()));
        FlowRule deliver = s.plan.tunnel().stream().filter(x -> x.deviceId().equals(s.to.pe())
                && x.tableId() == NetworkPlanner.TABLE_TUNNEL_DELIVERY).findFirst().orElseThrow();
        assertEquals(DefaultTrafficSelector.builder().matchEthType(Ethernet.TYPE_IPV4)
                .matchIPDst(s.server.ip().toIpPrefix()).build(), deliver.selector());
        assertEquals(DefaultTrafficTreatment.builder().setEthSrc(s.topology.gatewayMac()).setEthDst(s.server.mac())
                .setOutput(s.destinationPort()).build(), deliver.treatment());
        assertTrue(Cookies.ofMigration(deliver.id().value(), Scenario.ID));
        assertEquals(s.planner.attachment(s.server, s.to.name()), s.destinationPort());
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("scenarios")
    void reverseIngressPushesEachSitesLabelForTheServersOwnPortOnly(Scenario s) {
        for (ClientSite site : s.topology.clientSites()) {
            for (Ip4Prefix prefix : site.prefixes()) {
                TrafficSelector match = DefaultTrafficSelector.builder().matchEthType(Ethernet.TYPE_IPV4)
                        .matchIPSrc(s.server.ip().toIpPrefix()).matchIPDst(prefix).matchInPort(s.destinationPort()).build();
                FlowRule r = ruleAt(s.plan.reverseIngress(), s.to.pe(), match);
                assertEquals(push(s.reverseLabel(site), s.plan.reversePath().get(0).port()), r.treatment());
            }
        }
        assertEquals(s.topology.clientSites().stream().mapToInt(c -> c.prefixes().size()).sum(),
                s.plan.reverseIngress().size());
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("scenarios")
    void reverseTransitHopsSwitchEachSitesLabel(Scenario s) {
        for (ClientSite site : s.topology.clientSites()) {
            for (ConnectPoint hop : s.plan.reversePath().subList(1, s.plan.reversePath().size())) {
                FlowRule r = ruleAt(s.plan.tunnel(), hop.deviceId(), byLabel(s.reverseLabel(site)));
                assertEquals(DefaultTrafficTreatment.builder().setOutput(hop.port()).build(), r.treatment());
            }
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("scenarios")
    void sourcePePopsReverseLabelWithIpv4EthertypeAndSendsTowardSite(Scenario s) {
        for (ClientSite site : s.topology.clientSites()) {
            FlowRule r = ruleAt(s.plan.tunnel(), s.from.pe(), byLabel(s.reverseLabel(site)));
            TrafficTreatment t = r.treatment();
            assertEquals(DefaultTrafficTreatment.builder().popMpls(EthType.EtherType.IPV4.ethType()).build()
                    .allInstructions().get(0), t.allInstructions().get(0), "first the pop");
            assertEquals(1, t.allInstructions().stream().filter(i -> i.type()
                    == org.onosproject.net.flow.instructions.Instruction.Type.OUTPUT).count());
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("scenarios")
    void labelsAreDistinctPerDirectionAndSite(Scenario s) {
        List<Integer> all = s.migration.labels().all().boxed().collect(Collectors.toList());
        assertEquals(1 + s.topology.clientSites().size(), all.size());
        assertEquals(all.size(), new HashSet<>(all).size(), "distinct: " + all);
        all.forEach(l -> assertTrue(s.topology.labels().contains(l)));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("scenarios")
    void everyMigrationRuleCarriesTheMigrationOrThePairTunnelsCookie(Scenario s) {
        // per-server rules are the migration's; label rules are the pair tunnel's (owner: its forward label)
        Set<Long> cookies = new HashSet<>();
        Set<DeviceId> pes = Set.of(s.from.pe(), s.to.pe());
        for (FlowRule r : s.plan.all()) {
            long c = r.id().value();
            assertTrue(cookies.add(c), "cookie used twice: " + RuleFormatter.format(r));
            if (Cookies.kind(c) == Cookies.KIND_TUNNEL) {
                assertEquals(s.migration.labels().forward(), Cookies.owner(c), RuleFormatter.format(r));
                assertTrue(r.selector().criteria().stream().noneMatch(k -> k.type() == Criterion.Type.IPV4_DST
                        || k.type() == Criterion.Type.IPV4_SRC), "a pair rule names no server: " + RuleFormatter.format(r));
            } else {
                assertTrue(Cookies.ofMigration(c, Scenario.ID), RuleFormatter.format(r));
                assertTrue(pes.contains(r.deviceId()), "per-server rule off the PEs: " + RuleFormatter.format(r));
            }
        }
        assertEquals(s.planner.pairTunnel(s.from.name(), s.to.name(), s.migration.labels()).size(),
                s.plan.all().stream().filter(r -> Cookies.kind(r.id().value()) == Cookies.KIND_TUNNEL).count());
        assertTrue(s.plan.all().stream().noneMatch(r -> Cookies.ofMigration(r.id().value(), Scenario.ID + 1)));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("scenarios")
    void noTwoMigrationRulesShareASwitchTableEntry(Scenario s) {
        Set<RuleKey> keys = new HashSet<>();
        s.plan.all().forEach(r -> assertTrue(keys.add(RuleKey.of(r)), "replaces another: " + RuleFormatter.format(r)));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("scenarios")
    void preparedRulesExcludeTheRedirects(Scenario s) {
        s.plan.redirects().forEach(r -> assertTrue(s.plan.prepared().stream().noneMatch(p -> p.equals(r))));
        assertEquals(s.plan.prepared().size() + s.plan.redirects().size(), s.plan.all().size());
        assertNotEquals(0, s.plan.tunnel().size());
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("scenarios")
    void planIsPure(Scenario s) {
        assertEquals(s.plan.all(), s.planner.migration(s.migration).all());
        assertEquals(s.plan.all().stream().map(RuleFormatter::format).collect(Collectors.toList()),
                new NetworkPlanner(s.topology, org.wanmig.testing.Topologies.APP_ID).migration(s.migration).all()
                        .stream().map(RuleFormatter::format).collect(Collectors.toList()));
    }
}
