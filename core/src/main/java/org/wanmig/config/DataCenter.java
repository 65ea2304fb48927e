package org.wanmig.config;

import org.onlab.packet.Ip4Prefix;
import org.onosproject.net.DeviceId;
import org.onosproject.net.PortNumber;

import java.net.URI;
import java.util.List;
import java.util.Objects;

/** A data center as the network sees it: its provider edge switch and that switch's ports. */
public final class DataCenter {
    private final String name;
    private final DeviceId pe;
    private final List<PortNumber> wanPorts;
    private final List<PortNumber> serverPorts;
    private final URI agent;
    private final String agentToken;
    private final Capacity capacity;
    private final Ip4Prefix prefix;

    public DataCenter(String name, DeviceId pe, List<PortNumber> wanPorts, List<PortNumber> serverPorts,
                      URI agent, String agentToken) {
        this(name, pe, wanPorts, serverPorts, agent, agentToken, Capacity.UNLIMITED);
    }

    public DataCenter(String name, DeviceId pe, List<PortNumber> wanPorts, List<PortNumber> serverPorts,
                      URI agent, String agentToken, Capacity capacity) {
        this(name, pe, wanPorts, serverPorts, agent, agentToken, capacity, null);
    }

    /** @param prefix the DC's address block for aggregate routes (netcfg "prefix"), or null for none */
    public DataCenter(String name, DeviceId pe, List<PortNumber> wanPorts, List<PortNumber> serverPorts,
                      URI agent, String agentToken, Capacity capacity, Ip4Prefix prefix) {
        this.prefix = prefix;
        this.name = Objects.requireNonNull(name);
        this.pe = Objects.requireNonNull(pe);
        this.wanPorts = List.copyOf(wanPorts);
        this.serverPorts = List.copyOf(serverPorts);
        this.agent = agent;
        this.agentToken = agentToken;
        this.capacity = Objects.requireNonNull(capacity);
    }

    public String name() {
        return name;
    }

    /** The provider edge switch (PE) through which the data center is reached. */
    public DeviceId pe() {
        return pe;
    }

    public List<PortNumber> wanPorts() {
        return wanPorts;
    }

    public List<PortNumber> serverPorts() {
        return serverPorts;
    }

    /** Control endpoint of the data center's replication agent, or null when it has none. */
    public URI agent() {
        return agent;
    }

    public String agentToken() {
        return agentToken;
    }

    /** What the data center can host, for evacuation planning; unlimited unless configured. */
    public Capacity capacity() {
        return capacity;
    }

    /**
     * The DC's address block (netcfg "prefix"), if configured: one aggregate route per switch leads
     * it to the DC's PE, and only servers that run elsewhere need routes of their own.
     */
    public java.util.Optional<Ip4Prefix> prefix() {
        return java.util.Optional.ofNullable(prefix);
    }

    @Override
    public boolean equals(Object o) {
        if (!(o instanceof DataCenter)) {
            return false;
        }
        DataCenter d = (DataCenter) o;
        return name.equals(d.name) && pe.equals(d.pe) && wanPorts.equals(d.wanPorts)
                && serverPorts.equals(d.serverPorts) && Objects.equals(agent, d.agent)
                && Objects.equals(agentToken, d.agentToken) && capacity.equals(d.capacity)
                && Objects.equals(prefix, d.prefix);
    }

    @Override
    public int hashCode() {
        return Objects.hash(name, pe, wanPorts, serverPorts, agent);
    }

    @Override
    public String toString() {
        return name + "@" + pe;
    }
}
