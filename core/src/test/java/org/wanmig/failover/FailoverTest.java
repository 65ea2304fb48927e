package org.wanmig.failover;

import com.fasterxml.jackson.databind.node.ObjectNode;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.onosproject.net.DeviceId;
import org.onosproject.net.flow.FlowRule;
import org.wanmig.api.AgentDiskStatus;
import org.wanmig.api.Evacuation;
import org.wanmig.api.EvacuationEvent;
import org.wanmig.api.EvacuationId;
import org.wanmig.api.EvacuationState;
import org.wanmig.api.Migration;
import org.wanmig.api.MigrationId;
import org.wanmig.api.MigrationState;
import org.wanmig.api.ServerEvacuation;
import org.wanmig.api.ServerEvacuation.FailoverStep;
import org.wanmig.api.WanmigException;
import org.wanmig.config.WanTopology;
import org.wanmig.config.WanTopologyParser;
import org.wanmig.evacuation.EvacuationHost;
import org.wanmig.lifecycle.MigrationManager;
import org.wanmig.planner.RuleFormatter;
import org.wanmig.spi.Leadership;
import org.wanmig.store.InMemoryEvacuationStore;
import org.wanmig.store.InMemoryMigrationStore;
import org.wanmig.testing.FakeHypervisor;
import org.wanmig.testing.FakeNetwork;
import org.wanmig.testing.FakeReplication;
import org.wanmig.testing.Poll;
import org.wanmig.testing.RuleTable;
import org.wanmig.testing.Topologies;

import java.time.Clock;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import java.util.stream.Collectors;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Unplanned failover of a lost data center with a real MigrationManager and EvacuationHost over
 * the core's fakes: dcA (PE of:..0a) is lost with vs1 and vs2 in it, dcB survives.
 */
class FailoverTest {
    private static final DeviceId PE_A = DeviceId.deviceId("of:000000000000000a");

    private final FakeNetwork network = new FakeNetwork();
    private final FakeReplication replication = new FakeReplication();
    private final InMemoryMigrationStore migrations = new InMemoryMigrationStore();
    private final InMemoryEvacuationStore records = new InMemoryEvacuationStore();
    private final List<AutoCloseable> running = new ArrayList<>();
    private FakeHypervisor hypervisor = new FakeHypervisor();
    private WanTopology topology;
    private MigrationManager manager;
    private EvacuationHost host;

    @AfterEach
    void stop() throws Exception {
        for (AutoCloseable c : running) {
            c.close();
        }
    }

    private static ObjectNode config(String resource, Consumer<ObjectNode> edit) {
        ObjectNode c = Topologies.config(resource);
        Topologies.migration(c).put("prepareTimeoutSeconds", 10).put("migrateTimeoutSeconds", 10)
                .put("switchTimeoutSeconds", 10).put("drainSeconds", 0.05);
        edit.accept(c);
        return c;
    }

    /** A manager and an evacuation host (with failover) over the shared switches and stores. */
    private void start(String resource, Consumer<ObjectNode> edit) throws Exception {
        topology = WanTopologyParser.parse(config(resource, edit));
        FakeHypervisor driver = hypervisor;
        manager = new MigrationManager(topology, Topologies.APP_ID, network, t -> driver, replication, migrations,
                Leadership.STANDALONE, Clock.systemUTC());
        manager.takeOver().get(10, TimeUnit.SECONDS);
        // the manager is also what loss detection reads (it runs only when the config enables it)
        host = new EvacuationHost(manager, manager, manager, records, () -> topology, Leadership.STANDALONE,
                System::currentTimeMillis);
        host.takeOver();
        MigrationManager m = manager;
        EvacuationHost h = host;
        running.add(h::close);
        running.add(m::shutdown);
    }

    private void start() throws Exception {
        start(Topologies.TWO_DC_TWO_SERVERS, c -> { });
    }

    /** dcA's PE drops off: the switch is gone and the manager hears it. */
    private void loseA() {
        network.disconnect(PE_A);
        manager.switchDisconnected(PE_A);
    }

    private Evacuation awaitEnd(EvacuationId id) {
        Poll.until("failover " + id + " to end", () -> !records.get(id).orElseThrow().isActive(),
                () -> records.get(id).orElseThrow().timeline().toString());
        return records.get(id).orElseThrow();
    }

    private static ServerEvacuation server(Evacuation e, String name) {
        return e.server(name).orElseThrow();
    }

    private static List<String> events(Evacuation e, String server) {
        return e.timeline().stream().filter(ev -> server.equals(ev.server())).map(EvacuationEvent::detail)
                .collect(Collectors.toList());
    }

    /** The rules of every switch but the lost PE are exactly the baseline for the placements now. */
    private void assertSurvivorsHoldBaseline() {
        List<FlowRule> want = manager.baselineRules().stream().filter(r -> !r.deviceId().equals(PE_A))
                .collect(Collectors.toList());
        RuleTable survivors = new RuleTable(network.tables().rules(r -> !r.deviceId().equals(PE_A)));
        assertTrue(survivors.holdsExactly(want), "survivors: missing " + survivors.missing(want).stream()
                .map(RuleFormatter::format).collect(Collectors.toList()) + ", extra " + extra(survivors, want));
    }

    private static List<String> extra(RuleTable table, List<FlowRule> want) {
        RuleTable expected = new RuleTable(want);
        return table.rules().stream().filter(r -> !expected.holds(r)).map(RuleFormatter::format)
                .collect(Collectors.toList());
    }

    /** dcA's PE comes back: read, and brought in line with the desired state. */
    private void returnA() {
        network.reconnect(PE_A);
        manager.switchConnected(PE_A);
        Poll.until("dcA's PE back in line", () -> network.tables().holdsExactly(manager.baselineRules()),
                () -> "extra " + extra(network.tables(), manager.baselineRules()));
    }

    @Test
    void everyServerOfTheLostDcIsPromotedRestartedAndRoutedAtItsReplica() throws Exception {
        start();
        List<FlowRule> routesToA = new ArrayList<>(network.tables().rules(r -> r.deviceId().equals(PE_A)));
        replication.lag("vs1", 196_608, 3);
        loseA();
        Evacuation started = host.failover("dcA", null);
        assertEquals(Evacuation.Kind.FAILOVER, started.kind());
        assertEquals(Evacuation.Trigger.OPERATOR, started.trigger());
        assertTrue(started.timeline().get(0).detail().startsWith("data center dcA declared lost by the operator"),
                started.timeline().get(0).detail());
        assertEquals(List.of("dcB"), started.destinations(), "the replica's DC is the only other one");
        Evacuation e = awaitEnd(started.id());
        assertEquals(EvacuationState.COMPLETED, e.state(), e.timeline().toString());
        for (String vs : List.of("vs1", "vs2")) {
            ServerEvacuation s = server(e, vs);
            assertEquals(ServerEvacuation.State.DONE, s.state(), s.toString());
            assertEquals(FailoverStep.ROUTED, s.step());
            assertEquals(1, s.promotion().generation(), "a new generation");
            assertEquals("dcB", manager.location(vs));
            List<String> ev = events(e, vs);
            assertTrue(ev.get(0).startsWith("promoted at dcB to generation 1") && ev.get(0).contains("RPO lost"), ev.toString());
            assertTrue(ev.get(1).startsWith("restarted at dcB"), ev.toString());
            assertTrue(ev.get(2).startsWith("routed to dcB directly"), ev.toString());
        }
        assertEquals(196_608, server(e, "vs1").promotion().lagBytes(), "the RPO lost is the last known lag");
        assertEquals(3, server(e, "vs1").promotion().lagWrites());
        assertEquals(0, server(e, "vs2").promotion().lagBytes());
        assertEquals(List.of("promote vs1 dcB lost dcA", "promote vs2 dcB lost dcA"), replication.calls());
        assertEquals(List.of("vs1 dcB port 2", "vs2 dcB port 3"), hypervisor.restarts());
        assertTrue(hypervisor.migrations().isEmpty(), "nothing is live-migrated from a lost DC");
        assertSurvivorsHoldBaseline();
        assertTrue(network.tables().rules().stream().noneMatch(r -> RuleFormatter.format(r).contains("mpls")),
                "no tunnel: " + network.tables().rules());
        // the lost PE still holds its old routes while it is gone; when it returns they go
        assertTrue(network.tables().rules().containsAll(routesToA));
        returnA();
        RuleTable wanted = new RuleTable(manager.baselineRules());
        List<FlowRule> stale = routesToA.stream().filter(r -> !wanted.holds(r))
                .collect(Collectors.toList());
        assertTrue(!stale.isEmpty(), "dcA's PE had routes that are no longer wanted");
        assertTrue(stale.stream().noneMatch(network.tables()::holds), "no stale route to dcA survives its return");
        // the record reads the same from the store's JSON form (what ONOS shares and a new leader reads)
        org.wanmig.codec.WanmigCodecContext context = new org.wanmig.codec.WanmigCodecContext(java.util.Map.of());
        org.wanmig.codec.EvacuationCodec codec = new org.wanmig.codec.EvacuationCodec();
        assertEquals(e, codec.decode(codec.encode(e, context), context));
    }

    @Test
    void aRefusedPromotionFailsThatServerOnlyAndItIsNotRestarted() throws Exception {
        start();
        replication.refusePromote("vs1", new IllegalStateException("rollback to the last consistent state failed"));
        loseA();
        Evacuation e = awaitEnd(host.failover("dcA", "dcB").id());
        assertEquals(EvacuationState.COMPLETED_WITH_FAILURES, e.state());
        ServerEvacuation vs1 = server(e, "vs1");
        assertEquals(ServerEvacuation.State.FAILED, vs1.state());
        assertEquals(FailoverStep.PENDING, vs1.step());
        assertTrue(vs1.reason().contains("rollback to the last consistent state failed"), vs1.reason());
        assertNull(vs1.promotion());
        assertEquals("dcA", manager.location("vs1"), "not routed away: nothing runs at dcB");
        assertEquals(ServerEvacuation.State.DONE, server(e, "vs2").state(), "the others go on");
        assertEquals(List.of("vs2 dcB port 3"), hypervisor.restarts());
        assertEquals("dcB", manager.location("vs2"));
        assertSurvivorsHoldBaseline();
    }

    @Test
    void aFailedRestartLeavesThePromotedCopyAndReportsIt() throws Exception {
        start();
        hypervisor.refuseRestart("vs2", new IllegalStateException("hypervisor controller answered 503: no room"));
        loseA();
        Evacuation e = awaitEnd(host.failover("dcA", null).id());
        ServerEvacuation vs2 = server(e, "vs2");
        assertEquals(ServerEvacuation.State.FAILED, vs2.state());
        assertEquals(FailoverStep.PROMOTED, vs2.step());
        assertTrue(vs2.reason().contains("PROMOTED failed: hypervisor controller answered 503"), vs2.reason());
        assertEquals(1, vs2.promotion().generation(), "the promotion stays recorded");
        assertEquals("dcA", manager.location("vs2"), "not routed to where it does not run");
        assertEquals(ServerEvacuation.State.DONE, server(e, "vs1").state());
    }

    @Test
    void aMigrationInFlightFromTheLostDcIsGivenUpWithoutWaitingOnIt() throws Exception {
        start();
        MigrationId id = manager.startMigration("vs1", "dcB").id();
        Poll.until("migrating", () -> migrations.get(id).orElseThrow().state() == MigrationState.MIGRATING);
        assertTrue(!network.rulesOfMigration(id.value()).isEmpty(), "tunnel installed");
        loseA();
        Evacuation e = awaitEnd(host.failover("dcA", null).id());
        Migration m = migrations.get(id).orElseThrow();
        assertEquals(MigrationState.FAILED, m.state());
        assertTrue(m.error().contains("dcA declared lost"), m.error());
        assertTrue(hypervisor.aborts().isEmpty(), "the lost source's hypervisor is not asked: " + hypervisor.aborts());
        assertTrue(replication.calls().stream().noneMatch(c -> c.startsWith("restore")),
                "no rollback towards the lost DC: " + replication.calls());
        ServerEvacuation vs1 = server(e, "vs1");
        assertEquals(id, vs1.migrationId(), "the record names the migration given up");
        assertEquals(ServerEvacuation.State.DONE, vs1.state());
        assertTrue(events(e, "vs1").get(0).contains("migration " + id + " (dcA to dcB) given up"), events(e, "vs1").toString());
        assertEquals("dcB", manager.location("vs1"));
        assertTrue(network.rulesOfMigration(id.value()).stream().allMatch(r -> r.deviceId().equals(PE_A)),
                "tunnel gone from every connected switch: " + network.rulesOfMigration(id.value()));
        assertSurvivorsHoldBaseline();
        returnA();
        assertTrue(network.rulesOfMigration(id.value()).isEmpty(), "and from the lost PE once it is back");
        // the server can move again, e.g. back when dcA is whole again
        assertTrue(manager.activeMigration("vs1").isEmpty());
    }

    @Test
    void aMigrationTowardsTheLostDcIsGivenUpAndItsServerStaysWhereItRuns() throws Exception {
        start();
        MigrationId id = manager.startMigration("vs1", "dcB").id();
        Poll.until("migrating", () -> migrations.get(id).orElseThrow().state() == MigrationState.MIGRATING);
        // dcB is the one lost: vs1 has not moved, so it stays at dcA and is not failed over
        DeviceId peB = DeviceId.deviceId("of:000000000000000b");
        network.disconnect(peB);
        manager.switchDisconnected(peB);
        Evacuation e = awaitEnd(host.failover("dcB", null).id());
        assertEquals(0, e.servers().size(), "no server ran in dcB");
        assertEquals(MigrationState.FAILED, migrations.get(id).orElseThrow().state());
        assertEquals("dcA", manager.location("vs1"));
        assertEquals(List.of(id + " moved=false"), hypervisor.aborts(), "the source stops copying");
        assertEquals(EvacuationState.COMPLETED, e.state());
    }

    @Test
    void aNewRunnerGoesOnAfterACrashMidFailoverWithoutPromotingTwice() throws Exception {
        start();
        hypervisor.holdRestart("vs1"); // the controller dies while vs1's hypervisor is starting it
        loseA();
        EvacuationId id = host.failover("dcA", null).id();
        Poll.until("vs1 promoted and being restarted, vs2 failed over meanwhile",
                () -> hypervisor.restarts().contains("vs1 dcB port 2")
                        && server(records.get(id).orElseThrow(), "vs2").step() == FailoverStep.ROUTED);
        assertEquals(FailoverStep.PROMOTED, server(records.get(id).orElseThrow(), "vs1").step());
        host.close();
        manager.shutdown();
        // a new controller (or leader) over the same stores and switches
        hypervisor = new FakeHypervisor();
        start();
        Evacuation e = awaitEnd(id);
        assertEquals(EvacuationState.COMPLETED, e.state(), e.timeline().toString());
        assertEquals(1, replication.calls().stream().filter(c -> c.startsWith("promote vs1")).count(),
                "promoted once: " + replication.calls());
        assertEquals(1, replication.generation("vs1"));
        assertEquals(1, replication.calls().stream().filter(c -> c.startsWith("promote vs2")).count(),
                "promoted once: " + replication.calls());
        assertEquals(List.of("vs1 dcB port 2"), hypervisor.restarts(),
                "the new runner restarts vs1, and not vs2, recorded ROUTED");
        assertEquals("dcB", manager.location("vs1"));
        assertEquals("dcB", manager.location("vs2"));
        assertSurvivorsHoldBaseline();
    }

    @Test
    void theServersFailOverConcurrentlyEachThroughItsStepsInOrder() throws Exception {
        start();
        CompletableFuture<String> vs1Restart = hypervisor.holdRestart("vs1"); // vs1's hypervisor is slow
        loseA();
        EvacuationId id = host.failover("dcA", null).id();
        // vs2 does not wait for vs1: it is promoted, restarted and routed while vs1's restart hangs
        Poll.until("vs2 failed over while vs1 is being restarted",
                () -> server(records.get(id).orElseThrow(), "vs2").state() == ServerEvacuation.State.DONE,
                () -> records.get(id).orElseThrow().timeline().toString());
        Evacuation midway = records.get(id).orElseThrow();
        assertEquals(FailoverStep.PROMOTED, server(midway, "vs1").step(), "vs1's promotion is recorded first");
        assertTrue(midway.isActive());
        assertEquals("dcB", manager.location("vs2"));
        assertEquals("dcA", manager.location("vs1"), "not routed before it runs at dcB");
        vs1Restart.complete("vs1 booted at dcB");
        Evacuation e = awaitEnd(id);
        assertEquals(EvacuationState.COMPLETED, e.state(), e.timeline().toString());
        for (String vs : List.of("vs1", "vs2")) {
            List<String> ev = events(e, vs);
            assertTrue(ev.get(0).startsWith("promoted at dcB") && ev.get(1).startsWith("restarted at dcB")
                    && ev.get(2).startsWith("routed to dcB directly"), vs + ": " + ev);
        }
        assertTrue(events(e, "vs1").get(1).contains("vs1 booted at dcB"), events(e, "vs1").toString());
        assertEquals("dcB", manager.location("vs1"));
        assertSurvivorsHoldBaseline();
    }

    @Test
    void badRequestsAreRefusedWithNothingChanged() throws Exception {
        start();
        MigrationId id = manager.startMigration("vs1", "dcB").id();
        Poll.until("migrating", () -> migrations.get(id).orElseThrow().state() == MigrationState.MIGRATING);
        WanmigException unknown = assertThrows(WanmigException.class, () -> host.failover("dcX", null));
        assertEquals(WanmigException.Kind.NOT_FOUND, unknown.kind());
        WanmigException unknownTo = assertThrows(WanmigException.class, () -> host.failover("dcA", "dcX"));
        assertEquals(WanmigException.Kind.NOT_FOUND, unknownTo.kind());
        assertEquals("to", unknownTo.field());
        WanmigException same = assertThrows(WanmigException.class, () -> host.failover("dcA", "dcA"));
        assertEquals(WanmigException.Kind.BAD_REQUEST, same.kind());
        assertEquals("to", same.field());
        assertTrue(records.all().isEmpty(), "no record");
        assertTrue(replication.calls().stream().noneMatch(c -> c.startsWith("promote")));
        assertEquals(MigrationState.MIGRATING, migrations.get(id).orElseThrow().state(), "the migration goes on");
    }

    @Test
    void aServerWithNoKnownReplicaIsRefusedWithNothingChanged() throws Exception {
        start(Topologies.THREE_DC, c -> { });
        // vs1 and vs2 may run at dcB or dcC: where their replicas are is not known
        WanmigException e = assertThrows(WanmigException.class, () -> host.failover("dcA", null));
        assertEquals(WanmigException.Kind.BAD_REQUEST, e.kind());
        assertTrue(e.reason().contains("vs1: no replica known outside dcA"), e.reason());
        assertTrue(records.all().isEmpty());
        // naming the destination settles it
        Evacuation done = awaitEnd(host.failover("dcA", "dcC").id());
        assertEquals(EvacuationState.COMPLETED, done.state(), done.timeline().toString());
        assertEquals("dcC", manager.location("vs2"));
    }

    /** THREE_DC with an agent per DC, vs1's disk paired dcA/dcB and vs2's dcA/dcC. */
    private static void pairs(ObjectNode c) {
        for (int d = 0; d < 3; d++) {
            Topologies.entry(c, "dataCenters", d).put("agent", "http://127.0.0.1:" + (17070 + d));
        }
        Topologies.entry(c, "servers", 0).put("replicaAt", "dcB");
        Topologies.entry(c, "servers", 1).put("replicaAt", "dcC");
    }

    @Test
    void eachServerFailsOverToItsDisksOtherCopyAndANamedDcMustHoldIt() throws Exception {
        start(Topologies.THREE_DC, FailoverTest::pairs);
        // a destination that holds only one of the two servers' other copies is refused, nothing done
        WanmigException e = assertThrows(WanmigException.class, () -> host.failover("dcA", "dcB"));
        assertEquals(WanmigException.Kind.BAD_REQUEST, e.kind());
        assertTrue(e.reason().contains("vs2: its disk's other copy is at dcC, not dcB"), e.reason());
        assertTrue(records.all().isEmpty());
        assertTrue(replication.calls().stream().noneMatch(c -> c.startsWith("promote")));
        // without a destination, each goes where its other copy is: the lost DC's servers spread over two DCs
        Evacuation done = awaitEnd(host.failover("dcA", null).id());
        assertEquals(EvacuationState.COMPLETED, done.state(), done.timeline().toString());
        assertEquals("dcB", manager.location("vs1"));
        assertEquals("dcC", manager.location("vs2"));
        assertEquals(List.of("dcB", "dcC"), done.destinations());
    }

    @Test
    void aMigrationToADcWithoutTheDisksOtherCopyIsRefusedWithNothingChanged() throws Exception {
        start(Topologies.THREE_DC, FailoverTest::pairs);
        WanmigException e = assertThrows(WanmigException.class, () -> manager.startMigration("vs1", "dcC"));
        assertEquals(WanmigException.Kind.BAD_REQUEST, e.kind());
        assertEquals("destination", e.field());
        assertTrue(e.reason().contains("vs1's disk is replicated between dcA and dcB: from dcA it can move to dcB only"),
                e.reason());
        assertTrue(migrations.all().isEmpty(), "nothing stored");
        assertTrue(replication.calls().isEmpty(), "no storage call");
    }

    @Test
    void aDestinationWithoutAReplicationAgentHoldsNoReplica() throws Exception {
        start(Topologies.TWO_DC_TWO_SERVERS, c -> Topologies.entry(c, "dataCenters", 0)
                .put("agent", "http://127.0.0.1:1"));
        WanmigException e = assertThrows(WanmigException.class, () -> host.failover("dcA", null));
        assertEquals(WanmigException.Kind.BAD_REQUEST, e.kind());
        assertTrue(e.reason().contains("no replica at dcB"), e.reason());
        assertTrue(records.all().isEmpty());
        assertTrue(replication.calls().isEmpty());
    }

    @Test
    void aFailoverIsListedWithTheEvacuationsAndCannotBeAborted() throws Exception {
        start();
        loseA();
        Evacuation e = awaitEnd(host.failover("dcA", null).id());
        assertTrue(host.evacuations().contains(e));
        WanmigException again = assertThrows(WanmigException.class, () -> host.abort(e.id()));
        assertEquals(WanmigException.Kind.CONFLICT, again.kind());
        assertNotNull(host.evacuation(e.id()).orElse(null));
    }

    /**
     * failover.detection enabled: dcA's PE drops off, its agent stops answering and dcB's agent
     * reports its replication link to dcA down; once that held for afterSeconds, the detector
     * declares dcA lost through the operator's path, recorded as the detection's.
     */
    @Test
    void detectionDeclaresALostDcThroughTheOperatorsPath() throws Exception {
        start(Topologies.TWO_DC_TWO_SERVERS, c -> {
            Topologies.entry(c, "dataCenters", 0).put("agent", "http://127.0.0.1:1");
            Topologies.entry(c, "dataCenters", 1).put("agent", "http://127.0.0.1:2");
            c.putObject("failover").putObject("detection").put("enabled", true).put("afterSeconds", 0.3)
                    .put("pollSeconds", 0.05).put("to", "dcB");
        });
        replication.agentAnswers("dcA", new AgentDiskStatus("vs1", "PRIMARY", true, 10),
                new AgentDiskStatus("vs2", "PRIMARY", true, 10));
        replication.agentAnswers("dcB", new AgentDiskStatus("vs1", "REPLICA", true, 10),
                new AgentDiskStatus("vs2", "REPLICA", true, 10));
        // a controller-side partition first: PE and agent gone from here, the replicas still hear dcA
        loseA();
        replication.agentSilent("dcA");
        Thread.sleep(1_000); // over three times afterSeconds
        assertTrue(records.all().isEmpty(), "declared on the controller's signals alone: " + records.all());
        // now dcB's agent loses dcA too
        replication.agentAnswers("dcB", new AgentDiskStatus("vs1", "REPLICA", false, 900),
                new AgentDiskStatus("vs2", "REPLICA", false, 900));
        Poll.until("dcA declared lost by detection", () -> !records.all().isEmpty());
        Evacuation started = records.all().iterator().next();
        Evacuation e = awaitEnd(started.id());
        assertEquals(Evacuation.Kind.FAILOVER, e.kind());
        assertEquals(Evacuation.Trigger.DETECTION, e.trigger());
        String reason = e.timeline().get(0).detail();
        assertTrue(reason.startsWith("data center dcA declared lost by detection (automatic) [PE disconnected,"
                + " agent unreachable from the controller, witness sees the peer link down"), reason);
        assertEquals(EvacuationState.COMPLETED, e.state(), e.timeline().toString());
        assertEquals("dcB", manager.location("vs1"));
        assertEquals("dcB", manager.location("vs2"));
        Thread.sleep(500);
        assertEquals(1, records.all().size(), "declared once");
        // as REST and the CLI show it
        org.wanmig.codec.WanmigCodecContext context = new org.wanmig.codec.WanmigCodecContext(java.util.Map.of());
        org.wanmig.codec.EvacuationCodec codec = new org.wanmig.codec.EvacuationCodec();
        assertEquals("DETECTION", codec.encode(e, context).get("trigger").asText());
        assertEquals(e, codec.decode(codec.encode(e, context), context));
        String head = org.wanmig.cli.EvacuationText.details(e, System.currentTimeMillis()).get(0);
        assertTrue(head.startsWith("failover " + e.id() + ": dcA declared lost by detection (automatic)"), head);
    }
}
