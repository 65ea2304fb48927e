package org.wanmig.lifecycle;

import org.onosproject.net.flow.FlowRule;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.wanmig.config.WanGraph;
import org.wanmig.planner.RerouteOrder;
import org.wanmig.planner.RouteChange;
import org.wanmig.planner.RuleDiff;
import org.wanmig.spi.NetworkProgrammer;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;

/**
 * Moves the baseline routes from one plan to the next (a link failed or recovered, a new
 * configuration), make-before-break: the new rules in {@link RerouteOrder}'s steps, each confirmed,
 * and the old rules only a grace period after the last step is confirmed. The grace is there because a
 * switch confirms a flow-mod (barrier) once its table holds it, while the datapath's cached flows
 * follow later (Open vSwitch revalidates them in the background): for a moment a switch upstream
 * still forwards the old way, into rules that must not be gone yet. Measured on the userspace
 * datapath here: up to ~50 ms; the grace is a comfortable multiple of it.
 * <p>
 * A move that comes before the previous one's old rules are gone takes them over: they go with its
 * own old rules, except those it wants again. Touched only on the manager's lifecycle thread.
 */
final class BaselineMover {
    private static final Logger log = LoggerFactory.getLogger(BaselineMover.class);
    static final Duration STALE_RULE_GRACE = Duration.ofMillis(250);

    private final NetworkProgrammer network;
    private final ScheduledExecutorService lifecycle;
    private final Map<RuleDiff.Key, FlowRule> stale = new LinkedHashMap<>();
    private ScheduledFuture<?> removal;
    private int generation;

    BaselineMover(NetworkProgrammer network, ScheduledExecutorService lifecycle) {
        this.network = network;
        this.lifecycle = lifecycle;
    }

    /** Completes once every new rule is confirmed; the old ones are removed a grace period later. */
    CompletableFuture<Void> move(Collection<FlowRule> before, Collection<FlowRule> after, WanGraph was,
                                 WanGraph graph) {
        RouteChange change = RerouteOrder.between(before, after, was, graph);
        Set<RuleDiff.Key> wanted = new HashSet<>();
        after.forEach(r -> wanted.add(RuleDiff.Key.of(r)));
        stale.keySet().removeIf(wanted::contains);
        change.removals().forEach(r -> stale.put(RuleDiff.Key.of(r), r));
        if (removal != null) {
            removal.cancel(false);
            removal = null;
        }
        int mine = ++generation;
        CompletableFuture<Void> installed = CompletableFuture.completedFuture(null);
        for (List<FlowRule> step : change.steps()) {
            installed = installed.thenCompose(x -> network.install(step));
        }
        installed.whenCompleteAsync((x, error) -> {
            if (error == null && mine == generation && !stale.isEmpty()) {
                removal = lifecycle.schedule(this::removeStale, STALE_RULE_GRACE.toMillis(), TimeUnit.MILLISECONDS);
            }
        }, lifecycle);
        return installed;
    }

    private void removeStale() {
        List<FlowRule> rules = new ArrayList<>(stale.values());
        stale.clear();
        removal = null;
        network.remove(rules).whenComplete((x, e) -> {
            if (e != null) {
                // a switch that missed it drops them on reconnect: they are no longer desired
                log.warn("old baseline rules not all removed: {}", e.getMessage());
            }
        });
    }

    /** Stops the pending removal (the manager stops driving); the switches' reconciliation cleans up. */
    void cancel() {
        if (removal != null) {
            removal.cancel(false);
            removal = null;
        }
    }
}
