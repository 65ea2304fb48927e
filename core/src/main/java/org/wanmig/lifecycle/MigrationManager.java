package org.wanmig.lifecycle;

import org.onosproject.core.ApplicationId;
import org.onosproject.net.flow.FlowRule;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.wanmig.api.Migration;
import org.wanmig.api.MigrationId;
import org.wanmig.api.MigrationListener;
import org.wanmig.api.MigrationService;
import org.wanmig.api.MigrationState;
import org.wanmig.api.TunnelLabels;
import org.wanmig.api.WanmigException;
import org.wanmig.config.DataCenter;
import org.wanmig.config.VirtualServer;
import org.wanmig.config.WanTopology;
import org.wanmig.net.ServerAnnounceDetector;
import org.wanmig.planner.LabelAllocator;
import org.wanmig.planner.MigrationPlan;
import org.wanmig.planner.NetworkPlanner;
import org.wanmig.planner.RouteChange;
import org.wanmig.planner.RuleDiff;
import org.wanmig.spi.HypervisorDriver;
import org.wanmig.spi.HypervisorListener;
import org.wanmig.spi.Leadership;
import org.wanmig.spi.MigrationStore;
import org.wanmig.spi.NetworkProgrammer;
import org.wanmig.spi.ReplicationClient;

import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Function;
import java.util.stream.Collectors;

import static org.wanmig.api.MigrationState.COMPLETED;
import static org.wanmig.api.MigrationState.CUTOVER;
import static org.wanmig.api.MigrationState.DRAINING;
import static org.wanmig.api.MigrationState.FAILED;
import static org.wanmig.api.MigrationState.MIGRATING;
import static org.wanmig.api.MigrationState.PREPARING;
import static org.wanmig.api.MigrationState.REQUESTED;
import static org.wanmig.api.MigrationState.ROLLED_BACK;
import static org.wanmig.api.MigrationState.ROUTES_UPDATED;

/**
 * The migration management system: owns every state transition of every migration. Plain Java:
 * it reaches the network, the hypervisor, storage and the records only through the SPI ports,
 * so ONOS and the embedded runtime host this same class.
 * <p>
 * All state changes run on one lifecycle thread; port callbacks hop back onto it, and a callback
 * from a phase that has since been left (timeout, abort) is recognised by its epoch and ignored.
 */
public final class MigrationManager implements MigrationService, HypervisorListener {
    private static final Logger log = LoggerFactory.getLogger(MigrationManager.class);

    private final ApplicationId appId;
    private final NetworkProgrammer network;
    private final Function<WanTopology, HypervisorDriver> hypervisors;
    private final ReplicationClient replication;
    private final MigrationStore store;
    private final Leadership leadership;
    private final Clock clock;
    private final ScheduledExecutorService lifecycle;
    private final List<MigrationListener> listeners = new CopyOnWriteArrayList<>();
    private final Map<MigrationId, Run> runs = new HashMap<>();

    private volatile WanTopology topology;
    private volatile NetworkPlanner planner;
    private volatile boolean driving;
    private Thread lifecycleThread;

    public MigrationManager(WanTopology topology, ApplicationId appId, NetworkProgrammer network,
                            Function<WanTopology, HypervisorDriver> hypervisors, ReplicationClient replication,
                            MigrationStore store, Leadership leadership, Clock clock) {
        this.topology = topology;
        this.appId = appId;
        this.planner = new NetworkPlanner(topology, appId);
        this.network = network;
        this.hypervisors = hypervisors;
        this.replication = replication;
        this.store = store;
        this.leadership = leadership;
        this.clock = clock;
        this.lifecycle = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "wanmig-lifecycle");
            t.setDaemon(true);
            lifecycleThread = t;
            return t;
        });
    }

    // ---- lifecycle of the manager itself ------------------------------------------------------

    /**
     * Takes over driving: installs the baseline (ARP to controller, site routes, every server's
     * routes where it runs now) and resumes or rolls back what a predecessor left in flight.
     * Called at start and whenever this instance becomes leader.
     */
    public CompletableFuture<Void> takeOver() {
        return call(() -> {
            driving = true;
            CompletableFuture<Void> baseline = network.install(baselineRules());
            for (Migration m : store.all()) {
                if (m.isActive() && !runs.containsKey(m.id())) {
                    resume(m);
                }
            }
            return baseline;
        });
    }

    /** Stops driving (leadership lost or shutdown); records stay for whoever drives next. */
    public void release() {
        call(() -> {
            driving = false;
            runs.values().forEach(r -> r.cancelTimer());
            runs.clear();
            return null;
        });
    }

    public void shutdown() {
        if (lifecycle.isShutdown()) {
            return; // a second shutdown (deactivate after a failed activate, tests) changes nothing
        }
        release();
        lifecycle.shutdownNow();
    }

    /** A new configuration: baseline rules are moved over to it; migrations in flight keep their plans. */
    public CompletableFuture<Void> updateTopology(WanTopology next) {
        return call(() -> {
            List<FlowRule> before = baselineRules();
            topology = next;
            planner = new NetworkPlanner(next, appId);
            if (!driving) {
                return CompletableFuture.<Void>completedFuture(null);
            }
            RuleDiff diff = RuleDiff.between(before, baselineRules());
            return network.install(diff.toInstall()).thenCompose(x -> network.remove(diff.toRemove()));
        });
    }

    public WanTopology topology() {
        return topology;
    }

    public NetworkPlanner planner() {
        return planner;
    }

    /** Every baseline rule as it should be now, for reports and reconciliation. */
    public List<FlowRule> baselineRules() {
        List<FlowRule> rules = new ArrayList<>(planner.infrastructure());
        rules.addAll(planner.siteRoutes());
        for (VirtualServer v : topology.servers()) {
            rules.addAll(planner.serverRoutes(v, location(v.name())));
        }
        return rules;
    }

    // ---- MigrationService --------------------------------------------------------------------

    @Override
    public Collection<DataCenter> dataCenters() {
        return topology.dataCenters();
    }

    @Override
    public Collection<VirtualServer> servers() {
        return topology.servers();
    }

    @Override
    public String location(String server) {
        VirtualServer v = topology.server(server)
                .orElseThrow(() -> WanmigException.notFound("server", "unknown server '" + server + "'"));
        String placed = store.placements().get(server);
        return placed != null && topology.dataCenter(placed).isPresent() ? placed : v.dc();
    }

    @Override
    public Optional<Migration> activeMigration(String server) {
        return store.all().stream().filter(m -> m.isActive() && m.server().equals(server)).findFirst();
    }

    @Override
    public Collection<Migration> migrations() {
        return store.all().stream().sorted(Comparator.comparing(Migration::id)).collect(Collectors.toList());
    }

    @Override
    public Optional<Migration> migration(MigrationId id) {
        return store.get(id);
    }

    @Override
    public Migration startMigration(String server, String destination) {
        if (server == null || server.isBlank()) {
            throw WanmigException.badRequest("server", "missing: name the server to migrate");
        }
        if (destination == null || destination.isBlank()) {
            throw WanmigException.badRequest("destination", "missing: name the destination data center");
        }
        return call(() -> {
            requireLeader();
            WanTopology topo = topology;
            VirtualServer vs = topo.server(server)
                    .orElseThrow(() -> WanmigException.notFound("server", "unknown server '" + server + "'"));
            DataCenter to = topo.dataCenter(destination).orElseThrow(() ->
                    WanmigException.notFound("destination", "unknown data center '" + destination + "'"));
            DataCenter from = topo.dataCenter(location(server)).orElseThrow();
            if (from.equals(to)) {
                throw WanmigException.badRequest("destination", server + " already runs in " + destination);
            }
            Optional<Migration> active = activeMigration(server);
            if (active.isPresent()) {
                throw WanmigException.conflict("server", server + " is already migrating (migration "
                        + active.get().id() + ", " + active.get().state() + ")");
            }
            for (DataCenter dc : List.of(from, to)) {
                if (!network.isAvailable(dc.pe())) {
                    throw WanmigException.unavailable("the PE of " + dc.name() + " (" + dc.pe() + ") is not connected");
                }
            }
            TunnelLabels labels = LabelAllocator.allocate(topo.labels(), store.all().stream()
                    .filter(Migration::isActive).map(Migration::labels).collect(Collectors.toList()),
                    topo.clientSites());
            Migration m = Migration.requested(store.nextId(), server, from.name(), to.name(),
                    planner.attachment(vs, to.name()).toLong(), labels, clock.millis());
            MigrationPlan plan = planner.migration(m); // refuses (no path) before anything is stored
            store.put(m);
            notifyListeners(m);
            Run run = new Run(m, plan, vs, from, to);
            runs.put(m.id(), run);
            prepare(run);
            return run.record;
        });
    }

    @Override
    public Migration abort(MigrationId id) {
        CompletableFuture<Migration> done = call(() -> {
            requireLeader();
            Run run = activeRun(id);
            return rollBack(run, ROLLED_BACK, "aborted by operator in " + run.record.state());
        });
        return await(done, id);
    }

    @Override
    public Migration hypervisorCompleted(MigrationId id, String detail) {
        long reportedAt = System.nanoTime(); // the cutover latency counts from here, queueing included
        CompletableFuture<Migration> done = call(() -> {
            requireLeader();
            Run run = activeRun(id);
            MigrationState state = run.record.state();
            if (state == CUTOVER && run.switchedInPause && !run.hypervisorDone) {
                // switched over inside the pause; the guest now runs at the destination
                run.hypervisorDone = true;
                run.record = run.record.note(clock.millis(), "hypervisor: "
                        + (detail == null || detail.isBlank() ? "completed" : detail));
                store.put(run.record);
                notifyListeners(run.record);
                updateRoutes(run);
                return CompletableFuture.completedFuture(run.record);
            }
            if (state.serverMoved()) {
                if (!run.hypervisorDone) {
                    // the cutover ran on the server's own announce; the report confirms it
                    run.hypervisorDone = true;
                    run.record = run.record.note(clock.millis(), "hypervisor confirms: "
                            + (detail == null || detail.isBlank() ? "completed" : detail));
                    store.put(run.record);
                    notifyListeners(run.record);
                }
                return CompletableFuture.completedFuture(run.record); // a repeated report changes nothing
            }
            if (state != MIGRATING) {
                throw WanmigException.conflict("status", "migration " + id + " is " + state
                        + "; the hypervisor may report completion only while MIGRATING");
            }
            run.hypervisorDone = true;
            return cutover(run, detail, reportedAt);
        });
        return await(done, id);
    }

    /**
     * The network saw the server announce itself (RARP or gratuitous ARP) at a data center's PE.
     * At the destination of a migration in MIGRATING, it runs there now: the cutover starts at
     * once, before the hypervisor's report, which then only confirms it. Called from packet
     * threads: never blocks.
     */
    public void serverAnnounced(ServerAnnounceDetector.Announce announce) {
        long seenAt = System.nanoTime();
        lifecycle.execute(() -> {
            if (!driving) {
                return;
            }
            for (Run run : runs.values()) {
                if (run.server.name().equals(announce.server()) && run.to.name().equals(announce.dataCenter())
                        && run.record.state() == MIGRATING && !run.switchedInPause && run.rollingBack == null) {
                    log.info("migration {}: {} seen; cutover before the hypervisor's report", run.record.id(), announce);
                    cutover(run, announce + " (before the hypervisor's report)", seenAt);
                }
            }
        });
    }

    @Override
    public Migration hypervisorFailed(MigrationId id, String reason) {
        CompletableFuture<Migration> done = call(() -> {
            requireLeader();
            Run run = activeRun(id);
            return rollBack(run, FAILED, "hypervisor failed: " + (reason == null ? "no reason given" : reason));
        });
        return await(done, id);
    }

    @Override
    public void completed(MigrationId id, String detail) {
        // drivers that learn of completion themselves call in here, like the REST report
        try {
            hypervisorCompleted(id, detail);
        } catch (WanmigException e) {
            log.warn("hypervisor reported completion of migration {}: {}", id, e.getMessage());
        }
    }

    @Override
    public void failed(MigrationId id, String reason) {
        try {
            hypervisorFailed(id, reason);
        } catch (WanmigException e) {
            log.info("hypervisor reported failure of migration {} ({}): {}", id, reason, e.getMessage());
        }
    }

    @Override
    public void progress(MigrationId id, String detail) {
        lifecycle.execute(() -> {
            Run run = runs.get(id);
            if (run == null || !run.record.isActive() || run.rollingBack != null) {
                return;
            }
            run.record = run.record.note(clock.millis(), detail);
            store.put(run.record);
            notifyListeners(run.record);
        });
    }

    /**
     * The hypervisor paused the server with its memory copied and waits: storage roles flip (the
     * source fenced and demoted, the destination promoted; RPO 0, the replication is synchronous)
     * and the redirect at PE_A is installed and confirmed, both while the server is stopped
     * anyway. The server then resumes at the destination with its disk and network there. A
     * failure here rolls everything back and the hypervisor resumes the server at the source.
     */
    @Override
    public CompletionStage<Void> preSwitchover(MigrationId id, String detail) {
        long pausedAt = System.nanoTime();
        CompletableFuture<Void> proceed = new CompletableFuture<>();
        lifecycle.execute(() -> {
            Run run = runs.get(id);
            if (run == null || run.record.state() != MIGRATING || run.rollingBack != null || !driving) {
                proceed.completeExceptionally(new IllegalStateException("migration " + id + " is "
                        + (run == null ? "not active here" : run.record.state()) + "; not switching over"));
                return;
            }
            int epoch = run.bump(topology.settings().switchTimeout());
            run.switchedInPause = true;
            run.record = run.record.note(clock.millis(), "hypervisor " + detail);
            store.put(run.record);
            CompletableFuture<Double> roles = replication.reverseRoles(run.server, run.from, run.to)
                    .thenApply(x -> ms(pausedAt));
            CompletableFuture<Double> redirect = network.install(run.plan.redirects()).thenApply(x -> ms(pausedAt));
            roles.thenCombine(redirect, (r, n) -> new double[] {r, n})
                    .whenCompleteAsync((t, error) -> inPhase(run, epoch, () -> {
                if (error != null) {
                    proceed.completeExceptionally(error);
                    rollBack(run, FAILED, "switchover in the pause failed: " + cause(error));
                    return;
                }
                run.rolesReversed = true;
                double hook = ms(pausedAt);
                advance(run, CUTOVER, String.format("inside the hypervisor's pause: storage primary now %s"
                        + " (%.3f ms), redirect confirmed (%.3f ms); pause hook %.3f ms", run.to.name(), t[0], t[1],
                        hook), topology.settings().switchTimeout());
                proceed.complete(null);
            }), lifecycle);
        });
        return proceed;
    }

    @Override
    public void addListener(MigrationListener listener) {
        listeners.add(listener);
    }

    @Override
    public void removeListener(MigrationListener listener) {
        listeners.remove(listener);
    }

    // ---- the phases ----------------------------------------------------------------------------

    /** PREPARING: tunnel on every hop (confirmed) and storage in sync, nothing redirected yet. */
    private void prepare(Run run) {
        List<FlowRule> rules = run.plan.prepared();
        long t0 = System.nanoTime();
        int epoch = advance(run, PREPARING, "installing tunnel (" + rules.size() + " rules, path "
                + hops(run.plan) + ", labels " + run.record.labels() + "); replication going synchronous",
                topology.settings().prepareTimeout());
        CompletableFuture<String> tunnel = network.install(rules)
                .thenApply(x -> String.format("tunnel confirmed in %.1f ms", ms(t0)));
        CompletableFuture<String> storage = replication.goSynchronous(run.server, run.from, run.to,
                topology.settings().prepareTimeout()).thenApply(x -> run.from.agent() == null
                        ? "storage: no replication agent at " + run.from.name()
                        : String.format("storage in sync in %.1f ms", ms(t0)));
        tunnel.thenCombine(storage, (a, b) -> a + "; " + b)
                .whenCompleteAsync((detail, error) -> inPhase(run, epoch, () -> {
                    if (error != null) {
                        rollBack(run, FAILED, "PREPARING failed: " + cause(error));
                    } else {
                        migrate(run, detail);
                    }
                }), lifecycle);
    }

    /** MIGRATING: the hypervisor copies the server; its completion report triggers the cutover. */
    private void migrate(Run run, String prepared) {
        HypervisorDriver driver = hypervisors.apply(topology);
        advance(run, MIGRATING, prepared + "; hypervisor (" + driver.name() + ") copying " + run.server.name(),
                topology.settings().migrateTimeout());
        try {
            driver.migrate(run.record, run.server, run.from, run.to, this);
        } catch (RuntimeException e) {
            rollBack(run, FAILED, "hypervisor driver refused: " + e.getMessage());
        }
    }

    /** CUTOVER: the redirect at PE_A, installed at once; the record says how long it took. */
    private CompletableFuture<Migration> cutover(Run run, String reported, long reportedAt) {
        if (run.cutover != null) {
            return run.cutover; // a repeated report while the redirect is being confirmed waits for the same one
        }
        int epoch = run.bump(topology.settings().switchTimeout());
        CompletableFuture<Migration> result = new CompletableFuture<>();
        run.cutover = result;
        // confirmed = the switches' barrier replies arrived: taken where they complete, before the
        // hop back onto the lifecycle thread
        network.install(run.plan.redirects()).thenApply(x -> ms(reportedAt))
                .whenCompleteAsync((confirmedMs, error) -> inPhase(run, epoch, () -> {
            if (error != null) {
                rollBack(run, FAILED, "CUTOVER failed: " + cause(error)).thenAccept(result::complete);
                return;
            }
            advance(run, CUTOVER, String.format("redirect confirmed in %.3f ms; hypervisor: %s", confirmedMs,
                    reported == null || reported.isBlank() ? "completed" : reported), topology.settings().switchTimeout());
            result.complete(run.record);
            updateRoutes(run);
        }), lifecycle);
        return result;
    }

    /**
     * ROUTES_UPDATED: client routes to PE_B (installed and confirmed before anything is removed),
     * the server's replies leave PE_B directly, routes to PE_A go, storage roles reverse.
     */
    private void updateRoutes(Run run) {
        int epoch = run.epoch;
        long t0 = System.nanoTime();
        RouteChange change = planner.routeChange(run.server, run.from.name(), run.to.name());
        CompletableFuture<Void> routes = installInOrder(change.steps())
                .thenCompose(x -> network.remove(run.plan.reverseIngress()))
                .thenCompose(x -> network.remove(change.removals()));
        CompletableFuture<Void> roles = run.rolesReversed ? CompletableFuture.completedFuture(null)
                : replication.reverseRoles(run.server, run.from, run.to);
        routes.thenCombine(roles, (a, b) -> null).whenCompleteAsync((x, error) -> inPhase(run, epoch, () -> {
            if (error != null) {
                rollBack(run, FAILED, "ROUTES_UPDATED failed: " + cause(error));
                return;
            }
            store.setPlacement(run.server.name(), run.to.name());
            advance(run, ROUTES_UPDATED, String.format("%d route rules installed, %d removed, storage primary now %s,"
                    + " in %.1f ms", change.installCount(), change.removals().size(), run.to.name(), ms(t0)), null);
            drain(run, topology.settings().drain());
        }), lifecycle);
    }

    /** DRAINING: the tunnel stays for in-flight traffic, then every rule of the migration goes. */
    private void drain(Run run, Duration remaining) {
        int epoch = advance(run, DRAINING, "tunnel kept " + remaining.toMillis() + " ms for traffic in flight", null);
        lifecycle.schedule(() -> inPhase(run, epoch, () -> teardown(run)), remaining.toMillis(), TimeUnit.MILLISECONDS);
    }

    private void teardown(Run run) {
        int epoch = run.epoch;
        List<FlowRule> rules = run.plan.all();
        network.remove(rules).whenCompleteAsync((x, error) -> inPhase(run, epoch, () -> {
            // A switch that missed the removal drops the rules when it reconnects: they are no longer desired.
            String detail = error == null ? rules.size() + " tunnel rules removed"
                    : rules.size() + " tunnel rules withdrawn; " + cause(error) + " (removed on reconnect)";
            finish(run, COMPLETED, detail);
        }), lifecycle);
    }

    /**
     * FAILED or ROLLED_BACK: the server returns to the source (the hypervisor is told), its routes
     * there are restored and confirmed, every rule of the migration is removed, storage goes back to
     * the source as primary, asynchronous.
     */
    private CompletableFuture<Migration> rollBack(Run run, MigrationState end, String reason) {
        if (run.rollingBack != null) {
            return run.rollingBack;
        }
        log.warn("migration {} of {}: {}", run.record.id(), run.server.name(), reason);
        MigrationState state = run.record.state();
        run.record = run.record.withError(reason);
        store.put(run.record);
        int epoch = run.bump(null);
        run.rollingBack = new CompletableFuture<>();
        if (state.ordinal() >= MIGRATING.ordinal()) {
            try {
                boolean moved = run.switchedInPause ? run.hypervisorDone : state.serverMoved();
                hypervisors.apply(topology).abort(run.record, run.server, run.from, run.to, moved);
            } catch (RuntimeException e) {
                log.warn("hypervisor abort of migration {} failed: {}", run.record.id(), e.getMessage());
            }
        }
        // The route update may have been sent (and partly applied) before the placement changed, so
        // the destination's routes go whatever the placement says; keys the source shares stay.
        List<FlowRule> restore = new ArrayList<>(planner.serverRoutes(run.server, run.from.name()));
        Map<RuleDiff.Key, FlowRule> stale = new java.util.LinkedHashMap<>();
        for (String dc : List.of(location(run.server.name()), run.to.name())) {
            RuleDiff.between(planner.serverRoutes(run.server, dc), restore).toRemove()
                    .forEach(r -> stale.putIfAbsent(RuleDiff.Key.of(r), r));
        }
        List<FlowRule> leftovers = new ArrayList<>(stale.values());
        // Each step runs whatever the one before did: a switch that cannot take the restored routes
        // must not leave the tunnel and redirect behind on every other switch.
        List<Throwable> netErrors = new java.util.concurrent.CopyOnWriteArrayList<>();
        // back to the source in the route update's safe order, then every source rule again (the
        // routes in force may be half-way between the two)
        RouteChange back = planner.routeChange(run.server, location(run.server.name()), run.from.name());
        CompletableFuture<Void> network = step(installInOrder(back.steps()), netErrors)
                .thenCompose(x -> step(this.network.install(restore), netErrors))
                .thenCompose(x -> step(this.network.remove(run.plan.all()), netErrors))
                .thenCompose(x -> step(this.network.remove(leftovers), netErrors))
                .thenApply(x -> {
                    if (!netErrors.isEmpty()) {
                        throw new CompletionException(netErrors.get(0));
                    }
                    return null;
                });
        CompletableFuture<Void> storage = replication.restore(run.server, run.from, run.to);
        network.handle((x, e) -> e).thenCombine(storage.handle((x, e) -> e), (netError, storageError) -> {
            List<String> problems = new ArrayList<>();
            if (netError != null) {
                problems.add("network: " + cause(netError));
            }
            if (storageError != null) {
                problems.add("storage: " + cause(storageError));
            }
            return problems;
        }).whenCompleteAsync((problems, e) -> inPhase(run, epoch, () -> {
            store.setPlacement(run.server.name(), run.from.name());
            String detail = reason + (problems.isEmpty() ? "; source routes restored, migration rules removed"
                    : "; rollback incomplete: " + String.join("; ", problems));
            finish(run, problems.isEmpty() ? end : FAILED, detail);
        }), lifecycle);
        return run.rollingBack;
    }

    /** Installs each step once the one before is confirmed. */
    private CompletableFuture<Void> installInOrder(List<List<FlowRule>> steps) {
        CompletableFuture<Void> done = CompletableFuture.completedFuture(null);
        for (List<FlowRule> step : steps) {
            done = done.thenCompose(x -> network.install(step));
        }
        return done;
    }

    /** The step's outcome as a value: its error, if any, is collected instead of ending the chain. */
    private static CompletableFuture<Void> step(CompletableFuture<Void> step, List<Throwable> errors) {
        return step.handle((x, e) -> {
            if (e != null) {
                errors.add(e);
            }
            return null;
        });
    }

    // ---- resuming after a restart or a change of leader -----------------------------------------

    private void resume(Migration m) {
        Optional<VirtualServer> vs = topology.server(m.server());
        Optional<DataCenter> from = topology.dataCenter(m.source());
        Optional<DataCenter> to = topology.dataCenter(m.destination());
        if (vs.isEmpty() || from.isEmpty() || to.isEmpty()) {
            store.put(m.withError("configuration no longer names its server or data centers")
                    .transition(FAILED, clock.millis(), "abandoned: not in the current configuration"));
            return;
        }
        Run run = new Run(m, planner.migration(m), vs.get(), from.get(), to.get());
        runs.put(m.id(), run);
        long elapsed = clock.millis() - m.stateSince();
        log.info("resuming migration {} in {}", m.id(), m.state());
        switch (m.state()) {
            case REQUESTED:
            case PREPARING:
                // storage and tunnel state are unknown: start over from a clean source
                rollBack(run, ROLLED_BACK, "controller restarted while " + m.state() + "; rolled back");
                break;
            case MIGRATING: {
                // the hypervisor keeps copying and will report; make sure the tunnel is there for it,
                // and ask again: the request may have died with the previous instance (drivers
                // treat a repeated request for the same migration as the same request)
                Duration left = topology.settings().migrateTimeout().minusMillis(elapsed);
                int epoch = run.bump(left.isNegative() ? Duration.ZERO : left);
                network.install(run.plan.prepared()).whenCompleteAsync((x, e) -> inPhase(run, epoch, () -> {
                    if (e != null) {
                        rollBack(run, FAILED, "tunnel could not be restored after restart: " + cause(e));
                    } else {
                        hypervisors.apply(topology).migrate(run.record, run.server, run.from, run.to, this);
                    }
                }), lifecycle);
                break;
            }
            case CUTOVER: {
                int epoch = run.bump(topology.settings().switchTimeout());
                network.install(run.plan.redirects()).whenCompleteAsync((x, e) -> inPhase(run, epoch, () -> {
                    if (e != null) {
                        rollBack(run, FAILED, "redirect could not be restored after restart: " + cause(e));
                    } else {
                        updateRoutes(run);
                    }
                }), lifecycle);
                break;
            }
            case ROUTES_UPDATED:
                drain(run, topology.settings().drain());
                break;
            case DRAINING: {
                Duration left = topology.settings().drain().minusMillis(elapsed);
                int epoch = run.bump(null);
                lifecycle.schedule(() -> inPhase(run, epoch, () -> teardown(run)),
                        Math.max(0, left.toMillis()), TimeUnit.MILLISECONDS);
                break;
            }
            default:
                break;
        }
    }

    // ---- plumbing --------------------------------------------------------------------------------

    /** Enters {@code state}, stores the record, tells listeners; arms the phase timeout. */
    private int advance(Run run, MigrationState state, String detail, Duration timeout) {
        MigrationStateMachine.check(run.record.state(), state);
        run.record = run.record.transition(state, clock.millis(), detail);
        store.put(run.record);
        notifyListeners(run.record);
        log.info("migration {} of {}: {} ({})", run.record.id(), run.server.name(), state, detail);
        return run.bump(timeout);
    }

    private void finish(Run run, MigrationState end, String detail) {
        MigrationStateMachine.check(run.record.state(), end);
        run.record = run.record.transition(end, clock.millis(), detail);
        store.put(run.record);
        run.bump(null);
        runs.remove(run.record.id());
        notifyListeners(run.record);
        log.info("migration {} of {}: {} ({})", run.record.id(), run.server.name(), end, detail);
        if (run.rollingBack != null) {
            run.rollingBack.complete(run.record);
        }
    }

    /** Runs {@code action} only if the run is still in the phase that scheduled it. */
    private void inPhase(Run run, int epoch, Runnable action) {
        if (run.epoch != epoch || runs.get(run.record.id()) != run) {
            return;
        }
        try {
            action.run();
        } catch (RuntimeException e) {
            log.error("migration {}: unexpected error", run.record.id(), e);
            rollBack(run, FAILED, "internal error: " + e);
        }
    }

    private Run activeRun(MigrationId id) {
        Migration m = store.get(id).orElseThrow(() ->
                WanmigException.notFound("id", "unknown migration " + id));
        Run run = runs.get(id);
        if (run == null || !m.isActive()) {
            throw WanmigException.conflict("id", "migration " + id + " is " + m.state() + " and no longer active");
        }
        return run;
    }

    private void requireLeader() {
        if (!driving || !leadership.isLeader()) {
            throw WanmigException.unavailable("this instance does not drive migrations; the leader is "
                    + leadership.leader());
        }
    }

    private void notifyListeners(Migration m) {
        for (MigrationListener l : listeners) {
            try {
                l.transitioned(m);
            } catch (RuntimeException e) {
                log.warn("migration listener failed", e);
            }
        }
    }

    /** Runs on the lifecycle thread and waits: the public API is synchronous and serialised. */
    private <T> T call(Callable<T> task) {
        try {
            if (Thread.currentThread() == lifecycleThread) {
                return task.call();
            }
            return lifecycle.submit(task).get(30, TimeUnit.SECONDS);
        } catch (ExecutionException e) {
            if (e.getCause() instanceof RuntimeException) {
                throw (RuntimeException) e.getCause();
            }
            throw new IllegalStateException(e.getCause());
        } catch (TimeoutException e) {
            throw WanmigException.unavailable("the lifecycle did not answer within 30 s");
        } catch (java.util.concurrent.RejectedExecutionException e) {
            throw WanmigException.unavailable("the migration service is shut down");
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw WanmigException.unavailable("interrupted");
        } catch (RuntimeException e) {
            throw e;
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

    /** Waits for a phase to settle, bounded by the switch timeout; returns the record as it is then. */
    private Migration await(CompletableFuture<Migration> done, MigrationId id) {
        try {
            return done.get(topology.settings().switchTimeout().toMillis() + 1000, TimeUnit.MILLISECONDS);
        } catch (TimeoutException e) {
            return store.get(id).orElseThrow();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return store.get(id).orElseThrow();
        } catch (ExecutionException | CompletionException e) {
            throw e.getCause() instanceof RuntimeException ? (RuntimeException) e.getCause()
                    : new IllegalStateException(e.getCause());
        }
    }

    private static String hops(MigrationPlan plan) {
        return plan.forwardPath().stream().map(cp -> cp.deviceId() + "/" + cp.port())
                .collect(Collectors.joining(" > "));
    }

    private static double ms(long t0) {
        return (System.nanoTime() - t0) / 1e6;
    }

    private static String cause(Throwable t) {
        while ((t instanceof CompletionException || t instanceof ExecutionException) && t.getCause() != null) {
            t = t.getCause();
        }
        return t.getMessage() == null ? t.toString() : t.getMessage();
    }

    /** What the manager knows of one migration it drives. Touched only on the lifecycle thread. */
    private final class Run {
        Migration record;
        final MigrationPlan plan;
        final VirtualServer server;
        final DataCenter from;
        final DataCenter to;
        int epoch;
        ScheduledFuture<?> timer;
        CompletableFuture<Migration> rollingBack;
        CompletableFuture<Migration> cutover;
        /** The cutover ran inside the hypervisor's pause (pre-switchover), not on its report. */
        boolean switchedInPause;
        /** The hypervisor reported that the server runs at the destination. */
        boolean hypervisorDone;
        /** Storage roles already flipped (inside the pause): the route update leaves them. */
        boolean rolesReversed;

        Run(Migration record, MigrationPlan plan, VirtualServer server, DataCenter from, DataCenter to) {
            this.record = record;
            this.plan = plan;
            this.server = server;
            this.from = from;
            this.to = to;
        }

        /** Leaves the current phase: older callbacks are ignored from now on; arms a timeout. */
        int bump(Duration timeout) {
            cancelTimer();
            int mine = ++epoch;
            if (timeout != null) {
                MigrationState state = record.state();
                timer = lifecycle.schedule(() -> inPhase(this, mine, () -> rollBack(this, FAILED,
                        state + " timed out after " + timeout.toMillis() / 1000.0 + " s")),
                        timeout.toMillis(), TimeUnit.MILLISECONDS);
            }
            return mine;
        }

        void cancelTimer() {
            if (timer != null) {
                timer.cancel(false);
                timer = null;
            }
        }
    }
}
