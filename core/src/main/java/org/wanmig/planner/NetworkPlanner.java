package org.wanmig.planner;

import org.wanmig.net.ServerAnnounceDetector;

import org.onlab.packet.EthType;
import org.onlab.packet.Ethernet;
import org.onlab.packet.Ip4Prefix;
import org.onlab.packet.MplsLabel;
import org.onosproject.core.ApplicationId;
import org.onosproject.net.ConnectPoint;
import org.onosproject.net.DeviceId;
import org.onosproject.net.PortNumber;
import org.onosproject.net.flow.DefaultFlowRule;
import org.onosproject.net.flow.DefaultTrafficSelector;
import org.onosproject.net.flow.DefaultTrafficTreatment;
import org.onosproject.net.flow.FlowRule;
import org.onosproject.net.flow.TrafficSelector;
import org.onosproject.net.flow.TrafficTreatment;
import org.onosproject.net.flow.instructions.Instruction;
import org.onosproject.net.flow.instructions.Instructions;
import org.wanmig.api.Migration;
import org.wanmig.api.WanmigException;
import org.wanmig.config.ClientSite;
import org.wanmig.config.DataCenter;
import org.wanmig.config.VirtualServer;
import org.wanmig.config.WanGraph;
import org.wanmig.config.WanTopology;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Computes every flow rule wanmig needs, from the configuration alone: the baseline routes of
 * each server, the MPLS tunnel of a migration (PE_A to PE_B and back), the cutover redirect at
 * PE_A, and the routes after the move. Pure: same topology and migration, same rules, so a
 * restarted or newly elected instance recomputes exactly what its predecessor installed.
 */
public final class NetworkPlanner {
    public static final int PRIORITY_ARP = 100;
    public static final int PRIORITY_SITE_ROUTE = 900;
    public static final int PRIORITY_SERVER_ROUTE = 1000;
    public static final int PRIORITY_TUNNEL = 1500;
    public static final int PRIORITY_REDIRECT = 2000;
    /** The redirect for traffic that arrives by the port the tunnel leaves from. */
    public static final int PRIORITY_REDIRECT_HAIRPIN = 2001;
    /** Bicast copies sit below the redirect, which shadows them from the cutover on. */
    public static final int PRIORITY_BICAST = 1900;
    public static final int PRIORITY_BICAST_HAIRPIN = 1901;

    private final WanTopology topology;
    private final short app;
    private final WanGraph graph;
    private final List<DeviceId> switches;

    public NetworkPlanner(WanTopology topology, ApplicationId appId) {
        this.topology = topology;
        this.app = appId.id();
        this.graph = WanGraph.of(topology);
        this.switches = graph.switches();
    }

    public WanTopology topology() {
        return topology;
    }

    /** Every switch sends ARP to the controller, which answers for the gateways; PEs send RARP too. */
    public List<FlowRule> infrastructure() {
        List<FlowRule> rules = new ArrayList<>();
        for (DeviceId sw : switches) {
            rules.add(rule(sw, PRIORITY_ARP, DefaultTrafficSelector.builder().matchEthType(Ethernet.TYPE_ARP).build(),
                    DefaultTrafficTreatment.builder().punt().build(),
                    Cookies.cookie(app, Cookies.KIND_INFRASTRUCTURE, 0, switches.indexOf(sw))));
        }
        // A resumed guest's RARP at its new PE is the network's first sign that it runs there.
        for (DataCenter dc : topology.dataCenters()) {
            rules.add(rule(dc.pe(), PRIORITY_ARP, DefaultTrafficSelector.builder()
                            .matchEthType(ServerAnnounceDetector.TYPE_RARP).build(),
                    DefaultTrafficTreatment.builder().punt().build(),
                    Cookies.cookie(app, Cookies.KIND_INFRASTRUCTURE, 1, switches.indexOf(dc.pe()))));
        }
        return rules;
    }

    /** Routes between client sites (e.g. a DC's storage host reaching its peer's). */
    public List<FlowRule> siteRoutes() {
        List<FlowRule> rules = new ArrayList<>();
        List<ClientSite> sites = new ArrayList<>(topology.clientSites());
        for (int s = 0; s < sites.size(); s++) {
            ClientSite dst = sites.get(s);
            Map<DeviceId, PortNumber> tree = graph.treeToward(dst.edge());
            for (int p = 0; p < dst.prefixes().size(); p++) {
                Ip4Prefix prefix = dst.prefixes().get(p);
                TrafficSelector match = DefaultTrafficSelector.builder().matchEthType(Ethernet.TYPE_IPV4)
                        .matchIPDst(prefix).build();
                Map<DeviceId, TrafficTreatment> hops = new LinkedHashMap<>();
                hops.put(dst.edge(), deliverToSite(dst));
                for (ClientSite src : sites) {
                    for (DeviceId at = src.edge(); !at.equals(dst.edge()) && tree.containsKey(at);
                         at = graph.neighbour(at, tree.get(at))) {
                        hops.putIfAbsent(at, output(tree.get(at)));
                    }
                }
                for (Map.Entry<DeviceId, TrafficTreatment> h : hops.entrySet()) {
                    rules.add(rule(h.getKey(), PRIORITY_SITE_ROUTE, match, h.getValue(),
                            Cookies.cookie(app, Cookies.KIND_SITE_ROUTE, s + 1L, ruleIndex(h.getKey(), 0, 0, p))));
                }
            }
        }
        return rules;
    }

    /**
     * The routes of {@code server} while it runs in {@code dcName}: from every client site to the
     * DC's PE, delivered to the server's port there, and from the PE back to every site.
     */
    public List<FlowRule> serverRoutes(VirtualServer server, String dcName) {
        DataCenter dc = dataCenter(dcName);
        PortNumber port = attachment(server, dcName);
        long owner = serverNumber(server);
        List<FlowRule> rules = new ArrayList<>();

        TrafficSelector toServer = DefaultTrafficSelector.builder().matchEthType(Ethernet.TYPE_IPV4)
                .matchIPDst(server.ip().toIpPrefix()).build();
        Map<DeviceId, PortNumber> tree = graph.treeToward(dc.pe());
        Map<DeviceId, TrafficTreatment> forward = new LinkedHashMap<>();
        forward.put(dc.pe(), deliverToServer(server, port));
        for (ClientSite site : topology.clientSites()) {
            if (!site.edge().equals(dc.pe()) && !tree.containsKey(site.edge())) {
                continue; // no path left (links down): the site has no route until one recovers
            }
            for (DeviceId at = site.edge(); !at.equals(dc.pe()); at = graph.neighbour(at, tree.get(at))) {
                forward.putIfAbsent(at, output(tree.get(at)));
            }
        }
        forward.forEach((sw, treatment) -> rules.add(rule(sw, PRIORITY_SERVER_ROUTE, toServer, treatment,
                Cookies.cookie(app, Cookies.KIND_SERVER_ROUTE, owner, ruleIndex(sw, 0, 0, 0)))));

        int siteNo = 0;
        for (ClientSite site : topology.clientSites()) {
            siteNo++;
            Map<DeviceId, PortNumber> back = graph.treeToward(site.edge());
            if (!dc.pe().equals(site.edge()) && !back.containsKey(dc.pe())) {
                continue;
            }
            for (int p = 0; p < site.prefixes().size(); p++) {
                TrafficSelector fromServer = fromServer(server, site.prefixes().get(p));
                for (DeviceId at = dc.pe(); ; at = graph.neighbour(at, back.get(at))) {
                    rules.add(rule(at, PRIORITY_SERVER_ROUTE, fromServer, towardSite(at, site, back),
                            Cookies.cookie(app, Cookies.KIND_SERVER_ROUTE, owner, ruleIndex(at, 1, siteNo, p))));
                    if (at.equals(site.edge())) {
                        break;
                    }
                }
            }
        }
        return rules;
    }

    /** The server's routes moved from {@code fromDc} to {@code toDc}, in a safe order (see {@link RouteChange}). */
    public RouteChange routeChange(VirtualServer server, String fromDc, String toDc) {
        RuleDiff diff = RuleDiff.between(serverRoutes(server, fromDc), serverRoutes(server, toDc));
        DeviceId pe = dataCenter(toDc).pe();
        Map<DeviceId, PortNumber> tree = graph.treeToward(pe);
        java.util.TreeMap<Integer, List<FlowRule>> byDistance = new java.util.TreeMap<>();
        for (FlowRule r : diff.replacements()) {
            byDistance.computeIfAbsent(hopsToward(r.deviceId(), pe, tree), d -> new ArrayList<>()).add(r);
        }
        List<List<FlowRule>> steps = new ArrayList<>();
        steps.add(diff.additions());
        steps.addAll(byDistance.values());
        return new RouteChange(steps, diff.toRemove());
    }

    /** Hops from {@code at} to {@code root} along {@code tree}; unreachable switches count as farthest. */
    private int hopsToward(DeviceId at, DeviceId root, Map<DeviceId, PortNumber> tree) {
        int hops = 0;
        for (DeviceId d = at; !d.equals(root); d = graph.neighbour(d, tree.get(d))) {
            if (!tree.containsKey(d) || ++hops > switches.size()) {
                return Integer.MAX_VALUE;
            }
        }
        return hops;
    }

    /** The rules of a migration as first planned; all carry the migration's cookie. */
    public MigrationPlan migration(Migration m) {
        return migration(m, 0);
    }

    /**
     * Revision {@code revision} of a migration's plan, on the paths up now, with the labels of
     * {@code m}. Each revision numbers its rules from its own base, so the cookies (ONOS's flow ids)
     * of two revisions never collide while both are installed during a make-before-break re-plan.
     */
    public MigrationPlan migration(Migration m, int revision) {
        VirtualServer server = topology.server(m.server())
                .orElseThrow(() -> WanmigException.notFound("server", "unknown server " + m.server()));
        DataCenter a = dataCenter(m.source());
        DataCenter b = dataCenter(m.destination());
        List<ConnectPoint> forward = graph.path(a.pe(), b.pe()).orElseThrow(() -> WanmigException.unavailable(
                "no WAN path from " + a.name() + " to " + b.name() + " over the links that are up"));
        List<ConnectPoint> reverse = graph.path(b.pe(), a.pe()).orElseThrow(() -> WanmigException.unavailable(
                "no WAN path from " + b.name() + " to " + a.name() + " over the links that are up"));
        long id = m.id().value();
        if (revision < 0 || revision > 255) {
            throw new IllegalStateException("plan revision out of range: " + revision);
        }
        int[] index = {revision << 12};

        List<FlowRule> tunnel = new ArrayList<>();
        int label = m.labels().forward();
        for (ConnectPoint hop : forward.subList(1, forward.size())) {
            tunnel.add(migrationRule(id, index, hop.deviceId(), PRIORITY_TUNNEL, byLabel(label), output(hop.port())));
        }
        TrafficTreatment egressB = DefaultTrafficTreatment.builder().popMpls(EthType.EtherType.IPV4.ethType())
                .setEthSrc(topology.gatewayMac()).setEthDst(server.mac())
                .setOutput(PortNumber.portNumber(m.destinationPort())).build();
        tunnel.add(migrationRule(id, index, b.pe(), PRIORITY_TUNNEL, byLabel(label), egressB));

        List<FlowRule> reverseIngress = new ArrayList<>();
        for (ClientSite site : topology.clientSites()) {
            int back = m.labels().reverseBySite().get(site.name());
            for (Ip4Prefix prefix : site.prefixes()) {
                // only the server's own port: replies from the server still at A may cross PE_B
                TrafficSelector fromMovedServer = DefaultTrafficSelector.builder(fromServer(server, prefix))
                        .matchInPort(PortNumber.portNumber(m.destinationPort())).build();
                reverseIngress.add(migrationRule(id, index, b.pe(), PRIORITY_REDIRECT, fromMovedServer,
                        pushLabel(back, reverse.get(0).port())));
            }
            for (ConnectPoint hop : reverse.subList(1, reverse.size())) {
                tunnel.add(migrationRule(id, index, hop.deviceId(), PRIORITY_TUNNEL, byLabel(back),
                        output(hop.port())));
            }
            // egress at PE_A: pop, then do what the server's own route at PE_A does for this site
            // (the label arrives on one port only; leaving by it again needs IN_PORT)
            TrafficTreatment onward = towardSite(a.pe(), site, graph.treeToward(site.edge()));
            PortNumber arrival = graph.far(reverse.get(reverse.size() - 1)).port();
            TrafficTreatment.Builder egressA = DefaultTrafficTreatment.builder()
                    .popMpls(EthType.EtherType.IPV4.ethType());
            onward.allInstructions().forEach(i -> egressA.add(outputsTo(i, arrival)
                    ? Instructions.createOutput(PortNumber.IN_PORT) : i));
            tunnel.add(migrationRule(id, index, a.pe(), PRIORITY_TUNNEL, byLabel(back), egressA.build()));
        }

        TrafficSelector toServer = DefaultTrafficSelector.builder().matchEthType(Ethernet.TYPE_IPV4)
                .matchIPDst(server.ip().toIpPrefix()).build();
        PortNumber into = forward.get(0).port();
        FlowRule redirect = migrationRule(id, index, a.pe(), PRIORITY_REDIRECT, toServer, pushLabel(label, into));
        // traffic that reached PE_A through the tunnel's first port must leave by IN_PORT: OpenFlow
        // switches drop an output to the ingress port (a PE with one WAN port sees only this case)
        FlowRule hairpin = migrationRule(id, index, a.pe(), PRIORITY_REDIRECT_HAIRPIN,
                DefaultTrafficSelector.builder(toServer).matchInPort(into).build(),
                pushLabel(label, PortNumber.IN_PORT));
        List<FlowRule> bicast = new ArrayList<>();
        if (topology.settings().bicast()) {
            // deliver at A exactly as the server's route does, then copy into the tunnel
            TrafficTreatment local = deliverToServer(server, attachment(server, a.name()));
            bicast.add(migrationRule(id, index, a.pe(), PRIORITY_BICAST, toServer, then(local, pushLabel(label, into))));
            bicast.add(migrationRule(id, index, a.pe(), PRIORITY_BICAST_HAIRPIN,
                    DefaultTrafficSelector.builder(toServer).matchInPort(into).build(),
                    then(local, pushLabel(label, PortNumber.IN_PORT))));
        }
        return new MigrationPlan(revision, forward, reverse, tunnel, reverseIngress, List.of(redirect, hairpin), bicast);
    }

    /** The port {@code server} attaches to at {@code dcName}'s PE. */
    public PortNumber attachment(VirtualServer server, String dcName) {
        return server.portAt(dcName).orElseGet(() -> dataCenter(dcName).serverPorts().get(0));
    }

    // ---- helpers ---------------------------------------------------------------------------

    private DataCenter dataCenter(String name) {
        return topology.dataCenter(name)
                .orElseThrow(() -> WanmigException.notFound("destination", "unknown data center " + name));
    }

    private long serverNumber(VirtualServer server) {
        return new ArrayList<>(topology.servers()).indexOf(server) + 1L;
    }

    /** 8 bits switch, 1 bit direction, 5 bits site, 6 bits prefix: unique per owner. */
    private long ruleIndex(DeviceId sw, int direction, int site, int prefix) {
        int s = switches.indexOf(sw);
        if (s > 255 || site > 31 || prefix > 63) {
            throw new IllegalStateException("topology too large for the cookie layout: switch " + s
                    + " site " + site + " prefix " + prefix);
        }
        return ((long) s << 12) | ((long) direction << 11) | ((long) site << 6) | prefix;
    }

    private TrafficSelector fromServer(VirtualServer server, Ip4Prefix prefix) {
        return DefaultTrafficSelector.builder().matchEthType(Ethernet.TYPE_IPV4)
                .matchIPSrc(server.ip().toIpPrefix()).matchIPDst(prefix).build();
    }

    private TrafficTreatment towardSite(DeviceId at, ClientSite site, Map<DeviceId, PortNumber> tree) {
        return at.equals(site.edge()) ? deliverToSite(site) : output(tree.get(at));
    }

    private TrafficTreatment deliverToSite(ClientSite site) {
        return DefaultTrafficTreatment.builder().setEthSrc(topology.gatewayMac()).setEthDst(site.mac())
                .setOutput(site.port()).build();
    }

    private TrafficTreatment deliverToServer(VirtualServer server, PortNumber port) {
        return DefaultTrafficTreatment.builder().setEthSrc(topology.gatewayMac()).setEthDst(server.mac())
                .setOutput(port).build();
    }

    private static TrafficSelector byLabel(int label) {
        return DefaultTrafficSelector.builder().matchEthType(Ethernet.MPLS_UNICAST)
                .matchMplsLabel(MplsLabel.mplsLabel(label)).build();
    }

    private static TrafficTreatment pushLabel(int label, PortNumber out) {
        return DefaultTrafficTreatment.builder().pushMpls().setMpls(MplsLabel.mplsLabel(label)).setOutput(out).build();
    }

    private static boolean outputsTo(Instruction i, PortNumber port) {
        return i.type() == Instruction.Type.OUTPUT && ((Instructions.OutputInstruction) i).port().equals(port);
    }

    /** {@code first}'s actions followed by {@code second}'s, in one action list. */
    private static TrafficTreatment then(TrafficTreatment first, TrafficTreatment second) {
        TrafficTreatment.Builder both = DefaultTrafficTreatment.builder();
        first.allInstructions().forEach(both::add);
        second.allInstructions().forEach(both::add);
        return both.build();
    }

    private static TrafficTreatment output(PortNumber port) {
        return DefaultTrafficTreatment.builder().setOutput(port).build();
    }

    private FlowRule migrationRule(long id, int[] index, DeviceId sw, int priority, TrafficSelector match,
                                   TrafficTreatment treatment) {
        return rule(sw, priority, match, treatment, Cookies.cookie(app, Cookies.KIND_MIGRATION, id, index[0]++));
    }

    private FlowRule rule(DeviceId sw, int priority, TrafficSelector match, TrafficTreatment treatment, long cookie) {
        // the cookie's top bits are the app id: ONOS accepts either an app id or a cookie, not both
        return DefaultFlowRule.builder().forDevice(sw).forTable(0).withPriority(priority).withSelector(match)
                .withTreatment(treatment).withCookie(cookie).makePermanent().build();
    }
}
