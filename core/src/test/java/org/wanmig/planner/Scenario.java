package org.wanmig.planner;

import org.onlab.packet.Ip4Address;
import org.onlab.packet.Ip4Prefix;
import org.onosproject.net.ConnectPoint;
import org.onosproject.net.PortNumber;
import org.onosproject.net.flow.FlowRule;
import org.wanmig.api.Migration;
import org.wanmig.api.MigrationId;
import org.wanmig.config.ClientSite;
import org.wanmig.config.DataCenter;
import org.wanmig.config.VirtualServer;
import org.wanmig.config.WanTopology;
import org.wanmig.testing.PacketWalker;
import org.wanmig.testing.Topologies;

import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

/** One migration on one test WAN, with its plan and the rule sets of each phase. */
final class Scenario {
    static final long ID = 42;

    final String name;
    final WanTopology topology;
    final NetworkPlanner planner;
    final VirtualServer server;
    final DataCenter from;
    final DataCenter to;
    final Migration migration;
    final MigrationPlan plan;

    private Scenario(String resource, String server, String from, String to) {
        this.name = resource.replace(".json", "") + " " + server + " " + from + "->" + to;
        this.topology = Topologies.topology(resource);
        this.planner = new NetworkPlanner(topology, Topologies.APP_ID);
        this.server = topology.server(server).orElseThrow();
        this.from = topology.dataCenter(from).orElseThrow();
        this.to = topology.dataCenter(to).orElseThrow();
        this.migration = Migration.requested(MigrationId.of(ID), server, from, to,
                planner.attachment(this.server, to).toLong(),
                LabelAllocator.allocate(topology.labels(), List.of(), topology.clientSites()), 0);
        this.plan = planner.migration(migration);
    }

    static Scenario of(String resource, String server, String from, String to) {
        return new Scenario(resource, server, from, to);
    }

    /** Every WAN shape the planner is tried on. */
    static Stream<Scenario> all() {
        return Stream.of(
                of(Topologies.TWO_DC, "vs1", "dcA", "dcB"),
                of(Topologies.TWO_DC_DIRECT, "vs1", "dcA", "dcB"),
                of(Topologies.TWO_DC_DIRECT, "vs1", "dcB", "dcA"),
                of(Topologies.THREE_DC, "vs1", "dcA", "dcC"),
                of(Topologies.THREE_DC, "vs2", "dcA", "dcB"),
                of(Topologies.THREE_DC, "vs1", "dcC", "dcB"),
                of(Topologies.THREE_DC_LINK_DOWN, "vs1", "dcA", "dcC"));
    }

    /** ARP, site routes and every server's routes, with this server in {@code dc}. */
    List<FlowRule> baseline(String dc) {
        List<FlowRule> rules = new ArrayList<>(planner.infrastructure());
        rules.addAll(planner.siteRoutes());
        rules.addAll(planner.dcRoutes());
        for (VirtualServer v : topology.servers()) {
            rules.addAll(planner.serverRoutes(v, v.equals(server) ? dc : v.dc()));
        }
        return rules;
    }

    ConnectPoint serverAt(DataCenter dc) {
        return new ConnectPoint(dc.pe(), planner.attachment(server, dc.name()));
    }

    ConnectPoint siteAt(ClientSite site) {
        return new ConnectPoint(site.edge(), site.port());
    }

    int reverseLabel(ClientSite site) {
        return migration.labels().reverseBySite().get(site.name());
    }

    /** A packet from a host of the site to the server. */
    PacketWalker.Packet clientToServer(ClientSite site, Ip4Prefix prefix) {
        return PacketWalker.ipv4(PacketWalker.firstHost(prefix), server.ip(), site.mac(), topology.gatewayMac());
    }

    /** A reply from the server to a host of the site. */
    PacketWalker.Packet serverToClient(Ip4Prefix prefix) {
        Ip4Address host = PacketWalker.firstHost(prefix);
        return PacketWalker.ipv4(server.ip(), host, server.mac(), topology.gatewayMac());
    }

    PortNumber destinationPort() {
        return PortNumber.portNumber(migration.destinationPort());
    }

    @Override
    public String toString() {
        return name;
    }
}
