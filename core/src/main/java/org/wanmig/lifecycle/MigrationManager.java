package org.wanmig.lifecycle;

import org.onosproject.core.ApplicationId;
import org.onosproject.net.DeviceId;
import org.onosproject.net.flow.FlowRule;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.wanmig.api.AgentDiskStatus;
import org.wanmig.api.Migration;
import org.wanmig.api.MigrationId;
import org.wanmig.api.MigrationListener;
import org.wanmig.api.MigrationService;
import org.wanmig.api.MigrationState;
import org.wanmig.api.Promotion;
import org.wanmig.api.TunnelLabels;
import org.wanmig.api.WanmigException;
import org.wanmig.config.DataCenter;
import org.wanmig.config.VirtualServer;
import org.wanmig.config.WanGraph;
import org.wanmig.config.WanTopology;
import org.wanmig.failover.FailoverActions;
import org.wanmig.failover.LossSignals;
import org.wanmig.net.ServerAnnounceDetector;
import org.wanmig.planner.MigrationPlan;
import org.wanmig.planner.NetworkPlanner;
import org.wanmig.planner.RouteChange;
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
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Function;
import java.util.function.Supplier;
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
public final class MigrationManager implements MigrationService, HypervisorListener, FailoverActions, LossSignals {
    private static final Logger log = LoggerFactory.getLogger(MigrationManager.class);
    /** How long rules left on a path traffic was moved off stay, for packets still on it. */
    static final Duration OLD_PATH_GRACE = Duration.ofMillis(250);

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
    private final Reconciler reconciler;

    private volatile WanTopology topology;
    private volatile NetworkPlanner planner;
    private volatile boolean driving;
    private volatile Duration takeOverRecheck = Duration.ofSeconds(2);
    private volatile Duration storageRetryEvery = Duration.ofSeconds(2);
    private volatile Duration storageRetryBudget = Duration.ofSeconds(30);
    /**
     * When this instance last took over (epoch ms): any instance that drove before it was gone by
     * then, and so was anything it would have sent a hypervisor.
     */
    private volatile long tookOverAt;
    /** How long a resumed migration waits for the destination's agent to say whether it took over. */
    static final Duration RESUME_ASK_TIMEOUT = Duration.ofSeconds(5);
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
        this.reconciler = new Reconciler(network, lifecycle, this::desiredState);
        lifecycle.scheduleWithFixedDelay(this::pruneFinished, 1, 1, TimeUnit.MINUTES);
    }

    /**
     * Forgets finished migrations (COMPLETED, FAILED, ROLLED_BACK) that ended longer ago than the
     * configured retention ({@code migration.retentionHours}); returns how many went. Runs every
     * minute on the lifecycle thread, and only where this instance drives.
     */
    public int pruneFinished() {
        return call(() -> {
            if (!driving) {
                return 0;
            }
            long cutoff = clock.millis() - topology.settings().retention().toMillis();
            int pruned = 0;
            for (Migration m : store.all()) {
                if (!m.isActive() && m.stateSince() < cutoff) {
                    store.remove(m.id());
                    pruned++;
                }
            }
            if (pruned > 0) {
                log.info("pruned {} finished migrations older than {}", pruned, topology.settings().retention());
            }
            return pruned;
        });
    }

    // ---- lifecycle of the manager itself ------------------------------------------------------

    /** {@link #takeOver(Predecessors)} by a single process restarted: its predecessor is gone. */
    public CompletableFuture<Void> takeOver() {
        return takeOver(Predecessors.GONE);
    }

    /**
     * Takes over driving: rebuilds the desired state from the store (every active migration from
     * its stored plan) and the topology, reads every switch's table, and changes only the
     * difference (a restarted runtime or a new leader finds the rules its predecessor installed and
     * leaves them alone); then resumes or rolls back each migration in flight, each on its own.
     * Called at start and whenever this instance becomes leader.
     *
     * @param predecessors whether every instance that drove before is known to be gone now: then
     *        the take-over time bounds anything they did (a switchover in a pause), and a resumed
     *        migration that cannot learn whether one happened waits only for what is left of the
     *        hypervisor's budget from then; otherwise it waits the whole budget
     */
    public CompletableFuture<Void> takeOver(Predecessors predecessors) {
        return call(() -> {
            driving = true;
            tookOverAt = predecessors == Predecessors.GONE ? clock.millis() : 0;
            List<Run> resumed = new ArrayList<>();
            for (Migration m : store.all()) {
                if (m.isActive() && !runs.containsKey(m.id())) {
                    Run run = rebuild(m);
                    if (run != null) {
                        runs.put(m.id(), run);
                        resumed.add(run);
                    }
                }
            }
            List<CompletableFuture<Void>> reads = topology.allSwitches().stream()
                    .filter(network::isAvailable).map(reconciler::adopt).collect(Collectors.toList());
            CompletableFuture<Void> baseline = CompletableFuture.allOf(reads.toArray(new CompletableFuture<?>[0]))
                    .thenComposeAsync(x -> {
                        resumed.forEach(this::findRouteSteps);
                        return reconciler.converge(null, Set.of());
                    }, lifecycle)
                    .thenAccept(outcome -> log.info("took over: {}", outcome));
            // each migration goes on (or rolls back) on its own, whatever the others do; one that a
            // report or an abort already moved on while the tables were read (its epoch is no longer
            // the rebuilt one, 0) is left to that
            baseline.handleAsync((x, e) -> {
                resumed.forEach(run -> inPhase(run, 0, () -> resume(run)));
                return null;
            }, lifecycle);
            return baseline;
        });
    }

    /** What a new driver knows of the instances that drove before it, at {@link #takeOver}. */
    public enum Predecessors {
        /** None can act any more: a restarted single process (the embedded runtime). */
        GONE,
        /** One may still run and finish a step under way: a former leader of a cluster. */
        MAY_STILL_RUN
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

    /**
     * A switch connected (or reconnected): its table is read and only the difference from the
     * desired state is changed. Returns at once; the work runs on the lifecycle thread.
     */
    public void switchConnected(DeviceId device) {
        execute(() -> {
            if (!driving) {
                return; // taking over reads every switch
            }
            reconciler.adopt(device)
                    .thenComposeAsync(x -> reconciler.converge(Set.of(device), Set.of()), lifecycle)
                    .whenComplete((outcome, e) -> {
                        if (e != null) {
                            log.warn("{} not brought in line on connect: {}", device, cause(e));
                        } else {
                            log.info("{} connected: {}", device, outcome);
                        }
                    });
        });
    }

    /** A switch disconnected: what it holds is unknown until it connects again. */
    public void switchDisconnected(DeviceId device) {
        execute(() -> reconciler.forget(device));
    }

    /**
     * A new topology (a configuration update, or links that went down or came back): baseline
     * routes move over to it, and every active migration whose tunnel crosses a link that is gone
     * is re-planned around it, make-before-break (the new revision's rules are installed and
     * confirmed before the ingress turns to it, and the old rules go last); the new revision is
     * stored and is a timeline event. A migration before CUTOVER with no path left rolls back.
     * Migrations whose paths still stand keep their stored plans, whatever else changed.
     */
    public CompletableFuture<Void> updateTopology(WanTopology next) {
        return call(() -> {
            topology = next;
            planner = new NetworkPlanner(next, appId);
            if (!driving) {
                return CompletableFuture.<Void>completedFuture(null);
            }
            WanGraph graph = WanGraph.of(next);
            for (Run run : new ArrayList<>(runs.values())) {
                if (run.rollingBack == null && run.stage != NetStage.NONE && !run.plan.pathsIn(graph)) {
                    replan(run);
                }
                if (run.routing != null) {
                    // its steps were planned on the old topology: the new routes go in at once
                    run.routesAt = run.to.name();
                    run.endRouting();
                }
            }
            return reconciler.convergeThenDrain(OLD_PATH_GRACE).thenAccept(o -> log.info("topology updated: {}", o));
        });
    }

    /** A new revision of the run's plan on the paths up now, with labels of its own. */
    private void replan(Run run) {
        MigrationState state = run.record.state();
        try {
            // the run's own record still holds the old labels: they stay reserved until it lets go (make before break)
            TunnelLabels labels = planner.tunnelLabels(run.from.name(), run.to.name(), activeRecords());
            Migration relabelled = run.record.withPlan(run.plan, labels);
            MigrationPlan next = planner.migration(relabelled, run.plan.revision() + 1);
            run.record = relabelled.withPlan(next, labels).noted(clock.millis(), "tunnel re-planned around a"
                    + " failed link (revision " + next.revision() + "): path " + hops(next) + ", labels " + labels);
            run.plan = next;
            store.put(run.record);
            notifyListeners(run.record);
            log.info("migration {}: tunnel re-planned, path {}", run.record.id(), hops(next));
        } catch (WanmigException e) {
            if (state.ordinal() < CUTOVER.ordinal()) {
                rollBack(run, FAILED, "no WAN path left for the tunnel after a link failure: " + e.getMessage());
            } else {
                // the server already runs at the destination and its routes lead there or will
                run.record = run.record.noted(clock.millis(), "tunnel path broken and no other path: "
                        + e.getMessage());
                store.put(run.record);
                notifyListeners(run.record);
            }
        }
    }

    /** The active migrations' records: those of the runs here (newest), then any other active record stored. */
    private List<Migration> activeRecords() {
        Map<MigrationId, Migration> active = new java.util.LinkedHashMap<>();
        runs.values().forEach(r -> active.put(r.record.id(), r.record));
        store.all().stream().filter(Migration::isActive).forEach(m -> active.putIfAbsent(m.id(), m));
        return new ArrayList<>(active.values());
    }

    public WanTopology topology() {
        return topology;
    }

    public NetworkPlanner planner() {
        return planner;
    }

    /** Every baseline rule as it should be now (for the placements in the store), for reports. */
    public List<FlowRule> baselineRules() {
        List<FlowRule> rules = new ArrayList<>(planner.infrastructure());
        rules.addAll(planner.siteRoutes());
        rules.addAll(planner.dcRoutes());
        Map<String, String> placements = store.placements();
        for (VirtualServer v : topology.servers()) {
            rules.addAll(planner.serverRoutes(v, placed(v, placements)));
        }
        return rules;
    }

    /** The rules wanted on {@code device} now: baseline and active migrations. */
    public List<FlowRule> desiredRules(DeviceId device) {
        return call(() -> reconciler.desired(device));
    }

    /**
     * The desired state: the baseline for the current placements on the current topology (a
     * migrating server's routes where the run has them now, with the steps of a route change
     * under way that are confirmed over them), plus the rules of every active migration for its
     * current phase, from its stored plan. Called on the lifecycle thread.
     */
    private List<FlowRule> desiredState() {
        List<FlowRule> rules = new ArrayList<>(planner.infrastructure());
        rules.addAll(planner.siteRoutes());
        rules.addAll(planner.dcRoutes());
        Map<String, Run> moving = new HashMap<>();
        runs.values().forEach(r -> moving.put(r.server.name(), r));
        Map<String, String> placements = store.placements();   // one read of the store, not one per server
        for (VirtualServer v : topology.servers()) {
            Run run = moving.get(v.name());
            String dc = run == null ? null : run.routesAt;
            List<FlowRule> routes = planner.serverRoutes(v, dc != null && topology.dataCenter(dc).isPresent()
                    ? dc : placed(v, placements));
            if (run != null && !run.routed.isEmpty()) {
                List<FlowRule> both = new ArrayList<>(routes);
                both.addAll(run.routed);
                routes = new ArrayList<>(Reconciler.index(both).values());
            }
            rules.addAll(routes);
        }
        runs.values().forEach(r -> rules.addAll(r.rules()));
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
        return placed(v, store.placements());
    }

    /** Where a server runs: its stored placement if the topology still has that DC, else its home. */
    private String placed(VirtualServer v, Map<String, String> placements) {
        String placed = placements.get(v.name());
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
            if (!vs.storageAllows(from.name(), to.name())) {
                throw WanmigException.badRequest("destination", server + "'s disk is replicated between "
                        + vs.dc() + " and " + vs.replicaAt().orElseThrow() + ": from " + from.name() + " it can move to "
                        + vs.otherCopy(from.name()).orElse("neither") + " only");
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
            TunnelLabels labels = planner.tunnelLabels(from.name(), to.name(), activeRecords());
            Migration m = Migration.requested(store.nextId(), server, from.name(), to.name(),
                    planner.attachment(vs, to.name()).toLong(), labels, clock.millis());
            MigrationPlan plan = planner.migration(m); // refuses (no path) before anything is stored
            m = m.withPlan(plan, labels);
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
            if (run.rollingBack != null && !run.record.serverMoved()) {
                // Decided before this report (a failure reported first: e.g. the source's monitor
                // closed as QEMU completed): routing to the destination now would race the rollback,
                // whose abort stops the destination's QEMU and resumes the source. (A report said
                // again for a server known to have moved changes nothing, as below.)
                throw WanmigException.conflict("status", "migration " + id + " is rolling back ("
                        + run.record.error() + "); a completion reported after that is not followed");
            }
            if (state == CUTOVER && run.record.switchedInPause() && !run.record.hypervisorReported()) {
                // switched over inside the pause; the guest now runs at the destination
                run.record = run.record.withHypervisorReported().noted(clock.millis(), "hypervisor: "
                        + (detail == null || detail.isBlank() ? "completed" : detail));
                store.put(run.record);
                notifyListeners(run.record);
                updateRoutes(run);
                return CompletableFuture.completedFuture(run.record);
            }
            if (state.serverMoved()) {
                if (!run.record.hypervisorReported()) {
                    // the cutover ran on the server's own announce; the report confirms it
                    run.record = run.record.withHypervisorReported().noted(clock.millis(), "hypervisor confirms: "
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
            return cutover(run, detail, reportedAt, true);
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
                        && run.record.state() == MIGRATING && run.rollingBack == null) {
                    log.info("migration {}: {} seen; cutover before the hypervisor's report", run.record.id(), announce);
                    cutover(run, announce + " (before the hypervisor's report)", seenAt, false);
                }
            }
        });
    }

    @Override
    public Migration hypervisorFailed(MigrationId id, String reason) {
        return await(rollBackOnFailure(id, reason), id);
    }

    /** The rollback of a migration whose hypervisor failed, started; it ends when the future does. */
    private CompletableFuture<Migration> rollBackOnFailure(MigrationId id, String reason) {
        return call(() -> {
            requireLeader();
            Run run = activeRun(id);
            return rollBack(run, FAILED, "hypervisor failed: " + (reason == null ? "no reason given" : reason));
        });
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
        // Started, not awaited: the driver's thread holds its connection to the source's monitor,
        // which serves one client, until it returns, and the rollback's abort needs that monitor
        // (seen: a guest paused 5 s more, the abort queued behind it while the demote of a
        // silent destination timed out).
        try {
            rollBackOnFailure(id, reason);
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
            note(run, detail);
        });
    }

    /**
     * The hypervisor paused the server with its memory copied and waits. No write is in flight
     * (the guest is stopped, its block I/O drained) and replication is synchronous, so the
     * destination's copy holds every acknowledged write: it takes over in one call at a new
     * generation, which fences the source's copy, while the redirect at PE_A is installed and
     * confirmed. The hypervisor then goes on and the server resumes at the destination with its
     * disk and network there; the source's copy is demoted after the pause ({@code retire}). A
     * failure here rolls everything back and the hypervisor resumes the server at the source.
     */
    @Override
    public CompletionStage<Void> preSwitchover(MigrationId id, String detail) {
        long pausedAt = System.nanoTime();
        CompletableFuture<Void> proceed = new CompletableFuture<>();
        Runnable switchover = () -> {
            double queued = ms(pausedAt);
            Run run = runs.get(id);
            if (run != null && run.record.state() == CUTOVER && run.record.switchedInPause() && run.rollingBack == null) {
                proceed.complete(null);   // asked again (the driver follows a migration after a restart)
                return;
            }
            if (run == null || run.record.state() != MIGRATING || run.rollingBack != null || !driving) {
                proceed.completeExceptionally(new IllegalStateException("migration " + id + " is "
                        + (run == null ? "not active here" : run.record.state()) + "; not switching over"));
                return;
            }
            int epoch = run.bump(topology.settings().switchTimeout());
            run.record = run.record.withSwitchedInPause().noted(clock.millis(), "hypervisor " + detail);
            // Both sent before either is awaited: the hook lasts as long as the slower of the two.
            // The redirect first: prepared at MIGRATING, its send is a hand-off to the switch's
            // I/O thread, while the take-over's call wakes the agent, whose threads then compete
            // with this one for the CPUs (issued second, the redirect left 4-7 ms later).
            run.stage = NetStage.REDIRECT;
            CompletableFuture<Double> redirect = reconciler.installUnrecorded(run.plan.redirects()).thenApply(x -> ms(pausedAt));
            // named after the migration: a successor asking again (restarted) is answered as done
            CompletableFuture<String> takeOver = replication.takeOver("migration-" + id.value(), run.server,
                    run.from, run.to);
            double[] storageMs = new double[1];
            CompletableFuture<String> roles = takeOver.thenApply(how -> {
                storageMs[0] = ms(pausedAt);
                return how;
            });
            double sent = ms(pausedAt);
            // So that a successor recovers the take-over as one that may have happened; marked
            // (written by the store's own thread) after the sends: the lifecycle thread runs the
            // hook's completion and waited 3-28 ms for the disk when this was a put.
            store.mark(run.record);
            double marked = ms(pausedAt);
            AtomicBoolean decided = new AtomicBoolean();
            run.pauseDecided = decided;
            roles.thenCombine(redirect, (how, n) -> new Object[] {how, n}).whenComplete((t, error) -> {
                // The hypervisor goes on from the thread that completed the slower of the two, not
                // after a hop to the lifecycle thread (which waited 0.1-10 ms for a CPU on the
                // testbed): decided first here or by a rollback (rollBack), never both.
                boolean goOn = error == null && decided.compareAndSet(false, true);
                double hook = ms(pausedAt);
                // queued before the hypervisor is told: its report, sent after, is queued behind this
                try {
                    lifecycle.execute(() -> {
                        if (!goOn) {   // failed, or a rollback came first (it aborts the hypervisor itself)
                            proceed.completeExceptionally(error != null ? error : new IllegalStateException(
                                    "migration " + id + " rolled back inside the pause; not switching over"));
                            if (error != null) {
                                inPhase(run, epoch, () -> rollBack(run, FAILED, "switchover in the pause failed: "
                                        + cause(error)));
                            }
                            return;
                        }
                        inPhase(run, epoch, () -> {
                            reconciler.confirmed(run.plan.redirects());
                            advance(run, CUTOVER, String.format("inside the hypervisor's pause: storage primary now %s"
                                    + " (%.3f ms), redirect confirmed (%.3f ms); pause hook %.3f ms [lifecycle thread"
                                    + " after %.3f ms, both sent by %.3f ms, record marked by %.3f ms; %s]", run.to.name(),
                                    storageMs[0], (Double) t[1], hook, queued, sent, marked, t[0]),
                                    topology.settings().switchTimeout());
                            retire(run);
                        });
                    });
                } catch (RejectedExecutionException e) {
                    proceed.completeExceptionally(new IllegalStateException("the manager is shut down; not switching over"));
                    return;
                }
                if (goOn) {
                    proceed.complete(null);
                }
            });
        };
        try {
            lifecycle.execute(switchover);
        } catch (RejectedExecutionException e) {
            proceed.completeExceptionally(new IllegalStateException("the manager is shut down; not switching over"));
        }
        return proceed;
    }

    /** After the pause: the source's copy, fenced by the new generation, is demoted now. */
    private void retire(Run run) {
        long t0 = System.nanoTime();
        run.retired = replication.retire(run.server, run.from);
        run.retired.whenCompleteAsync((x, error) -> {
            if (runs.get(run.record.id()) != run || run.rollingBack != null) {
                return;   // a rollback retires it again itself, after this call
            }
            String note = error == null ? String.format("storage at %s demoted after the pause (%.1f ms)",
                    run.from.name(), ms(t0)) : "storage at " + run.from.name() + " not demoted after the pause ("
                    + cause(error) + "); fenced by the new generation when it meets it";
            note(run, note);
        }, lifecycle);
    }

    @Override
    public void addListener(MigrationListener listener) {
        listeners.add(listener);
    }

    @Override
    public void removeListener(MigrationListener listener) {
        listeners.remove(listener);
    }

    // ---- FailoverActions: a lost data center --------------------------------------------------

    @Override
    public List<Migration> giveUp(String lost, String reason) {
        return call(() -> {
            requireLeader();
            List<Migration> given = new ArrayList<>();
            for (Run run : new ArrayList<>(runs.values())) {
                if (run.from.name().equals(lost) || run.to.name().equals(lost)) {
                    given.add(giveUp(run, lost, reason));
                }
            }
            if (!given.isEmpty()) {
                // their rules are no longer desired: gone from every connected switch now, from the
                // lost PE when it reconnects (it is read and brought in line then)
                reconciler.converge(null, Set.of()).whenComplete((o, e) -> log.info("after giving up {} migration(s)"
                        + " of {}: {}", given.size(), lost, e == null ? o : "not converged: " + cause(e)));
            }
            return given;
        });
    }

    /** Ends one run at once, whatever phase it is in; nothing at {@code lost} is waited for. */
    private Migration giveUp(Run run, String lost, String reason) {
        boolean moved = run.record.serverMoved();
        DataCenter at = moved ? run.to : run.from;
        run.bump(null);   // callbacks of its phase are ignored from now on
        runs.remove(run.record.id());
        run.stage = NetStage.NONE;
        MigrationState end = FAILED;
        run.record = run.record.withError(reason).transition(end, clock.millis(), "given up: " + reason + "; "
                + run.server.name() + " left at " + at.name()
                + (at.name().equals(lost) ? " (to be failed over)" : ""));
        store.put(run.record);
        store.setPlacement(run.server.name(), at.name());
        notifyListeners(run.record);
        log.warn("migration {} of {} given up ({}); server left at {}", run.record.id(), run.server.name(), reason,
                at.name());
        if (run.rollingBack != null) {
            run.rollingBack.complete(run.record);
        }
        if (!moved && run.to.name().equals(lost)) {
            try {
                // the source's hypervisor stops copying towards the lost data center
                hypervisors.apply(topology).abort(run.record, run.server, run.from, run.to, false);
            } catch (RuntimeException e) {
                log.warn("hypervisor abort of migration {} failed: {}", run.record.id(), e.getMessage());
            }
        }
        if (moved && run.from.name().equals(lost)) {
            // it runs at the destination but the roles may not have reversed: its copy there becomes primary
            replication.promote(run.server, run.to, run.from).whenComplete((p, e) -> log.warn(
                    "migration {}: copy of {} at {} after the loss of {}: {}", run.record.id(), run.server.name(),
                    run.to.name(), lost, e == null ? p : "promotion failed: " + cause(e)));
        }
        return run.record;
    }

    @Override
    public CompletableFuture<Promotion> promote(String server, String at, String lost) {
        return call(() -> replication.promote(server(server), dataCenter(at), dataCenter(lost)));
    }

    @Override
    public CompletableFuture<String> restart(String server, String at) {
        return call(() -> {
            VirtualServer vs = server(server);
            long port = planner.attachment(vs, at).toLong();
            return hypervisors.apply(topology).restart(vs, dataCenter(at), port);
        });
    }

    @Override
    public CompletableFuture<String> route(String server, String at) {
        return call(() -> {
            requireLeader();
            DataCenter dc = dataCenter(at);
            server(server);
            store.setPlacement(server, at);
            long t0 = System.nanoTime();
            return reconciler.converge(null, Set.of(dc.pe())).thenApply(o -> String.format(
                    "routed to %s directly (%s) in %.1f ms", at, o, ms(t0)));
        });
    }

    private VirtualServer server(String name) {
        return topology.server(name).orElseThrow(() -> WanmigException.notFound("server", "unknown server '" + name + "'"));
    }

    // ---- LossSignals: what loss detection reads ------------------------------------------------

    @Override
    public boolean peConnected(String dc) {
        return network.isAvailable(dataCenter(dc).pe());
    }

    @Override
    public CompletableFuture<List<AgentDiskStatus>> agentDisks(String dc, Duration timeout) {
        return replication.disks(dataCenter(dc), timeout);
    }

    private DataCenter dataCenter(String name) {
        return topology.dataCenter(name).orElseThrow(() ->
                WanmigException.notFound("dc", "unknown data center '" + name + "'"));
    }

    // ---- the phases ----------------------------------------------------------------------------

    /**
     * PREPARING: tunnel on every hop (confirmed) and storage in sync, nothing redirected yet. When
     * the hypervisor switches over in its pause, the destination's take-over is checked once in
     * sync: a refusal fails the migration here, before anything moved, not inside the pause.
     */
    private void prepare(Run run) {
        List<FlowRule> rules = run.plan.prepared();
        long t0 = System.nanoTime();
        int epoch = advance(run, PREPARING, "installing tunnel (" + rules.size() + " rules, path "
                + hops(run.plan) + ", labels " + run.record.labels() + "); replication going synchronous",
                topology.settings().prepareTimeout());
        run.stage = NetStage.TUNNEL;
        CompletableFuture<String> tunnel = reconciler.converge(null, devices(rules))
                .thenApply(x -> String.format("tunnel confirmed in %.1f ms", ms(t0)));
        boolean inPause = hypervisors.apply(topology).switchesOverInPause(run.server);
        CompletableFuture<String> storage = replication.goSynchronous(run.server, run.from, run.to,
                topology.settings().prepareTimeout()).thenApply(x -> run.from.agent() == null || !run.server.replicated()
                        ? (run.from.agent() == null ? "storage: no replication agent at " + run.from.name()
                        : "storage: " + run.server.name() + "'s disk is not replicated")
                        : String.format("storage in sync in %.1f ms", ms(t0)))
                .thenCompose(synced -> !inPause ? CompletableFuture.completedFuture(synced)
                        : replication.checkTakeOver(run.server, run.from, run.to)
                                .thenApply(checked -> checked == null ? synced : synced + ", " + checked));
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
        int epoch = advance(run, MIGRATING, prepared + "; hypervisor (" + driver.nameFor(run.server) + ") copying "
                + run.server.name(), topology.settings().migrateTimeout());
        // translated now, so the redirect's send (in the pause, or at the report) is only a send
        reconciler.prepare(run.plan.redirects());
        try {
            driver.migrate(run.record, run.server, run.from, run.to, this);
        } catch (RuntimeException e) {
            rollBack(run, FAILED, "hypervisor driver refused: " + e.getMessage());
            return;
        }
        if (driver.switchesOverInPause(run.server)) {
            recheckTakeOver(run, epoch);
        }
    }

    /**
     * While the hypervisor copies, the destination's take-over is checked again every few seconds
     * ({@link #recheckTakeOverEvery}): a destination that could no longer take over (its stream
     * broken, no longer synchronous) fails the migration while the server still runs at the
     * source, not inside its pause; and the connection the pause's call uses stays open.
     */
    private void recheckTakeOver(Run run, int epoch) {
        lifecycle.schedule(() -> inPhase(run, epoch, () -> replication.checkTakeOver(run.server, run.from, run.to)
                .whenCompleteAsync((ready, error) -> inPhase(run, epoch, () -> {
                    if (error != null) {
                        rollBack(run, FAILED, "MIGRATING: " + run.to.name() + " can no longer take over "
                                + run.server.name() + "'s storage: " + cause(error));
                    } else {
                        recheckTakeOver(run, epoch);
                    }
                }), lifecycle)), takeOverRecheck.toMillis(), TimeUnit.MILLISECONDS);
    }

    /** How often {@link #recheckTakeOver} asks; 2 s by default (tests set their own). */
    void recheckTakeOverEvery(Duration every) {
        takeOverRecheck = Objects.requireNonNull(every);
    }

    /** How often and how long a rollback's storage step is tried again; 2 s and 30 s by default. */
    void retryStorage(Duration every, Duration budget) {
        storageRetryEvery = Objects.requireNonNull(every);
        storageRetryBudget = Objects.requireNonNull(budget);
    }

    /**
     * CUTOVER: the redirect at PE_A, installed at once; the record says how long it took. When the
     * hypervisor triggered it, that it reported is stored first: from then on a rollback tells the
     * hypervisor the server runs at the destination. (A cutover on the server's own announce is a
     * move too, by its state; the hypervisor's report is stored when it comes.)
     */
    private CompletableFuture<Migration> cutover(Run run, String reported, long reportedAt, boolean byHypervisor) {
        if (run.cutover != null) {
            return run.cutover; // a repeated report while the redirect is being confirmed waits for the same one
        }
        int epoch = run.bump(topology.settings().switchTimeout());
        if (byHypervisor && !run.record.hypervisorReported()) {
            run.record = run.record.withHypervisorReported();
            store.put(run.record);
        }
        CompletableFuture<Migration> result = new CompletableFuture<>();
        run.cutover = result;
        run.stage = NetStage.REDIRECT;
        // confirmed = the switches' barrier replies arrived: taken where they complete, before the
        // hop back onto the lifecycle thread
        reconciler.installUnrecorded(run.plan.redirects()).thenApply(x -> ms(reportedAt))
                .whenCompleteAsync((confirmedMs, error) -> inPhase(run, epoch, () -> {
            if (error != null) {
                rollBack(run, FAILED, "CUTOVER failed: " + cause(error)).thenAccept(result::complete);
                return;
            }
            reconciler.confirmed(run.plan.redirects());
            advance(run, CUTOVER, String.format("redirect confirmed in %.3f ms; hypervisor: %s", confirmedMs,
                    reported == null || reported.isBlank() ? "completed" : reported), null);
            result.complete(run.record);
            updateRoutes(run);
        }), lifecycle);
        return result;
    }

    /**
     * ROUTES_UPDATED: client routes to PE_B in the route change's confirmed order (new keys, then
     * changed rules nearest PE_B first), then the server's replies leave PE_B directly, the routes to
     * PE_A and the reverse ingress go, storage roles reverse. Runs under its own budget.
     */
    private void updateRoutes(Run run) {
        int epoch = run.bump(topology.settings().routeUpdateTimeout());
        long t0 = System.nanoTime();
        if (run.routing == null) {
            run.routing = planner.routeChange(run.server, run.routesAt, run.to.name());
        }
        RouteChange change = run.routing;
        int from = run.stepsDone;   // above 0: the steps before were found on the switches after a restart
        List<List<FlowRule>> left = change.steps().subList(from, change.steps().size());
        // Until the last step is confirmed the desired state is the old routes with the confirmed
        // steps over them, so a converge meanwhile (a switch that reconnects) keeps the pace.
        CompletableFuture<Void> routes = reconciler.installInOrder(left, topology.settings().routeStepGap(),
                () -> run.epoch == epoch, step -> {
                    if (run.routing == change) {
                        run.routed.addAll(step);
                        run.stepsDone++;
                    }
                }).thenComposeAsync(x -> {
                    if (run.epoch == epoch) {
                        run.routesAt = run.to.name();
                        run.endRouting();
                        run.stage = NetStage.ROUTED;
                    }
                    return reconciler.converge(null, Set.of());
                }, lifecycle)
                .thenCompose(x -> reconciler.removeUndesired(run.plan.reverseIngress()))
                .thenCompose(x -> reconciler.removeUndesired(change.removals()));
        CompletableFuture<Void> roles = run.record.switchedInPause() ? CompletableFuture.completedFuture(null)
                : replication.reverseRoles(run.server, run.from, run.to);
        routes.thenCombine(roles, (a, b) -> null).whenCompleteAsync((x, error) -> inPhase(run, epoch, () -> {
            if (error != null) {
                rollBack(run, FAILED, "ROUTES_UPDATED failed: " + cause(error));
                return;
            }
            store.setPlacement(run.server.name(), run.to.name());
            if (!run.record.switchedInPause()) {
                resumeStoppedOnWriteError(run);
            }
            advance(run, ROUTES_UPDATED, String.format("%d route rules installed, %d removed, storage primary now %s,"
                    + " in %.1f ms%s", change.installCount(), change.removals().size(), run.to.name(), ms(t0),
                    from == 0 ? "" : String.format(" (went on at step %d of %d: the steps before were on the switches"
                            + " after the restart)", from + 1, change.steps().size())), null);
            drain(run, topology.settings().drain());
        }), lifecycle);
    }

    /**
     * The storage was promoted at the destination after the server resumed there (the paper's
     * order): a guest stopped on a write refused meanwhile goes on now. Its outcome is a note.
     */
    private void resumeStoppedOnWriteError(Run run) {
        MigrationId id = run.record.id();
        hypervisors.apply(topology).diskWritable(run.server, run.to).whenComplete((detail, error) -> {
            if (error != null) {
                progress(id, "could not check whether " + run.server.name() + " stopped on a write error at "
                        + run.to.name() + ": " + cause(error));
            } else if (detail != null) {
                progress(id, detail);
            }
        });
    }

    /** DRAINING: the tunnel stays for in-flight traffic, then every rule of the migration goes. */
    private void drain(Run run, Duration remaining) {
        int epoch = advance(run, DRAINING, "tunnel kept " + remaining.toMillis() + " ms for traffic in flight", null);
        lifecycle.schedule(() -> inPhase(run, epoch, () -> teardown(run)), remaining.toMillis(), TimeUnit.MILLISECONDS);
    }

    private void teardown(Run run) {
        int epoch = run.epoch;
        List<FlowRule> rules = run.plan.all();
        run.stage = NetStage.NONE;
        reconciler.converge(null, Set.of()).thenCompose(x -> reconciler.removeUndesired(rules))
                .whenCompleteAsync((x, error) -> inPhase(run, epoch, () -> {
            // A switch that missed the removal is read when it reconnects, and they are no longer desired.
            String detail = error == null ? rules.size() + " tunnel rules removed"
                    : rules.size() + " tunnel rules withdrawn; " + cause(error) + " (removed on reconnect)";
            finish(run, COMPLETED, detail);
        }), lifecycle);
    }

    /**
     * FAILED or ROLLED_BACK: the server returns to the source (the hypervisor is told, with whether
     * it had reported the server running at the destination), its routes there are restored in the
     * route change's safe order and confirmed, every rule of the migration is removed (by the stored
     * plan, whatever the switches were known to hold), storage goes back to the source as primary,
     * asynchronous.
     */
    private CompletableFuture<Migration> rollBack(Run run, MigrationState end, String reason) {
        if (run.rollingBack != null) {
            return run.rollingBack;
        }
        log.warn("migration {} of {}: {}", run.record.id(), run.server.name(), reason);
        if (run.pauseDecided != null && run.pauseDecided.compareAndSet(false, true)) {
            log.info("migration {}: rolled back inside the hypervisor's pause, which does not go on", run.record.id());
        }
        MigrationState state = run.record.state();
        run.record = run.record.withError(reason);
        store.put(run.record);
        int epoch = run.bump(topology.settings().routeUpdateTimeout().plus(topology.settings().switchTimeout()));
        run.rollingBack = new CompletableFuture<>();
        boolean hypervisorToAbort = state.ordinal() >= MIGRATING.ordinal() || run.record.hypervisorReported();
        Migration aborted = run.record;
        Runnable abortHypervisor = () -> {
            log.debug("migration {}: the hypervisor told to abort", aborted.id());
            try {
                hypervisors.apply(topology).abort(aborted, run.server, run.from, run.to, aborted.serverMoved());
            } catch (RuntimeException e) {
                log.warn("hypervisor abort of migration {} failed: {}", aborted.id(), e.getMessage());
            }
        };
        if (hypervisorToAbort && !run.mayHaveTakenOver()) {
            abortHypervisor.run();
        }
        // A server that resumed at the destination and that its hypervisor cannot take back stays
        // there: its routes and its storage go with it, not back to where it no longer runs.
        boolean leftAtDestination = aborted.serverMoved()
                && !hypervisors.apply(topology).returnsMovedServer(run.server);
        DataCenter home = leftAtDestination ? run.to : run.from;
        DataCenter away = leftAtDestination ? run.from : run.to;
        // A route change cut short holds some of its steps: the way back starts from its far end.
        String routedAt = run.routing == null ? run.routesAt : home == run.to ? run.from.name() : run.to.name();
        run.routesAt = home.name();
        run.endRouting();
        run.stage = NetStage.NONE;
        // Each step runs whatever the one before did: a switch that cannot take the restored routes
        // must not leave the tunnel and redirect behind on every other switch.
        List<Throwable> netErrors = new java.util.concurrent.CopyOnWriteArrayList<>();
        RouteChange back = planner.routeChange(run.server, routedAt, home.name());
        List<FlowRule> awayRoutes;
        try {
            awayRoutes = planner.serverRoutes(run.server, away.name());
        } catch (RuntimeException e) {
            awayRoutes = List.of(); // that data center is cut off: no route can lead there
        }
        List<FlowRule> leftovers = awayRoutes;
        CompletableFuture<Void> network = step(reconciler.installInOrder(back.steps(), topology.settings().routeStepGap(),
                () -> true, s -> { }), netErrors)
                .thenComposeAsync(x -> step(reconciler.converge(null, Set.of()).thenApply(o -> null), netErrors),
                        lifecycle)
                .thenCompose(x -> step(reconciler.removeUndesired(run.plan.all()), netErrors))
                .thenCompose(x -> step(reconciler.removeUndesired(leftovers), netErrors))
                .thenApply(x -> {
                    if (!netErrors.isEmpty()) {
                        throw new CompletionException(netErrors.get(0));
                    }
                    return null;
                });
        CompletableFuture<Void> storage;
        if (leftAtDestination) {
            // primary where the server runs: the take-over in the pause made it so, else the reversal
            storage = run.record.switchedInPause() ? CompletableFuture.completedFuture(null)
                    : replication.reverseRoles(run.server, run.from, run.to);
            if (!run.record.switchedInPause()) {
                storage.thenRunAsync(() -> resumeStoppedOnWriteError(run), lifecycle);
            }
            if (hypervisorToAbort && run.record.switchedInPause()) {
                abortHypervisor.run();
            }
        } else if (run.mayHaveTakenOver()) {
            // The destination may have taken over (then the source's copy is fenced, or about to be
            // when the new primary's stream reaches it): the source's copy is demoted first, after
            // the pause's own demote if one is under way, then reclaimed above any generation the
            // destination may have taken over with, whether or not we heard of it.
            CompletableFuture<Void> retired = run.retired == null ? CompletableFuture.completedFuture(null)
                    : run.retired.handle((x, e) -> null);
            // Tried again while it fails (an agent down): the guest goes on only after it, and on a
            // copy that is not primary its writes would fail. A retry demotes a copy a failed try
            // may have promoted already; the guest is paused, and the reclaim goes above it again.
            CompletableFuture<Void> sourceBack = retired.thenCompose(x -> untilApplied(run,
                    () -> replication.retire(run.server, run.from)
                            .thenCompose(y -> replication.reclaim(run.server, run.from, run.to))));
            sourceBack.whenComplete((x, e) -> log.debug("migration {}: {} primary again{}", run.record.id(),
                    run.from.name(), e == null ? "" : " (failed: " + cause(e) + ")"));
            // The destination's copy took no write the guest goes on with (it never resumed there):
            // it is demoted alongside, not first, and one that does not answer is fenced by the
            // source's generation when it returns.
            CompletableFuture<Throwable> destinationDemoted = replication.retire(run.server, run.to)
                    .handle((x, e) -> e);
            storage = sourceBack.handle((x, e) -> e).thenCombine(destinationDemoted, (sourceError, destError) -> {
                if (sourceError != null) {
                    throw new CompletionException(sourceError);
                }
                if (destError != null) {
                    throw new IllegalStateException(run.to.name() + " not demoted (" + cause(destError) + "); "
                            + run.from.name() + " primary again without it, above any take-over it may have done");
                }
                return null;
            });
            // The source's copy was fenced or demoted in the pause. The guest must go on at the
            // source only once that copy is primary again: its writes would fail before (a QEMU
            // source resumes by itself when its migration fails; its disk stops the guest on a
            // write error, werror=stop, and the abort's cont retries the write). So the hypervisor
            // is told after that, whatever its outcome, and does not wait for the destination.
            if (hypervisorToAbort) {
                sourceBack.whenCompleteAsync((x, e) -> abortHypervisor.run(), lifecycle);
            }
        } else {
            storage = untilApplied(run, () -> replication.restore(run.server, run.from, run.to));
        }
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
            store.setPlacement(run.server.name(), home.name());
            String where = leftAtDestination ? "; " + run.server.name() + " stays at " + home.name()
                    + " (its hypervisor cannot take a resumed server back; migrate it back to return): its routes"
                    + " and storage are there" : "; source routes restored";
            String detail = reason + (problems.isEmpty() ? where + ", migration rules removed"
                    : where + "; rollback incomplete: " + String.join("; ", problems));
            finish(run, problems.isEmpty() && !leftAtDestination ? end : FAILED, detail);
        }), lifecycle);
        return run.rollingBack;
    }

    /**
     * A rollback's storage step (the source primary again, asynchronous), tried again while it
     * fails, every {@code storageRetryEvery} within {@code storageRetryBudget}. An agent that was
     * down when the migration failed comes back as it was (primary and SYNC, or demoted in the
     * pause), and nothing else would set it right. Each try is whole; the agents' calls are
     * idempotent (a replica demoted, a primary promoted, a mode set again). The migration ends
     * when the step does; a guest that waits for it (after a take-over) waits that long.
     */
    private CompletableFuture<Void> untilApplied(Run run, Supplier<CompletableFuture<Void>> step) {
        CompletableFuture<Void> done = new CompletableFuture<>();
        tryStep(run, step, System.nanoTime() + storageRetryBudget.toNanos(), 1, done);
        return done;
    }

    private void tryStep(Run run, Supplier<CompletableFuture<Void>> step, long deadline, int attempt,
                         CompletableFuture<Void> done) {
        CompletableFuture<Void> tried;
        try {
            tried = step.get();
        } catch (RuntimeException e) {
            tried = CompletableFuture.failedFuture(e);
        }
        tried.whenCompleteAsync((x, error) -> {
            if (error == null) {
                if (attempt > 1) {
                    note(run, "storage back at " + run.from.name() + " (try " + attempt + ")");
                }
                done.complete(null);
            } else if (System.nanoTime() + storageRetryEvery.toNanos() > deadline) {
                done.completeExceptionally(attempt == 1 ? error : new IllegalStateException(cause(error)
                        + " (" + attempt + " tries in " + storageRetryBudget.toSeconds() + " s)", error));
            } else {
                if (attempt == 1) {
                    note(run, "storage not back at " + run.from.name() + " (" + cause(error) + "); trying again every "
                            + storageRetryEvery.toMillis() / 1000.0 + " s for up to " + storageRetryBudget.toSeconds()
                            + " s");
                }
                lifecycle.schedule(() -> tryStep(run, step, deadline, attempt + 1, done),
                        storageRetryEvery.toMillis(), TimeUnit.MILLISECONDS);
            }
        }, lifecycle);
    }

    /** A line in the record's timeline, on the lifecycle thread. */
    private void note(Run run, String detail) {
        run.record = run.record.noted(clock.millis(), detail);
        store.note(run.record);
        notifyListeners(run.record);
    }

    /** The step's outcome as a value: its error, if any, is collected instead of ending the chain. */
    private static <T> CompletableFuture<Void> step(CompletableFuture<T> step, List<Throwable> errors) {
        return step.handle((x, e) -> {
            if (e != null) {
                errors.add(e);
            }
            return null;
        });
    }

    // ---- resuming after a restart or a change of leader -----------------------------------------

    /**
     * The run of a stored active migration, from its stored plan, in the network stage its state
     * implies; null (and the record FAILED) when the configuration no longer names its server or data
     * centers: its rules are then no longer desired, and the reconciler removes them by its cookie.
     */
    private Run rebuild(Migration m) {
        Optional<VirtualServer> vs = topology.server(m.server());
        Optional<DataCenter> from = topology.dataCenter(m.source());
        Optional<DataCenter> to = topology.dataCenter(m.destination());
        MigrationPlan plan = m.plan();
        String problem = null;
        if (vs.isEmpty() || from.isEmpty() || to.isEmpty()) {
            problem = "configuration no longer names its server or data centers";
        } else if (plan == null) {
            try {
                plan = planner.migration(m); // a record from before plans were stored
            } catch (RuntimeException e) {
                problem = "no stored plan, and none can be made now: " + e.getMessage();
            }
        }
        if (problem != null) {
            log.warn("migration {} abandoned: {}", m.id(), problem);
            Migration failed = m.withError(problem).transition(FAILED, clock.millis(),
                    "abandoned: " + problem + "; its rules are removed by cookie");
            store.put(failed);
            notifyListeners(failed);
            if (m.plan() != null) {
                reconciler.removeUndesired(m.plan().all());
            }
            return null;
        }
        Run run = new Run(m, plan, vs.get(), from.get(), to.get());
        switch (m.state()) {
            case MIGRATING:
                run.stage = NetStage.TUNNEL;
                break;
            case CUTOVER:
                run.stage = NetStage.REDIRECT;
                break;
            case ROUTES_UPDATED:
            case DRAINING:
                run.stage = NetStage.ROUTED;
                run.routesAt = to.get().name();
                break;
            default:
                run.stage = NetStage.NONE; // REQUESTED, PREPARING: rolled back
                break;
        }
        return run;
    }

    /**
     * A migration rebuilt in CUTOVER may have been cut off in its route update: the steps of its
     * route change that the switches were read to hold stay (the first ones in full, then part of
     * the next), and the update goes on after them at its pace. Otherwise taking over would turn
     * those switches back at once, then the update forward again. A switch that could not be read
     * (not connected): its rules of a step before the last one found on the switches are taken as
     * there (each step was sent only once the one before was confirmed), others as not.
     */
    private void findRouteSteps(Run run) {
        if (run.record.state() != CUTOVER) {
            return;
        }
        RouteChange change;
        try {
            change = planner.routeChange(run.server, run.from.name(), run.to.name());
        } catch (RuntimeException e) {
            return;   // no route change on this topology: the routes go where the reconciler says
        }
        List<List<FlowRule>> steps = change.steps();
        int last = -1;
        for (int i = 0; i < steps.size(); i++) {
            if (steps.get(i).stream().anyMatch(reconciler::holds)) {
                last = i;
            }
        }
        List<FlowRule> held = new ArrayList<>();
        Set<String> taken = new java.util.TreeSet<>();
        Set<String> unknown = new java.util.TreeSet<>();
        int done = 0;
        for (int i = 0; i < steps.size(); i++) {
            boolean sentAfter = i < last;
            List<FlowRule> step = steps.get(i);
            List<FlowRule> there = step.stream().filter(r -> reconciler.holds(r)
                    || sentAfter && !reconciler.knows(r.deviceId())).collect(Collectors.toList());
            Set<String> unread = step.stream().map(FlowRule::deviceId).filter(d -> !reconciler.knows(d))
                    .map(DeviceId::toString).collect(Collectors.toSet());
            held.addAll(there);
            if (there.size() < step.size()) {
                unknown.addAll(unread);
                break;
            }
            taken.addAll(unread);
            done = i + 1;
        }
        if (!held.isEmpty()) {
            run.routing = change;
            run.routed = held;
            run.stepsDone = done;
            log.info("migration {}: its route update had {} of {} steps on the switches ({} rules); it goes on from"
                    + " there", run.record.id(), done, steps.size(), held.size());
        }
        List<String> notes = new ArrayList<>();
        if (!taken.isEmpty()) {
            notes.add(String.join(", ", taken) + " not read at the take-over (not connected): route step"
                    + (last > 1 ? "s 1-" : " ") + last + " taken as confirmed there (step " + (last + 1)
                    + ", sent only after, is on the switches)");
        }
        if (!unknown.isEmpty()) {
            // as before a restart, the update then fails on a switch still away
            notes.add(String.join(", ", unknown) + " not read at the take-over (not connected): route step " + (done + 1)
                    + " of " + steps.size() + " sent again");
        }
        if (!notes.isEmpty()) {
            run.record = run.record.noted(clock.millis(), String.join("; ", notes));
            store.note(run.record);
            notifyListeners(run.record);
        }
    }

    /** Goes on with (or rolls back) one rebuilt migration; a failure here touches no other. */
    private void resume(Run run) {
        Migration m = run.record;
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
                // treat a repeated request for the same migration as the same request). A report
                // stored before the restart goes straight on to the cutover.
                Duration left = topology.settings().migrateTimeout().minusMillis(elapsed);
                int epoch = run.bump(left.isNegative() ? Duration.ZERO : left);
                reconciler.converge(null, devices(run.plan.prepared()))
                        .whenCompleteAsync((x, e) -> inPhase(run, epoch, () -> {
                    if (e != null) {
                        rollBack(run, FAILED, "tunnel could not be restored after restart: " + cause(e));
                    } else if (run.record.hypervisorReported()) {
                        cutover(run, "reported before the restart", System.nanoTime(), true);
                    } else {
                        reconciler.prepare(run.plan.redirects());
                        HypervisorDriver driver = hypervisors.apply(topology);
                        if (driver.switchesOverInPause(run.server)) {
                            resumeBeforeAnyPause(run, epoch, driver);
                        } else {
                            driver.migrate(run.record, run.server, run.from, run.to, this);
                        }
                    }
                }), lifecycle);
                break;
            }
            case CUTOVER:
                resumeCutover(run);
                break;
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

    /**
     * A run resumed in MIGRATING whose hypervisor switches over in its pause. The record's mark of
     * that switchover is written after the take-over is sent (not in the pause's path), so a
     * predecessor that died in between left the destination primary and the record in MIGRATING;
     * a rollback from there would restore the source as primary below the destination's
     * generation, and the guest would write at the source while the destination is primary. The
     * destination's agent says what happened: its copy primary, the switchover was done, and the
     * migration goes on from CUTOVER as after a mark; its agent silent, it may have been, and a
     * rollback reclaims the source's copy above any take-over; a replica, nothing moved. Then, as
     * before the restart: the hypervisor asked again, the destination checked until the pause.
     */
    private void resumeBeforeAnyPause(Run run, int epoch, HypervisorDriver driver) {
        CompletableFuture<List<AgentDiskStatus>> asked = run.to.agent() == null || !run.server.replicated()
                ? CompletableFuture.completedFuture(List.of())   // no copy there that could have taken over
                : replication.disks(run.to, RESUME_ASK_TIMEOUT)
                        .orTimeout(RESUME_ASK_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);   // whatever the client does
        asked.whenCompleteAsync((disks, error) -> inPhase(run, epoch, () -> {
            String role = error != null ? null : disks.stream().filter(d -> d.disk().equals(run.server.name()))
                    .map(AgentDiskStatus::role).filter(Objects::nonNull).findFirst().orElse("none");
            if ("PRIMARY".equals(role)) {
                run.record = run.record.withSwitchedInPause();
                run.stage = NetStage.REDIRECT;
                advance(run, CUTOVER, "inside the hypervisor's pause, before the restart: storage primary at "
                        + run.to.name() + " (its agent says; the record's mark of it was lost with the"
                        + " previous instance)", topology.settings().switchTimeout());
                resumeCutover(run);
                return;
            }
            if (role == null) {
                // persisted: a successor of this instance asks again, and keeps the doubt if B is
                // a replica by then (a rollback of its own may have demoted it)
                run.record = run.record.withSwitchoverUnknown(tookOverAt).noted(clock.millis(), run.to.name()
                        + "'s replication agent did not say whether it took over before the restart ("
                        + cause(error) + "): a rollback reclaims " + run.from.name() + "'s copy above any"
                        + " take-over, and the hypervisor is followed as after a switchover");
                store.put(run.record);   // what a successor resumes with: not a mere note
            }
            driver.migrate(run.record, run.server, run.from, run.to, this);
            // the destination stays checked, and the pause's take-over gets its channel back
            recheckTakeOver(run, epoch);
        }), lifecycle);
    }

    private void resumeCutover(Run run) {
        int epoch = run.bump(topology.settings().switchTimeout());
        reconciler.converge(null, devices(run.plan.redirects()))
                .whenCompleteAsync((x, e) -> inPhase(run, epoch, () -> {
            if (e != null) {
                rollBack(run, FAILED, "redirect could not be restored after restart: " + cause(e));
            } else if (run.record.switchedInPause() && !run.record.hypervisorReported()) {
                // switched inside the pause: only the hypervisor knows whether the server
                // resumed; ask again, its report starts the route update
                run.bump(topology.settings().migrateTimeout());
                hypervisors.apply(topology).migrate(run.record, run.server, run.from, run.to, this);
            } else {
                updateRoutes(run);
            }
        }), lifecycle);
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

    /** Runs on the lifecycle thread without waiting for it (switch events). */
    private void execute(Runnable task) {
        try {
            lifecycle.execute(() -> {
                try {
                    task.run();
                } catch (RuntimeException e) {
                    log.error("lifecycle task failed", e);
                }
            });
        } catch (java.util.concurrent.RejectedExecutionException e) {
            log.debug("migration service shut down; event dropped");
        }
    }

    private static Set<DeviceId> devices(Collection<FlowRule> rules) {
        return rules.stream().map(FlowRule::deviceId).collect(Collectors.toSet());
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

    static String hops(MigrationPlan plan) {
        return plan.forwardPath().stream().map(cp -> cp.deviceId() + "/" + cp.port())
                .collect(Collectors.joining(" > "));
    }

    private static double ms(long t0) {
        return (System.nanoTime() - t0) / 1e6;
    }

    private static String cause(Throwable t) {
        return WanmigException.messageOf(t);
    }

    /** Which of its plan's rules a migration wants on the switches now. */
    private enum NetStage {
        /** None: not yet prepared, rolled back, or torn down. */
        NONE,
        /** The tunnel, the reverse ingress at PE_B, the bicast copy if configured. */
        TUNNEL,
        /** All of TUNNEL and the redirect at PE_A. */
        REDIRECT,
        /** After the route update: the tunnel and the redirect for traffic in flight, no reverse ingress. */
        ROUTED
    }

    /** What the manager knows of one migration it drives. Touched only on the lifecycle thread. */
    private final class Run {
        Migration record;
        MigrationPlan plan;
        final VirtualServer server;
        final DataCenter from;
        final DataCenter to;
        NetStage stage = NetStage.NONE;
        /** Where the server's baseline routes lead now (changes at the route update and its undoing). */
        String routesAt;
        /**
         * The route change toward {@code to} under way, or null. The switches hold the routes at
         * routesAt with {@link #routed} over them: the rules of its first {@link #stepsDone} steps
         * (and, found after a restart, those of the next step already there).
         */
        RouteChange routing;
        List<FlowRule> routed = new ArrayList<>();
        int stepsDone;
        int epoch;
        ScheduledFuture<?> timer;
        CompletableFuture<Migration> rollingBack;
        CompletableFuture<Migration> cutover;
        /** The source copy's demote after an in-pause takeover, while under way or done. */
        CompletableFuture<Void> retired;
        /**
         * Set once inside the hypervisor's pause, by whichever comes first: the hook's completion
         * (the hypervisor goes on) or a rollback (it does not). Null outside a pause.
         */
        AtomicBoolean pauseDecided;
        /**
         * Whether the destination may have taken over in a pause (switched, or a restart could not
         * learn it): then the source's guest goes on only once the source's copy is primary again,
         * above any take-over (rollBack).
         */
        boolean mayHaveTakenOver() {
            return record.mayHaveSwitchedInPause();
        }

        Run(Migration record, MigrationPlan plan, VirtualServer server, DataCenter from, DataCenter to) {
            this.record = record;
            this.plan = plan;
            this.server = server;
            this.from = from;
            this.to = to;
            this.routesAt = from.name();
        }

        void endRouting() {
            routing = null;
            routed = new ArrayList<>();
            stepsDone = 0;
        }

        /** The plan's rules this migration wants on the switches in its stage. */
        List<FlowRule> rules() {
            List<FlowRule> rules = new ArrayList<>();
            switch (stage) {
                case TUNNEL:
                    rules.addAll(plan.prepared());
                    break;
                case REDIRECT:
                    rules.addAll(plan.all());
                    break;
                case ROUTED:
                    rules.addAll(plan.tunnel());
                    rules.addAll(plan.bicast());
                    rules.addAll(plan.redirects());
                    break;
                default:
                    break;
            }
            return rules;
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
