package org.wanmig.impl;

import org.onosproject.core.ApplicationId;
import org.onosproject.net.DeviceId;
import org.onosproject.net.device.DeviceService;
import org.onosproject.net.flow.FlowEntry;
import org.onosproject.net.flow.FlowRule;
import org.onosproject.net.flow.FlowRuleOperation;
import org.onosproject.net.flow.FlowRuleOperations;
import org.onosproject.net.flow.FlowRuleOperationsContext;
import org.onosproject.net.flow.FlowRuleService;
import org.wanmig.planner.RuleKey;
import org.wanmig.spi.NetworkProgrammer;
import org.wanmig.spi.SwitchException;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import java.util.stream.Collectors;
import java.util.stream.StreamSupport;

import static org.onosproject.net.flow.FlowEntry.FlowEntryState.PENDING_REMOVE;
import static org.onosproject.net.flow.FlowEntry.FlowEntryState.REMOVED;

/**
 * The MMS's {@link NetworkProgrammer} on ONOS's FlowRuleService. A change set is one
 * {@link FlowRuleOperations} per device; each is confirmed by its {@link FlowRuleOperationsContext}:
 * ONOS calls {@code onSuccess} once the device has acknowledged the batch (for OpenFlow, after the
 * barrier reply) and {@code onError} when it refused an operation. Flow-stats polling (RULE_ADDED) is
 * never waited for. A change set not confirmed within the switch timeout fails with a
 * {@link SwitchException} naming a switch.
 * <p>
 * Reading a table is reading ONOS's flow store for the device, this app's entries that are not on
 * their way out: ONOS keeps that store in line with the switch, and a new leader diffs against it.
 */
public final class FlowRuleNetworkProgrammer implements NetworkProgrammer {
    private final FlowRuleService flowRules;
    private final DeviceService devices;
    private final ApplicationId appId;
    private final Supplier<Duration> timeout;
    private final ScheduledExecutorService timer;
    private final Set<CompletableFuture<Void>> open = ConcurrentHashMap.newKeySet();

    /**
     * @param timeout how long a change set may wait for its confirmation (read per change set, so a
     *                new configuration's switch timeout applies to the next one)
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
    }

    /** Change sets still waiting fail; no more are confirmed. */
    public void close() {
        List<CompletableFuture<Void>> waiting = new ArrayList<>(open);
        waiting.forEach(f -> f.completeExceptionally(new SwitchException(null, 0, "wanmig stopped before confirmation")));
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
        for (FlowRule r : rules) {
            if (!devices.isAvailable(r.deviceId())) {
                return CompletableFuture.failedFuture(new SwitchException(r.deviceId(), 0, "switch not connected"));
            }
        }
        // ONOS keys its store by FlowId: a rule of ours with the same key but another cookie would
        // be re-pushed by ONOS over the new one, so it is removed in a stage before the addition.
        Map<RuleKey, List<FlowEntry>> present = oursByKey(rules);
        Map<DeviceId, List<FlowRule>> rulesByDevice = byDevice(rules);
        Map<DeviceId, FlowRuleOperations.Builder> batches = new LinkedHashMap<>();
        rulesByDevice.forEach((device, added) -> {
            List<FlowRule> stale = new ArrayList<>();
            for (FlowRule r : added) {
                present.getOrDefault(RuleKey.of(r), List.of()).stream()
                        .filter(e -> e.id().value() != r.id().value()).forEach(stale::add);
            }
            FlowRuleOperations.Builder ops = FlowRuleOperations.builder();
            if (!stale.isEmpty()) {
                stale.forEach(ops::remove);
                ops.newStage();
            }
            added.forEach(ops::add);
            batches.put(device, ops);
        });
        return applyConfirmed(batches, rulesByDevice, "installation");
    }

    @Override
    public CompletableFuture<Void> remove(Collection<FlowRule> rules) {
        if (rules.isEmpty()) {
            return CompletableFuture.completedFuture(null);
        }
        // removal is by key: whatever cookie of ours sits there goes
        Set<FlowRule> targets = new LinkedHashSet<>(rules);
        Map<RuleKey, List<FlowEntry>> held = oursByKey(rules);
        for (FlowRule r : rules) {
            targets.addAll(held.getOrDefault(RuleKey.of(r), List.of()));
        }
        Map<Boolean, List<FlowRule>> byAvailability = targets.stream()
                .collect(Collectors.partitioningBy(r -> devices.isAvailable(r.deviceId())));
        List<FlowRule> absent = byAvailability.get(false);
        if (!absent.isEmpty()) {
            // nothing can confirm these now: ONOS drops them from its store and purges them from the
            // switch when it reconnects, and a new leader reconciles from the store
            FlowRuleOperations.Builder later = FlowRuleOperations.builder();
            absent.forEach(later::remove);
            flowRules.apply(later.build());
        }
        List<FlowRule> present = byAvailability.get(true);
        if (present.isEmpty()) {
            return CompletableFuture.completedFuture(null);
        }
        Map<DeviceId, List<FlowRule>> presentByDevice = byDevice(present);
        Map<DeviceId, FlowRuleOperations.Builder> batches = new LinkedHashMap<>();
        presentByDevice.forEach((device, removed) -> {
            FlowRuleOperations.Builder ops = FlowRuleOperations.builder();
            removed.forEach(ops::remove);
            batches.put(device, ops);
        });
        return applyConfirmed(batches, presentByDevice, "removal");
    }

    @Override
    public CompletableFuture<List<FlowRule>> read(DeviceId device) {
        return CompletableFuture.completedFuture(List.copyOf(ours(device)));
    }

    /** The rules grouped by device, devices and rules in the order given. */
    private static Map<DeviceId, List<FlowRule>> byDevice(Collection<FlowRule> rules) {
        return rules.stream().collect(Collectors.groupingBy(FlowRule::deviceId, LinkedHashMap::new,
                Collectors.toList()));
    }

    /**
     * Applies one batch per device; completes once ONOS's onSuccess came for every batch, fails on
     * the first onError or after the timeout. ONOS confirms a batch as a whole, so one batch per
     * device is what tells which switch did not confirm: the timeout names the first such device
     * and the first of the change set's rules on it.
     */
    private CompletableFuture<Void> applyConfirmed(Map<DeviceId, FlowRuleOperations.Builder> batches,
                                                   Map<DeviceId, List<FlowRule>> rulesByDevice, String what) {
        CompletableFuture<Void> done = new CompletableFuture<>();
        open.add(done);
        Map<DeviceId, CompletableFuture<Void>> confirmed = new LinkedHashMap<>();
        batches.keySet().forEach(device -> confirmed.put(device, new CompletableFuture<>()));
        Duration limit = timeout.get();
        ScheduledFuture<?> timeoutTask = timer.schedule(() -> {
            FlowRule unconfirmed = confirmed.entrySet().stream().filter(c -> !c.getValue().isDone())
                    .map(c -> rulesByDevice.get(c.getKey()).get(0)).findFirst()
                    .orElse(rulesByDevice.values().iterator().next().get(0));
            done.completeExceptionally(new SwitchException(unconfirmed.deviceId(), unconfirmed.id().value(),
                    String.format("%s not confirmed by ONOS within %.1f s", what, limit.toMillis() / 1000.0)));
        }, limit.toMillis(), TimeUnit.MILLISECONDS);
        done.whenComplete((x, e) -> {
            timeoutTask.cancel(false);
            open.remove(done);
        });
        CompletableFuture.allOf(confirmed.values().toArray(CompletableFuture[]::new))
                .whenComplete((x, e) -> {
                    if (e == null) {
                        done.complete(null);
                    }
                });
        batches.forEach((device, ops) -> {
            CompletableFuture<Void> deviceDone = confirmed.get(device);
            deviceDone.whenComplete((x, e) -> {
                if (e != null) {
                    done.completeExceptionally(e); // the first refusal fails the change set at once
                }
            });
            flowRules.apply(ops.build(new FlowRuleOperationsContext() {
                @Override
                public void onSuccess(FlowRuleOperations ok) {
                    deviceDone.complete(null);
                }

                @Override
                public void onError(FlowRuleOperations failed) {
                    FlowRule rule = failed.stages().stream().flatMap(Set::stream).map(FlowRuleOperation::rule)
                            .findFirst().orElse(null);
                    deviceDone.completeExceptionally(rule == null
                            ? new SwitchException(device, 0, what + " failed")
                            : new SwitchException(rule.deviceId(), rule.id().value(), what + " refused by the switch"));
                }
            }));
        });
        return done;
    }

    /**
     * This app's entries, by key, in ONOS's store for the devices of the rules: the store is read
     * once per device, not once per rule.
     */
    private Map<RuleKey, List<FlowEntry>> oursByKey(Collection<FlowRule> rules) {
        Map<RuleKey, List<FlowEntry>> byKey = new HashMap<>();
        rules.stream().map(FlowRule::deviceId).distinct().forEach(device -> ours(device)
                .forEach(e -> byKey.computeIfAbsent(RuleKey.of(e), k -> new ArrayList<>()).add(e)));
        return byKey;
    }

    /** This app's entries in ONOS's store for the device, without those being removed. */
    private List<FlowEntry> ours(DeviceId device) {
        Iterable<FlowEntry> entries = flowRules.getFlowEntries(device);
        if (entries == null) {
            return List.of();
        }
        return StreamSupport.stream(entries.spliterator(), false)
                .filter(e -> e.appId() == appId.id() && e.state() != PENDING_REMOVE && e.state() != REMOVED)
                .collect(Collectors.toList());
    }
}
