package org.wanmig.impl;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.onosproject.net.DeviceId;
import org.onosproject.net.device.DeviceServiceAdapter;
import org.onosproject.net.flow.FlowEntry;
import org.wanmig.api.MigrationId;
import org.wanmig.api.MigrationState;
import org.wanmig.config.WanTopology;
import org.wanmig.lifecycle.MigrationManager;
import org.wanmig.spi.Leadership;
import org.wanmig.store.InMemoryMigrationStore;
import org.wanmig.testing.FakeHypervisor;
import org.wanmig.testing.FakeReplication;
import org.wanmig.testing.Poll;
import org.wanmig.testing.Topologies;

import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A new leader on ONOS finds the rules its predecessor installed in the flow store, diffs the
 * desired state against them and applies nothing when they match (FlowRuleService confirming late).
 */
class OnosTakeOverTest {
    private final FakeFlowRuleService flows = new FakeFlowRuleService(30);
    private final InMemoryMigrationStore store = new InMemoryMigrationStore();
    private final FakeHypervisor hypervisor = new FakeHypervisor();
    private final List<MigrationManager> managers = new ArrayList<>();
    private final List<FlowRuleNetworkProgrammer> programmers = new ArrayList<>();

    @AfterEach
    void stop() {
        managers.forEach(MigrationManager::shutdown);
        programmers.forEach(FlowRuleNetworkProgrammer::close);
        flows.shutdown();
    }

    private MigrationManager leader(WanTopology topology) throws Exception {
        FlowRuleNetworkProgrammer programmer = new FlowRuleNetworkProgrammer(flows, new DeviceServiceAdapter() {
            @Override
            public boolean isAvailable(DeviceId deviceId) {
                return true;
            }
        }, Topologies.APP_ID, () -> Duration.ofSeconds(5));
        programmers.add(programmer);
        MigrationManager m = new MigrationManager(topology, Topologies.APP_ID, programmer, t -> hypervisor,
                new FakeReplication(), store, Leadership.STANDALONE, Clock.systemUTC());
        managers.add(m);
        m.takeOver().get(10, TimeUnit.SECONDS);
        return m;
    }

    @Test
    void aNewLeaderAdoptsThePredecessorsRulesAndAppliesNothing() throws Exception {
        WanTopology topology = Topologies.topology(Topologies.TWO_DC);
        MigrationManager first = leader(topology);
        MigrationId id = first.startMigration("vs1", "dcB").id();
        Poll.until("MIGRATING", () -> store.get(id).orElseThrow().state() == MigrationState.MIGRATING);
        Map<DeviceId, Integer> held = new java.util.HashMap<>();
        for (DeviceId d : topology.allSwitches()) {
            int n = 0;
            for (FlowEntry e : flows.getFlowEntries(d)) {
                n++;
            }
            held.put(d, n);
        }
        assertFalse(held.values().stream().allMatch(n -> n == 0));
        first.shutdown(); // leadership lost: the records and ONOS's flow store stay
        int applied = flows.operations.size();

        MigrationManager second = leader(topology);
        Poll.until("the hypervisor asked again", () -> hypervisor.migrations().stream().filter(id::equals).count() == 2);
        assertEquals(applied, flows.operations.size(), "nothing re-applied: the flow store holds it all");
        second.hypervisorCompleted(id, "moved");
        Poll.until("COMPLETED", () -> store.get(id).orElseThrow().state() == MigrationState.COMPLETED);
        assertTrue(flows.operations.size() > applied);
        assertEquals("dcB", second.location("vs1"));
    }
}
