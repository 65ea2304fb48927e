package org.wanmig.embedded.openflow;

import org.onosproject.net.ConnectPoint;
import org.onosproject.net.DeviceId;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.wanmig.config.WanLink;
import org.wanmig.spi.NetworkStateListener;

import java.util.Collection;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Turns what the switches say about their ports into the state of the configured WAN links: a link
 * is down when either end's port is administratively down (OFPPC_PORT_DOWN) or has no carrier
 * (OFPPS_LINK_DOWN), from the port description at connect and every PORT_STATUS after; it is up
 * again once both ends are connected and both ports are up. A switch that disconnects is reported
 * as such (the core takes its links out, a PE's only when the connected end reports its port
 * down, which is reported here also while the other end is disconnected).
 * <p>
 * Only changes are reported. A link is not reported until both its switches have connected once,
 * so a runtime that starts while switches connect one by one does not see failures that are not.
 * Runs on the controller's event thread (one callback at a time), so the maps need no locks.
 */
public final class WanLinkMonitor implements SwitchListener {
    private static final Logger log = LoggerFactory.getLogger(WanLinkMonitor.class);

    private final List<WanLink> links;
    private final NetworkStateListener network;
    private final Map<ConnectPoint, Boolean> portUp = new HashMap<>();
    private final Set<DeviceId> connected = new HashSet<>();
    private final Map<WanLink, Boolean> reported = new HashMap<>();

    public WanLinkMonitor(Collection<WanLink> links, NetworkStateListener network) {
        this.links = List.copyOf(links);
        this.network = network;
    }

    @Override
    public void switchConnected(SwitchInfo info) {
        DeviceId device = info.deviceId();
        portUp.keySet().removeIf(cp -> cp.deviceId().equals(device)); // the description replaces what we knew
        info.ports().forEach(p -> portUp.put(new ConnectPoint(device, p.number()), p.enabled()));
        connected.add(device);
        network.switchUp(device);
        links.stream().filter(l -> touches(l, device)).forEach(this::evaluate);
    }

    @Override
    public void switchDisconnected(DeviceId device) {
        connected.remove(device);
        network.switchDown(device);
    }

    @Override
    public void portChanged(DeviceId device, PortInfo port, PortChange change) {
        ConnectPoint cp = new ConnectPoint(device, port.number());
        boolean up = change != PortChange.REMOVED && port.enabled();
        Boolean was = portUp.put(cp, up);
        if (was == null || was != up) {
            log.info("port {} {} ({})", cp, up ? "up" : "down", port);
        }
        links.stream().filter(l -> l.one().equals(cp) || l.two().equals(cp)).forEach(this::evaluate);
    }

    private static boolean touches(WanLink l, DeviceId device) {
        return l.one().deviceId().equals(device) || l.two().deviceId().equals(device);
    }

    private void evaluate(WanLink l) {
        boolean oneConnected = connected.contains(l.one().deviceId());
        boolean twoConnected = connected.contains(l.two().deviceId());
        if (!oneConnected && !twoConnected) {
            return;
        }
        boolean up;
        if (oneConnected != twoConnected) {
            // the disconnected end is reported as the switch being down; the connected end still
            // sees its port, and its port down is the link down (what tells a dead PE from one
            // that only lost the controller)
            if (portUp.getOrDefault(oneConnected ? l.one() : l.two(), true)) {
                return;
            }
            up = false;
        } else {
            up = portUp.getOrDefault(l.one(), false) && portUp.getOrDefault(l.two(), false);
        }
        Boolean was = reported.put(l, up);
        if (was != null && was == up) {
            return;
        }
        if (up) {
            network.linkUp(l.one(), l.two());
        } else {
            network.linkDown(l.one(), l.two());
        }
    }
}
