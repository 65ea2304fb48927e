package org.wanmig.failover;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.wanmig.api.Evacuation;
import org.wanmig.api.EvacuationEvent;
import org.wanmig.api.EvacuationId;
import org.wanmig.api.EvacuationState;
import org.wanmig.api.Migration;
import org.wanmig.api.MigrationId;
import org.wanmig.api.MigrationService;
import org.wanmig.api.Promotion;
import org.wanmig.api.ServerEvacuation;
import org.wanmig.api.ServerEvacuation.FailoverStep;
import org.wanmig.api.WanmigException;
import org.wanmig.config.DataCenter;
import org.wanmig.config.VirtualServer;
import org.wanmig.config.WanTopology;
import org.wanmig.spi.EvacuationStore;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.LongSupplier;
import java.util.function.Supplier;
import java.util.stream.Collectors;

/**
 * Runs the unplanned failover of a lost data center. The record is an {@link Evacuation} of kind
 * FAILOVER in the evacuation store, so it is persisted, shared by an ONOS cluster, resumed by a new
 * leader and shown (REST, CLI) like an evacuation; each server carries its {@link FailoverStep}.
 * <p>
 * Per server, in order, each step stored before the next starts: its replica at the destination
 * is promoted with a new generation (the RPO lost is recorded), its hypervisor driver restarts it
 * there, its address is routed there directly. The servers go through their steps concurrently, at
 * most {@code maxInFlight} at a time (each waits on agents, hypervisors and switches, not on the
 * others): a data center's servers are back after about one server's time, not the sum. A server
 * whose step fails is reported FAILED and the others go on. {@link #resumeAll()} goes on from the
 * first step not recorded as done, so a promotion recorded is never asked again (one interrupted
 * before it was recorded is asked again, which the agent answers with the copy as it is: it is
 * primary already).
 * <p>
 * All work on the record runs on {@code executor}, which must run one task at a time; a step's
 * outcome is recorded there when the step's future completes, so nothing waits on a thread.
 */
public final class FailoverRunner {
    private static final Logger log = LoggerFactory.getLogger(FailoverRunner.class);
    static final Duration STEP_TIMEOUT = Duration.ofSeconds(60);
    /** Servers of one failover in their steps at once: bounds the calls on one agent and hypervisor. */
    static final int MAX_IN_FLIGHT = 8;

    private final MigrationService service;
    private final FailoverActions actions;
    private final EvacuationStore store;
    private final Supplier<WanTopology> topology;
    private final Executor executor;
    private final LongSupplier clock;
    private final Duration stepTimeout;
    private final int maxInFlight;
    /** Per failover, the indexes of the servers whose step is under way; used on the executor only. */
    private final Map<EvacuationId, Set<Integer>> underway = new HashMap<>();

    public FailoverRunner(MigrationService service, FailoverActions actions, EvacuationStore store,
                          Supplier<WanTopology> topology, Executor executor, LongSupplier clock) {
        this(service, actions, store, topology, executor, clock, STEP_TIMEOUT, MAX_IN_FLIGHT);
    }

    FailoverRunner(MigrationService service, FailoverActions actions, EvacuationStore store,
                   Supplier<WanTopology> topology, Executor executor, LongSupplier clock, Duration stepTimeout,
                   int maxInFlight) {
        if (maxInFlight < 1) {
            throw new IllegalArgumentException("maxInFlight must be at least 1, not " + maxInFlight);
        }
        this.service = service;
        this.actions = actions;
        this.store = store;
        this.topology = topology;
        this.executor = executor;
        this.clock = clock;
        this.stepTimeout = stepTimeout;
        this.maxInFlight = maxInFlight;
    }

    /**
     * Checks the request, gives up the migrations involving {@code lost}, records the failover
     * (RUNNING, every server PENDING) and starts it on the executor.
     *
     * @param to the destination of every server, or null: each server's replica's data center
     * @throws WanmigException 400/404 for a bad request, 409 when {@code lost} is already being
     *                         failed over; nothing is changed then
     */
    public Evacuation start(String lost, String to) {
        return start(lost, to, Evacuation.Trigger.OPERATOR, null);
    }

    /**
     * As {@link #start(String, String)}, declared by {@code trigger}; {@code why} (the signals seen,
     * for a detection; may be null) goes into the reason recorded on the timeline.
     */
    public synchronized Evacuation start(String lost, String to, Evacuation.Trigger trigger, String why) {
        WanTopology t = topology.get();
        if (t == null) {
            throw WanmigException.unavailable("wanmig has no valid configuration yet");
        }
        if (lost == null || lost.isBlank()) {
            throw WanmigException.badRequest("dc", "missing: name the lost data center");
        }
        DataCenter lostDc = t.dataCenter(lost).orElseThrow(() ->
                WanmigException.notFound("dc", "unknown data center '" + lost + "'"));
        if (to != null) {
            if (to.isBlank()) {
                throw WanmigException.badRequest("to", "must be a data center name");
            }
            t.dataCenter(to).orElseThrow(() -> WanmigException.notFound("to", "unknown data center '" + to + "'"));
            if (to.equals(lost)) {
                throw WanmigException.badRequest("to", "the destination is the lost data center " + lost);
            }
        }
        for (Evacuation e : store.all()) {
            if (e.isFailover() && e.isActive() && e.source().equals(lost)) {
                throw WanmigException.conflict("dc", lost + " is already being failed over (failover " + e.id() + ")");
            }
        }
        Map<String, String> targets = targets(t, lostDc, to);
        // checked: from here on things change
        String reason = "data center " + lost + " declared lost"
                + (trigger == Evacuation.Trigger.DETECTION ? " by detection (automatic)" : " by the operator")
                + (why == null ? "" : " [" + why + "]");
        List<Migration> given = actions.giveUp(lost, reason);
        Map<String, MigrationId> givenFor = new LinkedHashMap<>();
        given.forEach(m -> givenFor.put(m.server(), m.id()));
        List<ServerEvacuation> servers = new ArrayList<>();
        targets.forEach((server, dest) -> servers.add(ServerEvacuation.failover(server, dest, givenFor.get(server))));
        long now = clock.getAsLong();
        List<String> destinations = servers.stream().map(ServerEvacuation::destination).distinct().sorted()
                .collect(Collectors.toList());
        List<EvacuationEvent> events = new ArrayList<>();
        events.add(new EvacuationEvent(now, null, reason + ": " + servers.size() + " server(s) to fail over to "
                + (destinations.isEmpty() ? "-" : String.join(",", destinations))));
        for (Migration m : given) {
            events.add(new EvacuationEvent(now, m.server(), "migration " + m.id() + " (" + m.source() + " to "
                    + m.destination() + ") given up: " + m.timeline().get(m.timeline().size() - 1).detail()));
        }
        Evacuation e = new Evacuation(Evacuation.Kind.FAILOVER, trigger, store.nextId(), lost, destinations,
                EvacuationState.RUNNING, servers, Map.of(), 1, now, 0, events);
        store.put(e);
        log.warn("failover {}: {}", e.id(), events.get(0).detail());
        run("failover " + e.id(), () -> proceed(e.id()));
        return e;
    }

    /** Goes on with every active failover of the store: after a restart, or on becoming leader. */
    public void resumeAll() {
        run("resume of failovers", () -> store.all().stream().filter(e -> e.isFailover() && e.isActive())
                .map(Evacuation::id).collect(Collectors.toList()).forEach(id -> {
                    log.info("resuming failover {}", id);
                    proceed(id);
                }));
    }

    /**
     * Where each server that runs in {@code lost} goes. A server in a migration involving the lost
     * DC runs where the migration has it (past its cutover: the destination). Without {@code to}: the
     * source of the last migration that brought it into {@code lost} (the replica was left there),
     * else its home, else its only other configured DC, else the only other DC.
     */
    private Map<String, String> targets(WanTopology t, DataCenter lost, String to) {
        Map<String, String> targets = new LinkedHashMap<>();
        List<String> problems = new ArrayList<>();
        for (VirtualServer v : t.servers()) {
            Optional<Migration> active = service.activeMigration(v.name());
            String at = active.filter(m -> m.source().equals(lost.name()) || m.destination().equals(lost.name()))
                    .map(m -> m.serverMoved() ? m.destination() : m.source()).orElse(service.location(v.name()));
            if (!at.equals(lost.name())) {
                continue;
            }
            String dest = to != null ? to : replicaOf(t, v, lost.name());
            if (to != null && !v.storageAllows(lost.name(), to)) {
                problems.add(v.name() + ": its disk's other copy is at "
                        + v.otherCopy(lost.name()).orElse("no DC outside " + lost.name()) + ", not " + to);
                continue;
            }
            if (dest == null) {
                problems.add(v.name() + ": no replica known outside " + lost.name() + " (name the destination)");
                continue;
            }
            DataCenter d = t.dataCenter(dest).orElseThrow();
            if (lost.agent() != null && d.agent() == null) {
                problems.add(v.name() + ": no replica at " + dest + " (it has no replication agent)");
                continue;
            }
            targets.put(v.name(), dest);
        }
        if (!problems.isEmpty()) {
            throw WanmigException.badRequest("to", String.join("; ", problems));
        }
        return targets;
    }

    private String replicaOf(WanTopology t, VirtualServer v, String lost) {
        if (v.replicaAt().isPresent()) {
            return v.otherCopy(lost).orElse(null);   // the configured pair says where the other copy is
        }
        Optional<Migration> last = service.migrations().stream()
                .filter(m -> m.server().equals(v.name()) && m.destination().equals(lost) && m.serverMoved())
                .max(Comparator.comparing(Migration::id));
        if (last.isPresent() && !last.get().source().equals(lost)
                && t.dataCenter(last.get().source()).isPresent()) {
            return last.get().source();
        }
        if (!v.dc().equals(lost)) {
            return v.dc();
        }
        List<String> configured = v.ports().keySet().stream().filter(dc -> !dc.equals(lost)
                && t.dataCenter(dc).isPresent()).collect(Collectors.toList());
        if (configured.size() == 1) {
            return configured.get(0);
        }
        List<String> others = t.dataCenters().stream().map(DataCenter::name).filter(dc -> !dc.equals(lost))
                .collect(Collectors.toList());
        return others.size() == 1 ? others.get(0) : null;
    }

    // ---- on the executor -------------------------------------------------------------------

    private void run(String what, Runnable task) {
        try {
            executor.execute(() -> {
                try {
                    task.run();
                } catch (RuntimeException x) {
                    log.error("failover runner: {} failed; the record stays as last written", what, x);
                }
            });
        } catch (RejectedExecutionException x) {
            // stopped (leadership lost, shutdown): nothing is recorded, the next runner goes on from the record
            log.info("failover runner stopped: {} not recorded; the next runner goes on from the record", what);
        }
    }

    private long now() {
        return clock.getAsLong();
    }

    /**
     * Starts the next step of every server not done and not under way, up to {@code maxInFlight} at
     * once; records the end of the failover once every server is done or failed. One server's
     * failure does not stop the others.
     */
    private void proceed(EvacuationId id) {
        Evacuation e = store.get(id).orElseThrow();
        if (!e.isActive()) {
            underway.remove(id);
            return;
        }
        Set<Integer> busy = underway.computeIfAbsent(id, k -> new HashSet<>());
        for (int i = 0; i < e.servers().size() && busy.size() < maxInFlight; i++) {
            if (!e.servers().get(i).state().isTerminal() && busy.add(i)) {
                begin(e, i);
            }
        }
        if (busy.isEmpty()) {
            underway.remove(id);
            store.put(finish(e));
        }
    }

    /** Asks for server {@code i}'s current step; its outcome is recorded on the executor. */
    private void begin(Evacuation e, int i) {
        ServerEvacuation s = e.servers().get(i);
        EvacuationId id = e.id();
        long t0 = now();
        CompletableFuture<?> f;
        try {
            f = action(s, e.source());
        } catch (RuntimeException x) {
            f = CompletableFuture.failedFuture(x);
        }
        f.orTimeout(stepTimeout.toMillis(), TimeUnit.MILLISECONDS).whenComplete((result, error) ->
                run("failover " + id + ": " + s.server() + " " + s.step(), () -> stepped(id, i, result, error, t0)));
    }

    private CompletableFuture<?> action(ServerEvacuation s, String lost) {
        switch (s.step()) {
            case PENDING:
                return actions.promote(s.server(), s.destination(), lost);
            case PROMOTED:
                return actions.restart(s.server(), s.destination());
            case RESTARTED:
                return actions.route(s.server(), s.destination());
            default:
                throw new IllegalStateException(s.server() + " in step " + s.step() + " yet not done");
        }
    }

    /** Server {@code i}'s step ended: recorded before its next step starts. */
    private void stepped(EvacuationId id, int i, Object result, Throwable error, long t0) {
        Evacuation e = store.get(id).orElseThrow();
        if (!e.isActive()) {
            underway.remove(id);
            return;
        }
        e = record(e, i, result, error, t0);
        store.put(e);
        if (!e.servers().get(i).state().isTerminal()) {
            begin(e, i);
            return;
        }
        Set<Integer> busy = underway.get(id);
        if (busy != null) {
            busy.remove(i);
        }
        proceed(id);
    }

    /** The record with server {@code i}'s step done (the next step recorded) or failed (the server FAILED). */
    private Evacuation record(Evacuation e, int i, Object result, Throwable error, long t0) {
        ServerEvacuation s = e.servers().get(i);
        String name = s.server();
        String dest = s.destination();
        if (error != null) {
            String why = s.step() + " failed: " + (unwrap(error) instanceof TimeoutException
                    ? "no answer within " + stepTimeout.toSeconds() + " s" : message(error));
            log.warn("failover {}: {} {}", e.id(), name, why);
            return e.withServer(i, s.failed(why), now(), why + "; the other servers go on");
        }
        switch (s.step()) {
            case PENDING: {
                Promotion p = (Promotion) result;
                log.warn("failover {}: {} {}", e.id(), name, p);
                return e.withServer(i, s.stepped(FailoverStep.PROMOTED, p, t0), now(), p.detail() + "; RPO lost: "
                        + p.lagBytes() + " bytes, " + p.lagWrites() + " writes (last known lag)"
                        + (p.rpoSeconds() >= 0 ? String.format(", <= %.3f s of writing", p.rpoSeconds()) : "")
                        + (p.rolledBackBytes() > 0 ? ", rolled back " + p.rolledBackBytes() + " bytes" : "")
                        + took(t0));
            }
            case PROMOTED:
                return e.withServer(i, s.stepped(FailoverStep.RESTARTED, null, t0), now(),
                        "restarted at " + dest + ": " + result + took(t0));
            case RESTARTED:
                return e.withServer(i, s.stepped(FailoverStep.ROUTED, null, t0), now(), result + took(t0)
                        + "; failed over in " + (now() - e.startedMillis()) + " ms from the declaration");
            default:
                throw new IllegalStateException(name + " in step " + s.step() + " yet not done");
        }
    }

    private String took(long t0) {
        return " (step took " + (now() - t0) + " ms)";
    }

    private Evacuation finish(Evacuation e) {
        if (!e.isActive() || e.servers().stream().anyMatch(s -> !s.state().isTerminal())) {
            return e;
        }
        List<String> failed = e.servers().stream().filter(s -> s.state() == ServerEvacuation.State.FAILED)
                .map(ServerEvacuation::server).collect(Collectors.toList());
        long done = e.count(ServerEvacuation.State.DONE);
        long took = now() - e.startedMillis();
        if (failed.isEmpty()) {
            return e.transition(EvacuationState.COMPLETED, now(), "completed: " + done + " server(s) failed over from "
                    + e.source() + " in " + took + " ms");
        }
        return e.transition(EvacuationState.COMPLETED_WITH_FAILURES, now(), "completed in " + took + " ms: " + done
                + " failed over, " + failed.size() + " failed: " + String.join(" ", failed));
    }

    private static Throwable unwrap(Throwable t) {
        while ((t instanceof CompletionException || t instanceof ExecutionException) && t.getCause() != null) {
            t = t.getCause();
        }
        return t;
    }

    private static String message(Throwable t) {
        return WanmigException.messageOf(t);
    }
}
