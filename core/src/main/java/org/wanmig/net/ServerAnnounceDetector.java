package org.wanmig.net;

import org.onlab.packet.ARP;
import org.onlab.packet.Ethernet;
import org.onlab.packet.Ip4Address;
import org.onlab.packet.MacAddress;
import org.onosproject.net.DeviceId;
import org.wanmig.config.DataCenter;
import org.wanmig.config.VirtualServer;
import org.wanmig.config.WanTopology;

import java.util.HashMap;
import java.util.Map;
import java.util.Optional;

/**
 * Recognises a server announcing itself at a data center's PE: the RARP a QEMU guest sends from
 * its MAC when it resumes, or a gratuitous ARP (sender and target both the server's address).
 * Seen at the destination's PE during a migration, it means the server runs there: for
 * hypervisors that report only after the fact, it is the earliest trigger for the cutover.
 */
public final class ServerAnnounceDetector {
    /** RARP, what QEMU's self-announce sends. */
    public static final short TYPE_RARP = (short) 0x8035;

    private final Map<MacAddress, VirtualServer> byMac = new HashMap<>();
    private final Map<DeviceId, DataCenter> byPe = new HashMap<>();

    public ServerAnnounceDetector(WanTopology topology) {
        topology.servers().forEach(s -> byMac.put(s.mac(), s));
        topology.dataCenters().forEach(dc -> byPe.put(dc.pe(), dc));
    }

    /** The server that announced itself, and where, if {@code frame} at {@code device} is one. */
    public Optional<Announce> detect(DeviceId device, Ethernet frame) {
        DataCenter dc = byPe.get(device);
        if (dc == null) {
            return Optional.empty();
        }
        VirtualServer server = byMac.get(frame.getSourceMAC());
        if (server == null) {
            return Optional.empty();
        }
        if (frame.getEtherType() == TYPE_RARP) {
            return Optional.of(new Announce(server.name(), dc.name(), "RARP"));
        }
        if (frame.getEtherType() == Ethernet.TYPE_ARP && frame.getPayload() instanceof ARP) {
            ARP arp = (ARP) frame.getPayload();
            if (arp.getSenderProtocolAddress().length == 4 && arp.getTargetProtocolAddress().length == 4) {
                Ip4Address sender = Ip4Address.valueOf(arp.getSenderProtocolAddress());
                Ip4Address target = Ip4Address.valueOf(arp.getTargetProtocolAddress());
                if (sender.equals(server.ip()) && target.equals(server.ip())) {
                    return Optional.of(new Announce(server.name(), dc.name(), "gratuitous ARP"));
                }
            }
        }
        return Optional.empty();
    }

    /** A server seen announcing itself at a data center's PE. */
    public static final class Announce {
        private final String server;
        private final String dataCenter;
        private final String kind;

        public Announce(String server, String dataCenter, String kind) {
            this.server = server;
            this.dataCenter = dataCenter;
            this.kind = kind;
        }

        public String server() {
            return server;
        }

        public String dataCenter() {
            return dataCenter;
        }

        public String kind() {
            return kind;
        }

        @Override
        public String toString() {
            return kind + " from " + server + " at " + dataCenter;
        }
    }
}
