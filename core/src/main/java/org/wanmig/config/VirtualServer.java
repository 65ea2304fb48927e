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
    /** Assumed when servers[].memoryMiB is not configured. */
    public static final long DEFAULT_MEMORY_MIB = 1024;
    /** Assumed when servers[].dirtyRateMiBps is not configured: an idle server (the estimate is a lower bound). */
    public static final double DEFAULT_DIRTY_RATE_MIBPS = 0;
    public static final int DEFAULT_PRIORITY = 0;

    private final String name;
    private final Ip4Address ip;
    private final MacAddress mac;
    private final Ip4Address gateway;
    private final String dc;
    private final PortNumber port;
    private final Map<String, PortNumber> ports;
    private final long memoryMiB;
    private final double dirtyRateMiBps;
    private final int priority;
    private final String group;
    /** The hypervisor driver of this server (servers[].hypervisor), or null for migration.hypervisor.driver. */
    private final String hypervisor;
    private final boolean replicated;
    private final String replicaAt;

    public VirtualServer(String name, Ip4Address ip, MacAddress mac, Ip4Address gateway, String dc,
                         PortNumber port, Map<String, PortNumber> ports) {
        this(name, ip, mac, gateway, dc, port, ports, DEFAULT_MEMORY_MIB, DEFAULT_DIRTY_RATE_MIBPS,
                DEFAULT_PRIORITY, null);
    }

    /**
     * With the evacuation profile: memory size and dirty rate (for the pre-copy estimate), priority
     * (higher moves earlier) and group (ordered by migration.evacuation.groupOrder); group may be null.
     */
    public VirtualServer(String name, Ip4Address ip, MacAddress mac, Ip4Address gateway, String dc,
                         PortNumber port, Map<String, PortNumber> ports, long memoryMiB, double dirtyRateMiBps,
                         int priority, String group) {
        this(name, ip, mac, gateway, dc, port, ports, memoryMiB, dirtyRateMiBps, priority, group, null, true);
    }

    /**
     * With the server's own hypervisor driver ("rest", "http", "qemu"; null: the configured default)
     * and whether its disk is on the data centers' replication agents (false: the MMS leaves its
     * storage alone, e.g. an emulated server next to a real VM whose disk is replicated).
     */
    public VirtualServer(String name, Ip4Address ip, MacAddress mac, Ip4Address gateway, String dc,
                         PortNumber port, Map<String, PortNumber> ports, long memoryMiB, double dirtyRateMiBps,
                         int priority, String group, String hypervisor, boolean replicated) {
        this.name = Objects.requireNonNull(name);
        this.ip = Objects.requireNonNull(ip);
        this.mac = Objects.requireNonNull(mac);
        this.gateway = Objects.requireNonNull(gateway);
        this.dc = Objects.requireNonNull(dc);
        this.port = Objects.requireNonNull(port);
        TreeMap<String, PortNumber> all = new TreeMap<>(ports);
        all.put(dc, port);
        this.ports = Map.copyOf(all);
        if (memoryMiB <= 0 || dirtyRateMiBps < 0 || Double.isNaN(dirtyRateMiBps)) {
            throw new IllegalArgumentException(name + ": memory must be positive and dirty rate non-negative");
        }
        this.memoryMiB = memoryMiB;
        this.dirtyRateMiBps = dirtyRateMiBps;
        this.priority = priority;
        this.group = group;
        this.hypervisor = hypervisor;
        this.replicated = replicated;
        this.replicaAt = null;
    }

    private VirtualServer(VirtualServer v, String replicaAt) {
        this.name = v.name;
        this.ip = v.ip;
        this.mac = v.mac;
        this.gateway = v.gateway;
        this.dc = v.dc;
        this.port = v.port;
        this.ports = v.ports;
        this.memoryMiB = v.memoryMiB;
        this.dirtyRateMiBps = v.dirtyRateMiBps;
        this.priority = v.priority;
        this.group = v.group;
        this.hypervisor = v.hypervisor;
        this.replicated = v.replicated;
        this.replicaAt = replicaAt;
    }

    /**
     * This server with the data center whose agent holds the other copy of its disk (null: not
     * known). The two copies swap roles as the server moves between its home and that DC, so it can
     * move (or fail over) only to whichever of the two it is not in.
     */
    public VirtualServer withReplicaAt(String dcName) {
        return new VirtualServer(this, dcName);
    }

    /** The data center of its disk's other copy, if configured (servers[].replicaAt). */
    public Optional<String> replicaAt() {
        return Optional.ofNullable(replicaAt);
    }

    /**
     * Where its disk's other copy is while it runs at {@code at}: the other member of the pair
     * (home, replicaAt); empty if no pair is configured or {@code at} is not in it.
     */
    public Optional<String> otherCopy(String at) {
        if (replicaAt == null || !replicated) {
            return Optional.empty();
        }
        return at.equals(dc) ? Optional.of(replicaAt) : at.equals(replicaAt) ? Optional.of(dc) : Optional.empty();
    }

    /** Whether its disk's copies allow it to move from {@code from} to {@code to} (always, if no pair is configured). */
    public boolean storageAllows(String from, String to) {
        return replicaAt == null || !replicated || otherCopy(from).map(to::equals).orElse(false);
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

    /** Memory size in MiB: what pre-copy sends in its first round. */
    public long memoryMiB() {
        return memoryMiB;
    }

    /** How fast the server dirties memory while running, in MiB/s: what each later round re-sends. */
    public double dirtyRateMiBps() {
        return dirtyRateMiBps;
    }

    /** Higher moves earlier within its group. */
    public int priority() {
        return priority;
    }

    /** The server's tier (e.g. "database"), or null. */
    public String group() {
        return group;
    }

    /** The hypervisor driver named for this server, if servers[].hypervisor sets one. */
    public Optional<String> hypervisor() {
        return Optional.ofNullable(hypervisor);
    }

    /** Whether the server's disk is on the replication agents (servers[].replicated, default true). */
    public boolean replicated() {
        return replicated;
    }

    @Override
    public boolean equals(Object o) {
        if (!(o instanceof VirtualServer)) {
            return false;
        }
        VirtualServer v = (VirtualServer) o;
        return name.equals(v.name) && ip.equals(v.ip) && mac.equals(v.mac) && gateway.equals(v.gateway)
                && dc.equals(v.dc) && port.equals(v.port) && ports.equals(v.ports)
                && memoryMiB == v.memoryMiB && Double.compare(dirtyRateMiBps, v.dirtyRateMiBps) == 0
                && priority == v.priority && Objects.equals(group, v.group)
                && Objects.equals(hypervisor, v.hypervisor) && replicated == v.replicated
                && Objects.equals(replicaAt, v.replicaAt);
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
