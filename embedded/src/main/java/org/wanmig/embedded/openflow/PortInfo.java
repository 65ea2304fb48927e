package org.wanmig.embedded.openflow;

import org.onlab.packet.MacAddress;
import org.onosproject.net.PortNumber;
import org.projectfloodlight.openflow.protocol.OFPortConfig;
import org.projectfloodlight.openflow.protocol.OFPortDesc;
import org.projectfloodlight.openflow.protocol.OFPortState;

import java.util.Objects;

/** One port of a connected switch, as the switch last described it. Immutable. */
public final class PortInfo {
    private final PortNumber number;
    private final String name;
    private final MacAddress mac;
    private final boolean adminUp;
    private final boolean linkUp;

    public PortInfo(PortNumber number, String name, MacAddress mac, boolean adminUp, boolean linkUp) {
        this.number = Objects.requireNonNull(number);
        this.name = Objects.requireNonNull(name);
        this.mac = Objects.requireNonNull(mac);
        this.adminUp = adminUp;
        this.linkUp = linkUp;
    }

    static PortInfo of(OFPortDesc desc) {
        return new PortInfo(PortNumber.portNumber(desc.getPortNo().getPortNumber() & 0xffffffffL),
                desc.getName(), MacAddress.valueOf(desc.getHwAddr().getBytes()),
                !desc.getConfig().contains(OFPortConfig.PORT_DOWN),
                !desc.getState().contains(OFPortState.LINK_DOWN));
    }

    public PortNumber number() {
        return number;
    }

    public String name() {
        return name;
    }

    public MacAddress mac() {
        return mac;
    }

    /** Not administratively disabled. */
    public boolean adminUp() {
        return adminUp;
    }

    public boolean linkUp() {
        return linkUp;
    }

    /** Whether the port can carry traffic now. */
    public boolean enabled() {
        return adminUp && linkUp;
    }

    @Override
    public boolean equals(Object o) {
        if (this == o) {
            return true;
        }
        if (!(o instanceof PortInfo)) {
            return false;
        }
        PortInfo p = (PortInfo) o;
        return number.toLong() == p.number.toLong() && name.equals(p.name) && mac.equals(p.mac)
                && adminUp == p.adminUp && linkUp == p.linkUp;
    }

    @Override
    public int hashCode() {
        return Objects.hash(number.toLong(), name, mac, adminUp, linkUp);
    }

    @Override
    public String toString() {
        return number.toLong() + "(" + name + ") " + mac + (adminUp ? "" : " admin-down")
                + (linkUp ? " link-up" : " link-down");
    }
}
