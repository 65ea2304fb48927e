package org.wanmig.embedded.openflow;

import org.onosproject.net.DeviceId;

import java.net.SocketAddress;
import java.util.Comparator;
import java.util.List;
import java.util.Objects;
import java.util.stream.Collectors;

/** A snapshot of one connected switch: identity, where it connects from, and its ports. Immutable. */
public final class SwitchInfo {
    private final DeviceId deviceId;
    private final long dpid;
    private final SocketAddress remoteAddress;
    private final int tables;
    private final List<PortInfo> ports;

    public SwitchInfo(DeviceId deviceId, long dpid, SocketAddress remoteAddress, int tables, List<PortInfo> ports) {
        this.deviceId = Objects.requireNonNull(deviceId);
        this.dpid = dpid;
        this.remoteAddress = remoteAddress;
        this.tables = tables;
        this.ports = ports.stream().sorted(Comparator.comparingLong(p -> p.number().toLong()))
                .collect(Collectors.toUnmodifiableList());
    }

    public DeviceId deviceId() {
        return deviceId;
    }

    public long dpid() {
        return dpid;
    }

    public SocketAddress remoteAddress() {
        return remoteAddress;
    }

    /** Number of flow tables the switch reported. */
    public int tables() {
        return tables;
    }

    /** Ports sorted by number (the LOCAL port included when the switch reports it). */
    public List<PortInfo> ports() {
        return ports;
    }

    @Override
    public String toString() {
        return deviceId + " from " + remoteAddress + ", " + tables + " tables, ports " + ports;
    }
}
