package org.wanmig.lifecycle;

import org.onosproject.net.ConnectPoint;
import org.onosproject.net.DeviceId;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.wanmig.config.ClientSite;
import org.wanmig.config.DataCenter;
import org.wanmig.config.LinkStateSettings;
import org.wanmig.config.WanGraph;
import org.wanmig.config.WanLink;
import org.wanmig.config.WanTopology;
import org.wanmig.spi.NetworkStateListener;

import java.time.Clock;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;

/**
 * The link-state model of the WAN and the effective topology that routes are planned on: the
 * validated configuration with every link taken out that the network reports down (either end's
 * port, or a switch that lost its controller connection for the hold-down, except a PE whose
 * neighbour still sees the link: see {@code outWithItsSwitch}), and every recovered link that is
 * still in its hold-down (a switch that reconnects brings its links back at once).
 * <p>
 * Each change of the effective topology is handed to the re-planner (the runtimes pass
 * {@code MigrationManager::updateTopology}, which moves the baseline make-before-break) and becomes
 * a {@link ReplanEvent}. A failure is acted on at once. A recovered link waits out the hold-down
 * before routes may return to it, and a link that goes down again in that time starts over, so a
 * flapping link never moves routes back and forth; a recovered link that reconnects a client site
 * or data center with no path at all is used at once. Re-plans never overlap: reports that arrive
 * while one is being confirmed are folded into the next, planned on the state as it is then.
 * <p>
 * Every report and timer runs on one thread of the tracker's own, so the model needs no locks.
 */
public final class LinkStateTracker implements NetworkStateListener, AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(LinkStateTracker.class);
    private static final int EVENTS_KEPT = 500;

    /** What a declared link's state is, as the routes see it. */
    public enum State { UP, DOWN, HOLD_DOWN, CONFIGURED_DOWN }

    private final Function<WanTopology, CompletableFuture<Void>> replanner;
    private final Clock clock;
    private final ScheduledExecutorService thread;

    private WanTopology declared;
    private LinkStateSettings settings;
    /** The effective topology last handed to the re-planner. */
    private WanTopology applied;
    private final Map<Set<ConnectPoint>, Boolean> reportedUp = new HashMap<>();
    private final Set<DeviceId> switchesDown = new HashSet<>();
    /** Switches that lost their controller, not yet for the hold-down: their links still count. */
    private final Map<DeviceId, ScheduledFuture<?>> disconnecting = new HashMap<>();
    private final Map<Set<ConnectPoint>, ScheduledFuture<?>> holding = new HashMap<>();
    private final List<String> pendingCauses = new ArrayList<>();
    private Instant pendingSince;
    private boolean replanning;
    private long sequence;
    private final Deque<ReplanEvent> events = new ArrayDeque<>();

    /**
     * @param declared  the validated configuration, which the re-planner's routes are on now
     * @param replanner called with each new effective topology; completes once the switches confirmed
     */
    public LinkStateTracker(WanTopology declared, LinkStateSettings settings,
                            Function<WanTopology, CompletableFuture<Void>> replanner, Clock clock) {
        this.declared = Objects.requireNonNull(declared);
        this.applied = declared;
        this.settings = Objects.requireNonNull(settings);
        this.replanner = Objects.requireNonNull(replanner);
        this.clock = Objects.requireNonNull(clock);
        this.thread = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "wanmig-linkstate");
            t.setDaemon(true);
            return t;
        });
    }

    // ---- reports from the network ----------------------------------------------------------------

    @Override
    public void linkUp(ConnectPoint one, ConnectPoint two) {
        onThread(() -> reportLink(one, two, true));
    }

    @Override
    public void linkDown(ConnectPoint one, ConnectPoint two) {
        onThread(() -> reportLink(one, two, false));
    }

    private void reportLink(ConnectPoint one, ConnectPoint two, boolean up) {
        Set<ConnectPoint> k = Set.of(one, two);
        if (declared.links().stream().noneMatch(l -> key(l).equals(k))) {
            log.debug("link {}<->{} is not a configured WAN link; ignored", one, two);
            return;
        }
        report(() -> reportedUp.put(k, up), "link " + one + "<->" + two + (up ? " up" : " down"), true);
    }

    /**
     * A switch (re)connected. Its links come back without a hold-down: they were out because the
     * switch could not be programmed, not because a port flapped (a port that did is still reported
     * down). Every switch reconnecting after a control-network blip must not keep the WAN routed
     * around itself for a hold-down.
     */
    @Override
    public void switchUp(DeviceId device) {
        onThread(() -> {
            ScheduledFuture<?> pending = disconnecting.remove(device);
            if (pending != null) {
                pending.cancel(false);
                log.info("network: switch {} connected again within the hold-down; its links stayed", device);
                return;
            }
            report(() -> switchesDown.remove(device), "switch " + device + " connected", false);
        });
    }

    /**
     * A switch lost its controller. Its data plane may run on with the rules it holds, so its links
     * are taken out only once it has stayed disconnected for the hold-down (a control blip changes no
     * route); a switch that is really gone takes its links down at once at its connected neighbours,
     * which report their ports down.
     */
    @Override
    public void switchDown(DeviceId device) {
        onThread(() -> {
            if (switchesDown.contains(device) || disconnecting.containsKey(device)) {
                return;
            }
            if (settings.holdDown().isZero()) {
                report(() -> switchesDown.add(device), "switch " + device + " disconnected", true);
                return;
            }
            log.info("network: switch {} disconnected; its links stay for the hold-down ({} ms)", device,
                    settings.holdDown().toMillis());
            disconnecting.put(device, thread.schedule(() -> {
                if (disconnecting.remove(device) != null) {
                    report(() -> switchesDown.add(device), "switch " + device + " disconnected for the hold-down ("
                            + settings.holdDown().toMillis() + " ms)", true);
                }
            }, settings.holdDown().toMillis(), TimeUnit.MILLISECONDS));
        });
    }

    /** A new validated configuration (netcfg): what the network reported about links it still has stays. */
    public void configure(WanTopology next, LinkStateSettings nextSettings) {
        onThread(() -> {
            Set<Set<ConnectPoint>> keep = new HashSet<>();
            next.links().forEach(l -> keep.add(key(l)));
            reportedUp.keySet().retainAll(keep);
            holding.entrySet().removeIf(e -> {
                if (!keep.contains(e.getKey())) {
                    e.getValue().cancel(false);
                    return true;
                }
                return false;
            });
            declared = next;
            settings = nextSettings;
            replan("configuration updated");
        });
    }

    // ---- what the routes see -----------------------------------------------------------------------

    /** The configuration with the links that are down or in hold-down marked down. */
    public WanTopology effective() {
        return onThreadAndWait(this::computeEffective);
    }

    /** Each declared link and its state. */
    public Map<WanLink, State> links() {
        return onThreadAndWait(() -> {
            Map<WanLink, State> out = new LinkedHashMap<>();
            declared.links().forEach(l -> out.put(l, state(l)));
            return out;
        });
    }

    /** Re-plans so far, oldest first (the last {@value #EVENTS_KEPT}). */
    public List<ReplanEvent> events() {
        return onThreadAndWait(() -> List.copyOf(events));
    }

    public LinkStateSettings settings() {
        return onThreadAndWait(() -> settings);
    }

    @Override
    public void close() {
        thread.shutdownNow();
    }

    // ---- the model ------------------------------------------------------------------------------------

    private static Set<ConnectPoint> key(WanLink l) {
        return Set.of(l.one(), l.two());
    }

    /** Up as far as the network is concerned, hold-down aside. */
    private boolean carries(WanLink l) {
        return l.isUp() && reportedUp.getOrDefault(key(l), true) && !outWithItsSwitch(l);
    }

    /**
     * A link goes with a switch that lost its controller: paths are planned around a WAN switch
     * that cannot be programmed. Not a PE's link whose other end is still connected (and has not
     * reported its port down): there is no way around a PE, and its data plane may well run on, so
     * taking the link out would only withdraw the routes to a DC the controller cannot see (a
     * controller-side partition would become a DC outage). A PE that is really gone takes the link
     * down at the connected end, which reports it.
     */
    private boolean outWithItsSwitch(WanLink l) {
        boolean oneDown = switchesDown.contains(l.one().deviceId());
        boolean twoDown = switchesDown.contains(l.two().deviceId());
        if (oneDown == twoDown) {
            return oneDown;
        }
        DeviceId down = oneDown ? l.one().deviceId() : l.two().deviceId();
        return declared.dataCenters().stream().noneMatch(dc -> dc.pe().equals(down));
    }

    private State state(WanLink l) {
        if (!l.isUp()) {
            return State.CONFIGURED_DOWN;
        }
        if (!carries(l)) {
            return State.DOWN;
        }
        return holding.containsKey(key(l)) ? State.HOLD_DOWN : State.UP;
    }

    private WanTopology computeEffective() {
        if (!settings.reroute()) {
            return declared; // routes stay on the configured links (the behaviour without link tracking)
        }
        return without(declared, link -> !carries(link) || holding.containsKey(key(link)));
    }

    private static WanTopology without(WanTopology t, java.util.function.Predicate<WanLink> out) {
        WanTopology result = t;
        for (WanLink l : t.links()) {
            if (l.isUp() && out.test(l)) {
                result = result.withLink(l.withUp(false));
            }
        }
        return result;
    }

    /**
     * Applies one report, starts (if {@code holdReturning}) or cancels hold-downs for the links it
     * changed, and re-plans.
     */
    private void report(Runnable change, String cause, boolean holdReturning) {
        Map<Set<ConnectPoint>, Boolean> before = new HashMap<>();
        declared.links().forEach(l -> before.put(key(l), carries(l)));
        change.run();
        log.info("network: {}", cause);
        for (WanLink l : declared.links()) {
            Set<ConnectPoint> k = key(l);
            boolean now = carries(l);
            if (before.get(k) && !now) {
                ScheduledFuture<?> hold = holding.remove(k);
                if (hold != null) {
                    hold.cancel(false); // went down again inside its hold-down: it starts over when it is back
                }
            } else if (!before.get(k) && now && holdReturning && !settings.holdDown().isZero()) {
                holding.put(k, thread.schedule(() -> endHoldDown(k), settings.holdDown().toMillis(),
                        TimeUnit.MILLISECONDS));
            }
        }
        releaseHoldsThatReconnect();
        replan(cause);
    }

    /** A held link that gives a path to a pair that has none is needed now: being stable matters less. */
    private void releaseHoldsThatReconnect() {
        for (Set<ConnectPoint> k : new ArrayList<>(holding.keySet())) {
            int without = unreachable(computeEffective()).size();
            ScheduledFuture<?> hold = holding.remove(k);
            if (unreachable(computeEffective()).size() < without) {
                hold.cancel(false);
                log.info("link {} used at once: it reconnects part of the WAN that has no other path", k);
            } else {
                holding.put(k, hold);
            }
        }
    }

    private void endHoldDown(Set<ConnectPoint> k) {
        if (holding.remove(k) != null) {
            replan("link " + describe(k) + " stayed up for the hold-down (" + settings.holdDown().toMillis() + " ms)");
        }
    }

    private String describe(Set<ConnectPoint> k) {
        return declared.links().stream().filter(l -> key(l).equals(k)).findFirst()
                .map(l -> l.one() + "<->" + l.two()).orElse(k.toString());
    }

    /** Client site / DC and DC / DC pairs with no path on {@code t}. */
    private static List<String> unreachable(WanTopology t) {
        WanGraph g = WanGraph.of(t);
        List<String> out = new ArrayList<>();
        List<DataCenter> dcs = new ArrayList<>(t.dataCenters());
        for (ClientSite site : t.clientSites()) {
            for (DataCenter dc : dcs) {
                if (!g.connected(site.edge(), dc.pe())) {
                    out.add(site.name() + " / " + dc.name());
                }
            }
        }
        for (int i = 0; i < dcs.size(); i++) {
            for (int j = i + 1; j < dcs.size(); j++) {
                if (!g.connected(dcs.get(i).pe(), dcs.get(j).pe())) {
                    out.add(dcs.get(i).name() + " / " + dcs.get(j).name());
                }
            }
        }
        return out;
    }

    private List<String> linksOut() {
        List<String> out = new ArrayList<>();
        for (WanLink l : declared.links()) {
            State s = state(l);
            if (s == State.UP) {
                continue;
            }
            String why = s == State.HOLD_DOWN ? "hold-down" : s == State.CONFIGURED_DOWN ? "configured down"
                    : !outWithItsSwitch(l) ? "down"
                    : switchesDown.contains(l.one().deviceId()) ? "switch " + l.one().deviceId() + " disconnected"
                    : "switch " + l.two().deviceId() + " disconnected";
            out.add(l.one() + "<->" + l.two() + " (" + why + ")");
        }
        return out;
    }

    // ---- re-planning, one at a time -------------------------------------------------------------------------

    private void replan(String cause) {
        pendingCauses.add(cause);
        if (pendingSince == null) {
            pendingSince = clock.instant();
        }
        if (!replanning) {
            startReplan();
        }
    }

    private void startReplan() {
        WanTopology effective = computeEffective();
        if (effective.equals(applied) || pendingCauses.isEmpty()) {
            pendingCauses.clear(); // nothing the routes see has changed (e.g. a link entered its hold-down)
            pendingSince = null;
            return;
        }
        List<String> causes = List.copyOf(pendingCauses);
        Instant triggered = pendingSince;
        pendingCauses.clear();
        pendingSince = null;
        List<String> out = linksOut();
        List<String> unreachable = unreachable(effective);
        if (!unreachable.isEmpty()) {
            log.warn("no WAN path left between {}: unreachable until a link recovers", unreachable);
        }
        replanning = true;
        applied = effective;
        Instant started = clock.instant();
        CompletableFuture<Void> done;
        try {
            done = replanner.apply(effective);
        } catch (RuntimeException e) {
            done = CompletableFuture.failedFuture(e);
        }
        done.whenCompleteAsync((x, error) -> {
            ReplanEvent event = new ReplanEvent(++sequence, triggered, causes, out, unreachable, started,
                    clock.instant(), error == null ? null : cause(error));
            events.addLast(event);
            while (events.size() > EVENTS_KEPT) {
                events.removeFirst();
            }
            if (error == null) {
                log.info("{}", event);
            } else {
                log.warn("{}", event);
            }
            replanning = false;
            if (!pendingCauses.isEmpty()) {
                startReplan();
            }
        }, thread);
    }

    private static String cause(Throwable t) {
        return org.wanmig.api.WanmigException.messageOf(t);
    }

    // ---- plumbing ------------------------------------------------------------------------------------------------

    private void onThread(Runnable task) {
        try {
            thread.execute(() -> {
                try {
                    task.run();
                } catch (RuntimeException e) {
                    log.error("link-state tracker: unexpected error", e);
                }
            });
        } catch (java.util.concurrent.RejectedExecutionException e) {
            log.debug("link-state tracker closed; report dropped");
        }
    }

    private <T> T onThreadAndWait(java.util.concurrent.Callable<T> query) {
        try {
            return thread.submit(query).get(10, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted", e);
        } catch (java.util.concurrent.ExecutionException | java.util.concurrent.TimeoutException e) {
            throw new IllegalStateException("link-state tracker did not answer: " + e, e);
        }
    }
}
