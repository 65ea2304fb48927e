package org.wanmig.config;

import org.onlab.packet.Ip4Address;
import org.onlab.packet.Ip4Prefix;
import org.onlab.packet.MacAddress;
import org.onosproject.net.DeviceId;
import org.onosproject.net.PortNumber;

import java.util.List;
import java.util.Objects;

/**
 * A client site attached to an edge switch of the WAN. Its hosts (or its router, {@code mac})
 * sit behind one port and use {@code gateway} as their default gateway, answered by the MMS.
 */
public final class ClientSite {
    private final String name;
    private final DeviceId edge;
    private final PortNumber port;
    private final List<Ip4Prefix> prefixes;
    private final Ip4Address gateway;
    private final MacAddress mac;

    public ClientSite(String name, DeviceId edge, PortNumber port, List<Ip4Prefix> prefixes,
                      Ip4Address gateway, MacAddress mac) {
        this.name = Objects.requireNonNull(name);
        this.edge = Objects.requireNonNull(edge);
        this.port = Objects.requireNonNull(port);
        this.prefixes = List.copyOf(prefixes);
        this.gateway = Objects.requireNonNull(gateway);
        this.mac = Objects.requireNonNull(mac);
    }

    public String name() {
        return name;
    }

    public DeviceId edge() {
        return edge;
    }

    public PortNumber port() {
        return port;
    }

    public List<Ip4Prefix> prefixes() {
        return prefixes;
    }

    public Ip4Address gateway() {
        return gateway;
    }

    /** MAC of the site's host or router: the Ethernet destination of traffic delivered to the site. */
    public MacAddress mac() {
        return mac;
    }

    @Override
    public boolean equals(Object o) {
        if (!(o instanceof ClientSite)) {
            return false;
        }
        ClientSite s = (ClientSite) o;
        return name.equals(s.name) && edge.equals(s.edge) && port.equals(s.port)
                && prefixes.equals(s.prefixes) && gateway.equals(s.gateway) && mac.equals(s.mac);
    }

    @Override
    public int hashCode() {
        return Objects.hash(name, edge, port, prefixes, gateway, mac);
    }

    @Override
    public String toString() {
        return name + "@" + edge + "/" + port + prefixes;
    }
}
