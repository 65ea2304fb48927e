package org.wanmig.config;

import org.onlab.packet.Ip4Address;
import org.onlab.packet.MacAddress;
import org.onosproject.net.PortNumber;

import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.TreeMap;

/**
 * A virtual server: its address stays the same wherever it runs. {@code dc} and {@code port} are
 * where the configuration says it runs; {@code ports} names its attachment port at other DCs.
 */
public final class VirtualServer {
    private final String name;
    private final Ip4Address ip;
    private final MacAddress mac;
    private final Ip4Address gateway;
    private final String dc;
    private final PortNumber port;
    private final Map<String, PortNumber> ports;

    public VirtualServer(String name, Ip4Address ip, MacAddress mac, Ip4Address gateway, String dc,
                         PortNumber port, Map<String, PortNumber> ports) {
        this.name = Objects.requireNonNull(name);
        this.ip = Objects.requireNonNull(ip);
        this.mac = Objects.requireNonNull(mac);
        this.gateway = Objects.requireNonNull(gateway);
        this.dc = Objects.requireNonNull(dc);
        this.port = Objects.requireNonNull(port);
        TreeMap<String, PortNumber> all = new TreeMap<>(ports);
        all.put(dc, port);
        this.ports = Map.copyOf(all);
    }

    public String name() {
        return name;
    }

    public Ip4Address ip() {
        return ip;
    }

    public MacAddress mac() {
        return mac;
    }

    /** The default gateway the server uses; the MMS answers ARP for it at any PE. */
    public Ip4Address gateway() {
        return gateway;
    }

    /** The data center the configuration places the server in. */
    public String dc() {
        return dc;
    }

    public PortNumber port() {
        return port;
    }

    /** The server's attachment port at the PE of {@code dcName}, if one is configured. */
    public Optional<PortNumber> portAt(String dcName) {
        return Optional.ofNullable(ports.get(dcName));
    }

    public Map<String, PortNumber> ports() {
        return ports;
    }

    @Override
    public boolean equals(Object o) {
        if (!(o instanceof VirtualServer)) {
            return false;
        }
        VirtualServer v = (VirtualServer) o;
        return name.equals(v.name) && ip.equals(v.ip) && mac.equals(v.mac) && gateway.equals(v.gateway)
                && dc.equals(v.dc) && port.equals(v.port) && ports.equals(v.ports);
    }

    @Override
    public int hashCode() {
        return Objects.hash(name, ip, mac, dc, port);
    }

    @Override
    public String toString() {
        return name + "(" + ip + ")@" + dc;
    }
}
