package org.wanmig.net;

import org.onlab.packet.ARP;
import org.onlab.packet.Ethernet;
import org.onlab.packet.Ip4Address;
import org.wanmig.config.ClientSite;
import org.wanmig.config.VirtualServer;
import org.wanmig.config.WanTopology;

import java.util.HashSet;
import java.util.Optional;
import java.util.Set;

/**
 * Answers ARP requests for gateway addresses with the virtual gateway MAC, at whatever edge the
 * request arrives. Hosts therefore need no static ARP entries, and a migrated server finds its
 * gateway at the destination PE with the same MAC it knew at the source. ARP is never tunnelled.
 */
public final class GatewayArpResponder {
    private final WanTopology topology;
    private final Set<Ip4Address> gateways = new HashSet<>();

    public GatewayArpResponder(WanTopology topology) {
        this.topology = topology;
        topology.clientSites().stream().map(ClientSite::gateway).forEach(gateways::add);
        topology.servers().stream().map(VirtualServer::gateway).forEach(gateways::add);
    }

    /** The reply to send back out of the port the request came in on, if the request is ours. */
    public Optional<Ethernet> reply(Ethernet frame) {
        if (frame.getEtherType() != Ethernet.TYPE_ARP) {
            return Optional.empty();
        }
        ARP arp = (ARP) frame.getPayload();
        if (arp == null || arp.getOpCode() != ARP.OP_REQUEST) {
            return Optional.empty();
        }
        Ip4Address target = Ip4Address.valueOf(arp.getTargetProtocolAddress());
        if (!gateways.contains(target)) {
            return Optional.empty();
        }
        return Optional.of(ARP.buildArpReply(target, topology.gatewayMac(), frame));
    }
}
