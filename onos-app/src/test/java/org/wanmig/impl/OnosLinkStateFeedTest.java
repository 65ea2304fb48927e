package org.wanmig.impl;

import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.onlab.packet.ChassisId;
import org.onosproject.net.ConnectPoint;
import org.onosproject.net.DefaultDevice;
import org.onosproject.net.DefaultLink;
import org.onosproject.net.DefaultPort;
import org.onosproject.net.Device;
import org.onosproject.net.DeviceId;
import org.onosproject.net.Link;
import org.onosproject.net.Port;
import org.onosproject.net.PortNumber;
import org.onosproject.net.device.DeviceEvent;
import org.onosproject.net.device.DeviceListener;
import org.onosproject.net.device.DeviceServiceAdapter;
import org.onosproject.net.link.LinkEvent;
import org.onosproject.net.link.LinkListener;
import org.onosproject.net.link.LinkServiceAdapter;
import org.onosproject.net.provider.ProviderId;
import org.wanmig.config.WanLink;
import org.wanmig.spi.NetworkStateListener;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** ONOS's LinkService and DeviceService events, on the onos-api adapters, as link and switch reports. */
class OnosLinkStateFeedTest {
    private static final ProviderId PID = new ProviderId("of", "org.wanmig.test");
    private static final ConnectPoint A4 = ConnectPoint.deviceConnectPoint("of:0000000000000002/4");
    private static final ConnectPoint B4 = ConnectPoint.deviceConnectPoint("of:0000000000000005/4");
    private static final ConnectPoint A1 = ConnectPoint.deviceConnectPoint("of:0000000000000002/1");
    private static final ConnectPoint H1 = ConnectPoint.deviceConnectPoint("of:00000000000000ff/1");
    private static final DeviceId A = A4.deviceId();

    private final Links links = new Links();
    private final Devices devices = new Devices();
    private final List<String> reports = new CopyOnWriteArrayList<>();
    private OnosLinkStateFeed feed;

    /** LinkService as ONOS's link manager: discovered unidirectional links, listeners told of changes. */
    static final class Links extends LinkServiceAdapter {
        final Map<List<ConnectPoint>, Link> discovered = new ConcurrentHashMap<>();
        final List<LinkListener> listeners = new CopyOnWriteArrayList<>();
        /** Whether discovery has found every link between any two ports, ACTIVE (for the component tests). */
        volatile boolean everyLinkActive;
        /** Links removed since, which discovery no longer holds even with {@link #everyLinkActive}. */
        final Set<List<ConnectPoint>> vanished = ConcurrentHashMap.newKeySet();

        /** A LinkService whose discovery has found every link, ACTIVE, unless a test put or removed one. */
        static Links everyLinkActive() {
            Links l = new Links();
            l.everyLinkActive = true;
            return l;
        }

        @Override
        public Link getLink(ConnectPoint src, ConnectPoint dst) {
            Link l = discovered.get(List.of(src, dst));
            if (l == null && everyLinkActive && !vanished.contains(List.of(src, dst))) {
                return DefaultLink.builder().providerId(PID).src(src).dst(dst).type(Link.Type.DIRECT)
                        .state(Link.State.ACTIVE).build();
            }
            return l;
        }

        @Override
        public void addListener(LinkListener listener) {
            listeners.add(listener);
        }

        @Override
        public void removeListener(LinkListener listener) {
            listeners.remove(listener);
        }

        void put(ConnectPoint src, ConnectPoint dst, Link.State state) {
            Link l = DefaultLink.builder().providerId(PID).src(src).dst(dst).type(Link.Type.DIRECT).state(state).build();
            vanished.remove(List.of(src, dst));
            boolean known = discovered.put(List.of(src, dst), l) != null;
            LinkEvent e = new LinkEvent(known ? LinkEvent.Type.LINK_UPDATED : LinkEvent.Type.LINK_ADDED, l);
            listeners.forEach(x -> x.event(e));
        }

        void remove(ConnectPoint src, ConnectPoint dst) {
            vanished.add(List.of(src, dst));
            Link l = discovered.remove(List.of(src, dst));
            LinkEvent e = new LinkEvent(LinkEvent.Type.LINK_REMOVED, l);
            listeners.forEach(x -> x.event(e));
        }
    }

    static final class Devices extends DeviceServiceAdapter {
        final Set<DeviceId> available = ConcurrentHashMap.newKeySet();
        final Map<ConnectPoint, Port> ports = new ConcurrentHashMap<>();
        final List<DeviceListener> listeners = new CopyOnWriteArrayList<>();

        @Override
        public boolean isAvailable(DeviceId deviceId) {
            return available.contains(deviceId);
        }

        @Override
        public Port getPort(DeviceId deviceId, PortNumber portNumber) {
            return ports.get(new ConnectPoint(deviceId, portNumber));
        }

        @Override
        public void addListener(DeviceListener listener) {
            listeners.add(listener);
        }

        @Override
        public void removeListener(DeviceListener listener) {
            listeners.remove(listener);
        }

        static Device device(DeviceId id) {
            return new DefaultDevice(PID, id, Device.Type.SWITCH, "test", "1", "1", "1", new ChassisId(1));
        }

        void port(ConnectPoint cp, boolean enabled) {
            Port p = new DefaultPort(device(cp.deviceId()), cp.port(), enabled);
            ports.put(cp, p);
            DeviceEvent e = new DeviceEvent(DeviceEvent.Type.PORT_UPDATED, device(cp.deviceId()), p);
            listeners.forEach(x -> x.event(e));
        }

        void availability(DeviceId id, boolean up) {
            if (up) {
                available.add(id);
            } else {
                available.remove(id);
            }
            DeviceEvent e = new DeviceEvent(DeviceEvent.Type.DEVICE_AVAILABILITY_CHANGED, device(id));
            listeners.forEach(x -> x.event(e));
        }
    }

    @BeforeEach
    void start() {
        devices.available.addAll(Set.of(A, B4.deviceId()));
        devices.ports.put(A4, new DefaultPort(Devices.device(A), A4.port(), true));
        devices.ports.put(B4, new DefaultPort(Devices.device(B4.deviceId()), B4.port(), false)); // already down
        feed = feed(reports);
        feed.start();
    }

    private OnosLinkStateFeed feed(List<String> into) {
        return new OnosLinkStateFeed(links, devices, () -> List.of(new WanLink(A4, B4, true)),
                new NetworkStateListener() {
                    @Override
                    public void linkUp(ConnectPoint one, ConnectPoint two) {
                        into.add("up");
                    }

                    @Override
                    public void linkDown(ConnectPoint one, ConnectPoint two) {
                        into.add("down");
                    }

                    @Override
                    public void switchUp(DeviceId device) {
                        into.add("switch up " + device);
                    }

                    @Override
                    public void switchDown(DeviceId device) {
                        into.add("switch down " + device);
                    }
                });
    }

    /** What a feed started now on the current LinkService and DeviceService reports at once. */
    private List<String> reportsAtStart() {
        List<String> atStart = new ArrayList<>();
        OnosLinkStateFeed other = feed(atStart);
        other.start();
        other.stop();
        return atStart;
    }

    @Test
    void aPortAlreadyDownAtStartIsReported() {
        assertEquals(List.of("down"), reports);
    }

    @Test
    void atStartEveryDeclaredLinkIsReportedAsItIsNow() {
        devices.ports.put(B4, new DefaultPort(Devices.device(B4.deviceId()), B4.port(), true));
        assertEquals(List.of("down"), reportsAtStart(), "LinkService does not hold the link");

        links.put(A4, B4, Link.State.ACTIVE);
        links.put(B4, A4, Link.State.INACTIVE);
        assertEquals(List.of("down"), reportsAtStart(), "one direction INACTIVE");

        links.put(B4, A4, Link.State.ACTIVE);
        assertEquals(List.of("up"), reportsAtStart());

        devices.available.remove(B4.deviceId());
        assertEquals(List.of("switch down " + B4.deviceId()), reportsAtStart(),
                "a switch already unavailable, the other end's port enabled: the switch state says it");
        devices.ports.put(A4, new DefaultPort(Devices.device(A), A4.port(), false));
        assertEquals(List.of("switch down " + B4.deviceId(), "down"), reportsAtStart(),
                "a switch already unavailable and the other end's port disabled");
    }

    @Test
    void aLinkRemovedWithASwitchThatLostItsControllerIsNotALinkDown() {
        links.put(A4, B4, Link.State.ACTIVE);
        links.put(B4, A4, Link.State.ACTIVE);
        reports.clear();
        // ONOS takes an unavailable device's links away; A's port toward it is still enabled
        devices.availability(B4.deviceId(), false);
        links.remove(A4, B4);
        links.remove(B4, A4);
        assertEquals(List.of("switch down " + B4.deviceId()), reports,
                "the tracker weighs the switch (a PE keeps its links, a WAN switch is routed around)");
        devices.port(A4, false); // the switch is really gone: its neighbour loses the carrier
        assertEquals(List.of("switch down " + B4.deviceId(), "down"), reports);
    }

    @Test
    void upTakesBothDirectionsDiscoveredAndDownTakesEither() {
        reports.clear();
        links.put(A4, B4, Link.State.ACTIVE);
        assertEquals(List.of(), reports, "one direction is not a link yet");
        links.put(B4, A4, Link.State.ACTIVE);
        assertEquals(List.of("up"), reports);

        links.remove(B4, A4);
        assertEquals(List.of("up", "down"), reports);
        links.put(B4, A4, Link.State.ACTIVE);
        links.put(A4, B4, Link.State.INACTIVE);
        assertEquals(List.of("up", "down", "up", "down"), reports);
    }

    @Test
    void linksThatAreNotDeclaredAreIgnored() {
        reports.clear();
        links.put(A1, H1, Link.State.ACTIVE);
        links.put(H1, A1, Link.State.ACTIVE);
        links.remove(A1, H1);
        assertEquals(List.of(), reports);
    }

    @Test
    void aDisabledPortIsALinkDownBeforeDiscoveryNotices() {
        reports.clear();
        devices.port(A4, false);
        devices.port(A4, true); // back: the link is up once discovery finds it again
        devices.port(A1, false); // not a WAN link end
        assertEquals(List.of("down"), reports);
    }

    @Test
    void deviceAvailabilityIsTheSwitchState() {
        reports.clear();
        devices.availability(A, false);
        devices.availability(A, true);
        assertEquals(List.of("switch down " + A, "switch up " + A), reports);
        feed.stop();
        devices.availability(A, false);
        assertEquals(2, reports.size(), "nothing after stop");
    }
}
