package org.wanmig.impl;

import org.onosproject.core.ApplicationId;
import org.onosproject.net.DeviceId;
import org.onosproject.net.device.DeviceService;
import org.onosproject.net.flow.FlowEntry;
import org.onosproject.net.flow.FlowRule;
import org.onosproject.net.flow.FlowRuleEvent;
import org.onosproject.net.flow.FlowRuleListener;
import org.onosproject.net.flow.FlowRuleOperation;
import org.onosproject.net.flow.FlowRuleOperations;
import org.onosproject.net.flow.FlowRuleOperationsContext;
import org.onosproject.net.flow.FlowRuleService;
import org.wanmig.planner.RuleDiff;
import org.wanmig.spi.NetworkProgrammer;
import org.wanmig.spi.SwitchException;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import java.util.stream.Collectors;

import static org.onosproject.net.flow.FlowEntry.FlowEntryState.ADDED;

/**
 * The MMS's {@link NetworkProgrammer} on ONOS's FlowRuleService. "Installed" means ONOS saw the
 * rule in the switch's table (flow entry state ADDED, reported as RULE_ADDED, or RULE_UPDATED for a
 * rule that was already there); "removed" means RULE_REMOVED or the entry is gone. A batch that is
 * not confirmed within the switch timeout fails with a {@link SwitchException} naming the switch and
 * the cookie (the cookie is the rule's FlowId), and so does a rule the switch rejects.
 * <p>
 * Rules for a switch that is not connected are still handed to ONOS, which keeps them and programs
 * the switch when it connects; the batch fails at once so the lifecycle does not wait for it.
 */
public final class FlowRuleNetworkProgrammer implements NetworkProgrammer {
    private final FlowRuleService flowRules;
    private final DeviceService devices;
    private final ApplicationId appId;
    private final Supplier<Duration> timeout;
    private final ScheduledExecutorService timer;
    private final FlowRuleListener listener = this::event;
    /** Who waits for which rule; guarded by {@code this}. */
    private final Map<Key, Set<Batch>> waiting = new HashMap<>();

    /**
     * @param timeout how long a batch may wait for its confirmations (read per batch, so a new
     *                configuration's switch timeout applies to the next batch)
     */
    public FlowRuleNetworkProgrammer(FlowRuleService flowRules, DeviceService devices, ApplicationId appId,
                                     Supplier<Duration> timeout) {
        this.flowRules = flowRules;
        this.devices = devices;
        this.appId = appId;
        this.timeout = timeout;
        this.timer = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "wanmig-flow-confirm");
            t.setDaemon(true);
            return t;
        });
        flowRules.addListener(listener);
    }

    /** Stops listening; batches still waiting fail. */
    public void close() {
        flowRules.removeListener(listener);
        List<Batch> open;
        synchronized (this) {
            open = waiting.values().stream().flatMap(Set::stream).distinct().collect(Collectors.toList());
            waiting.clear();
        }
        open.forEach(b -> b.fail(new SwitchException(b.anyDevice(), 0, "wanmig stopped before confirmation")));
        timer.shutdownNow();
    }

    @Override
    public boolean isAvailable(DeviceId device) {
        return devices.isAvailable(device);
    }

    @Override
    public CompletableFuture<Void> install(Collection<FlowRule> rules) {
        if (rules.isEmpty()) {
            return CompletableFuture.completedFuture(null);
        }
        Map<DeviceId, List<FlowEntry>> tables = tables(rules);
        // ONOS keys its store by FlowId; a rule of ours with the same match but another cookie would
        // be re-pushed by ONOS over the new one, so it is removed first ("replaces" in the SPI).
        List<FlowRule> stale = new ArrayList<>();
        for (FlowRule r : rules) {
            tables.get(r.deviceId()).stream()
                    .filter(e -> e.appId() == appId.id() && sameKey(e, r) && e.id().value() != r.id().value())
                    .forEach(stale::add);
        }
        Batch batch = new Batch(true, rules);
        register(batch);
        for (FlowRule r : rules) {
            // already in the table exactly as wanted: nothing to wait for
            tables.get(r.deviceId()).stream().filter(e -> e.state() == ADDED && e.exactMatch(r))
                    .findFirst().ifPresent(e -> confirm(Key.of(r), true));
        }
        FlowRuleOperations.Builder ops = FlowRuleOperations.builder();
        if (!stale.isEmpty()) {
            stale.forEach(ops::remove);
            ops.newStage();
        }
        rules.forEach(ops::add);
        flowRules.apply(ops.build(rejections(batch)));
        failUnavailable(batch, rules, "not connected; ONOS installs the rules when it connects");
        batch.armTimeout();
        return batch.done;
    }

    @Override
    public CompletableFuture<Void> remove(Collection<FlowRule> rules) {
        if (rules.isEmpty()) {
            return CompletableFuture.completedFuture(null);
        }
        Map<DeviceId, List<FlowEntry>> tables = tables(rules);
        // removal is by device, priority and selector: whatever cookie of ours sits there goes
        Set<FlowRule> targets = new LinkedHashSet<>(rules);
        for (FlowRule r : rules) {
            tables.get(r.deviceId()).stream().filter(e -> e.appId() == appId.id() && sameKey(e, r))
                    .forEach(targets::add);
        }
        Batch batch = new Batch(false, targets);
        register(batch);
        for (FlowRule r : targets) {
            boolean present = tables.get(r.deviceId()).stream().anyMatch(e -> e.id().equals(r.id()));
            if (!present) {
                confirm(Key.of(r), false);
            }
        }
        FlowRuleOperations.Builder ops = FlowRuleOperations.builder();
        targets.forEach(ops::remove);
        flowRules.apply(ops.build(rejections(batch)));
        failUnavailable(batch, targets, "not connected; ONOS removes the rules when it reconnects");
        batch.armTimeout();
        return batch.done;
    }

    // ---- confirmation --------------------------------------------------------------------------

    private void event(FlowRuleEvent event) {
        FlowRule rule = event.subject();
        switch (event.type()) {
            case RULE_ADDED:
                confirm(Key.of(rule), true);
                break;
            case RULE_UPDATED:
                // a re-applied rule that was already in the table goes ADDED -> ADDED: no RULE_ADDED
                if (rule instanceof FlowEntry && ((FlowEntry) rule).state() == ADDED) {
                    confirmIfExact(rule);
                }
                break;
            case RULE_REMOVED:
                confirm(Key.of(rule), false);
                break;
            default:
                break;
        }
    }

    private void confirmIfExact(FlowRule entry) {
        List<Batch> done = new ArrayList<>();
        synchronized (this) {
            for (Batch b : waiting.getOrDefault(Key.of(entry), Set.of())) {
                FlowRule wanted = b.rules.get(Key.of(entry));
                if (b.install && wanted != null && entry.exactMatch(wanted) && b.confirm(Key.of(entry))) {
                    done.add(b);
                }
            }
            done.forEach(this::unregister);
        }
        done.forEach(b -> b.done.complete(null));
    }

    private void confirm(Key key, boolean installed) {
        List<Batch> done = new ArrayList<>();
        synchronized (this) {
            for (Batch b : waiting.getOrDefault(key, Set.of())) {
                if (b.install == installed && b.confirm(key)) {
                    done.add(b);
                }
            }
            done.forEach(this::unregister);
        }
        done.forEach(b -> b.done.complete(null));
    }

    private synchronized void register(Batch batch) {
        batch.rules.keySet().forEach(k -> waiting.computeIfAbsent(k, x -> new HashSet<>()).add(batch));
    }

    private synchronized void unregister(Batch batch) {
        for (Key k : batch.rules.keySet()) {
            Set<Batch> set = waiting.get(k);
            if (set != null) {
                set.remove(batch);
                if (set.isEmpty()) {
                    waiting.remove(k);
                }
            }
        }
        batch.cancelTimeout();
    }

    private FlowRuleOperationsContext rejections(Batch batch) {
        return new FlowRuleOperationsContext() {
            @Override
            public void onError(FlowRuleOperations failed) {
                FlowRule rule = failed.stages().stream().flatMap(Set::stream).map(FlowRuleOperation::rule)
                        .filter(r -> batch.rules.containsKey(Key.of(r))).findFirst().orElse(null);
                if (rule != null) {
                    batch.fail(new SwitchException(rule.deviceId(), rule.id().value(),
                            (batch.install ? "rule rejected" : "removal rejected") + " by the switch"));
                }
            }
        };
    }

    private void failUnavailable(Batch batch, Collection<FlowRule> rules, String why) {
        rules.stream().map(FlowRule::deviceId).distinct().filter(d -> !devices.isAvailable(d)).findFirst()
                .ifPresent(d -> batch.fail(new SwitchException(d, 0, why)));
    }

    private Map<DeviceId, List<FlowEntry>> tables(Collection<FlowRule> rules) {
        Map<DeviceId, List<FlowEntry>> tables = new HashMap<>();
        for (FlowRule r : rules) {
            tables.computeIfAbsent(r.deviceId(), d -> {
                List<FlowEntry> entries = new ArrayList<>();
                Iterable<FlowEntry> it = flowRules.getFlowEntries(d);
                if (it != null) {
                    it.forEach(entries::add);
                }
                return entries;
            });
        }
        return tables;
    }

    private static boolean sameKey(FlowRule a, FlowRule b) {
        return RuleDiff.Key.of(a).equals(RuleDiff.Key.of(b));
    }

    /** A rule in one switch's table, as ONOS identifies it. */
    private static final class Key {
        final DeviceId device;
        final long id;

        private Key(DeviceId device, long id) {
            this.device = device;
            this.id = id;
        }

        static Key of(FlowRule r) {
            return new Key(r.deviceId(), r.id().value());
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof Key && ((Key) o).device.equals(device) && ((Key) o).id == id;
        }

        @Override
        public int hashCode() {
            return Objects.hash(device, id);
        }
    }

    /** One install or remove call: the rules not yet confirmed and the future of the caller. */
    private final class Batch {
        final boolean install;
        final Map<Key, FlowRule> rules = new LinkedHashMap<>();
        final Set<Key> outstanding;
        final CompletableFuture<Void> done = new CompletableFuture<>();
        ScheduledFuture<?> timeoutTask;
        Duration limit;

        Batch(boolean install, Collection<FlowRule> rules) {
            this.install = install;
            rules.forEach(r -> this.rules.put(Key.of(r), r));
            this.outstanding = new LinkedHashSet<>(this.rules.keySet());
        }

        /** Marks one rule confirmed; true when that was the last one. Called under the lock. */
        boolean confirm(Key key) {
            return outstanding.remove(key) && outstanding.isEmpty();
        }

        void fail(SwitchException e) {
            unregister(this);
            done.completeExceptionally(e);
        }

        synchronized void armTimeout() {
            if (done.isDone()) {
                return;
            }
            limit = timeout.get();
            timeoutTask = timer.schedule(this::timedOut, limit.toMillis(), TimeUnit.MILLISECONDS);
        }

        synchronized void cancelTimeout() {
            if (timeoutTask != null) {
                timeoutTask.cancel(false);
            }
        }

        private void timedOut() {
            Key first;
            int left;
            synchronized (FlowRuleNetworkProgrammer.this) {
                if (outstanding.isEmpty()) {
                    return;
                }
                first = outstanding.iterator().next();
                left = outstanding.size();
            }
            String state = entryState(rules.get(first));
            fail(new SwitchException(first.device, first.id, String.format("%s not confirmed within %.1f s"
                    + " (entry %s; %d of %d rules unconfirmed)", install ? "installation" : "removal",
                    limit.toMillis() / 1000.0, state, left, rules.size())));
        }

        DeviceId anyDevice() {
            return rules.keySet().iterator().next().device;
        }
    }

    private String entryState(FlowRule rule) {
        Iterable<FlowEntry> entries = flowRules.getFlowEntries(rule.deviceId());
        if (entries != null) {
            for (FlowEntry e : entries) {
                if (e.id().equals(rule.id())) {
                    return e.state().toString();
                }
            }
        }
        return "absent";
    }
}
