package org.wanmig.failover;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.wanmig.api.AgentDiskStatus;
import org.wanmig.api.MigrationService;
import org.wanmig.config.DataCenter;
import org.wanmig.config.FailoverDetection;
import org.wanmig.config.VirtualServer;
import org.wanmig.config.WanTopology;
import org.wanmig.evacuation.EvacuationRunner.Scheduler;

import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Future;
import java.util.concurrent.RejectedExecutionException;
import java.util.function.LongSupplier;
import java.util.function.Supplier;
import java.util.stream.Collectors;

/**
 * Declares a data center lost without an operator (failover.detection, off by default), through
 * the same failover an operator starts.
 * <p>
 * Three signals per watched DC, sampled every {@code pollSeconds}:
 * <ol>
 *   <li>its PE is disconnected from this controller;</li>
 *   <li>its replication agent does not answer this controller within {@code pollSeconds};</li>
 *   <li>a witness, the agent of a surviving DC asked on its own path, answers and reports its
 *       replication link to the watched DC down (or silent for {@code peerSilenceSeconds}) for every
 *       disk of the servers placed in the watched DC, of which it holds at least one.</li>
 * </ol>
 * The first two go through the controller's own network, so a partition on the controller's side
 * shows them both while the DC runs on; the third is seen between the DCs, where such a partition
 * leaves it up. Only all three together, without a break for {@code afterSeconds}, declare.
 * <p>
 * Per DC an explicit state machine: HEALTHY → SUSPECT (every signal holds; the clock starts) →
 * LOST (declared, at most once per loss). SUSPECT falls back to HEALTHY as soon as one signal is
 * missing; LOST returns to HEALTHY once the DC is back (its PE connected and its agent answering).
 * Only DCs with an agent are watched; with {@code to} set, that DC is the only witness and is not
 * watched itself.
 * <p>
 * No thread of its own: every tick runs from the {@link Scheduler}, one at a time, and reads the
 * agents' answers to the previous tick's questions, so the state is touched by ticks only.
 */
public final class DataCenterLossDetector implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(DataCenterLossDetector.class);
    /** How often the configuration is read again while detection is off. */
    static final Duration IDLE_RECHECK = Duration.ofSeconds(1);

    public enum State { HEALTHY, SUSPECT, LOST }

    /** Declares {@code lost} lost: the failover an operator starts, recorded as the detection's. */
    @FunctionalInterface
    public interface Declaration {
        void declare(String lost, String to, String why);
    }

    /** The signals of one DC at one tick; {@code witness} says what the witnesses reported. */
    static final class Signals {
        final boolean peDown;
        final boolean agentDown;
        final boolean peerDown;
        final String witness;

        Signals(boolean peDown, boolean agentDown, boolean peerDown, String witness) {
            this.peDown = peDown;
            this.agentDown = agentDown;
            this.peerDown = peerDown;
            this.witness = witness;
        }

        boolean all() {
            return peDown && agentDown && peerDown;
        }

        @Override
        public String toString() {
            return "PE " + (peDown ? "disconnected" : "connected") + ", agent "
                    + (agentDown ? "unreachable from the controller" : "answering") + ", " + witness;
        }
    }

    private static final class Watch {
        State state = State.HEALTHY;
        long since;
    }

    private final Supplier<WanTopology> topology;
    private final MigrationService service;
    private final LossSignals signals;
    private final Scheduler scheduler;
    private final LongSupplier clock;
    private final Declaration declaration;

    private final Map<String, Watch> watches = new HashMap<>();
    /** The questions of the last tick, by DC: answered by the next one, or counted unanswered. */
    private Map<String, CompletableFuture<List<AgentDiskStatus>>> asked = Map.of();
    private volatile Future<?> next;
    private volatile boolean closed;

    public DataCenterLossDetector(Supplier<WanTopology> topology, MigrationService service, LossSignals signals,
                                  Scheduler scheduler, LongSupplier clock, Declaration declaration) {
        this.topology = topology;
        this.service = service;
        this.signals = signals;
        this.scheduler = scheduler;
        this.clock = clock;
        this.declaration = declaration;
    }

    /** Starts ticking (the first tick at once). */
    public synchronized void start() {
        schedule(Duration.ZERO);
    }

    /**
     * Stops ticking. Takes no lock, so a host may call it while holding its own (a tick may be
     * declaring through that host at this moment); a tick under way ends without a next one.
     */
    @Override
    public void close() {
        closed = true;
        Future<?> n = next;
        if (n != null) {
            n.cancel(false);
        }
    }

    /** Each watched DC's state now. */
    public synchronized Map<String, State> states() {
        Map<String, State> out = new LinkedHashMap<>();
        watches.forEach((dc, w) -> out.put(dc, w.state));
        return out;
    }

    private void schedule(Duration delay) {
        if (closed) {
            return;
        }
        try {
            next = scheduler.schedule(this::tick, delay);
        } catch (RejectedExecutionException e) {
            log.debug("loss detection: stopped with its executor");
        }
    }

    synchronized void tick() {
        if (closed) {
            asked.values().forEach(f -> f.cancel(false));
            return;
        }
        try {
            evaluate();
        } catch (RuntimeException e) {
            log.error("loss detection: tick failed; trying again at the next", e);
        }
        WanTopology t = topology.get();
        FailoverDetection d = t == null ? FailoverDetection.DISABLED : t.failoverDetection();
        schedule(d.enabled() ? d.poll() : IDLE_RECHECK);
    }

    private void evaluate() {
        WanTopology t = topology.get();
        FailoverDetection d = t == null ? FailoverDetection.DISABLED : t.failoverDetection();
        Map<String, CompletableFuture<List<AgentDiskStatus>>> answers = asked;
        asked = Map.of();
        if (!d.enabled()) {
            answers.values().forEach(f -> f.cancel(false));
            if (!watches.isEmpty()) {
                log.info("loss detection off: no data center watched");
                watches.clear();
            }
            return;
        }
        List<String> withAgent = t.dataCenters().stream().filter(dc -> dc.agent() != null).map(DataCenter::name)
                .collect(Collectors.toList());
        List<String> watched = withAgent.stream().filter(dc -> !dc.equals(d.to())).collect(Collectors.toList());
        watches.keySet().retainAll(watched);
        long now = clock.getAsLong();
        if (!answers.isEmpty()) { // the first tick only asks
            for (String dc : watched) {
                advance(dc, signals(t, d, dc, answers), d, now);
            }
        }
        answers.values().forEach(f -> f.cancel(false)); // unanswered ones counted as such already
        Map<String, CompletableFuture<List<AgentDiskStatus>>> ask = new HashMap<>();
        for (String dc : withAgent) {
            try {
                ask.put(dc, signals.agentDisks(dc, d.poll()));
            } catch (RuntimeException e) {
                ask.put(dc, CompletableFuture.failedFuture(e));
            }
        }
        asked = ask;
    }

    private Signals signals(WanTopology t, FailoverDetection d, String dc,
                            Map<String, CompletableFuture<List<AgentDiskStatus>>> answers) {
        boolean peDown = !signals.peConnected(dc);
        boolean agentDown = answer(answers.get(dc)) == null;
        Set<String> disks = t.servers().stream().map(VirtualServer::name)
                .filter(s -> dc.equals(service.location(s))).collect(Collectors.toSet());
        List<String> witnesses = d.to() != null ? List.of(d.to()) : t.dataCenters().stream()
                .filter(x -> x.agent() != null && !x.name().equals(dc)).map(DataCenter::name)
                .collect(Collectors.toList());
        List<String> down = new ArrayList<>();
        List<String> up = new ArrayList<>();
        List<String> silent = new ArrayList<>();
        for (String w : witnesses) {
            List<AgentDiskStatus> report = answer(answers.get(w));
            if (report == null) {
                silent.add(w);
                continue;
            }
            for (AgentDiskStatus s : report) {
                if (disks.contains(s.disk())) {
                    (s.peerLost(d.peerSilence().toMillis()) ? down : up).add(w + ":" + s);
                }
            }
        }
        boolean peerDown = !down.isEmpty() && up.isEmpty();
        String witness = up.isEmpty() && down.isEmpty()
                ? "no witness reports a disk of " + dc + "'s servers" + (silent.isEmpty() ? "" : " (unanswered: "
                        + String.join(",", silent) + ")")
                : !up.isEmpty() ? "witness sees the peer link up: " + String.join("; ", up)
                : "witness sees the peer link down: " + String.join("; ", down);
        return new Signals(peDown, agentDown, peerDown, witness);
    }

    /** The answer if it came in time, else null (not answered, failed, or not asked). */
    private static List<AgentDiskStatus> answer(CompletableFuture<List<AgentDiskStatus>> f) {
        if (f == null || !f.isDone() || f.isCompletedExceptionally() || f.isCancelled()) {
            return null;
        }
        return f.getNow(null);
    }

    private void advance(String dc, Signals s, FailoverDetection d, long now) {
        Watch w = watches.computeIfAbsent(dc, x -> new Watch());
        switch (w.state) {
            case HEALTHY:
                if (s.all()) {
                    w.state = State.SUSPECT;
                    w.since = now;
                    log.warn("loss detection: {} SUSPECT ({}); declared lost if this holds for {} s", dc, s,
                            d.after().toMillis() / 1000.0);
                }
                break;
            case SUSPECT:
                if (!s.all()) {
                    w.state = State.HEALTHY;
                    log.info("loss detection: {} HEALTHY again after {} ms as SUSPECT, not declared ({})", dc,
                            now - w.since, s);
                } else if (now - w.since >= d.after().toMillis()) {
                    w.state = State.LOST;
                    String why = s + ", all for " + (now - w.since) + " ms (afterSeconds "
                            + d.after().toMillis() / 1000.0 + ")";
                    log.warn("loss detection: declaring {} lost: {}", dc, why);
                    try {
                        declaration.declare(dc, d.to(), why);
                    } catch (RuntimeException e) {
                        // refused (already being failed over, nothing to fail over...): still one loss
                        log.error("loss detection: the failover of {} was refused: {}", dc, e.getMessage());
                    }
                }
                break;
            case LOST:
                if (!s.peDown && !s.agentDown) {
                    w.state = State.HEALTHY;
                    log.info("loss detection: {} is back (PE connected, agent answering): HEALTHY, watched again",
                            dc);
                }
                break;
            default:
                throw new IllegalStateException("unknown state " + w.state);
        }
    }
}
