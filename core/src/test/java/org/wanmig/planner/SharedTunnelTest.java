package org.wanmig.planner;

import org.junit.jupiter.api.Test;
import org.onlab.packet.Ip4Prefix;
import org.onosproject.net.ConnectPoint;
import org.onosproject.net.DeviceId;
import org.onosproject.net.PortNumber;
import org.onosproject.net.flow.FlowRule;
import org.onosproject.net.flow.criteria.MplsCriterion;
import org.wanmig.api.Migration;
import org.wanmig.api.TunnelLabels;
import org.wanmig.config.ClientSite;
import org.wanmig.config.DataCenter;
import org.wanmig.config.VirtualServer;
import org.wanmig.config.WanLink;
import org.wanmig.config.WanTopology;
import org.wanmig.config.WanTopologyParser;
import org.wanmig.testing.PacketWalker;
import org.wanmig.testing.ScaleTopology;
import org.wanmig.testing.Topologies;

import java.util.ArrayList;
import java.util.Collection;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;
import java.util.stream.IntStream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The PE-to-PE tunnel shared by every server moving between one DC pair (issue 10, item 2): the
 * desired-state union (one rule per key, as the reconciler builds it) of several migrations of a
 * pair holds one set of label rules, transit switches carry nothing per server, and a re-plan
 * after a link failure never puts two different rules under one key.
 */
class SharedTunnelTest {
    private static final DeviceId S2 = DeviceId.deviceId("of:0000000000000002");
    private static final DeviceId S3 = DeviceId.deviceId("of:0000000000000003");
    private static final DeviceId S5 = DeviceId.deviceId("of:0000000000000005");

    private final WanTopology topology = Topologies.topology(Topologies.THREE_DC);
    private final NetworkPlanner planner = new NetworkPlanner(topology, Topologies.APP_ID);

    @Test
    void twoMigrationsOfOnePairShareTheirCoreRules() {
        List<Migration> both = RuleCountReport.concurrent(planner, List.of("vs1", "vs2"), "dcA", "dcC", 1);
        Migration one = both.get(0);
        Migration two = both.get(1);
        assertEquals(one.labels(), two.labels(), "one pair, one path: one set of labels");

        Map<RuleKey, FlowRule> union = union(both);
        List<FlowRule> pair = planner.pairTunnel("dcA", "dcC", one.labels());
        for (DeviceId transit : List.of(S2, S5)) {
            List<FlowRule> onTransit = rulesAt(union.values(), transit);
            assertEquals(rulesAt(pair, transit).size(), onTransit.size(), transit + ": only the pair's rules");
            assertEquals(rulesAt(onePlan(one), transit).size(), onTransit.size(), transit + ": as many as for one");
            assertTrue(onTransit.stream().allMatch(r -> Cookies.kind(r.id().value()) == Cookies.KIND_TUNNEL));
        }
        // no two rules under one key differ: the union lost nothing of either plan
        for (Migration m : both) {
            for (FlowRule r : m.plan().all()) {
                FlowRule kept = union.get(RuleKey.of(r));
                assertTrue(kept != null && kept.treatment().equals(r.treatment()), RuleFormatter.format(r));
            }
        }
        // per-server rules sit on the PEs only: at PE_A the redirects, at PE_B delivery and replies
        DataCenter a = topology.dataCenter("dcA").orElseThrow();
        DataCenter c = topology.dataCenter("dcC").orElseThrow();
        union.values().stream().filter(r -> Cookies.kind(r.id().value()) == Cookies.KIND_MIGRATION)
                .forEach(r -> assertTrue(r.deviceId().equals(a.pe()) || r.deviceId().equals(c.pe()),
                        RuleFormatter.format(r)));

        // both servers reached through the one tunnel, each at its own port at C
        List<FlowRule> table = new ArrayList<>(baseline());
        table.addAll(union.values());
        for (Migration m : both) {
            assertDeliveredThroughTunnel(table, m, c);
        }
    }

    @Test
    void removingOneMigrationKeepsTheOthersPath() {
        List<Migration> both = RuleCountReport.concurrent(planner, List.of("vs1", "vs2"), "dcA", "dcC", 1);
        Map<RuleKey, FlowRule> onlySecond = union(List.of(both.get(1)));
        // what the reconciler removes when the first finishes: its keys no longer desired
        Set<RuleKey> removed = both.get(0).plan().all().stream().map(RuleKey::of)
                .filter(k -> !onlySecond.containsKey(k)).collect(Collectors.toSet());
        assertTrue(removed.stream().allMatch(k -> k.device().equals(both.get(0).plan().redirect().deviceId())
                || k.device().equals(topology.dataCenter("dcC").orElseThrow().pe())), "only PE rules go: " + removed);
        assertTrue(removed.stream().noneMatch(k -> planner.pairTunnel("dcA", "dcC", both.get(1).labels()).stream()
                .anyMatch(r -> RuleKey.of(r).equals(k))), "no rule of the pair's tunnel goes");
        List<FlowRule> table = new ArrayList<>(baseline());
        table.addAll(onlySecond.values());
        assertDeliveredThroughTunnel(table, both.get(1), topology.dataCenter("dcC").orElseThrow());
    }

    @Test
    void aReplanAfterALinkFailureNeverPutsTwoRulesUnderOneKey() {
        List<Migration> both = RuleCountReport.concurrent(planner, List.of("vs1", "vs2"), "dcA", "dcC", 1);
        TunnelLabels before = both.get(0).labels();
        // s2-s5 fails: A to C now runs s2-s3-s5
        WanLink shortcut = topology.links().stream().filter(l -> l.one().deviceId().equals(S2)
                && l.two().deviceId().equals(S5)).findFirst().orElseThrow();
        WanTopology down = topology.withLink(shortcut.withUp(false));
        NetworkPlanner after = new NetworkPlanner(down, Topologies.APP_ID);

        // the manager re-plans one run at a time: the first gets labels of its own (the second
        // still holds the old ones and their path)
        Migration first = replanned(after, both.get(0), both);
        assertNotEquals(before, first.labels(), "a new path gets new labels");
        List<Migration> halfway = List.of(first, both.get(1));
        assertNoConflicts(halfway);
        Map<RuleKey, FlowRule> mixed = union(halfway);
        assertTrue(rulesAt(mixed.values(), S3).size() > 0, "the new path is in place");
        assertTrue(rulesAt(mixed.values(), S5).size() > rulesAt(after.pairTunnel("dcA", "dcC", first.labels()), S5)
                .size(), "the old path stays while the second migration holds it");

        Migration second = replanned(after, both.get(1), halfway);
        assertEquals(first.labels(), second.labels(), "the second joins the first on the new path");
        List<Migration> done = List.of(first, second);
        assertNoConflicts(done);
        Map<RuleKey, FlowRule> union = union(done);
        assertTrue(union.values().stream().noneMatch(r -> r.selector().criteria().stream().anyMatch(
                k -> k instanceof MplsCriterion && ((MplsCriterion) k).label().toInt() == before.forward())),
                "the old labels are gone with the last plan holding them");
        List<FlowRule> table = new ArrayList<>(RuleCountReport.baselineRules(after, Map.of()));
        table.addAll(union.values());
        PacketWalker.Trace t = assertDeliveredThroughTunnel(down, table, second,
                down.dataCenter("dcC").orElseThrow());
        assertTrue(t.switches().contains(S3), "around the failed link: " + t);
    }

    @Test
    void coreRulesStayConstantAsConcurrentMigrationsOfOnePairGrow() {
        WanTopology big = WanTopologyParser.parse(ScaleTopology.config(100, 3, 4, i -> 0));
        NetworkPlanner p = new NetworkPlanner(big, Topologies.APP_ID);
        Map<Integer, RuleCountReport> byCount = new LinkedHashMap<>();
        for (int n : List.of(1, 10, 100)) {
            List<String> servers = IntStream.range(0, n).mapToObj(ScaleTopology::serverName).collect(Collectors.toList());
            byCount.put(n, RuleCountReport.of(p, Map.of(), RuleCountReport.concurrent(p, servers, "dcA", "dcB", 1)));
        }
        int core = byCount.get(1).maxMigrations(RuleCountReport.Role.CORE);
        assertTrue(core > 0);
        assertEquals(core, byCount.get(10).maxMigrations(RuleCountReport.Role.CORE));
        assertEquals(core, byCount.get(100).maxMigrations(RuleCountReport.Role.CORE));
        assertEquals(0, byCount.get(100).maxMigrations(RuleCountReport.Role.SITE_EDGE));
        int pe1 = byCount.get(1).maxMigrations(RuleCountReport.Role.PE);
        int pe10 = byCount.get(10).maxMigrations(RuleCountReport.Role.PE);
        int pe100 = byCount.get(100).maxMigrations(RuleCountReport.Role.PE);
        assertTrue(pe10 > pe1, "the PEs carry the per-server rules");
        assertEquals(10 * (pe10 - pe1), pe100 - pe10, "the PEs grow by the same per server");
    }

    @Test
    void labelsOfAnotherPairOrDirectionAreNeverShared() {
        List<Migration> ac = RuleCountReport.concurrent(planner, List.of("vs1"), "dcA", "dcC", 1);
        TunnelLabels ab = planner.tunnelLabels("dcA", "dcB", ac);
        TunnelLabels ca = planner.tunnelLabels("dcC", "dcA", ac);
        Set<Integer> used = new HashSet<>();
        ac.get(0).labels().all().forEach(used::add);
        ab.all().forEach(l -> assertTrue(used.add(l), "label " + l + " used twice"));
        assertEquals(ab.all().count(), ca.all().count());
        assertTrue(ca.all().allMatch(l -> ac.get(0).labels().all().noneMatch(x -> x == l)));
    }

    // ---- helpers -------------------------------------------------------------------------------------

    private static Migration replanned(NetworkPlanner planner, Migration m, Collection<Migration> active) {
        TunnelLabels labels = planner.tunnelLabels(m.source(), m.destination(), active);
        Migration relabelled = m.withPlan(m.plan(), labels);
        return relabelled.withPlan(planner.migration(relabelled, m.plan().revision() + 1), labels);
    }

    private static void assertNoConflicts(List<Migration> active) {
        Map<RuleKey, FlowRule> seen = new LinkedHashMap<>();
        for (Migration m : active) {
            for (FlowRule r : m.plan().all()) {
                FlowRule other = seen.putIfAbsent(RuleKey.of(r), r);
                assertTrue(other == null || other.treatment().equals(r.treatment()),
                        () -> "two rules under one key: " + RuleFormatter.format(r) + " | " + RuleFormatter.format(other));
            }
        }
    }

    private static Map<RuleKey, FlowRule> union(List<Migration> active) {
        Map<RuleKey, FlowRule> union = new LinkedHashMap<>();
        active.forEach(m -> m.plan().all().forEach(r -> union.put(RuleKey.of(r), r)));
        return union;
    }

    private static List<FlowRule> onePlan(Migration m) {
        return m.plan().all();
    }

    private static List<FlowRule> rulesAt(Collection<FlowRule> rules, DeviceId sw) {
        return rules.stream().filter(r -> r.deviceId().equals(sw)).collect(Collectors.toList());
    }

    private List<FlowRule> baseline() {
        return RuleCountReport.baselineRules(planner, Map.of());
    }

    private PacketWalker.Trace assertDeliveredThroughTunnel(List<FlowRule> table, Migration m, DataCenter to) {
        return assertDeliveredThroughTunnel(topology, table, m, to);
    }

    /** A client's packet to the (moved) server enters the tunnel at PE_A and leaves at its port at PE_B. */
    private static PacketWalker.Trace assertDeliveredThroughTunnel(WanTopology topology, List<FlowRule> table,
                                                                   Migration m, DataCenter to) {
        VirtualServer v = topology.server(m.server()).orElseThrow();
        PacketWalker walker = new PacketWalker(topology, table);
        PacketWalker.Trace last = null;
        for (ClientSite site : topology.clientSites()) {
            Ip4Prefix prefix = site.prefixes().get(0);
            PacketWalker.Trace t = walker.walk(new ConnectPoint(site.edge(), site.port()), PacketWalker.ipv4(
                    prefix.address(), v.ip(), site.mac(), topology.gatewayMac()));
            assertTrue(t.isDelivered(), site.name() + " -> " + v.name() + ": " + t);
            assertEquals(new ConnectPoint(to.pe(), PortNumber.portNumber(m.destinationPort())), t.deliveredAt(),
                    "at the server's port at the destination: " + t);
            assertEquals(List.of(m.labels().forward()), t.labelsSeen(), "through the pair's tunnel: " + t);
            assertEquals(v.mac(), t.delivered().ethDst());
            last = t;
        }
        return last;
    }
}
