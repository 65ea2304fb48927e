package org.wanmig.embedded.openflow;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.onlab.packet.ARP;
import org.onlab.packet.EthType;
import org.onlab.packet.Ethernet;
import org.onlab.packet.Ip4Address;
import org.onlab.packet.IpPrefix;
import org.onlab.packet.MacAddress;
import org.onlab.packet.MplsLabel;
import org.onosproject.net.DeviceId;
import org.onosproject.net.PortNumber;
import org.onosproject.net.flow.DefaultFlowRule;
import org.onosproject.net.flow.DefaultTrafficSelector;
import org.onosproject.net.flow.DefaultTrafficTreatment;
import org.onosproject.net.flow.FlowRule;
import org.onosproject.net.flow.TrafficSelector;
import org.onosproject.net.flow.TrafficTreatment;
import org.wanmig.spi.SwitchException;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The southbound against a real Open vSwitch (userspace datapath) on this machine. */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class OpenFlowOvsIT {
    private static final long WAIT_S = 20;

    private OpenFlowController controller;
    private OpenFlowNetworkProgrammer programmer;
    private final List<Ovs.Bridge> bridges = new ArrayList<>();
    private final BlockingQueue<Object> events = new LinkedBlockingQueue<>();
    private long cookies = ThreadLocalRandom.current().nextInt() & 0xffff_ffffL;

    @BeforeEach
    void start() throws Exception {
        Ovs.assumeInstalled();
        controller = new OpenFlowController(OpenFlowConfig.builder().bindAddress("127.0.0.1").port(0)
                .confirmTimeout(Duration.ofSeconds(5)).build());
        programmer = new OpenFlowNetworkProgrammer(controller);
        controller.addSwitchListener(new SwitchListener() {
            @Override
            public void switchConnected(SwitchInfo info) {
                events.add(new Connected(info));
            }

            @Override
            public void switchDisconnected(DeviceId device) {
                events.add(new Disconnected(device));
            }

            @Override
            public void portChanged(DeviceId device, PortInfo port, PortChange change) {
                events.add(new PortChanged(device, port, change));
            }
        });
        controller.start();
    }

    @AfterEach
    void stop() {
        bridges.forEach(Ovs.Bridge::close);
        if (programmer != null) {
            programmer.close();
        }
        if (controller != null) {
            controller.close();
        }
    }

    /** A bridge connected to the controller, handshake done. */
    private Ovs.Bridge connectedBridge() throws Exception {
        long dpid = 0x5700_0000_0000_0000L | (ThreadLocalRandom.current().nextLong() & 0xffff_ffffL);
        Ovs.Bridge br = new Ovs.Bridge(dpid, controller.localPort());
        bridges.add(br);
        Connected c = await(Connected.class, e -> e.info.dpid() == dpid);
        assertEquals(FlowRuleTranslator.deviceId(dpid), c.info.deviceId());
        assertTrue(programmer.isAvailable(c.info.deviceId()));
        return br;
    }

    private static DeviceId device(Ovs.Bridge br) {
        return FlowRuleTranslator.deviceId(br.dpid);
    }

    private FlowRule rule(Ovs.Bridge br, int priority, TrafficSelector selector, TrafficTreatment treatment) {
        long cookie = org.wanmig.planner.Cookies.TAG | (++cookies & 0xffff_ffff_ffffL);
        return DefaultFlowRule.builder().forDevice(device(br)).forTable(0).withPriority(priority)
                .withCookie(cookie).makePermanent().withSelector(selector).withTreatment(treatment).build();
    }

    private FlowRule pushRule(Ovs.Bridge br) {
        return rule(br, 40000, DefaultTrafficSelector.builder()
                        .matchInPort(PortNumber.portNumber(1))
                        .matchEthType(Ethernet.TYPE_IPV4)
                        .matchIPDst(IpPrefix.valueOf("10.20.0.7/32"))
                        .build(),
                DefaultTrafficTreatment.builder()
                        .setEthSrc(MacAddress.valueOf("02:57:a9:00:00:01"))
                        .setEthDst(MacAddress.valueOf("02:57:a9:00:00:02"))
                        .pushMpls()
                        .setMpls(MplsLabel.mplsLabel(1001))
                        .setOutput(PortNumber.portNumber(2))
                        .build());
    }

    private FlowRule transitRule(Ovs.Bridge br) {
        return rule(br, 40000, DefaultTrafficSelector.builder()
                        .matchInPort(PortNumber.portNumber(2))
                        .matchEthType(Ethernet.MPLS_UNICAST)
                        .matchMplsLabel(MplsLabel.mplsLabel(1001))
                        .build(),
                DefaultTrafficTreatment.builder().setMpls(MplsLabel.mplsLabel(1002))
                        .setOutput(PortNumber.portNumber(3)).build());
    }

    private FlowRule popRule(Ovs.Bridge br) {
        return rule(br, 40000, DefaultTrafficSelector.builder()
                        .matchInPort(PortNumber.portNumber(3))
                        .matchEthType(Ethernet.MPLS_UNICAST)
                        .matchMplsLabel(MplsLabel.mplsLabel(1002))
                        .build(),
                DefaultTrafficTreatment.builder().popMpls(EthType.EtherType.IPV4.ethType())
                        .setOutput(PortNumber.portNumber(4)).build());
    }

    private FlowRule arpToControllerRule(Ovs.Bridge br) {
        return rule(br, 50000, DefaultTrafficSelector.builder().matchEthType(Ethernet.TYPE_ARP).build(),
                DefaultTrafficTreatment.builder().setOutput(PortNumber.CONTROLLER).build());
    }

    private FlowRule prefixDropRule(Ovs.Bridge br) {
        return rule(br, 20000, DefaultTrafficSelector.builder()
                        .matchEthType(Ethernet.TYPE_IPV4)
                        .matchIPSrc(IpPrefix.valueOf("10.1.0.0/16"))
                        .matchIPDst(IpPrefix.valueOf("10.20.0.0/24"))
                        .build(),
                DefaultTrafficTreatment.builder().drop().build());
    }

    @Test
    void installIsConfirmedAndRemoveDeletes() throws Exception {
        Ovs.Bridge br = connectedBridge();
        FlowRule push = pushRule(br);
        FlowRule transit = transitRule(br);
        FlowRule pop = popRule(br);

        programmer.install(List.of(push, transit, pop)).get(WAIT_S, TimeUnit.SECONDS);

        // Confirmed means in the table already: no waiting here.
        String p = br.flow(push.id().value());
        assertNotNull(p, () -> "push rule missing: " + br.flows());
        assertTrue(p.contains("priority=40000,ip,in_port=1,nw_dst=10.20.0.7"), p);
        assertTrue(p.contains("actions=set_field:02:57:a9:00:00:01->eth_src,set_field:02:57:a9:00:00:02->eth_dst,"
                + "push_mpls:0x8847,set_field:1001->mpls_label,output:2"), p);
        String t = br.flow(transit.id().value());
        assertNotNull(t, () -> "transit rule missing: " + br.flows());
        assertTrue(t.contains("mpls,in_port=2,mpls_label=1001"), t);
        assertTrue(t.contains("actions=set_field:1002->mpls_label,output:3"), t);
        String o = br.flow(pop.id().value());
        assertNotNull(o, () -> "pop rule missing: " + br.flows());
        assertTrue(o.contains("actions=pop_mpls:0x0800,output:4"), o);

        programmer.remove(List.of(push, transit)).get(WAIT_S, TimeUnit.SECONDS);
        assertNull(br.flow(push.id().value()), () -> br.flows().toString());
        assertNull(br.flow(transit.id().value()), () -> br.flows().toString());
        assertNotNull(br.flow(pop.id().value()), () -> br.flows().toString());

        programmer.remove(List.of(pop)).get(WAIT_S, TimeUnit.SECONDS);
        assertEquals(List.of(), br.flows());
    }

    @Test
    void refusedRuleFailsTheInstallWithItsCookie() throws Exception {
        Ovs.Bridge br = connectedBridge();
        FlowRule good = pushRule(br);
        // OVS numbers ports below 0xff00: output to 70000 is refused with BAD_ACTION/BAD_OUT_PORT.
        FlowRule bad = rule(br, 30000, DefaultTrafficSelector.builder().matchInPort(PortNumber.portNumber(5)).build(),
                DefaultTrafficTreatment.builder().setOutput(PortNumber.portNumber(70000)).build());

        CompletableFuture<Void> f = programmer.install(List.of(good, bad));
        ExecutionException e = assertThrows(ExecutionException.class, () -> f.get(WAIT_S, TimeUnit.SECONDS));
        SwitchException se = assertInstanceOf(SwitchException.class, e.getCause());
        assertEquals(bad.id().value(), se.cookie());
        assertEquals(device(br), se.device());
        assertTrue(se.getMessage().contains("BAD_OUT_PORT"), se.getMessage());

        // The batch's good rule is in; the refused one is not.
        assertNotNull(br.flow(good.id().value()), () -> br.flows().toString());
        assertNull(br.flow(bad.id().value()));
    }

    @Test
    void switchNotConnectedFailsAtOnce() {
        DeviceId absent = FlowRuleTranslator.deviceId(0x5700_dead_0000_0001L);
        assertFalse(programmer.isAvailable(absent));
        FlowRule r = DefaultFlowRule.builder().forDevice(absent).forTable(0).withPriority(100)
                .withCookie(0x57A9_0000_0000_0001L).makePermanent()
                .withSelector(DefaultTrafficSelector.builder().matchInPort(PortNumber.portNumber(1)).build())
                .withTreatment(DefaultTrafficTreatment.builder().setOutput(PortNumber.portNumber(2)).build())
                .build();
        ExecutionException e = assertThrows(ExecutionException.class,
                () -> programmer.install(List.of(r)).get(WAIT_S, TimeUnit.SECONDS));
        SwitchException se = assertInstanceOf(SwitchException.class, e.getCause());
        assertEquals(absent, se.device());
    }

    @Test
    void reconnectKeepsTheTableAndReadShowsExactlyOurRules() throws Exception {
        Ovs.Bridge br = connectedBridge();
        List<FlowRule> ours = List.of(pushRule(br), transitRule(br), popRule(br), arpToControllerRule(br));
        programmer.install(ours).get(WAIT_S, TimeUnit.SECONDS);
        br.addFlow("cookie=0x1234,priority=100,in_port=8,actions=output:7");

        // a controller that goes away (kill -9) leaves a fail-secure switch's table alone, and a new
        // connection deletes nothing: the reconciler decides what goes after reading the table
        disconnect(br);
        br.setController(controller.localPort());
        await(Connected.class, c -> c.info.deviceId().equals(device(br)));
        List<FlowRule> read = programmer.read(device(br)).get(WAIT_S, TimeUnit.SECONDS);
        assertEquals(ours.size(), read.size(), read::toString);
        for (FlowRule r : ours) {
            assertTrue(read.stream().anyMatch(x -> org.wanmig.planner.RuleKey.sameRule(x, r)),
                    () -> "read back " + r + " from " + read);
        }
        assertNotNull(br.flow(0x1234), () -> "foreign rule must stay: " + br.flows());
    }

    @Test
    void removalWhileDisconnectedCompletesAndLeavesTheSwitchAlone() throws Exception {
        Ovs.Bridge br = connectedBridge();
        FlowRule push = pushRule(br);
        programmer.install(List.of(push)).get(WAIT_S, TimeUnit.SECONDS);
        disconnect(br);
        programmer.remove(List.of(push)).get(WAIT_S, TimeUnit.SECONDS);
        assertNotNull(br.flow(push.id().value()), "still on the switch while it is away");
    }

    /**
     * Points the bridge at a port nobody listens on: the switch drops our connection but, unlike
     * with del-controller, keeps its flow table (it still has a controller configured).
     */
    private void disconnect(Ovs.Bridge br) throws Exception {
        br.setController(1);
        await(Disconnected.class, d -> d.device.equals(device(br)));
    }

    @Test
    void arpRequestForGatewayIsAnsweredThroughPacketInAndOut() throws Exception {
        Ovs.Bridge br = connectedBridge();
        Ip4Address gateway = Ip4Address.valueOf("10.99.0.1");
        MacAddress gatewayMac = MacAddress.valueOf("02:57:a9:00:00:fe");
        BlockingQueue<PortNumber> packetIns = new LinkedBlockingQueue<>();
        controller.addPacketListener((device, inPort, frame) -> packetIns.add(inPort));
        controller.addPacketListener(new ArpPacketHandler(eth -> {
            ARP arp = (ARP) eth.getPayload();
            if (arp.getOpCode() == ARP.OP_REQUEST
                    && Ip4Address.valueOf(arp.getTargetProtocolAddress()).equals(gateway)) {
                return Optional.of(ARP.buildArpReply(gateway, gatewayMac, eth));
            }
            return Optional.empty();
        }, controller));

        String ns = br.addHost(1, "10.99.0.10/24");
        PortChanged added = await(PortChanged.class, pc -> pc.device.equals(device(br))
                && pc.port.number().toLong() == 1);
        assertEquals(SwitchListener.PortChange.ADDED, added.change);
        assertTrue(controller.switches().stream().filter(s -> s.deviceId().equals(device(br)))
                .flatMap(s -> s.ports().stream()).anyMatch(p -> p.number().toLong() == 1));

        programmer.install(List.of(arpToControllerRule(br))).get(WAIT_S, TimeUnit.SECONDS);

        // The ping itself gets no answer (nothing answers ICMP), but its ARP request does.
        Ovs.run(false, "ip", "netns", "exec", ns, "ping", "-c", "1", "-W", "2", gateway.toString());
        assertEquals(PortNumber.portNumber(1), packetIns.poll(WAIT_S, TimeUnit.SECONDS));
        String neigh = Ovs.run(true, "ip", "-n", ns, "neigh", "show", gateway.toString()).output;
        assertTrue(neigh.contains("lladdr " + gatewayMac.toString().toLowerCase()), neigh);
    }

    // ---- event plumbing ----

    /** Names bridges deleted behind the test's back (another process running Mininet's cleanup). */
    private String vanished() {
        String gone = bridges.stream().filter(b -> !b.exists()).map(b -> b.name)
                .collect(java.util.stream.Collectors.joining(", "));
        return gone.isEmpty() ? "" : "; bridge(s) " + gone + " were deleted by someone else (mn -c?)";
    }

    private <T> T await(Class<T> type, java.util.function.Predicate<T> test) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(WAIT_S);
        while (true) {
            Object e = events.poll(deadline - System.nanoTime(), TimeUnit.NANOSECONDS);
            assertNotNull(e, () -> "no " + type.getSimpleName() + " within " + WAIT_S + " s" + vanished());
            if (type.isInstance(e) && test.test(type.cast(e))) {
                return type.cast(e);
            }
        }
    }

    private static final class Connected {
        final SwitchInfo info;

        Connected(SwitchInfo info) {
            this.info = info;
        }
    }

    private static final class Disconnected {
        final DeviceId device;

        Disconnected(DeviceId device) {
            this.device = device;
        }
    }

    private static final class PortChanged {
        final DeviceId device;
        final PortInfo port;
        final SwitchListener.PortChange change;

        PortChanged(DeviceId device, PortInfo port, SwitchListener.PortChange change) {
            this.device = device;
            this.port = port;
            this.change = change;
        }
    }
}
