package org.wanmig.impl;

import com.fasterxml.jackson.databind.node.ObjectNode;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.onlab.packet.IpAddress;
import org.onosproject.cluster.ClusterServiceAdapter;
import org.onosproject.cluster.ControllerNode;
import org.onosproject.cluster.DefaultControllerNode;
import org.onosproject.cluster.NodeId;
import org.onosproject.codec.impl.CodecManager;
import org.onosproject.core.ApplicationId;
import org.onosproject.core.CoreServiceAdapter;
import org.onosproject.net.DeviceId;
import org.onosproject.net.device.DeviceServiceAdapter;
import org.wanmig.api.Evacuation;
import org.wanmig.api.EvacuationState;
import org.wanmig.api.Migration;
import org.wanmig.api.MigrationId;
import org.wanmig.api.MigrationState;
import org.wanmig.api.ServerEvacuation;
import org.wanmig.api.WanmigException;
import org.wanmig.testing.WanmigFixtures;

import java.util.ArrayList;
import java.util.List;
import java.util.function.BooleanSupplier;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.wanmig.testing.WanmigFixtures.APP_ID;

/**
 * Two instances of the component on one cluster (shared leadership and consistent store): an
 * evacuation started on the leader goes on under the next leader after a hand-over mid-way.
 */
class EvacuationHandOverTest {
    private static final String TOPIC = "org.wanmig.app";
    private final FakeCluster fake = new FakeCluster();
    private final SharedStorageService storage = new SharedStorageService();
    private final List<WanmigComponent> started = new ArrayList<>();

    /** vs1 and vs2 in dcA, one migration at a time per DC pair, no drain wait, the 'rest' hypervisor driver. */
    private static ObjectNode twoServersOneAtATime() {
        ObjectNode config = WanmigFixtures.restDriverConfig();
        ObjectNode vs2 = ((ObjectNode) config.path("servers").get(0)).deepCopy();
        vs2.put("name", "vs2").put("ip", "10.2.0.11").put("mac", "00:00:00:00:02:11").put("port", 3);
        vs2.putObject("ports").put("dcB", 3);
        config.path("dataCenters").forEach(dc -> ((ObjectNode) dc).putArray("serverPorts").add(2).add(3));
        config.withArray("servers").add(vs2);
        ObjectNode migration = (ObjectNode) config.path("migration");
        migration.put("drainSeconds", 0);
        migration.putObject("evacuation").put("maxConcurrentPerPair", 1).put("retries", 0);
        return config;
    }

    private WanmigComponent instance(NodeId node) {
        WanmigComponent c = new WanmigComponent();
        CodecManager codecs = new CodecManager();
        codecs.activate();
        WanmigComponentTest.FakeConfigRegistry configs = new WanmigComponentTest.FakeConfigRegistry();
        configs.current = WanmigConfigTest.config(twoServersOneAtATime());
        assertEquals(List.of(), configs.current.problems());
        c.coreService = new CoreServiceAdapter() {
            @Override
            public ApplicationId registerApplication(String name) {
                return APP_ID;
            }
        };
        c.configRegistry = configs;
        c.codecService = codecs;
        c.flowRuleService = new WanmigComponentTest.ConfirmingFlowRuleService();
        c.deviceService = new DeviceServiceAdapter() {
            @Override
            public boolean isAvailable(DeviceId deviceId) {
                return true;
            }

            @Override
            public org.onosproject.net.Port getPort(DeviceId deviceId, org.onosproject.net.PortNumber portNumber) {
                return null; // no port known (the adapter's own getPort throws without getPorts)
            }
        };
        c.storageService = storage;
        c.leadershipService = fake.leadership;
        c.clusterService = new ClusterServiceAdapter() {
            @Override
            public ControllerNode getLocalNode() {
                return new DefaultControllerNode(node, IpAddress.valueOf("192.0.2.1"));
            }
        };
        c.packetService = new WanmigComponentTest.RecordingPacketService();
        c.linkService = OnosLinkStateFeedTest.Links.everyLinkActive();
        c.activate();
        started.add(c);
        return c;
    }

    @AfterEach
    void tearDown() {
        started.forEach(WanmigComponent::deactivate);
    }

    private static void eventually(String what, BooleanSupplier condition) throws InterruptedException {
        for (int i = 0; i < 500; i++) {
            try {
                if (condition.getAsBoolean()) {
                    return;
                }
            } catch (WanmigException e) {
                // not ready yet (e.g. not configured): ask again
            }
            Thread.sleep(10);
        }
        throw new AssertionError("never: " + what);
    }

    private static Evacuation record(WanmigComponent c, Evacuation e) {
        return c.evacuation(e.id()).orElseThrow();
    }

    private static ServerEvacuation inFlight(Evacuation e) {
        return e.servers().stream().filter(s -> s.state() == ServerEvacuation.State.IN_FLIGHT).findFirst()
                .orElseThrow();
    }

    @Test
    void aNewLeaderGoesOnWithTheEvacuationAndCanAbortIt() throws Exception {
        WanmigComponent first = instance(FakeCluster.LOCAL);
        WanmigComponent second = instance(FakeCluster.OTHER);
        eventually("both configured", () -> first.planner() != null && second.planner() != null);
        List<Evacuation> startedOnFirst = new ArrayList<>();
        eventually("the leader runs evacuations", () -> startedOnFirst.add(first.evacuate("dcA", List.of(), List.of())));
        Evacuation e = startedOnFirst.get(0);
        assertEquals(2, e.servers().size());
        assertTrue(e.etaMillis() > e.startedMillis(), "the record carries the plan's ETA");
        eventually("one server in flight, one queued", () -> record(first, e).count(ServerEvacuation.State.IN_FLIGHT) == 1
                && record(first, e).count(ServerEvacuation.State.QUEUED) == 1);
        ServerEvacuation moving = inFlight(record(first, e));
        MigrationId m1 = moving.migrationId();
        // in the hypervisor's hands: a new leader goes on with that (one still PREPARING it rolls back)
        eventually("the in-flight migration is MIGRATING", () -> first.migration(m1).orElseThrow().state()
                == MigrationState.MIGRATING);

        // the follower reads the shared record but runs nothing
        assertEquals(EvacuationState.RUNNING, record(second, e).state());
        assertEquals(WanmigException.Kind.UNAVAILABLE, assertThrows(WanmigException.class,
                () -> second.evacuate("dcA", List.of(), List.of())).kind());
        assertEquals(WanmigException.Kind.UNAVAILABLE, assertThrows(WanmigException.class,
                () -> second.abort(e.id())).kind());

        // hand-over mid-evacuation
        fake.elect(TOPIC, FakeCluster.OTHER);
        eventually("the old leader stops running evacuations", () -> {
            try {
                first.abort(e.id());
                return false;
            } catch (WanmigException x) {
                return x.kind() == WanmigException.Kind.UNAVAILABLE;
            }
        });
        // the hypervisor's report of the in-flight migration reaches the new leader, which completes it
        eventually("the new leader drives the in-flight migration", () -> {
            try {
                second.hypervisorCompleted(m1, "running at dcB");
                return true;
            } catch (WanmigException x) {
                return false;
            }
        });
        eventually("the new leader's runner records it done and starts the queued server", () -> {
            Evacuation now = record(second, e);
            return now.server(moving.server()).orElseThrow().state() == ServerEvacuation.State.DONE
                    && now.count(ServerEvacuation.State.IN_FLIGHT) == 1;
        });
        assertEquals(MigrationState.COMPLETED, second.migration(m1).orElseThrow().state());
        assertEquals("dcB", second.location(moving.server()));
        ServerEvacuation next = inFlight(record(second, e));
        assertNotEquals(moving.server(), next.server());
        Migration m2 = second.migration(next.migrationId()).orElseThrow();
        assertTrue(m2.isActive());

        // abort on the new leader: done stays, in flight rolls back
        Evacuation aborting = second.abort(e.id());
        assertTrue(aborting.state() == EvacuationState.ABORTING || aborting.state() == EvacuationState.ABORTED);
        eventually("aborted", () -> record(second, e).state() == EvacuationState.ABORTED);
        Evacuation end = record(second, e);
        assertEquals(ServerEvacuation.State.DONE, end.server(moving.server()).orElseThrow().state());
        assertEquals(ServerEvacuation.State.CANCELLED, end.server(next.server()).orElseThrow().state());
        assertEquals("dcB", second.location(moving.server()));
        assertEquals("dcA", second.location(next.server()));
        assertTrue(!second.migration(m2.id()).orElseThrow().isActive());
    }
}
