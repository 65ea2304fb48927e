package org.wanmig.evacuation;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.wanmig.api.Evacuation;
import org.wanmig.api.EvacuationEvent;
import org.wanmig.api.EvacuationId;
import org.wanmig.api.EvacuationState;
import org.wanmig.api.Migration;
import org.wanmig.api.MigrationId;
import org.wanmig.api.MigrationListener;
import org.wanmig.api.MigrationService;
import org.wanmig.api.MigrationState;
import org.wanmig.api.ServerEvacuation;
import org.wanmig.api.WanmigException;
import org.wanmig.spi.EvacuationStore;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import java.util.concurrent.Future;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.LongSupplier;
import java.util.stream.Collectors;

/**
 * Runs evacuations: starts single migrations through the {@link MigrationService} as the plan's
 * admission rules allow, and moves each server's state on the migrations' events.
 * <ul>
 *   <li>A failed server is tried again ({@link Evacuation#maxAttempts()}), then reported; the others go on.</li>
 *   <li>Abort cancels what is queued, aborts what is in flight (the MMS rolls those back) and keeps what is done.</li>
 *   <li>Every change is written to the {@link EvacuationStore}; {@link #resumeAll()} on a new runner
 *       (restart, new leader) goes on from the records, asking the MMS what became of the
 *       migrations in flight meanwhile.</li>
 * </ul>
 * Never blocks its callers: all work, including calls into the MMS, runs on {@code executor}, which
 * must run one task at a time (a single-thread executor); migration events are queued onto it.
 * A refused start is tried again after a backoff ({@link #backoff}) that the {@link Scheduler} times;
 * nothing waits for it, so an abort meanwhile is handled at once and cancels the retry.
 */
public final class EvacuationRunner implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(EvacuationRunner.class);
    private static final Duration BACKOFF_FIRST = Duration.ofSeconds(1);
    private static final Duration BACKOFF_MAX = Duration.ofMinutes(1);

    private final MigrationService service;
    private final EvacuationStore store;
    private final Executor executor;
    private final LongSupplier clock;
    private final MigrationListener listener;
    /** Migration in flight to the evacuation it belongs to; touched on the executor only. */
    private final Map<MigrationId, EvacuationId> owners = new HashMap<>();
    private final Scheduler scheduler;
    /** Per evacuation, the servers (by index) waiting out a backoff, and their retry; executor only. */
    private final Map<EvacuationId, Map<Integer, Future<?>>> backingOff = new HashMap<>();

    /** Times the retries; the runner has no thread of its own. */
    @FunctionalInterface
    public interface Scheduler {
        /** Runs {@code task} once after {@code delay} (on any thread); the future cancels it. */
        Future<?> schedule(Runnable task, Duration delay);
    }

    /** The executor both runs the work and times the retries. */
    public EvacuationRunner(MigrationService service, EvacuationStore store, ScheduledExecutorService executor,
                            LongSupplier clock) {
        this(service, store, executor, (task, delay) -> executor.schedule(task, delay.toMillis(), TimeUnit.MILLISECONDS),
                clock);
    }

    public EvacuationRunner(MigrationService service, EvacuationStore store, Executor executor, Scheduler scheduler,
                            LongSupplier clock) {
        this.service = service;
        this.store = store;
        this.executor = executor;
        this.scheduler = scheduler;
        this.clock = clock;
        this.listener = m -> run("event of migration " + m.id(), () -> onMigration(m));
        service.addListener(listener);
    }

    /** Stops listening to migrations; what runs goes on in the MMS, and a new runner may resume it. */
    @Override
    public void close() {
        service.removeListener(listener);
        try {
            executor.execute(() -> List.copyOf(backingOff.keySet()).forEach(this::cancelRetries));
        } catch (RejectedExecutionException e) {
            // the executor is shut down: its retries were dropped with it
        }
    }

    /**
     * Records the evacuation (RUNNING, every server queued) and starts its first migrations soon.
     *
     * @throws WanmigException CONFLICT if one of its servers is in another active evacuation (starts
     *                         through one runner are serialized, so two cannot both pass this check)
     */
    public synchronized Evacuation start(EvacuationPlan plan) {
        Set<String> names = plan.moves().stream().map(PlannedMove::server).collect(Collectors.toSet());
        for (Evacuation other : store.all()) {
            if (other.isActive()) {
                for (ServerEvacuation s : other.servers()) {
                    if (names.contains(s.server()) && !s.state().isTerminal()) {
                        throw WanmigException.conflict("servers", s.server() + " is already being evacuated by "
                                + "evacuation " + other.id());
                    }
                }
            }
        }
        List<ServerEvacuation> servers = new ArrayList<>();
        for (PlannedMove m : plan.moves()) {
            servers.add(new ServerEvacuation(m.server(), m.destination(), m.group(), m.rank(), m.exclusive(),
                    m.estimatedBytes(), m.estimatedDuration().toMillis(), m.startOffset().toMillis(), m.converges(),
                    ServerEvacuation.State.QUEUED, null, 0, 0, null));
        }
        long now = clock.getAsLong();
        String detail = "started: " + servers.size() + " servers from " + plan.source() + " to "
                + plan.destinations() + ", planned " + plan.estimatedDuration().toMillis() + " ms"
                + (plan.nonConverging().isEmpty() ? "" : ", not converging: " + plan.nonConverging().stream()
                .map(PlannedMove::server).collect(Collectors.joining(" ")));
        Evacuation e = new Evacuation(store.nextId(), plan.source(), plan.destinations(), EvacuationState.RUNNING,
                servers, plan.slotsByPair(), plan.maxAttempts(), now, plan.estimatedDuration().toMillis(),
                List.of(new EvacuationEvent(now, null, detail)));
        store.put(e);
        log.info("evacuation {} {}", e.id(), detail);
        run("start of evacuation " + e.id(), () -> step(e.id()));
        return e;
    }

    public Optional<Evacuation> evacuation(EvacuationId id) {
        return store.get(id);
    }

    public Collection<Evacuation> evacuations() {
        return store.all();
    }

    /**
     * Aborts an active evacuation; the returned stage completes once the abort is under way
     * (queued servers cancelled, in-flight migrations told to abort), in state ABORTING or ABORTED.
     */
    public CompletableFuture<Evacuation> abort(EvacuationId id) {
        Evacuation e = store.get(id).orElseThrow(() -> WanmigException.notFound("id", "no evacuation " + id));
        if (!e.isActive()) {
            throw WanmigException.conflict("id", "evacuation " + id + " has ended: " + e.state());
        }
        if (e.isFailover()) {
            throw WanmigException.conflict("id", id + " is a failover: it cannot be aborted");
        }
        CompletableFuture<Evacuation> result = new CompletableFuture<>();
        executor.execute(() -> {
            try {
                result.complete(doAbort(id));
            } catch (RuntimeException x) {
                log.error("abort of evacuation {} failed", id, x);
                result.completeExceptionally(x);
            }
        });
        return result;
    }

    /** Goes on with every active evacuation of the store: after a restart, or on becoming leader. */
    public void resumeAll() {
        run("resume", () -> store.all().stream().filter(e -> e.isActive() && !e.isFailover())
                .forEach(e -> resume(e.id())));
    }

    // ---- on the executor -------------------------------------------------------------------

    private void run(String what, Runnable task) {
        executor.execute(() -> {
            try {
                task.run();
            } catch (RuntimeException x) {
                // one bad event must not stop the runner; the record stays as last written
                log.error("evacuation runner: {} failed", what, x);
            }
        });
    }

    private long now() {
        return clock.getAsLong();
    }

    private void resume(EvacuationId id) {
        Evacuation e = store.get(id).orElseThrow();
        log.info("resuming evacuation {} ({})", id, e.state());
        for (int i = 0; i < e.servers().size(); i++) {
            ServerEvacuation s = e.servers().get(i);
            if (s.state() == ServerEvacuation.State.IN_FLIGHT) {
                owners.put(s.migrationId(), id);
                Optional<Migration> m = service.migration(s.migrationId());
                if (m.isEmpty()) {
                    owners.remove(s.migrationId());
                    String why = "migration " + s.migrationId() + " is unknown to the MMS";
                    e = e.state() == EvacuationState.ABORTING ? e.withServer(i, s.cancelled(why), now(), why)
                            : afterFailure(e, i, s, why);
                } else if (m.get().state().isTerminal()) {
                    e = settle(e, i, m.get()); // it ended while no runner listened
                }
            } else if (s.state() == ServerEvacuation.State.QUEUED && e.state() == EvacuationState.RUNNING) {
                // started by the previous runner just before it could record the migration's id
                Optional<Migration> m = service.activeMigration(s.server());
                if (m.isPresent() && m.get().destination().equals(s.destination())) {
                    owners.put(m.get().id(), id);
                    e = e.withServer(i, s.inFlight(m.get().id(), now()), now(),
                            "adopted migration " + m.get().id() + ", started before the hand-over");
                }
            }
        }
        store.put(e);
        if (e.state() == EvacuationState.ABORTING) {
            abortInFlight(e); // the previous runner may have stopped before telling every one
        }
        step(id);
    }

    /** Starts what admission allows, and ends the evacuation when nothing is left. */
    private void step(EvacuationId id) {
        Evacuation e = store.get(id).orElse(null);
        if (e == null || !e.isActive()) {
            return;
        }
        boolean admit = e.state() == EvacuationState.RUNNING;
        while (admit) {
            admit = false;
            for (int i : Admission.startable(EvacuationProgress.items(e), e.slotsByPair())) {
                if (backingOff.getOrDefault(id, Map.of()).containsKey(i)) {
                    continue; // keeps its place in line until its retry
                }
                e = launch(e, i);
                ServerEvacuation s = e.servers().get(i);
                if (s.state() == ServerEvacuation.State.QUEUED) {
                    retryLater(id, i, s);
                } else if (s.state() != ServerEvacuation.State.IN_FLIGHT) {
                    admit = true; // refused for the last time: its slot is free, admit again
                }
            }
        }
        store.put(finishIfDone(e));
    }

    /** How long a server refused {@code attempts} times waits before its next start: 1 s, doubling, at most 1 min. */
    static Duration backoff(int attempts) {
        Duration d = BACKOFF_FIRST.multipliedBy(1L << Math.min(Math.max(attempts - 1, 0), 6));
        return d.compareTo(BACKOFF_MAX) > 0 ? BACKOFF_MAX : d;
    }

    private void retryLater(EvacuationId id, int i, ServerEvacuation s) {
        Duration delay = backoff(s.attempts());
        Future<?> retry = scheduler.schedule(() -> run("retry of " + s.server() + " in evacuation " + id, () -> {
            Map<Integer, Future<?>> waiting = backingOff.get(id);
            if (waiting != null && waiting.remove(i) != null) {
                if (waiting.isEmpty()) {
                    backingOff.remove(id);
                }
                step(id);
            }
        }), delay);
        backingOff.computeIfAbsent(id, x -> new HashMap<>()).put(i, retry);
        log.info("evacuation {}: {} tried again in {} ms", id, s.server(), delay.toMillis());
    }

    /** Cancels the retries the evacuation waits for: its queued servers are cancelled, or it has ended. */
    private void cancelRetries(EvacuationId id) {
        Map<Integer, Future<?>> waiting = backingOff.remove(id);
        if (waiting != null) {
            waiting.values().forEach(f -> f.cancel(false));
        }
    }

    private Evacuation launch(Evacuation e, int i) {
        ServerEvacuation s = e.servers().get(i);
        Evacuation next;
        try {
            Migration m = service.startMigration(s.server(), s.destination());
            owners.put(m.id(), e.id());
            next = e.withServer(i, s.inFlight(m.id(), now()), now(), "migration " + m.id() + " to " + s.destination()
                    + " started (attempt " + (s.attempts() + 1) + " of " + e.maxAttempts() + ")");
            log.info("evacuation {}: {} migration {} started", e.id(), s.server(), m.id());
        } catch (RuntimeException x) {
            String why = x instanceof WanmigException ? ((WanmigException) x).reason() : x.toString();
            next = afterFailure(e, i, s.refused(why), "refused: " + why);
            log.info("evacuation {}: {} refused: {}", e.id(), s.server(), why);
        }
        store.put(next);
        return next;
    }

    /** Records a failed attempt ({@code s} already counts it): queued again, or failed for good. */
    private Evacuation afterFailure(Evacuation e, int i, ServerEvacuation s, String why) {
        long now = now();
        if (s.attempts() < e.maxAttempts()) {
            return e.withServer(i, s.requeued(why), now, "attempt " + s.attempts() + " failed (" + why
                    + "); queued again");
        }
        log.warn("evacuation {}: {} failed after {} attempts: {}", e.id(), s.server(), s.attempts(), why);
        return e.withServer(i, s.failed(why), now, "failed after " + s.attempts() + " attempts: " + why);
    }

    /** Applies the end of a server's migration. */
    private Evacuation settle(Evacuation e, int i, Migration m) {
        owners.remove(m.id());
        ServerEvacuation s = e.servers().get(i);
        if (m.state() == MigrationState.COMPLETED) {
            return e.withServer(i, s.done(), now(), "moved to " + s.destination() + " (migration " + m.id() + ")"
                    + (e.state() == EvacuationState.ABORTING ? "; kept: it completed before the abort reached it" : ""));
        }
        String why = m.error() != null ? m.error() : "migration " + m.id() + " ended " + m.state();
        if (e.state() == EvacuationState.ABORTING) {
            return e.withServer(i, s.cancelled("rolled back by the abort: " + why), now(),
                    "migration " + m.id() + " rolled back by the abort");
        }
        return afterFailure(e, i, s, "migration " + m.id() + " " + m.state() + ": " + why);
    }

    private void onMigration(Migration m) {
        EvacuationId id = owners.get(m.id());
        if (id == null || !m.state().isTerminal()) {
            return;
        }
        Evacuation e = store.get(id).orElse(null);
        if (e == null) {
            owners.remove(m.id());
            return;
        }
        for (int i = 0; i < e.servers().size(); i++) {
            ServerEvacuation s = e.servers().get(i);
            if (s.state() == ServerEvacuation.State.IN_FLIGHT && m.id().equals(s.migrationId())) {
                store.put(settle(e, i, m));
                step(id);
                return;
            }
        }
    }

    private Evacuation doAbort(EvacuationId id) {
        Evacuation e = store.get(id).orElseThrow();
        if (e.state() != EvacuationState.RUNNING) {
            return e;
        }
        e = e.transition(EvacuationState.ABORTING, now(), "abort requested");
        for (int i = 0; i < e.servers().size(); i++) {
            ServerEvacuation s = e.servers().get(i);
            if (s.state() == ServerEvacuation.State.QUEUED) {
                e = e.withServer(i, s.cancelled("the evacuation was aborted"), now(), "cancelled before it started");
            }
        }
        store.put(e); // recorded before acting, so a new runner finishes the abort
        cancelRetries(id);
        abortInFlight(e);
        step(id);
        return store.get(id).orElseThrow();
    }

    private void abortInFlight(Evacuation e) {
        for (ServerEvacuation s : e.servers()) {
            if (s.state() == ServerEvacuation.State.IN_FLIGHT) {
                try {
                    service.abort(s.migrationId());
                } catch (RuntimeException x) {
                    // e.g. it already completed or rolled back: its event (or resume) settles the server
                    log.info("evacuation {}: abort of migration {} refused: {}", e.id(), s.migrationId(), x.getMessage());
                }
            }
        }
    }

    private Evacuation finishIfDone(Evacuation e) {
        long inFlight = e.count(ServerEvacuation.State.IN_FLIGHT);
        long queued = e.count(ServerEvacuation.State.QUEUED);
        long done = e.count(ServerEvacuation.State.DONE);
        if (e.state() == EvacuationState.ABORTING && inFlight == 0) {
            return e.transition(EvacuationState.ABORTED, now(), "aborted: " + done + " moved and kept, "
                    + (e.servers().size() - done) + " at " + e.source());
        }
        if (e.state() == EvacuationState.RUNNING && inFlight == 0 && queued == 0) {
            List<String> failed = e.servers().stream().filter(s -> s.state() == ServerEvacuation.State.FAILED)
                    .map(ServerEvacuation::server).collect(Collectors.toList());
            if (failed.isEmpty()) {
                return e.transition(EvacuationState.COMPLETED, now(), "completed: " + done + " servers moved");
            }
            return e.transition(EvacuationState.COMPLETED_WITH_FAILURES, now(), "completed: " + done
                    + " moved, " + failed.size() + " failed and still at " + e.source() + ": " + String.join(" ", failed));
        }
        return e;
    }
}
