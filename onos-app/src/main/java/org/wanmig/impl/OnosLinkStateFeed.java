package org.wanmig.impl;

import org.onosproject.net.ConnectPoint;
import org.onosproject.net.DeviceId;
import org.onosproject.net.Link;
import org.onosproject.net.Port;
import org.onosproject.net.device.DeviceEvent;
import org.onosproject.net.device.DeviceListener;
import org.onosproject.net.device.DeviceService;
import org.onosproject.net.link.LinkEvent;
import org.onosproject.net.link.LinkListener;
import org.onosproject.net.link.LinkService;
import org.wanmig.config.WanLink;
import org.wanmig.spi.NetworkStateListener;

import java.util.Collection;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.function.Supplier;

/**
 * Feeds ONOS's view of the network to the core's link-state model. The configured (netcfg) links
 * stay the declared set; whether one is up comes from what ONOS discovered: a declared link is up
 * when LinkService holds it ACTIVE in both directions, and down when either direction is removed
 * or goes INACTIVE, or when DeviceService reports either end's port disabled (that comes before
 * link discovery notices). A device that becomes unavailable is reported as a switch down; the
 * links ONOS then removes with it are not reported down while the other end is available with its
 * port enabled: a switch that only lost its controller may still forward, and the core's tracker
 * decides (it routes around a WAN switch but keeps a PE's links, so that a controller-side
 * partition does not withdraw the routes to a data center). A dead switch takes its links down at
 * the connected end, whose port ONOS reports disabled.
 * <p>
 * ONOS calls the listeners on its event threads; the core's tracker queues every report onto its
 * own thread, so nothing here blocks ONOS.
 */
final class OnosLinkStateFeed {
    private final LinkService links;
    private final DeviceService devices;
    private final Supplier<Collection<WanLink>> declared;
    private final NetworkStateListener network;
    private final LinkListener linkListener = this::linkEvent;
    private final DeviceListener deviceListener = this::deviceEvent;

    OnosLinkStateFeed(LinkService links, DeviceService devices, Supplier<Collection<WanLink>> declared,
                      NetworkStateListener network) {
        this.links = links;
        this.devices = devices;
        this.declared = declared;
        this.network = network;
    }

    /**
     * Listens, then reports the current state of every declared link (the tracker counts a link it
     * was told nothing about as up): a switch ONOS does not have available is down, and a link is
     * up only when both ends are available, neither port is disabled and LinkService holds it
     * ACTIVE in both directions, else down (not discovered yet, or INACTIVE).
     */
    void start() {
        links.addListener(linkListener);
        devices.addListener(deviceListener);
        Collection<WanLink> now = declared.get();
        Set<DeviceId> unavailable = new LinkedHashSet<>();
        for (WanLink l : now) {
            for (ConnectPoint end : List.of(l.one(), l.two())) {
                if (!devices.isAvailable(end.deviceId())) {
                    unavailable.add(end.deviceId());
                }
            }
        }
        unavailable.forEach(network::switchDown);
        for (WanLink l : now) {
            if (goneWithOneEnd(l)) {
                continue; // the switch's state says it: see the class comment
            }
            if (carries(l)) {
                network.linkUp(l.one(), l.two());
            } else {
                network.linkDown(l.one(), l.two());
            }
        }
    }

    private boolean carries(WanLink l) {
        return devices.isAvailable(l.one().deviceId()) && devices.isAvailable(l.two().deviceId())
                && !portDisabled(l.one()) && !portDisabled(l.two())
                && active(links.getLink(l.one(), l.two())) && active(links.getLink(l.two(), l.one()));
    }

    /** One end's switch is unavailable while the other is available and its port not disabled. */
    private boolean goneWithOneEnd(WanLink l) {
        boolean one = devices.isAvailable(l.one().deviceId());
        boolean two = devices.isAvailable(l.two().deviceId());
        if (one == two) {
            return false;
        }
        ConnectPoint connected = one ? l.one() : l.two();
        return !portDisabled(connected);
    }

    void stop() {
        links.removeListener(linkListener);
        devices.removeListener(deviceListener);
    }

    private boolean portDisabled(ConnectPoint cp) {
        if (!devices.isAvailable(cp.deviceId())) {
            return false; // unknown yet: the device's own events will say
        }
        Port port = devices.getPort(cp.deviceId(), cp.port());
        return port != null && !port.isEnabled();
    }

    private WanLink declaredBetween(ConnectPoint a, ConnectPoint b) {
        for (WanLink l : declared.get()) {
            if (l.one().equals(a) && l.two().equals(b) || l.one().equals(b) && l.two().equals(a)) {
                return l;
            }
        }
        return null;
    }

    private static boolean active(Link l) {
        return l != null && l.state() == Link.State.ACTIVE;
    }

    void linkEvent(LinkEvent event) {
        Link link = event.subject();
        WanLink wan = declaredBetween(link.src(), link.dst());
        if (wan == null) {
            return; // not a WAN link of ours (an access link, another app's)
        }
        boolean up = event.type() != LinkEvent.Type.LINK_REMOVED && active(link)
                && active(links.getLink(link.dst(), link.src()));
        if (up) {
            network.linkUp(wan.one(), wan.two());
        } else if ((event.type() == LinkEvent.Type.LINK_REMOVED || !active(link)) && !goneWithOneEnd(wan)) {
            network.linkDown(wan.one(), wan.two());
        }
        // else: one direction discovered, the other not yet: wait for it
    }

    void deviceEvent(DeviceEvent event) {
        DeviceId device = event.subject().id();
        switch (event.type()) {
            case DEVICE_ADDED:
            case DEVICE_AVAILABILITY_CHANGED:
                if (devices.isAvailable(device)) {
                    network.switchUp(device);
                } else {
                    network.switchDown(device);
                }
                break;
            case DEVICE_REMOVED:
            case DEVICE_SUSPENDED:
                network.switchDown(device);
                break;
            case PORT_UPDATED:
            case PORT_REMOVED:
                Port port = event.port();
                if (port == null || event.type() == DeviceEvent.Type.PORT_UPDATED && port.isEnabled()) {
                    return; // a port coming back is not a link: discovery reports the link when it is
                }
                ConnectPoint cp = new ConnectPoint(device, port.number());
                for (WanLink l : declared.get()) {
                    if (l.one().equals(cp) || l.two().equals(cp)) {
                        network.linkDown(l.one(), l.two());
                    }
                }
                break;
            default:
                break;
        }
    }
}
