package org.wanmig.evacuation;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.wanmig.api.Evacuation;
import org.wanmig.api.EvacuationId;
import org.wanmig.api.EvacuationService;
import org.wanmig.api.MigrationService;
import org.wanmig.api.WanmigException;
import org.wanmig.config.VirtualServer;
import org.wanmig.config.WanTopology;
import org.wanmig.failover.DataCenterLossDetector;
import org.wanmig.failover.FailoverActions;
import org.wanmig.failover.LossSignals;
import org.wanmig.failover.FailoverRunner;
import org.wanmig.spi.EvacuationStore;
import org.wanmig.spi.Leadership;

import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.LongSupplier;
import java.util.function.Supplier;

/**
 * Hosts the {@link EvacuationRunner} of a runtime (ONOS component, embedded runtime): a runner
 * exists only while this instance leads ({@link #takeOver} / {@link #release}), resuming the
 * store's active evacuations when it starts. Records are read from the store on any instance;
 * starting and aborting need the leader (503 elsewhere).
 */
public final class EvacuationHost implements EvacuationService, AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(EvacuationHost.class);
    private static final long ABORT_WAIT_SECONDS = 30;

    private final MigrationService service;
    private final EvacuationStore store;
    private final Supplier<WanTopology> topology;
    private final Leadership leadership;
    private final LongSupplier clock;
    /** What a failover asks of the MMS; null where the runtime offers no failover. */
    private final FailoverActions failoverActions;
    /** What loss detection reads of the MMS; null where the runtime offers no detection. */
    private final LossSignals lossSignals;

    /** The runners and their executors while leading; guarded by this. */
    private EvacuationRunner runner;
    private ScheduledExecutorService executor;
    private FailoverRunner failovers;
    private ExecutorService failoverExecutor;
    private DataCenterLossDetector detector;
    private ScheduledExecutorService detectorExecutor;

    /**
     * @param topology the configuration in force, or null while there is none
     */
    public EvacuationHost(MigrationService service, EvacuationStore store, Supplier<WanTopology> topology,
                          Leadership leadership, LongSupplier clock) {
        this(service, null, store, topology, leadership, clock);
    }

    /**
     * With unplanned failover: its records share the store with the evacuations, and its runner
     * (on a thread of its own, as its steps wait on agents and hypervisors) lives while this leads.
     *
     * @param failoverActions the MMS's failover operations (the migration manager), or null for none
     */
    public EvacuationHost(MigrationService service, FailoverActions failoverActions, EvacuationStore store,
                          Supplier<WanTopology> topology, Leadership leadership, LongSupplier clock) {
        this(service, failoverActions, null, store, topology, leadership, clock);
    }

    /**
     * With unplanned failover and its optional detection (failover.detection in the configuration,
     * off by default): while this leads, a {@link DataCenterLossDetector} on a thread of its own
     * watches the data centers and declares a lost one through {@link #failover(String, String,
     * Evacuation.Trigger, String)}, the path of an operator's declaration.
     *
     * @param lossSignals what detection reads of the MMS (the migration manager), or null for none
     */
    public EvacuationHost(MigrationService service, FailoverActions failoverActions, LossSignals lossSignals,
                          EvacuationStore store, Supplier<WanTopology> topology, Leadership leadership,
                          LongSupplier clock) {
        this.failoverActions = failoverActions;
        this.lossSignals = failoverActions == null ? null : lossSignals;
        this.service = service;
        this.store = store;
        this.topology = topology;
        this.leadership = leadership;
        this.clock = clock;
    }

    /** Becomes the instance that runs evacuations, and goes on with the persisted active ones. */
    public synchronized void takeOver() {
        if (runner != null) {
            return;
        }
        executor = Executors.newSingleThreadScheduledExecutor(r -> new Thread(r, "wanmig-evacuations"));
        runner = new EvacuationRunner(service, store, executor, clock);
        runner.resumeAll();
        if (failoverActions != null) {
            failoverExecutor = Executors.newSingleThreadExecutor(r -> new Thread(r, "wanmig-failover"));
            failovers = new FailoverRunner(service, failoverActions, store, topology, failoverExecutor, clock);
            failovers.resumeAll();
            if (lossSignals != null) {
                detectorExecutor = Executors.newSingleThreadScheduledExecutor(r -> {
                    Thread t = new Thread(r, "wanmig-loss-detection");
                    t.setDaemon(true);
                    return t;
                });
                ScheduledExecutorService on = detectorExecutor;
                detector = new DataCenterLossDetector(topology, service, lossSignals,
                        (task, delay) -> on.schedule(task, delay.toMillis(), TimeUnit.MILLISECONDS), clock,
                        (lost, to, why) -> failover(lost, to, Evacuation.Trigger.DETECTION, why));
                detector.start();
            }
        }
        log.info("evacuation runner started; resuming {} active evacuation(s)",
                store.all().stream().filter(Evacuation::isActive).count());
    }

    /** Stops running evacuations here (leadership lost, shutdown); the records stay for the next leader. */
    public synchronized void release() {
        if (runner == null) {
            return;
        }
        runner.close();
        executor.shutdown();
        try {
            if (!executor.awaitTermination(5, TimeUnit.SECONDS)) {
                executor.shutdownNow();
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        runner = null;
        executor = null;
        if (detector != null) {
            detector.close(); // lock-free: a tick may be declaring through this host right now
            detectorExecutor.shutdownNow();
            detector = null;
            detectorExecutor = null;
        }
        if (failoverExecutor != null) {
            failoverExecutor.shutdownNow(); // a step waiting on an agent is interrupted; the next leader goes on
            failoverExecutor = null;
            failovers = null;
        }
        log.info("evacuation runner stopped");
    }

    public synchronized boolean isRunning() {
        return runner != null;
    }

    @Override
    public void close() {
        release();
    }

    @Override
    public Evacuation evacuate(String source, List<String> destinations, List<String> servers) {
        EvacuationRunner r = requireRunner();
        WanTopology t = topology.get();
        if (t == null) {
            throw WanmigException.unavailable("wanmig has no valid configuration yet");
        }
        Map<String, String> placements = new HashMap<>();
        for (VirtualServer v : service.servers()) {
            placements.put(v.name(), service.location(v.name()));
        }
        EvacuationPlan plan = new EvacuationPlanner(t).plan(placements,
                new EvacuationRequest(source, destinations, servers));
        return r.start(plan);
    }

    /**
     * Starts the failover of {@code lost}; the evacuations from or to it are aborted (their
     * migrations involving it are given up by the failover, the rest roll back).
     */
    @Override
    public Evacuation failover(String lost, String to) {
        return failover(lost, to, Evacuation.Trigger.OPERATOR, null);
    }

    /**
     * The one way a data center is declared lost, by an operator (REST, CLI) or by the loss
     * detector: {@code trigger} and {@code why} are recorded on the failover.
     */
    public Evacuation failover(String lost, String to, Evacuation.Trigger trigger, String why) {
        EvacuationRunner r = requireRunner();
        FailoverRunner f;
        synchronized (this) {
            f = failovers;
        }
        if (f == null) {
            throw WanmigException.unavailable("this runtime offers no failover");
        }
        Evacuation started = f.start(lost, to, trigger, why);
        for (Evacuation e : store.all()) {
            if (!e.isFailover() && e.isActive() && e.state() == org.wanmig.api.EvacuationState.RUNNING
                    && (e.source().equals(lost) || e.destinations().contains(lost))) {
                log.warn("failover {}: aborting evacuation {} ({} to {})", started.id(), e.id(), e.source(),
                        e.destinations());
                r.abort(e.id()).whenComplete((x, error) -> {
                    if (error != null) {
                        log.warn("abort of evacuation {} for the failover of {} failed: {}", e.id(), lost,
                                error.getMessage());
                    }
                });
            }
        }
        return started;
    }

    @Override
    public Collection<Evacuation> evacuations() {
        return store.all();
    }

    @Override
    public Optional<Evacuation> evacuation(EvacuationId id) {
        return store.get(id);
    }

    @Override
    public Evacuation abort(EvacuationId id) {
        EvacuationRunner r = requireRunner();
        try {
            return r.abort(id).get(ABORT_WAIT_SECONDS, TimeUnit.SECONDS);
        } catch (ExecutionException e) {
            if (e.getCause() instanceof RuntimeException) {
                throw (RuntimeException) e.getCause();
            }
            throw new IllegalStateException(e.getCause());
        } catch (TimeoutException e) {
            throw WanmigException.unavailable("the abort of evacuation " + id + " is not under way after "
                    + ABORT_WAIT_SECONDS + " s");
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw WanmigException.unavailable("interrupted");
        }
    }

    private synchronized EvacuationRunner requireRunner() {
        if (runner == null || !leadership.isLeader()) {
            throw WanmigException.unavailable("this instance does not run evacuations; the leader is "
                    + leadership.leader());
        }
        return runner;
    }
}
