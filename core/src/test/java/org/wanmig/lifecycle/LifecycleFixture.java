package org.wanmig.lifecycle;

import com.fasterxml.jackson.databind.node.ObjectNode;
import org.wanmig.api.Migration;
import org.wanmig.api.MigrationEvent;
import org.wanmig.api.MigrationId;
import org.wanmig.api.MigrationState;
import org.wanmig.config.WanTopology;
import org.wanmig.config.WanTopologyParser;
import org.wanmig.spi.Leadership;
import org.wanmig.store.InMemoryMigrationStore;
import org.wanmig.testing.FakeHypervisor;
import org.wanmig.testing.FakeNetwork;
import org.wanmig.testing.FakeReplication;
import org.wanmig.testing.Poll;
import org.wanmig.testing.Topologies;

import java.time.Clock;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import java.util.stream.Collectors;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A MigrationManager over fakes of every port, on the 2-DC WAN with two servers (vs1 on port 2,
 * vs2 on port 3 at both DCs). Timeouts are long unless a test shortens them: tests wait on
 * states, not on time.
 */
final class LifecycleFixture implements AutoCloseable {
    final FakeNetwork network;
    final FakeHypervisor hypervisor = new FakeHypervisor();
    final FakeReplication replication = new FakeReplication();
    final InMemoryMigrationStore store;
    final WanTopology topology;
    final MigrationManager manager;
    /** What the manager is told of its predecessors when it takes over (a setUp may change it). */
    MigrationManager.Predecessors predecessors = MigrationManager.Predecessors.GONE;

    private LifecycleFixture(WanTopology topology, FakeNetwork network, InMemoryMigrationStore store) {
        this.topology = topology;
        this.network = network;
        this.store = store;
        this.manager = new MigrationManager(topology, Topologies.APP_ID, network, t -> hypervisor, replication,
                store, Leadership.STANDALONE, Clock.systemUTC());
        // no re-check of the take-over while migrating unless a test asks for one: call lists stay exact
        this.manager.recheckTakeOverEvery(java.time.Duration.ofHours(1));
    }

    /** Settings in seconds: prepare, migrate and switch timeouts 10 s, drain 0.05 s, then {@code edit}. */
    static ObjectNode config(Consumer<ObjectNode> edit) {
        ObjectNode c = Topologies.config(Topologies.TWO_DC_TWO_SERVERS);
        Topologies.migration(c).put("prepareTimeoutSeconds", 10).put("migrateTimeoutSeconds", 10)
                .put("switchTimeoutSeconds", 10).put("drainSeconds", 0.05);
        edit.accept(c);
        return c;
    }

    static LifecycleFixture start() {
        return start(c -> { });
    }

    static LifecycleFixture start(Consumer<ObjectNode> edit) {
        return start(WanTopologyParser.parse(config(edit)), new FakeNetwork(), new InMemoryMigrationStore());
    }

    /** A manager over existing switches and store, as after a restart of the controller. */
    static LifecycleFixture start(WanTopology topology, FakeNetwork network, InMemoryMigrationStore store) {
        return start(topology, network, store, f -> { });
    }

    /** {@link #start(WanTopology, FakeNetwork, InMemoryMigrationStore)}, {@code setUp} applied before the manager takes over. */
    static LifecycleFixture start(WanTopology topology, FakeNetwork network, InMemoryMigrationStore store,
                                  Consumer<LifecycleFixture> setUp) {
        LifecycleFixture f = new LifecycleFixture(topology, network, store);
        setUp.accept(f);
        try {
            f.manager.takeOver(f.predecessors).get(10, TimeUnit.SECONDS);
        } catch (Exception e) {
            throw new AssertionError("takeOver failed", e);
        }
        return f;
    }

    /** The same switches and store, with a fresh manager (the old one must be shut down). */
    LifecycleFixture restart(Consumer<ObjectNode> edit) {
        return start(WanTopologyParser.parse(config(edit)), network, store);
    }

    /** {@link #restart}, with {@code setUp} applied to the new fixture before its manager takes over. */
    LifecycleFixture restartWith(Consumer<LifecycleFixture> setUp) {
        return start(WanTopologyParser.parse(config(c -> { })), network, store, setUp);
    }

    static Consumer<ObjectNode> drainSeconds(double s) {
        return c -> Topologies.migration(c).put("drainSeconds", s);
    }

    /** vs1's route change from one DC to the other on this topology; the tests need several steps. */
    org.wanmig.planner.RouteChange routeChange(String fromDc, String toDc) {
        org.wanmig.planner.RouteChange change = new org.wanmig.planner.NetworkPlanner(topology, Topologies.APP_ID)
                .routeChange(topology.server("vs1").orElseThrow(), fromDc, toDc);
        org.junit.jupiter.api.Assertions.assertTrue(change.steps().size() >= 2,
                "a route change of several steps: " + change.steps().size());
        return change;
    }

    // ---- driving ----------------------------------------------------------------------------------

    MigrationId startMigration(String server) {
        return manager.startMigration(server, "dcB").id();
    }

    Migration record(MigrationId id) {
        return store.get(id).orElseThrow();
    }

    MigrationState state(MigrationId id) {
        return record(id).state();
    }

    Migration awaitState(MigrationId id, MigrationState state) {
        Poll.until("migration " + id + " in " + state, () -> state(id) == state, () -> "it is " + describe(id));
        return record(id);
    }

    Migration awaitEnd(MigrationId id) {
        Poll.until("migration " + id + " to end", () -> state(id).isTerminal(), () -> "it is " + describe(id));
        return record(id);
    }

    /** A migration waiting for the hypervisor. */
    MigrationId migrating(String server) {
        MigrationId id = startMigration(server);
        awaitState(id, MigrationState.MIGRATING);
        return id;
    }

    /** A migration past the route update, waiting out its drain. */
    MigrationId draining(String server) {
        MigrationId id = migrating(server);
        manager.hypervisorCompleted(id, "moved");
        awaitState(id, MigrationState.DRAINING);
        return id;
    }

    String describe(MigrationId id) {
        Migration m = record(id);
        return m.state() + " error=" + m.error() + " timeline=" + m.timeline();
    }

    /** The detail of the record's last timeline entry (its end, for an ended migration). */
    static String lastDetail(Migration m) {
        return m.timeline().get(m.timeline().size() - 1).detail();
    }

    static List<MigrationState> states(Migration m) {
        return m.timeline().stream().map(MigrationEvent::state).collect(Collectors.toList());
    }

    // ---- what must hold afterwards ---------------------------------------------------------------------

    /** No rule of the migration in any switch, and exactly the baseline with the server at its source. */
    void assertBackAtSource(MigrationId id) {
        Migration m = record(id);
        assertTrue(network.rulesOfMigration(id.value()).isEmpty(),
                "rules of migration " + id + " left: " + network.rulesOfMigration(id.value()));
        assertEquals(m.source(), manager.location(m.server()), "placement");
        assertTrue(network.tables().missing(manager.baselineRules()).isEmpty(),
                "source routes missing: " + network.tables().missing(manager.baselineRules()));
        assertTrue(network.tables().holdsExactly(manager.baselineRules()),
                "rules beyond the baseline: " + extra());
        String pair = m.server() + " " + m.source() + "<" + m.destination();
        assertTrue(replication.calls().contains("restore " + pair) || replication.calls().contains("reclaim " + pair),
                "storage restored: " + replication.calls());
    }

    /** Exactly the baseline with the server at the destination. */
    void assertAtDestination(MigrationId id) {
        Migration m = record(id);
        assertEquals(m.destination(), manager.location(m.server()));
        assertTrue(network.rulesOfMigration(id.value()).isEmpty(), "tunnel left");
        assertTrue(network.tables().holdsExactly(manager.baselineRules()), "rules beyond the baseline: " + extra()
                + " missing: " + network.tables().missing(manager.baselineRules()));
    }

    private List<String> extra() {
        org.wanmig.testing.RuleTable expected = new org.wanmig.testing.RuleTable(manager.baselineRules());
        return network.tables().rules().stream().filter(r -> !expected.holds(r))
                .map(org.wanmig.planner.RuleFormatter::format).collect(Collectors.toList());
    }

    @Override
    public void close() {
        manager.shutdown();
    }
}
