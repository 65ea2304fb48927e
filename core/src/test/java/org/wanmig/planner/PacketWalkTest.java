package org.wanmig.planner;

import org.onlab.packet.Ethernet;
import org.onlab.packet.Ip4Prefix;
import org.onosproject.net.ConnectPoint;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.wanmig.config.ClientSite;
import org.wanmig.testing.PacketWalker;
import org.wanmig.testing.PacketWalker.Trace;
import org.wanmig.testing.RuleTable;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Packets followed through the rules of each phase of a migration, on every test WAN: the rules
 * are followable hop by hop, and each phase delivers where the design says.
 */
class PacketWalkTest {

    static java.util.stream.Stream<Scenario> scenarios() {
        return Scenario.all();
    }

    // ---- the rule sets of each phase, built as the lifecycle builds them ------------------------

    private static RuleTable before(Scenario s) {
        return new RuleTable(s.baseline(s.from.name()));
    }

    private static RuleTable prepared(Scenario s) {
        return before(s).install(s.plan.prepared());
    }

    private static RuleTable cutover(Scenario s) {
        return prepared(s).install(s.plan.redirects());
    }

    private static RuleTable routesUpdated(Scenario s) {
        RuleDiff diff = RuleDiff.between(s.planner.serverRoutes(s.server, s.from.name()),
                s.planner.serverRoutes(s.server, s.to.name()));
        return cutover(s).install(diff.toInstall()).remove(s.plan.reverseIngress()).remove(diff.toRemove());
    }

    private static RuleTable completed(Scenario s) {
        return routesUpdated(s).remove(s.plan.all());
    }

    // ---- assertions ---------------------------------------------------------------------------------

    private static void assertClientsReachServerAt(Scenario s, RuleTable table, ConnectPoint where,
                                                   List<Integer> labels) {
        PacketWalker walker = new PacketWalker(s.topology, table.rules());
        for (ClientSite site : s.topology.clientSites()) {
            for (Ip4Prefix prefix : site.prefixes()) {
                Trace t = walker.walk(s.siteAt(site), s.clientToServer(site, prefix));
                assertTrue(t.isDelivered(), site.name() + " -> " + s.server.name() + ":" + t);
                assertEquals(where, t.deliveredAt(), "delivered at the wrong port:" + t);
                assertEquals(s.server.mac(), t.delivered().ethDst(), "server MAC" + t);
                assertEquals(s.topology.gatewayMac(), t.delivered().ethSrc(), "gateway MAC" + t);
                assertEquals(Ethernet.TYPE_IPV4 & 0xffff, t.delivered().ethType(), "IPv4 again" + t);
                if (labels != null) {
                    assertEquals(labels, t.labelsSeen(), "labels on the way" + t);
                } else {
                    // draining: the redirect stays at PE_A, so traffic that still crosses PE_A is tunnelled
                    assertEquals(t.switches().contains(s.from.pe()) ? List.of(s.migration.labels().forward())
                            : List.of(), t.labelsSeen(), "labels on the way" + t);
                }
            }
        }
    }

    private static void assertServerReachesClients(Scenario s, RuleTable table, ConnectPoint from, boolean tunnel) {
        PacketWalker walker = new PacketWalker(s.topology, table.rules());
        for (ClientSite site : s.topology.clientSites()) {
            for (Ip4Prefix prefix : site.prefixes()) {
                Trace t = walker.walk(from, s.serverToClient(prefix));
                assertTrue(t.isDelivered(), s.server.name() + " -> " + site.name() + ":" + t);
                assertEquals(s.siteAt(site), t.deliveredAt(), "delivered at the wrong port:" + t);
                assertEquals(site.mac(), t.delivered().ethDst(), "site MAC" + t);
                assertEquals(Ethernet.TYPE_IPV4 & 0xffff, t.delivered().ethType(), "IPv4 again" + t);
                assertEquals(tunnel ? List.of(s.reverseLabel(site)) : List.of(), t.labelsSeen(), "labels" + t);
                if (tunnel) {
                    assertTrue(t.switches().contains(s.from.pe()), "the reverse path ends at PE_A" + t);
                }
            }
        }
    }

    // ---- the phases --------------------------------------------------------------------------------

    @ParameterizedTest(name = "{0}")
    @MethodSource("scenarios")
    void clientsReachServerAtSourceBeforeMigration(Scenario s) {
        assertClientsReachServerAt(s, before(s), s.serverAt(s.from), List.of());
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("scenarios")
    void serverAtSourceReachesClientsBeforeMigration(Scenario s) {
        assertServerReachesClients(s, before(s), s.serverAt(s.from), false);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("scenarios")
    void preparedTunnelRedirectsNothing(Scenario s) {
        assertClientsReachServerAt(s, prepared(s), s.serverAt(s.from), List.of());
        assertServerReachesClients(s, prepared(s), s.serverAt(s.from), false);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("scenarios")
    void clientsReachServerAtDestinationThroughTunnelAfterCutover(Scenario s) {
        assertClientsReachServerAt(s, cutover(s), new ConnectPoint(s.to.pe(), s.destinationPort()),
                List.of(s.migration.labels().forward()));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("scenarios")
    void serverAtDestinationReachesClientsThroughReversePathDuringCutover(Scenario s) {
        assertServerReachesClients(s, cutover(s), new ConnectPoint(s.to.pe(), s.destinationPort()), true);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("scenarios")
    void clientsReachServerAtDestinationDirectlyAfterRouteUpdate(Scenario s) {
        assertClientsReachServerAt(s, routesUpdated(s), s.serverAt(s.to), null);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("scenarios")
    void noPacketIsStrandedWhileTheRoutesChange(Scenario s) {
        // after every step of the route change, and with any one rule of the next step already in
        // (rules of one step are sent together and land in any order), every client reaches the server
        RouteChange change = s.planner.routeChange(s.server, s.from.name(), s.to.name());
        List<org.onosproject.net.flow.FlowRule> done = new java.util.ArrayList<>();
        for (List<org.onosproject.net.flow.FlowRule> step : change.steps()) {
            for (org.onosproject.net.flow.FlowRule r : step) {
                assertClientsReachServerAt(s, cutover(s).install(done).install(List.of(r)), s.serverAt(s.to), null);
            }
            done.addAll(step);
            assertClientsReachServerAt(s, cutover(s).install(done), s.serverAt(s.to), null);
        }
        assertEquals(RuleDiff.between(s.planner.serverRoutes(s.server, s.from.name()),
                s.planner.serverRoutes(s.server, s.to.name())).toInstall().size(), change.installCount());
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("scenarios")
    void serverAtDestinationReachesClientsDirectlyAfterRouteUpdate(Scenario s) {
        assertServerReachesClients(s, routesUpdated(s), s.serverAt(s.to), false);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("scenarios")
    void afterTeardownExactlyTheDestinationBaselineRemains(Scenario s) {
        RuleTable done = completed(s);
        assertTrue(done.holdsExactly(s.baseline(s.to.name())), "left: " + done.rules().size()
                + " rules, missing " + done.missing(s.baseline(s.to.name())));
        assertClientsReachServerAt(s, done, s.serverAt(s.to), List.of());
        assertServerReachesClients(s, done, s.serverAt(s.to), false);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("scenarios")
    void clientSitesReachEachOther(Scenario s) {
        PacketWalker walker = new PacketWalker(s.topology, before(s).rules());
        for (ClientSite a : s.topology.clientSites()) {
            for (ClientSite b : s.topology.clientSites()) {
                if (a.equals(b)) {
                    continue;
                }
                Trace t = walker.walk(s.siteAt(a), PacketWalker.ipv4(PacketWalker.firstHost(a.prefixes().get(0)),
                        PacketWalker.firstHost(b.prefixes().get(0)), a.mac(), s.topology.gatewayMac()));
                assertEquals(s.siteAt(b), t.deliveredAt(), a.name() + " -> " + b.name() + t);
                assertEquals(b.mac(), t.delivered().ethDst());
            }
        }
    }
}
