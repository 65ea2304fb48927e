package org.wanmig.impl;

import org.wanmig.testing.WanmigFixtures;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.onlab.packet.ARP;
import org.onlab.packet.Ethernet;
import org.onlab.packet.Ip4Address;
import org.onlab.packet.MacAddress;
import org.onosproject.codec.impl.CodecManager;
import org.onosproject.core.ApplicationId;
import org.onosproject.core.CoreServiceAdapter;
import org.onosproject.net.ConnectPoint;
import org.onosproject.net.DeviceId;
import org.onosproject.net.config.Config;
import org.onosproject.net.config.ConfigFactory;
import org.onosproject.net.config.NetworkConfigEvent;
import org.onosproject.net.config.NetworkConfigListener;
import org.onosproject.net.config.NetworkConfigRegistryAdapter;
import org.onosproject.net.device.DeviceServiceAdapter;
import org.onosproject.net.flow.FlowRuleOperation;
import org.onosproject.net.flow.FlowRuleOperations;
import org.onosproject.net.flow.instructions.Instructions.OutputInstruction;
import org.onosproject.net.packet.DefaultInboundPacket;
import org.onosproject.net.packet.OutboundPacket;
import org.onosproject.net.packet.PacketContextAdapter;
import org.onosproject.net.packet.PacketProcessor;
import org.onosproject.net.packet.PacketServiceAdapter;
import org.onosproject.store.service.TestStorageService;
import org.wanmig.api.Migration;
import org.wanmig.api.WanmigException;
import org.wanmig.config.DataCenter;
import org.wanmig.config.VirtualServer;
import org.wanmig.planner.Cookies;

import java.nio.ByteBuffer;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.BooleanSupplier;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.wanmig.testing.WanmigFixtures.APP_ID;

/** The component with ONOS's services replaced by adapters: activation, configuration, leadership, ARP. */
class WanmigComponentTest {
    private final FakeCluster fake = new FakeCluster();
    private final ConfirmingFlowRuleService flows = new ConfirmingFlowRuleService();
    private final FakeConfigRegistry configs = new FakeConfigRegistry();
    private final RecordingPacketService packets = new RecordingPacketService();
    private final CodecManager codecs = new CodecManager();
    private final OnosLinkStateFeedTest.Links links = OnosLinkStateFeedTest.Links.everyLinkActive();
    private WanmigComponent component;

    /** Confirms every operation at once (on its own thread), as switches that accept everything would. */
    static final class ConfirmingFlowRuleService extends FakeFlowRuleService {
        final List<ApplicationId> removedById = new CopyOnWriteArrayList<>();

        ConfirmingFlowRuleService() {
            super(0);
        }

        @Override
        public void removeFlowRulesById(ApplicationId id) {
            removedById.add(id);
        }
    }

    static final class FakeConfigRegistry extends NetworkConfigRegistryAdapter {
        final List<ConfigFactory> factories = new CopyOnWriteArrayList<>();
        final List<NetworkConfigListener> listeners = new CopyOnWriteArrayList<>();
        volatile WanmigConfig current;

        @Override
        public void registerConfigFactory(ConfigFactory factory) {
            factories.add(factory);
        }

        @Override
        public void unregisterConfigFactory(ConfigFactory factory) {
            factories.remove(factory);
        }

        @Override
        @SuppressWarnings("unchecked")
        public <S, C extends Config<S>> C getConfig(S subject, Class<C> configClass) {
            return configClass == WanmigConfig.class && APP_ID.equals(subject) ? (C) current : null;
        }

        @Override
        public void addListener(NetworkConfigListener listener) {
            listeners.add(listener);
        }

        @Override
        public void removeListener(NetworkConfigListener listener) {
            listeners.remove(listener);
        }

        /** Pushes a configuration as onos-netcfg would: stored, then CONFIG_ADDED or CONFIG_UPDATED. */
        void push(ObjectNode json) {
            WanmigConfig previous = current;
            current = WanmigConfigTest.config(json);
            NetworkConfigEvent event = new NetworkConfigEvent(previous == null ? NetworkConfigEvent.Type.CONFIG_ADDED
                    : NetworkConfigEvent.Type.CONFIG_UPDATED, APP_ID, current, previous, WanmigConfig.class);
            listeners.forEach(l -> l.event(event));
        }
    }

    static final class RecordingPacketService extends PacketServiceAdapter {
        final List<PacketProcessor> processors = new CopyOnWriteArrayList<>();
        final List<OutboundPacket> emitted = new CopyOnWriteArrayList<>();

        @Override
        public void addProcessor(PacketProcessor processor, int priority) {
            processors.add(processor);
        }

        @Override
        public void removeProcessor(PacketProcessor processor) {
            processors.remove(processor);
        }

        @Override
        public void emit(OutboundPacket packet) {
            emitted.add(packet);
        }
    }

    @BeforeEach
    void setUp() {
        codecs.activate();
        component = new WanmigComponent();
        component.coreService = new CoreServiceAdapter() {
            @Override
            public ApplicationId registerApplication(String name) {
                assertEquals("org.wanmig.app", name);
                return APP_ID;
            }
        };
        component.configRegistry = configs;
        component.codecService = codecs;
        component.flowRuleService = flows;
        component.deviceService = new DeviceServiceAdapter() {
            @Override
            public boolean isAvailable(DeviceId deviceId) {
                return true;
            }

            @Override
            public org.onosproject.net.Port getPort(DeviceId deviceId, org.onosproject.net.PortNumber portNumber) {
                return null; // no port known: the link feed assumes nothing at start
            }
        };
        component.storageService = new TestStorageService();
        component.leadershipService = fake.leadership;
        component.clusterService = fake.cluster;
        component.packetService = packets;
        component.linkService = links;
    }

    @AfterEach
    void tearDown() {
        if (component != null && !packets.processors.isEmpty()) {
            component.deactivate();
        }
    }

    private static void eventually(String what, BooleanSupplier condition) throws InterruptedException {
        for (int i = 0; i < 300; i++) {
            if (condition.getAsBoolean()) {
                return;
            }
            Thread.sleep(10);
        }
        throw new AssertionError("never: " + what);
    }

    private long baselineRulesApplied() {
        return flows.rules(FlowRuleOperation.Type.ADD).stream()
                .filter(r -> Cookies.kind(r.id().value()) == Cookies.KIND_INFRASTRUCTURE).count();
    }

    @Test
    void withoutConfigurationItRegistersEverythingAndRefusesRequests() {
        component.activate();
        assertEquals(1, configs.factories.size());
        assertEquals("wanmig", configs.factories.get(0).configKey());
        assertNotNull(codecs.getCodec(Migration.class));
        assertNotNull(codecs.getCodec(DataCenter.class));
        assertNotNull(codecs.getCodec(VirtualServer.class));
        assertEquals(1, packets.processors.size());
        assertEquals(List.of("org.wanmig.app"), fake.candidacies);

        assertTrue(component.dataCenters().isEmpty());
        assertTrue(component.migrations().isEmpty());
        WanmigException e = assertThrows(WanmigException.class, () -> component.startMigration("vs1", "dcB"));
        assertEquals(WanmigException.Kind.UNAVAILABLE, e.kind());
        assertThrows(WanmigException.class, component::planner);
        assertTrue(flows.operations.isEmpty(), "nothing to install without a configuration");
    }

    @Test
    void configurationPresentAtActivationBringsTheManagerUpAndTheLeaderInstallsTheBaseline() throws Exception {
        configs.current = WanmigConfigTest.config(WanmigFixtures.restDriverConfig());
        component.activate();
        eventually("baseline installed", () -> baselineRulesApplied() > 0);
        assertEquals(2, component.dataCenters().size());
        assertNotNull(component.planner());

        Migration m = component.startMigration("vs1", "dcB");
        assertEquals("vs1", m.server());
        assertEquals(m.id(), component.activeMigration("vs1").orElseThrow().id());
    }

    @Test
    void configurationPushedLaterIsApplied() throws Exception {
        component.activate();
        configs.push(WanmigFixtures.restDriverConfig());
        eventually("configured", () -> component.dataCenters().size() == 2);
        eventually("baseline installed", () -> baselineRulesApplied() > 0);
    }

    @Test
    void aDiscoveredLinkThatVanishesMovesTheBaselineAroundIt() throws Exception {
        // 3-DC WAN, triangle core1 (2) - core2 (3) - core3 (5): site2 reaches vs1 at dcA via core3-core1
        ConnectPoint core1 = ConnectPoint.deviceConnectPoint("of:0000000000000002/4");
        ConnectPoint core3 = ConnectPoint.deviceConnectPoint("of:0000000000000005/4");
        DeviceId core2 = DeviceId.deviceId("of:0000000000000003");
        configs.current = WanmigConfigTest.config(org.wanmig.testing.Topologies.config(
                org.wanmig.testing.Topologies.THREE_DC));
        component.activate();
        eventually("baseline installed", () -> baselineRulesApplied() > 0);
        eventually("link listener registered", () -> !links.listeners.isEmpty());
        java.util.function.Supplier<Long> vs1RoutesAtCore2 = () -> flows.rules(FlowRuleOperation.Type.ADD).stream()
                .filter(r -> r.deviceId().equals(core2) && r.selector().toString().contains("IPV4_DST:10.2.0.10/32"))
                .count();
        assertEquals(0L, vs1RoutesAtCore2.get(), "core2 is on no path to vs1 at first");

        links.put(core1, core3, org.onosproject.net.Link.State.ACTIVE);
        links.put(core3, core1, org.onosproject.net.Link.State.ACTIVE);
        links.remove(core3, core1);
        eventually("site2's route to vs1 goes through core2", () -> vs1RoutesAtCore2.get() > 0);
    }

    @Test
    void aSwitchThatComesBackIsReadAndBroughtInLine() throws Exception {
        ObjectNode json = WanmigFixtures.restDriverConfig();
        json.putObject("linkState").put("reroute", false); // no re-plan on switch state: only reconciliation
        WanmigConfig config = WanmigConfigTest.config(json);
        OnosLinkStateFeedTest.Devices devices = new OnosLinkStateFeedTest.Devices();
        devices.available.addAll(config.topology().allSwitches());
        component.deviceService = devices;
        configs.current = config;
        component.activate();
        eventually("baseline installed", () -> baselineRulesApplied() > 0);
        org.onosproject.net.flow.FlowRule lost = flows.rules(FlowRuleOperation.Type.ADD).get(0);
        DeviceId sw = lost.deviceId();
        java.util.function.BooleanSupplier inStore = () -> flows.table.getOrDefault(sw, java.util.Map.of())
                .containsKey(lost.id().value());
        eventually("baseline confirmed", inStore);

        devices.availability(sw, false);
        flows.table.get(sw).remove(lost.id().value()); // gone from the switch and ONOS's store meanwhile
        int before = flows.operations.size();
        Thread.sleep(100);
        assertFalse(inStore.getAsBoolean());
        devices.availability(sw, true);
        eventually("the lost rule is installed again", inStore);
        assertTrue(flows.operations.subList(before, flows.operations.size()).stream()
                .flatMap(o -> o.stages().stream()).flatMap(java.util.Set::stream)
                .allMatch(op -> op.rule().deviceId().equals(sw)), "only the switch that came back is touched");

        devices.availability(DeviceId.deviceId("of:00000000000000ee"), true); // not configured: left alone
        component.deactivate();
        assertTrue(devices.listeners.isEmpty(), "no listener left behind");
    }

    @Test
    void invalidUpdateKeepsTheTopologyInForceAndAValidOneReplacesIt() throws Exception {
        component.activate();
        configs.push(WanmigFixtures.restDriverConfig());
        eventually("configured", () -> component.servers().size() == 1);

        ObjectNode broken = WanmigFixtures.restDriverConfig();
        ((ObjectNode) broken.path("servers").get(0)).put("dc", "dcZ");
        configs.push(broken);
        ObjectNode twoServers = WanmigFixtures.restDriverConfig();
        ObjectNode vs2 = ((ObjectNode) twoServers.path("servers").get(0)).deepCopy();
        vs2.put("name", "vs2").put("ip", "10.2.0.11").put("mac", "00:00:00:00:02:11").put("port", 3);
        vs2.putObject("ports").put("dcB", 3);
        twoServers.path("dataCenters").forEach(dc -> ((ObjectNode) dc).putArray("serverPorts").add(2).add(3));
        twoServers.withArray("servers").add(vs2);
        assertEquals(List.of(), WanmigConfigTest.config(twoServers).problems());
        configs.push(twoServers);

        eventually("valid update applied", () -> component.servers().size() == 2);
        assertEquals("dcA", component.location("vs1"), "the broken config (vs1 in dcZ) was never applied");
    }

    @Test
    void followerInstallsNothingUntilElected() throws Exception {
        fake.winner = FakeCluster.OTHER;
        configs.current = WanmigConfigTest.config(WanmigFixtures.restDriverConfig());
        component.activate();
        eventually("configured", () -> component.dataCenters().size() == 2);
        Thread.sleep(100);
        assertEquals(0, baselineRulesApplied(), "a follower leaves the switches to the leader");
        assertEquals(WanmigException.Kind.UNAVAILABLE,
                assertThrows(WanmigException.class, () -> component.startMigration("vs1", "dcB")).kind());

        fake.elect("org.wanmig.app", FakeCluster.LOCAL);
        eventually("baseline installed once elected", () -> baselineRulesApplied() > 0);
        eventually("drives migrations", () -> {
            try {
                return component.startMigration("vs1", "dcB") != null;
            } catch (WanmigException e) {
                return false;
            }
        });
    }

    @Test
    void arpForAGatewayIsAnsweredOutOfThePortItCameIn() throws Exception {
        configs.current = WanmigConfigTest.config(WanmigFixtures.restDriverConfig());
        component.activate();
        eventually("configured", () -> component.dataCenters().size() == 2);
        PacketProcessor processor = packets.processors.get(0);

        MacAddress vsMac = MacAddress.valueOf("00:00:00:00:02:10");
        ConnectPoint in = ConnectPoint.deviceConnectPoint("of:000000000000000b/2");
        Ethernet request = ARP.buildArpRequest(vsMac.toBytes(), Ip4Address.valueOf("10.2.0.10").toOctets(),
                Ip4Address.valueOf("10.2.0.254").toOctets(), Ethernet.VLAN_UNTAGGED);
        PacketContextAdapter context = new PacketContextAdapter(0,
                new DefaultInboundPacket(in, request, ByteBuffer.wrap(request.serialize())), null, false);
        processor.process(context);

        assertEquals(1, packets.emitted.size());
        OutboundPacket out = packets.emitted.get(0);
        assertEquals(in.deviceId(), out.sendThrough());
        assertEquals(in.port(), ((OutputInstruction) out.treatment().allInstructions().get(0)).port());
        Ethernet reply = Ethernet.deserializer().deserialize(out.data().array(), 0, out.data().array().length);
        ARP arp = (ARP) reply.getPayload();
        assertEquals(ARP.OP_REPLY, arp.getOpCode());
        assertEquals(MacAddress.valueOf("00:00:5e:00:01:01"), MacAddress.valueOf(arp.getSenderHardwareAddress()));
        assertEquals(vsMac, reply.getDestinationMAC());
        assertTrue(context.isHandled(), "answered requests are blocked from other processors");

        Ethernet other = ARP.buildArpRequest(vsMac.toBytes(), Ip4Address.valueOf("10.2.0.10").toOctets(),
                Ip4Address.valueOf("10.2.0.99").toOctets(), Ethernet.VLAN_UNTAGGED);
        PacketContextAdapter notOurs = new PacketContextAdapter(0,
                new DefaultInboundPacket(in, other, ByteBuffer.wrap(other.serialize())), null, false);
        processor.process(notOurs);
        assertEquals(1, packets.emitted.size(), "ARP for a host is not answered");
        assertFalse(notOurs.isHandled());
    }

    @Test
    void deactivationUndoesActivationAndTheLeaderRemovesTheAppsRules() throws Exception {
        configs.current = WanmigConfigTest.config(WanmigFixtures.restDriverConfig());
        component.activate();
        eventually("baseline installed", () -> baselineRulesApplied() > 0);
        component.deactivate();

        assertEquals(List.of(APP_ID), flows.removedById);
        assertTrue(configs.factories.isEmpty());
        assertTrue(configs.listeners.isEmpty());
        assertTrue(packets.processors.isEmpty());
        assertNull(codecs.getCodec(Migration.class));
        assertEquals(List.of("org.wanmig.app"), fake.withdrawals);
        assertTrue(flows.listeners.isEmpty());
        assertTrue(component.dataCenters().isEmpty());
    }

    @Test
    void followerDeactivationLeavesTheRulesToTheLeader() {
        fake.winner = FakeCluster.OTHER;
        component.activate();
        component.deactivate();
        assertTrue(flows.removedById.isEmpty());
    }
}
