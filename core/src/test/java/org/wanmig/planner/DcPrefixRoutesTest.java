package org.wanmig.planner;

import org.junit.jupiter.api.Test;
import org.onlab.packet.Ip4Prefix;
import org.onosproject.net.ConnectPoint;
import org.onosproject.net.DeviceId;
import org.onosproject.net.flow.FlowRule;
import org.wanmig.config.ClientSite;
import org.wanmig.config.ConfigException;
import org.wanmig.config.DataCenter;
import org.wanmig.config.VirtualServer;
import org.wanmig.config.WanTopology;
import org.wanmig.config.WanTopologyParser;
import org.wanmig.testing.PacketWalker;
import org.wanmig.testing.ScaleTopology;
import org.wanmig.testing.Topologies;

import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Baseline routes aggregated by a DC's prefix (issue 10, item 2): one route per DC on each switch
 * leads the prefix to the PE, the PE delivers per server, and a server running away from the DC
 * whose prefix holds its address has routes of its own above the aggregate (the exception).
 */
class DcPrefixRoutesTest {
    private static final DeviceId S2 = DeviceId.deviceId("of:0000000000000002");

    private static WanTopology threeDc(String dcAPrefix) {
        return Topologies.topology(Topologies.THREE_DC, c -> Topologies.entry(c, "dataCenters", 0)
                .put("prefix", dcAPrefix));
    }

    @Test
    void serversAtHomeAreReachedThroughTheAggregateAndTheirPeDelivery() {
        WanTopology t = threeDc("10.2.0.0/24");
        NetworkPlanner p = new NetworkPlanner(t, Topologies.APP_ID);
        DataCenter a = t.dataCenter("dcA").orElseThrow();
        for (VirtualServer v : t.servers()) {
            List<FlowRule> own = p.serverRoutes(v, "dcA");
            assertEquals(1, own.size(), "only the delivery at the PE: " + own);
            assertEquals(a.pe(), own.get(0).deviceId());
        }
        List<FlowRule> baseline = RuleCountReport.baselineRules(p, Map.of());
        assertTrue(baseline.stream().noneMatch(r -> r.deviceId().equals(S2)
                && Cookies.kind(r.id().value()) == Cookies.KIND_SERVER_ROUTE), "no per-server rule in the core");
        for (VirtualServer v : t.servers()) {
            assertReachable(t, baseline, v, new ConnectPoint(a.pe(), p.attachment(v, "dcA")));
        }
    }

    @Test
    void aServerThatMovedAwayIsAnExceptionAboveTheAggregate() {
        WanTopology t = threeDc("10.2.0.0/24");
        NetworkPlanner p = new NetworkPlanner(t, Topologies.APP_ID);
        VirtualServer vs1 = t.server("vs1").orElseThrow();
        VirtualServer vs2 = t.server("vs2").orElseThrow();
        assertTrue(p.serverRoutes(vs1, "dcC").size() > 1, "routes of its own at C");
        assertTrue(p.serverRoutes(vs1, "dcC").stream().allMatch(r -> r.priority() > NetworkPlanner.PRIORITY_DC_ROUTE));
        List<FlowRule> baseline = RuleCountReport.baselineRules(p, Map.of("vs1", "dcC"));
        DataCenter c = t.dataCenter("dcC").orElseThrow();
        DataCenter a = t.dataCenter("dcA").orElseThrow();
        assertReachable(t, baseline, vs1, new ConnectPoint(c.pe(), p.attachment(vs1, "dcC")));
        assertReachable(t, baseline, vs2, new ConnectPoint(a.pe(), p.attachment(vs2, "dcA")));
        // moving the route there and back is a route change like any other; the steps keep it reachable
        RouteChange away = p.routeChange(vs1, "dcA", "dcC");
        List<FlowRule> table = new java.util.ArrayList<>(RuleCountReport.baselineRules(p, Map.of()));
        for (List<FlowRule> step : away.steps()) {
            table = new org.wanmig.testing.RuleTable(table).install(step).rules();
        }
        table = new org.wanmig.testing.RuleTable(table).remove(away.removals()).rules();
        assertReachable(t, table, vs1, new ConnectPoint(c.pe(), p.attachment(vs1, "dcC")));
    }

    @Test
    void withoutAPrefixEveryServerHasItsOwnRoutesAsBefore() {
        WanTopology t = Topologies.topology(Topologies.THREE_DC);
        NetworkPlanner p = new NetworkPlanner(t, Topologies.APP_ID);
        assertTrue(p.dcRoutes().isEmpty());
        assertTrue(p.serverRoutes(t.server("vs1").orElseThrow(), "dcA").size() > 1);
    }

    @Test
    void aPrefixOverlappingAClientSiteOrAnotherDcIsRefused() {
        assertThrows(ConfigException.class, () -> threeDc("10.0.0.0/16"));
        assertThrows(ConfigException.class, () -> Topologies.topology(Topologies.THREE_DC, c -> {
            Topologies.entry(c, "dataCenters", 0).put("prefix", "10.2.0.0/24");
            Topologies.entry(c, "dataCenters", 1).put("prefix", "10.2.0.0/25");
        }));
        assertThrows(ConfigException.class, () -> threeDc("10.2.0.1/24"), "host bits set");
    }

    @Test
    void coreRulesStayConstantAsServersGrow() {
        int[] sizes = {10, 100, 1000};
        RuleCountReport[] r = new RuleCountReport[sizes.length];
        for (int i = 0; i < sizes.length; i++) {
            WanTopology t = WanTopologyParser.parse(ScaleTopology.config(sizes[i], 3, 10, k -> k % 3, true));
            r[i] = RuleCountReport.of(new NetworkPlanner(t, Topologies.APP_ID), Map.of(), List.of());
        }
        assertEquals(r[0].maxBaseline(RuleCountReport.Role.CORE), r[2].maxBaseline(RuleCountReport.Role.CORE));
        assertEquals(r[0].maxBaseline(RuleCountReport.Role.SITE_EDGE), r[2].maxBaseline(RuleCountReport.Role.SITE_EDGE));
        int pe10 = r[0].maxBaseline(RuleCountReport.Role.PE);
        int pe100 = r[1].maxBaseline(RuleCountReport.Role.PE);
        int pe1000 = r[2].maxBaseline(RuleCountReport.Role.PE);
        assertEquals(10 * (pe100 - pe10), pe1000 - pe100, "one delivery rule per server at its PE");
        assertEquals(1000 / 3 + 1 - (10 / 3 + 1), pe1000 - pe10, "dcA's PE: one more rule per server of dcA");

        // servers away from home are exceptions: they do grow the core, one route each way per moved server
        WanTopology t = WanTopologyParser.parse(ScaleTopology.config(100, 3, 10, k -> k % 3, true));
        NetworkPlanner p = new NetworkPlanner(t, Topologies.APP_ID);
        RuleCountReport moved = RuleCountReport.of(p, Map.of("vs0", "dcB"), List.of());
        RuleCountReport home = RuleCountReport.of(p, Map.of(), List.of());
        assertTrue(moved.maxBaseline(RuleCountReport.Role.CORE) > home.maxBaseline(RuleCountReport.Role.CORE));
    }

    private static void assertReachable(WanTopology t, List<FlowRule> rules, VirtualServer v, ConnectPoint at) {
        PacketWalker walker = new PacketWalker(t, rules);
        for (ClientSite site : t.clientSites()) {
            Ip4Prefix prefix = site.prefixes().get(0);
            PacketWalker.Trace in = walker.walk(new ConnectPoint(site.edge(), site.port()),
                    PacketWalker.ipv4(prefix.address(), v.ip(), site.mac(), t.gatewayMac()));
            assertTrue(in.isDelivered(), site.name() + " -> " + v.name() + ": " + in);
            assertEquals(at, in.deliveredAt(), in.toString());
            assertEquals(v.mac(), in.delivered().ethDst());
            PacketWalker.Trace out = walker.walk(at, PacketWalker.ipv4(v.ip(), prefix.address(), v.mac(),
                    t.gatewayMac()));
            assertTrue(out.isDelivered(), v.name() + " -> " + site.name() + ": " + out);
            assertEquals(new ConnectPoint(site.edge(), site.port()), out.deliveredAt(), out.toString());
        }
    }
}
