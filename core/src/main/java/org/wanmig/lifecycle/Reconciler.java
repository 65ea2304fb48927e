package org.wanmig.lifecycle;

import org.onosproject.net.DeviceId;
import org.onosproject.net.flow.FlowRule;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.wanmig.planner.RuleKey;
import org.wanmig.spi.NetworkProgrammer;
import org.wanmig.spi.SwitchException;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import java.util.function.Consumer;
import java.util.function.Function;
import java.util.function.Supplier;
import java.util.stream.Collectors;

/**
 * The one path by which rules reach the switches. It holds what each switch has of ours (read from
 * the switch, then kept up to date from confirmed changes) and takes the desired state from the
 * manager (baseline routes for the current placements on the current topology, plus the rules of
 * every active migration for its phase, from its stored plan). {@link #converge} applies the
 * difference in a safe order: rules for new keys first, then rules that change an existing key,
 * then removals, each stage confirmed before the next, so traffic is only ever turned onto rules
 * already in place. A switch that (re)connects is read first and only the difference is changed:
 * rules already as wanted are left alone, so a restarted controller loses no packet.
 * <p>
 * Touched only on the lifecycle thread; the adapter's futures hop back onto it.
 */
final class Reconciler {
    private static final Logger log = LoggerFactory.getLogger(Reconciler.class);

    private final NetworkProgrammer network;
    private final Executor lifecycle;
    private final Supplier<Collection<FlowRule>> desired;
    /** Per switch, our rules as last read or confirmed; a switch absent here is unknown (not read yet). */
    private final Map<DeviceId, Map<RuleKey, FlowRule>> actual = new HashMap<>();
    /**
     * Per known switch, the keys whose removal it confirmed and that no install was sent for since:
     * {@link #removeUndesired} does not send their removal again (a migration's cleanup by its plan
     * after {@link #converge} or an earlier phase already took them).
     */
    private final Map<DeviceId, Set<RuleKey>> confirmedRemoved = new HashMap<>();

    Reconciler(NetworkProgrammer network, Executor lifecycle, Supplier<Collection<FlowRule>> desired) {
        this.network = network;
        this.lifecycle = lifecycle;
        this.desired = desired;
    }

    /** What the changes of one {@link #converge} were, for logs and timelines. */
    static final class Outcome {
        final int added;
        final int replaced;
        final int removed;

        Outcome(int added, int replaced, int removed) {
            this.added = added;
            this.replaced = replaced;
            this.removed = removed;
        }

        boolean changedNothing() {
            return added + replaced + removed == 0;
        }

        @Override
        public String toString() {
            return added + " added, " + replaced + " replaced, " + removed + " removed";
        }
    }

    /** Reads the switch's table: from now on the switch's rules are known, and only differences change. */
    CompletableFuture<Void> adopt(DeviceId device) {
        return network.read(device).handleAsync((rules, error) -> {
            if (error != null) {
                actual.remove(device);
                log.warn("could not read the table of {}: {}", device, error.getMessage());
            } else {
                Map<RuleKey, FlowRule> table = new LinkedHashMap<>();
                rules.forEach(r -> table.put(RuleKey.of(r), r));
                actual.put(device, table);
                Set<RuleKey> gone = confirmedRemoved.get(device);
                if (gone != null) {
                    gone.removeIf(table::containsKey);
                }
                log.info("read {} rules of ours on {}", table.size(), device);
            }
            return null;
        }, lifecycle);
    }

    /** The switch went away: what it holds is unknown until it is read again. */
    void forget(DeviceId device) {
        actual.remove(device);
        confirmedRemoved.remove(device);
    }

    /** What the reconciler knows the switch holds of ours (empty when unknown). */
    List<FlowRule> known(DeviceId device) {
        return List.copyOf(actual.getOrDefault(device, Map.of()).values());
    }

    /** The desired rules of one switch now. */
    List<FlowRule> desired(DeviceId device) {
        return desired.get().stream().filter(r -> r.deviceId().equals(device)).collect(Collectors.toList());
    }

    /**
     * Brings every switch that is connected in line with the desired state (or only {@code scope},
     * when given): additions, then replacements, then removals, each confirmed before the next.
     * Switches that are not connected are skipped (they are read and brought in line when they
     * connect), unless they are in {@code required}: then the whole change fails at once, as the
     * caller cannot go on without them. Removals are of what this call found undesired when it
     * started and is still undesired when its turn comes, so a later change is never undone.
     */
    CompletableFuture<Outcome> converge(Set<DeviceId> scope, Set<DeviceId> required) {
        Changes c;
        try {
            c = changes(scope, required);
        } catch (SwitchException e) {
            return CompletableFuture.failedFuture(e);
        }
        if (c.outcome.changedNothing()) {
            return CompletableFuture.completedFuture(c.outcome);
        }
        log.debug("converging: {}", c.outcome);
        return install(c.additions)
                .thenCompose(x -> install(c.replacements))
                .thenCompose(x -> removeUndesired(c.removals))
                .thenApply(x -> c.outcome);
    }

    /**
     * {@link #converge} for a path change under traffic: completes once the new rules are in
     * (additions, then replacements, confirmed); the rules left on the old path go {@code grace}
     * later. A barrier confirms that a switch's table changed, but its datapath may forward by
     * flows it cached a little longer (Open vSwitch revalidates them asynchronously), and packets
     * already on the old path must reach its end: removing the old path at once lost probes on the
     * return to the shortest path (scripts/bench-failover).
     */
    CompletableFuture<Outcome> convergeThenDrain(Duration grace) {
        Changes c = changes(null, Set.of());
        if (c.outcome.changedNothing()) {
            return CompletableFuture.completedFuture(c.outcome);
        }
        log.debug("converging, old path drained for {}: {}", grace, c.outcome);
        CompletableFuture<Void> moved = install(c.additions).thenCompose(x -> install(c.replacements));
        moved.thenRunAsync(() -> removeUndesired(c.removals).whenComplete((x, e) -> {
            if (e != null) {
                log.warn("old path rules not removed (the next change retries): {}", e.getMessage());
            }
        }), CompletableFuture.delayedExecutor(grace.toMillis(), TimeUnit.MILLISECONDS, lifecycle));
        return moved.thenApply(x -> c.outcome);
    }

    /** The difference between the desired state and what the switches hold, by stage. */
    private static final class Changes {
        final List<FlowRule> additions = new ArrayList<>();
        final List<FlowRule> replacements = new ArrayList<>();
        final List<FlowRule> removals = new ArrayList<>();
        Outcome outcome;
    }

    private Changes changes(Set<DeviceId> scope, Set<DeviceId> required) {
        Map<RuleKey, FlowRule> want = index(desired.get());
        Set<DeviceId> devices = new HashSet<>(actual.keySet());
        want.keySet().forEach(k -> devices.add(k.device()));
        if (scope != null) {
            devices.retainAll(scope);
        }
        for (DeviceId d : required) {
            if (!network.isAvailable(d)) {
                throw new SwitchException(d, 0, "switch not connected");
            }
        }
        devices.removeIf(d -> !network.isAvailable(d));
        Changes c = new Changes();
        for (FlowRule r : want.values()) {
            if (!devices.contains(r.deviceId())) {
                continue;
            }
            FlowRule held = actual.getOrDefault(r.deviceId(), Map.of()).get(RuleKey.of(r));
            if (held == null) {
                c.additions.add(r);
            } else if (!RuleKey.sameRule(held, r)) {
                c.replacements.add(r);
            }
        }
        for (DeviceId d : devices) {
            actual.getOrDefault(d, Map.of()).forEach((k, r) -> {
                if (!want.containsKey(k)) {
                    c.removals.add(r);
                }
            });
        }
        c.outcome = new Outcome(c.additions.size(), c.replacements.size(), c.removals.size());
        return c;
    }

    /** Installs (confirmed) and records the rules as held. The rules must be desired already. */
    CompletableFuture<Void> install(List<FlowRule> rules) {
        if (rules.isEmpty()) {
            return CompletableFuture.completedFuture(null);
        }
        return installUnrecorded(rules).thenAcceptAsync(x -> rules.forEach(r ->
                actual.computeIfAbsent(r.deviceId(), d -> new LinkedHashMap<>()).put(RuleKey.of(r), r)), lifecycle);
    }

    /**
     * Sends an install whose confirmation the caller records itself ({@link #confirmed}), where the
     * hop back onto the lifecycle thread would cost time. From now on the rules may be held, confirmed
     * or not, so a later cleanup removes them. Called on the lifecycle thread.
     */
    CompletableFuture<Void> installUnrecorded(List<FlowRule> rules) {
        rules.forEach(r -> {
            Set<RuleKey> gone = confirmedRemoved.get(r.deviceId());
            if (gone != null) {
                gone.remove(RuleKey.of(r));
            }
        });
        return network.install(rules);
    }

    /** Tells the adapter that these rules are installed soon ({@link NetworkProgrammer#prepare}). */
    void prepare(List<FlowRule> rules) {
        network.prepare(rules);
    }

    /** Records rules the caller installed itself (confirmed) as held. Called on the lifecycle thread. */
    void confirmed(List<FlowRule> rules) {
        rules.forEach(r -> actual.computeIfAbsent(r.deviceId(), d -> new LinkedHashMap<>()).put(RuleKey.of(r), r));
    }

    /**
     * Installs each step once the one before is confirmed (the route update's order) and, after
     * the first, {@code gap} later: packets the previous step's switches sent the old way are then
     * off the links before the next switches change (see MigrationSettings.DEFAULT_ROUTE_STEP_GAP).
     * Before each step, {@code wanted} is asked, on the lifecycle thread: once it says no (a
     * rollback took the routes over, say), no further step is sent and the result fails with a
     * {@link CancellationException}. {@code confirmed} is told of each step once it is.
     */
    CompletableFuture<Void> installInOrder(List<List<FlowRule>> steps, Duration gap, BooleanSupplier wanted,
                                           Consumer<List<FlowRule>> confirmed) {
        Executor afterGap = CompletableFuture.delayedExecutor(gap.toNanos(), TimeUnit.NANOSECONDS, lifecycle);
        CompletableFuture<Void> done = CompletableFuture.completedFuture(null);
        for (int i = 0; i < steps.size(); i++) {
            List<FlowRule> step = steps.get(i);
            Function<Object, CompletableFuture<Void>> send = x -> wanted.getAsBoolean() ? install(step)
                    : CompletableFuture.failedFuture(new CancellationException("route steps no longer wanted"));
            done = (i == 0 || gap.isZero() ? done.thenCompose(send) : done.thenComposeAsync(send, afterGap))
                    .thenRun(() -> confirmed.accept(step));
        }
        return done;
    }

    /** Whether the switch's table is known (read since it connected); one not connected is not. */
    boolean knows(DeviceId device) {
        return actual.containsKey(device);
    }

    /** Whether the switch was read (or confirmed) to hold this very rule. */
    boolean holds(FlowRule rule) {
        FlowRule held = actual.getOrDefault(rule.deviceId(), Map.of()).get(RuleKey.of(rule));
        return held != null && RuleKey.sameRule(held, rule);
    }

    /**
     * Removes those of {@code rules} whose keys are not desired now, whether or not the switch is
     * known to hold them (cleanup by a migration's cookie after a rollback or teardown), except those
     * this reconciler already removed (confirmed) and sent no install for since: each stale rule is
     * removed once.
     */
    CompletableFuture<Void> removeUndesired(Collection<FlowRule> rules) {
        CompletableFuture<Set<RuleKey>> wanted = CompletableFuture.supplyAsync(
                () -> index(desired.get()).keySet(), lifecycle);
        return wanted.thenCompose(keys -> {
            List<FlowRule> gone = index(rules).values().stream()
                    .filter(r -> !keys.contains(RuleKey.of(r))
                            && !confirmedRemoved.getOrDefault(r.deviceId(), Set.of()).contains(RuleKey.of(r)))
                    .collect(Collectors.toList());
            if (gone.isEmpty()) {
                return CompletableFuture.completedFuture(null);
            }
            // Not held from the moment the removal is sent: a converge that runs before it is
            // confirmed, and wants one of these rules again, must install it, not count on it.
            Map<FlowRule, Boolean> wasHeld = new LinkedHashMap<>();
            gone.forEach(r -> {
                Map<RuleKey, FlowRule> table = actual.get(r.deviceId());
                wasHeld.put(r, table != null && table.remove(RuleKey.of(r)) != null);
            });
            return network.remove(gone).whenCompleteAsync((x, error) -> gone.forEach(r -> {
                Map<RuleKey, FlowRule> table = actual.get(r.deviceId());
                if (table == null) {
                    return;
                }
                if (error != null) {
                    // unknown whether it went: held again, unless something newer was installed meanwhile
                    if (wasHeld.get(r)) {
                        table.putIfAbsent(RuleKey.of(r), r);
                    }
                } else if (network.isAvailable(r.deviceId()) && !table.containsKey(RuleKey.of(r))) {
                    confirmedRemoved.computeIfAbsent(r.deviceId(), d -> new HashSet<>()).add(RuleKey.of(r));
                }
            }), lifecycle);
        });
    }

    /** Desired rules by key; a later rule for a key wins. */
    static Map<RuleKey, FlowRule> index(Collection<FlowRule> rules) {
        Map<RuleKey, FlowRule> map = new LinkedHashMap<>();
        rules.forEach(r -> map.put(RuleKey.of(r), r));
        return map;
    }
}
