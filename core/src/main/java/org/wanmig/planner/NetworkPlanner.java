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
import org.wanmig.api.TunnelLabels;
import org.wanmig.api.WanmigException;
import org.wanmig.config.ClientSite;
import org.wanmig.config.DataCenter;
import org.wanmig.config.VirtualServer;
import org.wanmig.config.WanGraph;
import org.wanmig.config.WanTopology;

import java.util.ArrayList;
import java.util.Collection;
import java.util.HashSet;
import java.util.Set;
import java.util.stream.Collectors;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;

/**
 * Computes every flow rule wanmig needs, from the configuration alone: the baseline routes of
 * each server, the MPLS tunnel of a migration (PE_A to PE_B and back), the cutover redirect at
 * PE_A, and the routes after the move. Pure: same topology and migration, same rules, so a
 * restarted or newly elected instance recomputes exactly what its predecessor installed.
 */
public final class NetworkPlanner {
    public static final int PRIORITY_ARP = 100;
    public static final int PRIORITY_SITE_ROUTE = 900;
    /** A DC's aggregate route: below every server's own route, which is the exception to it. */
    public static final int PRIORITY_DC_ROUTE = 950;
    public static final int PRIORITY_SERVER_ROUTE = 1000;
    public static final int PRIORITY_TUNNEL = 1500;
    public static final int PRIORITY_REDIRECT = 2000;
    /** The redirect for traffic that arrives by the port the tunnel leaves from. */
    public static final int PRIORITY_REDIRECT_HAIRPIN = 2001;
    /** Bicast copies sit below the redirect, which shadows them from the cutover on. */
    public static final int PRIORITY_BICAST = 1900;
    public static final int PRIORITY_BICAST_HAIRPIN = 1901;
    /**
     * The table of PE_B's per-server deliveries out of a shared tunnel: the pair's egress pops the
     * label and continues here, where only tunnelled packets are looked up (a miss drops them, as
     * before the server attaches at PE_B).
     */
    public static final int TABLE_TUNNEL_DELIVERY = 1;

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
     * The aggregate routes of every DC with a configured prefix: from every client site toward the
     * DC's PE ({@code ip_dst=prefix}), and from the PE back to every site ({@code ip_src=prefix}),
     * one rule per switch and DC whatever the number of servers. Below every server route, so a
     * server that runs elsewhere is routed by its own rules (the exception), and the PE delivers
     * by each server's own rule. Nothing for a DC without a prefix.
     */
    public List<FlowRule> dcRoutes() {
        List<FlowRule> rules = new ArrayList<>();
        int dcNo = 0;
        for (DataCenter dc : topology.dataCenters()) {
            dcNo++;
            if (dc.prefix().isEmpty()) {
                continue;
            }
            Ip4Prefix block = dc.prefix().get();
            TrafficSelector toDc = DefaultTrafficSelector.builder().matchEthType(Ethernet.TYPE_IPV4)
                    .matchIPDst(block).build();
            long owner = dcNo;
            towardPe(dc.pe()).forEach((sw, treatment) -> rules.add(rule(sw, PRIORITY_DC_ROUTE, toDc, treatment,
                    Cookies.cookie(app, Cookies.KIND_DC_ROUTE, owner, ruleIndex(sw, 0, 0, 0)))));
            backToSites(dc.pe(), PRIORITY_DC_ROUTE, Cookies.KIND_DC_ROUTE, owner, rules,
                    site -> DefaultTrafficSelector.builder().matchEthType(Ethernet.TYPE_IPV4)
                            .matchIPSrc(block).matchIPDst(site).build());
        }
        return rules;
    }

    /** Whether {@link #dcRoutes} carry {@code server}'s traffic while it runs in {@code dcName}. */
    public boolean routedByPrefix(VirtualServer server, String dcName) {
        return dataCenter(dcName).prefix().map(p -> p.contains(server.ip())).orElse(false);
    }

    /**
     * The routes of {@code server} while it runs in {@code dcName}: from every client site to the
     * DC's PE, delivered to the server's port there, and from the PE back to every site. When the
     * DC's prefix holds the server's address, only the delivery at the PE: the DC's aggregate
     * routes ({@link #dcRoutes}) do the rest. A server away from the DC whose prefix holds it
     * has all its routes, above the aggregate (the exception).
     */
    public List<FlowRule> serverRoutes(VirtualServer server, String dcName) {
        DataCenter dc = dataCenter(dcName);
        PortNumber port = attachment(server, dcName);
        long owner = serverNumber(server);
        List<FlowRule> rules = new ArrayList<>();

        TrafficSelector toServer = DefaultTrafficSelector.builder().matchEthType(Ethernet.TYPE_IPV4)
                .matchIPDst(server.ip().toIpPrefix()).build();
        if (routedByPrefix(server, dcName)) {
            rules.add(rule(dc.pe(), PRIORITY_SERVER_ROUTE, toServer, deliverToServer(server, port),
                    Cookies.cookie(app, Cookies.KIND_SERVER_ROUTE, owner, ruleIndex(dc.pe(), 0, 0, 0))));
            return rules;
        }
        Map<DeviceId, TrafficTreatment> forward = new LinkedHashMap<>();
        forward.put(dc.pe(), deliverToServer(server, port));
        forward.putAll(towardPe(dc.pe()));
        forward.forEach((sw, treatment) -> rules.add(rule(sw, PRIORITY_SERVER_ROUTE, toServer, treatment,
                Cookies.cookie(app, Cookies.KIND_SERVER_ROUTE, owner, ruleIndex(sw, 0, 0, 0)))));
        backToSites(dc.pe(), PRIORITY_SERVER_ROUTE, Cookies.KIND_SERVER_ROUTE, owner, rules,
                site -> fromServer(server, site));
        return rules;
    }

    /**
     * Each switch on the way from a client site to {@code pe} (the PE excluded), with its output
     * toward it. A site with no path left (links down) has no route until one recovers.
     */
    private Map<DeviceId, TrafficTreatment> towardPe(DeviceId pe) {
        Map<DeviceId, PortNumber> tree = graph.treeToward(pe);
        Map<DeviceId, TrafficTreatment> forward = new LinkedHashMap<>();
        for (ClientSite site : topology.clientSites()) {
            if (!tree.containsKey(site.edge())) {
                continue;
            }
            for (DeviceId at = site.edge(); !at.equals(pe); at = graph.neighbour(at, tree.get(at))) {
                forward.putIfAbsent(at, output(tree.get(at)));
            }
        }
        return forward;
    }

    /** Routes from {@code pe} back to every client site it reaches, hop by hop, one per site prefix. */
    private void backToSites(DeviceId pe, int priority, int kind, long owner, List<FlowRule> rules,
                             Function<Ip4Prefix, TrafficSelector> toSitePrefix) {
        int siteNo = 0;
        for (ClientSite site : topology.clientSites()) {
            siteNo++;
            Map<DeviceId, PortNumber> back = graph.treeToward(site.edge());
            if (!pe.equals(site.edge()) && !back.containsKey(pe)) {
                continue;
            }
            for (int p = 0; p < site.prefixes().size(); p++) {
                TrafficSelector selector = toSitePrefix.apply(site.prefixes().get(p));
                for (DeviceId at = pe; ; at = graph.neighbour(at, back.get(at))) {
                    rules.add(rule(at, priority, selector, towardSite(at, site, back),
                            Cookies.cookie(app, kind, owner, ruleIndex(at, 1, siteNo, p))));
                    if (at.equals(site.edge())) {
                        break;
                    }
                }
            }
        }
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
        if (dataCenter(fromDc).prefix().isEmpty() && topology.dataCenters().stream().noneMatch(
                dc -> dc.prefix().map(p -> p.contains(server.ip())).orElse(false))) {
            steps.add(diff.additions());
        } else {
            // a new key may shadow an aggregate route that carries traffic now: nearest the new PE first too
            java.util.TreeMap<Integer, List<FlowRule>> added = new java.util.TreeMap<>();
            for (FlowRule r : diff.additions()) {
                added.computeIfAbsent(hopsToward(r.deviceId(), pe, tree), d -> new ArrayList<>()).add(r);
            }
            steps.addAll(added.values());
        }
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

    /** The rules of a migration as first planned. */
    public MigrationPlan migration(Migration m) {
        return migration(m, 0);
    }

    /**
     * Revision {@code revision} of a migration's plan, on the paths up now, with the labels of
     * {@code m}, which are the labels of its DC pair's shared tunnel (see {@link #tunnelLabels}).
     * <p>
     * The tunnel is the paper's PE-to-PE tunnel, shared by every server moving between the pair:
     * transit switches and both PEs' label rules are the pair's ({@link #pairTunnel}, cookie kind
     * {@link Cookies#KIND_TUNNEL}, owner = the forward label), identical in every plan that holds
     * those labels, so the desired-state union deduplicates them into one set that stays while any
     * migration of the pair needs it. Only the PEs carry per-server rules, with the migration's own
     * cookie: at PE_A the redirect (the server's address into the pair's label), at PE_B the
     * delivery by address in {@link #TABLE_TUNNEL_DELIVERY} (the pair's egress pops the label and
     * goes to that table) and the server's replies into the reverse labels. Each revision numbers
     * its per-server rules from its own base, so two revisions' cookies never collide while both
     * are installed during a make-before-break re-plan.
     */
    public MigrationPlan migration(Migration m, int revision) {
        VirtualServer server = topology.server(m.server())
                .orElseThrow(() -> WanmigException.notFound("server", "unknown server " + m.server()));
        DataCenter a = dataCenter(m.source());
        DataCenter b = dataCenter(m.destination());
        List<ConnectPoint> forward = path(a, b);
        List<ConnectPoint> reverse = path(b, a);
        long id = m.id().value();
        if (revision < 0 || revision > 255) {
            throw new IllegalStateException("plan revision out of range: " + revision);
        }
        int[] index = {revision << 12};

        List<FlowRule> tunnel = new ArrayList<>(pairTunnel(a, b, m.labels(), forward, reverse));
        int label = m.labels().forward();
        // at PE_B, after the pair's egress popped the label: this server's packets to its port there
        TrafficSelector toServer = DefaultTrafficSelector.builder().matchEthType(Ethernet.TYPE_IPV4)
                .matchIPDst(server.ip().toIpPrefix()).build();
        tunnel.add(migrationRule(id, index, b.pe(), TABLE_TUNNEL_DELIVERY, PRIORITY_TUNNEL, toServer,
                deliverToServer(server, PortNumber.portNumber(m.destinationPort()))));

        List<FlowRule> reverseIngress = new ArrayList<>();
        for (ClientSite site : topology.clientSites()) {
            int back = m.labels().reverseBySite().get(site.name());
            for (Ip4Prefix prefix : site.prefixes()) {
                // only the server's own port: replies from the server still at A may cross PE_B
                TrafficSelector fromMovedServer = DefaultTrafficSelector.builder(fromServer(server, prefix))
                        .matchInPort(PortNumber.portNumber(m.destinationPort())).build();
                reverseIngress.add(migrationRule(id, index, b.pe(), 0, PRIORITY_REDIRECT, fromMovedServer,
                        pushLabel(back, reverse.get(0).port())));
            }
        }

        PortNumber into = forward.get(0).port();
        FlowRule redirect = migrationRule(id, index, a.pe(), 0, PRIORITY_REDIRECT, toServer, pushLabel(label, into));
        // traffic that reached PE_A through the tunnel's first port must leave by IN_PORT: OpenFlow
        // switches drop an output to the ingress port (a PE with one WAN port sees only this case)
        FlowRule hairpin = migrationRule(id, index, a.pe(), 0, PRIORITY_REDIRECT_HAIRPIN,
                DefaultTrafficSelector.builder(toServer).matchInPort(into).build(),
                pushLabel(label, PortNumber.IN_PORT));
        List<FlowRule> bicast = new ArrayList<>();
        if (topology.settings().bicast()) {
            // deliver at A exactly as the server's route does, then copy into the tunnel
            TrafficTreatment local = deliverToServer(server, attachment(server, a.name()));
            bicast.add(migrationRule(id, index, a.pe(), 0, PRIORITY_BICAST, toServer,
                    then(local, pushLabel(label, into))));
            bicast.add(migrationRule(id, index, a.pe(), 0, PRIORITY_BICAST_HAIRPIN,
                    DefaultTrafficSelector.builder(toServer).matchInPort(into).build(),
                    then(local, pushLabel(label, PortNumber.IN_PORT))));
        }
        return new MigrationPlan(revision, forward, reverse, tunnel, reverseIngress, List.of(redirect, hairpin), bicast);
    }

    /**
     * The rules of the tunnel from {@code source} to {@code destination} with {@code labels}, on the
     * paths up now: no server in them, one set per DC pair and labels. Label switching on every
     * transit hop of both directions, the forward egress at PE_B (pop, then the per-server delivery
     * table), the reverse egress at PE_A (pop, then on toward the label's client site).
     */
    public List<FlowRule> pairTunnel(String source, String destination, TunnelLabels labels) {
        DataCenter a = dataCenter(source);
        DataCenter b = dataCenter(destination);
        return pairTunnel(a, b, labels, path(a, b), path(b, a));
    }

    private List<FlowRule> pairTunnel(DataCenter a, DataCenter b, TunnelLabels labels, List<ConnectPoint> forward,
                                      List<ConnectPoint> reverse) {
        long owner = labels.forward();
        int[] index = {0};
        List<FlowRule> rules = new ArrayList<>();
        int label = labels.forward();
        for (ConnectPoint hop : forward.subList(1, forward.size())) {
            rules.add(tunnelRule(owner, index, hop.deviceId(), 0, byLabel(label), output(hop.port())));
        }
        rules.add(tunnelRule(owner, index, b.pe(), 0, byLabel(label), DefaultTrafficTreatment.builder()
                .popMpls(EthType.EtherType.IPV4.ethType()).transition(TABLE_TUNNEL_DELIVERY).build()));
        for (ClientSite site : topology.clientSites()) {
            int back = labels.reverseBySite().get(site.name());
            for (ConnectPoint hop : reverse.subList(1, reverse.size())) {
                rules.add(tunnelRule(owner, index, hop.deviceId(), 0, byLabel(back), output(hop.port())));
            }
            // egress at PE_A: pop, then do what the server's own route at PE_A does for this site
            // (the label arrives on one port only; leaving by it again needs IN_PORT)
            TrafficTreatment onward = towardSite(a.pe(), site, graph.treeToward(site.edge()));
            PortNumber arrival = graph.far(reverse.get(reverse.size() - 1)).port();
            TrafficTreatment.Builder egressA = DefaultTrafficTreatment.builder()
                    .popMpls(EthType.EtherType.IPV4.ethType());
            onward.allInstructions().forEach(i -> egressA.add(outputsTo(i, arrival)
                    ? Instructions.createOutput(PortNumber.IN_PORT) : i));
            rules.add(tunnelRule(owner, index, a.pe(), 0, byLabel(back), egressA.build()));
        }
        return rules;
    }

    /**
     * The labels a new migration (or a re-plan) from {@code source} to {@code destination} uses:
     * those of an active migration of the same pair whose stored tunnel rules are exactly the
     * pair's tunnel on the paths up now (so the two plans share every one of those rules), else the
     * lowest free labels. Why not labels derived from the pair alone: after a link failure the
     * migrations of a pair are re-planned one by one, and until the last one is, the old and the new
     * path are both in the desired state; one label on two paths would be two rules with the same
     * key and different outputs on a switch both paths cross. With this rule, equal labels mean
     * equal tunnel rules, by construction, and a pair on a new path gets new labels (make before
     * break), the old ones going with the last plan that holds them.
     *
     * @param active the active migrations, with their stored plans
     * @throws WanmigException CONFLICT when the range has too few free labels, UNAVAILABLE with no path
     */
    public TunnelLabels tunnelLabels(String source, String destination, Collection<Migration> active) {
        DataCenter a = dataCenter(source);
        DataCenter b = dataCenter(destination);
        List<ConnectPoint> forward = path(a, b);
        List<ConnectPoint> reverse = path(b, a);
        Set<TunnelLabels> tried = new HashSet<>();
        for (Migration m : active) {
            if (m.plan() == null || !m.source().equals(source) || !m.destination().equals(destination)
                    || !m.labels().reverseBySite().keySet().equals(siteNames()) || !tried.add(m.labels())) {
                continue;
            }
            List<FlowRule> wanted = pairTunnel(a, b, m.labels(), forward, reverse);
            List<FlowRule> stored = m.plan().tunnel().stream()
                    .filter(r -> Cookies.kind(r.id().value()) == Cookies.KIND_TUNNEL).collect(Collectors.toList());
            if (RuleKey.sameRules(wanted, stored)) {
                return m.labels();
            }
        }
        return LabelAllocator.allocate(topology.labels(), active.stream().map(Migration::labels)
                .collect(Collectors.toList()), topology.clientSites());
    }

    private Set<String> siteNames() {
        return topology.clientSites().stream().map(ClientSite::name).collect(Collectors.toSet());
    }

    private List<ConnectPoint> path(DataCenter from, DataCenter to) {
        return graph.path(from.pe(), to.pe()).orElseThrow(() -> WanmigException.unavailable(
                "no WAN path from " + from.name() + " to " + to.name() + " over the links that are up"));
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

    private FlowRule migrationRule(long id, int[] index, DeviceId sw, int table, int priority, TrafficSelector match,
                                   TrafficTreatment treatment) {
        return rule(sw, table, priority, match, treatment, Cookies.cookie(app, Cookies.KIND_MIGRATION, id, index[0]++));
    }

    private FlowRule tunnelRule(long owner, int[] index, DeviceId sw, int table, TrafficSelector match,
                                TrafficTreatment treatment) {
        return rule(sw, table, PRIORITY_TUNNEL, match, treatment,
                Cookies.cookie(app, Cookies.KIND_TUNNEL, owner, index[0]++));
    }

    private FlowRule rule(DeviceId sw, int priority, TrafficSelector match, TrafficTreatment treatment, long cookie) {
        return rule(sw, 0, priority, match, treatment, cookie);
    }

    private FlowRule rule(DeviceId sw, int table, int priority, TrafficSelector match, TrafficTreatment treatment,
                          long cookie) {
        // the cookie's top bits are the app id: ONOS accepts either an app id or a cookie, not both
        return DefaultFlowRule.builder().forDevice(sw).forTable(table).withPriority(priority).withSelector(match)
                .withTreatment(treatment).withCookie(cookie).makePermanent().build();
    }
}
