package org.wanmig.lifecycle;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.onlab.packet.Ip4Prefix;
import org.onosproject.net.ConnectPoint;
import org.onosproject.net.DeviceId;
import org.onosproject.net.flow.FlowRule;
import org.onosproject.net.flow.instructions.Instruction;
import org.onosproject.net.flow.instructions.Instructions;
import org.wanmig.api.WanmigException;
import org.wanmig.config.ClientSite;
import org.wanmig.config.LinkStateSettings;
import org.wanmig.config.VirtualServer;
import org.wanmig.config.WanLink;
import org.wanmig.config.WanTopology;
import org.wanmig.planner.RuleDiff;
import org.wanmig.store.InMemoryMigrationStore;
import org.wanmig.testing.FakeNetwork;
import org.wanmig.testing.PacketWalker;
import org.wanmig.testing.RuleTable;
import org.wanmig.testing.Poll;
import org.wanmig.testing.Topologies;

import java.time.Clock;
import java.time.Duration;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.stream.Collectors;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Link reports in, routes out: the tracker takes failed links out of path selection at once,
 * brings recovered ones back only after the hold-down (no flapping), and the manager moves the
 * baseline make-before-break. On the 3-DC WAN (triangle core1-core2-core3), with every port faked.
 */
class LinkStateTrackerTest {
    private static final ConnectPoint CORE1_4 = ConnectPoint.deviceConnectPoint("of:0000000000000002/4");
    private static final ConnectPoint CORE3_4 = ConnectPoint.deviceConnectPoint("of:0000000000000005/4");
    private static final ConnectPoint CORE1_2 = ConnectPoint.deviceConnectPoint("of:0000000000000002/2");
    private static final ConnectPoint PEA_1 = ConnectPoint.deviceConnectPoint("of:000000000000000a/1");
    private static final DeviceId CORE1 = DeviceId.deviceId("of:0000000000000002");
    private static final DeviceId PEA = DeviceId.deviceId("of:000000000000000a");
    private static final DeviceId CORE2 = DeviceId.deviceId("of:0000000000000003");
    private static final DeviceId CORE3 = DeviceId.deviceId("of:0000000000000005");
    private static final DeviceId CS2 = DeviceId.deviceId("of:0000000000000004");
    private static final DeviceId PE_A = DeviceId.deviceId("of:000000000000000a");

    private LifecycleFixture f;
    private LinkStateTracker tracker;

    private void start(LinkStateSettings settings) {
        f = LifecycleFixture.start(Topologies.topology(Topologies.THREE_DC), new FakeNetwork(),
                new InMemoryMigrationStore());
        tracker = new LinkStateTracker(f.topology, settings, f.manager::updateTopology, Clock.systemUTC());
    }

    @AfterEach
    void stop() {
        if (tracker != null) {
            tracker.close();
        }
        if (f != null) {
            f.close();
        }
    }

    private void awaitReplans(int count) {
        Poll.until(count + " re-plan(s) confirmed", () -> tracker.events().size() >= count,
                () -> tracker.events().toString());
        assertEquals(count, tracker.events().size(), () -> tracker.events().toString());
    }

    /** The path from site2's host to vs1 over the switches' rules, on the links that really carry traffic. */
    private PacketWalker.Trace site2ToVs1(WanTopology network) {
        ClientSite site2 = f.topology.clientSite("site2").orElseThrow();
        VirtualServer vs1 = f.topology.server("vs1").orElseThrow();
        Ip4Prefix prefix = site2.prefixes().get(0);
        return new PacketWalker(network, f.network.tables().rules())
                .walk(new ConnectPoint(site2.edge(), site2.port()),
                        PacketWalker.ipv4(PacketWalker.firstHost(prefix), vs1.ip(), site2.mac(), f.topology.gatewayMac()));
    }

    private PacketWalker.Trace vs1ToSite2(WanTopology network) {
        ClientSite site2 = f.topology.clientSite("site2").orElseThrow();
        VirtualServer vs1 = f.topology.server("vs1").orElseThrow();
        return new PacketWalker(network, f.network.tables().rules())
                .walk(new ConnectPoint(PE_A, vs1.portAt("dcA").orElseThrow()),
                        PacketWalker.ipv4(vs1.ip(), PacketWalker.firstHost(site2.prefixes().get(0)), vs1.mac(),
                                f.topology.gatewayMac()));
    }

    private PacketWalker.Trace walk(RuleTable table, boolean toServer) {
        ClientSite site2 = f.topology.clientSite("site2").orElseThrow();
        VirtualServer vs1 = f.topology.server("vs1").orElseThrow();
        PacketWalker walker = new PacketWalker(f.topology, table.rules());
        Ip4Prefix prefix = site2.prefixes().get(0);
        return toServer
                ? walker.walk(new ConnectPoint(site2.edge(), site2.port()), PacketWalker.ipv4(
                        PacketWalker.firstHost(prefix), vs1.ip(), site2.mac(), f.topology.gatewayMac()))
                : walker.walk(new ConnectPoint(PE_A, vs1.portAt("dcA").orElseThrow()), PacketWalker.ipv4(
                        vs1.ip(), PacketWalker.firstHost(prefix), vs1.mac(), f.topology.gatewayMac()));
    }

    private WanTopology withLinkDown(ConnectPoint one, ConnectPoint two) {
        return f.topology.withLink(new WanLink(one, two, false));
    }

    private static boolean outputsTo(FlowRule r, ConnectPoint cp) {
        return r.deviceId().equals(cp.deviceId()) && r.treatment().allInstructions().stream()
                .anyMatch(i -> i.type() == Instruction.Type.OUTPUT
                        && ((Instructions.OutputInstruction) i).port().equals(cp.port()));
    }

    @Test
    void failedLinkIsRoutedAroundMakeBeforeBreak() {
        start(LinkStateSettings.DEFAULTS);
        assertEquals(List.of(CS2, CORE3, CORE1, PE_A), site2ToVs1(f.topology).switches(), "shortest path first");
        int installsBefore = f.network.installs().size();

        tracker.linkDown(CORE3_4, CORE1_4);
        awaitReplans(1);
        ReplanEvent e = tracker.events().get(0);
        assertTrue(e.confirmed(), e::toString);
        assertTrue(e.unreachable().isEmpty(), e::toString);
        assertEquals(1, e.linksOut().size(), e::toString);

        WanTopology dead = withLinkDown(CORE1_4, CORE3_4);
        PacketWalker.Trace there = site2ToVs1(dead);
        assertTrue(there.isDelivered(), there::toString);
        assertEquals(List.of(CS2, CORE3, CORE2, CORE1, PE_A), there.switches());
        PacketWalker.Trace back = vs1ToSite2(dead);
        assertTrue(back.isDelivered(), back::toString);
        assertEquals(List.of(PE_A, CORE1, CORE2, CORE3, CS2), back.switches());
        Poll.until("no rule sends into the dead link (old ones go after the grace)", () -> f.network.tables().rules()
                .stream().noneMatch(r -> outputsTo(r, CORE1_4) || outputsTo(r, CORE3_4)));

        // the reconciler's order: rules for new keys (core2 joins the paths), confirmed, then the
        // rules of core3 and core1 that sent into the dead link; two confirmed steps at most
        List<List<FlowRule>> installs = f.network.installs().subList(installsBefore, f.network.installs().size());
        assertTrue(installs.size() <= 2, "at most two confirmed steps: " + installs);
        Set<DeviceId> touched = installs.stream().flatMap(List::stream).map(FlowRule::deviceId)
                .collect(Collectors.toSet());
        assertEquals(Set.of(CORE2, CORE3, CORE1), touched);
    }

    @Test
    void recoveredLinkWaitsForTheHoldDownAndFlappingMovesNothing() {
        start(new LinkStateSettings(Duration.ofSeconds(2), true));
        tracker.linkDown(CORE1_4, CORE3_4);
        awaitReplans(1);
        List<FlowRule> detour = f.network.tables().rules();

        // it flaps: up, down, up inside the hold-down; the detour stays
        tracker.linkUp(CORE1_4, CORE3_4);
        tracker.linkDown(CORE1_4, CORE3_4);
        tracker.linkUp(CORE1_4, CORE3_4);
        assertEquals(LinkStateTracker.State.HOLD_DOWN, tracker.links().entrySet().stream()
                .filter(l -> l.getKey().one().equals(CORE1_4)).findFirst().orElseThrow().getValue());
        assertFalse(tracker.effective().links().stream().filter(l -> l.one().equals(CORE1_4)).findFirst()
                .orElseThrow().isUp(), "not used while held down");
        assertEquals(1, tracker.events().size(), "nothing re-planned while the link flaps");
        assertEquals(new HashSet<>(detour), new HashSet<>(f.network.tables().rules()));

        // stable for the hold-down: back on the shortest path, with one more re-plan
        int installsBefore = f.network.installs().size();
        awaitReplans(2);
        assertTrue(tracker.events().get(1).causes().get(0).contains("stayed up for the hold-down"),
                tracker.events().get(1)::toString);
        assertEquals(List.of(CS2, CORE3, CORE1, PE_A), site2ToVs1(f.topology).switches());
        assertEquals(List.of(PE_A, CORE1, CORE3, CS2), vs1ToSite2(f.topology).switches());
        Poll.until("nothing left over from the detour", () -> RuleDiff.between(f.network.tables().rules(),
                f.manager.baselineRules()).toRemove().isEmpty());

        // both paths work now: so must every state in between (make-before-break, step by step)
        RuleTable replay = new RuleTable(detour);
        List<List<FlowRule>> steps = f.network.installs().subList(installsBefore, f.network.installs().size());
        assertFalse(steps.isEmpty());
        for (List<FlowRule> step : steps) {
            replay.install(step);
            assertTrue(walk(replay, true).isDelivered(), () -> "site2 -> vs1 after " + step + ": " + walk(replay, true));
            assertTrue(walk(replay, false).isDelivered(), () -> "vs1 -> site2 after " + step + ": " + walk(replay, false));
        }
    }

    @Test
    void noPathLeftIsReportedAndRefusesMigrationsUntilTheLinkIsBack() {
        start(new LinkStateSettings(Duration.ofSeconds(60), true));
        tracker.linkDown(CORE1_2, PEA_1); // dcA's only WAN link
        awaitReplans(1);
        ReplanEvent e = tracker.events().get(0);
        assertTrue(e.confirmed(), e::toString);
        assertTrue(e.unreachable().containsAll(List.of("site1 / dcA", "site2 / dcA", "dcA / dcB", "dcA / dcC")),
                e::toString);
        WanmigException refused = assertThrows(WanmigException.class, () -> f.manager.startMigration("vs1", "dcB"));
        assertTrue(refused.getMessage().contains("no WAN path from dcA to dcB"), refused.getMessage());

        // the link that reconnects dcA is used at once, hold-down or not
        tracker.linkUp(PEA_1, CORE1_2);
        awaitReplans(2);
        assertTrue(tracker.events().get(1).unreachable().isEmpty());
        assertTrue(site2ToVs1(f.topology).isDelivered());
    }

    @Test
    void disconnectedSwitchTakesItsLinksOut() {
        start(new LinkStateSettings(Duration.ZERO, true));
        f.network.disconnect(CORE1);
        tracker.switchDown(CORE1);
        awaitReplans(1);
        assertEquals(4, tracker.events().get(0).linksOut().size(), tracker.events().get(0)::toString);
        assertTrue(tracker.events().get(0).linksOut().stream().allMatch(l -> l.contains("disconnected")));
        tracker.switchUp(CORE1);
        awaitReplans(2);
        assertTrue(tracker.events().get(1).linksOut().isEmpty());
    }

    /**
     * A control blip changes no route: a WAN switch's links stay while it has been disconnected for
     * less than the hold-down. Disconnected longer, it is routed around; when it reconnects, its
     * links come back at once (they were out because it could not be programmed, not because a port
     * flapped), so switches reconnecting to a running controller do not keep routes off the WAN.
     */
    @Test
    void aSwitchDisconnectedForLessThanTheHoldDownChangesNothingAndOneThatReconnectsIsNotHeld() throws Exception {
        start(new LinkStateSettings(Duration.ofMillis(800), true));
        tracker.switchDown(CORE1);
        Thread.sleep(200);
        tracker.switchUp(CORE1);
        Thread.sleep(1000);   // past the hold-down: nothing may follow the blip
        assertTrue(tracker.events().isEmpty(), () -> tracker.events().toString());
        assertEquals(f.topology, tracker.effective());

        f.network.disconnect(CORE1);
        tracker.switchDown(CORE1);
        assertEquals(f.topology, tracker.effective(), "still within the hold-down");
        awaitReplans(1);
        assertEquals(4, tracker.events().get(0).linksOut().size(), tracker.events().get(0)::toString);
        assertTrue(tracker.events().get(0).causes().get(0).contains("disconnected for the hold-down"),
                tracker.events().get(0)::toString);

        f.network.reconnect(CORE1);
        tracker.switchUp(CORE1);
        awaitReplans(2);
        assertTrue(tracker.events().get(1).linksOut().isEmpty(), tracker.events().get(1)::toString);
        assertTrue(tracker.links().values().stream().allMatch(st -> st == LinkStateTracker.State.UP),
                () -> tracker.links().toString());
        assertTrue(site2ToVs1(f.topology).isDelivered());
    }

    /**
     * A PE that only lost its controller keeps its links (its data plane may run on, and there is
     * no way around it); the connected neighbour reporting the link down takes it out.
     */
    @Test
    void aDisconnectedPeKeepsItsLinksUntilTheNeighbourReportsThemDown() {
        start(new LinkStateSettings(Duration.ZERO, true));
        f.network.disconnect(PEA);
        tracker.switchDown(PEA);
        assertEquals(f.topology, tracker.effective(), "the routes to dcA stay on the WAN");
        assertEquals(LinkStateTracker.State.UP, tracker.links().get(linkTo(PEA)));
        assertTrue(tracker.events().isEmpty(), () -> tracker.events().toString());
        tracker.linkDown(PEA_1, CORE1_2);
        awaitReplans(1);
        assertEquals(LinkStateTracker.State.DOWN, tracker.links().get(linkTo(PEA)));
        assertTrue(tracker.events().get(0).unreachable().contains("dcA / dcB"), tracker.events().get(0)::toString);
        // a WAN switch that lost its controller is still routed around (disconnectedSwitchTakesItsLinksOut)
    }

    private WanLink linkTo(DeviceId device) {
        return f.topology.links().stream().filter(l -> l.one().deviceId().equals(device)
                || l.two().deviceId().equals(device)).findFirst().orElseThrow();
    }

    @Test
    void withRerouteOffLinkReportsChangeNoRoute() throws Exception {
        start(new LinkStateSettings(Duration.ZERO, false));
        List<FlowRule> before = f.network.tables().rules();
        tracker.linkDown(CORE1_4, CORE3_4);
        assertEquals(LinkStateTracker.State.DOWN, tracker.links().get(f.topology.links().get(7)));
        assertTrue(tracker.events().isEmpty());
        assertEquals(f.topology, tracker.effective());
        assertEquals(new HashSet<>(before), new HashSet<>(f.network.tables().rules()));
    }

    @Test
    void newConfigurationKeepsWhatTheNetworkReported() {
        start(LinkStateSettings.DEFAULTS);
        tracker.linkDown(CORE1_4, CORE3_4);
        awaitReplans(1);
        WanTopology next = Topologies.topology(Topologies.THREE_DC, c -> Topologies.migration(c).put("drainSeconds", 1));
        tracker.configure(next, LinkStateSettings.DEFAULTS);
        awaitReplans(2);
        assertEquals(next.settings(), f.manager.topology().settings());
        assertFalse(f.manager.topology().links().get(7).isUp(), "the failed link stays out");
    }
}
