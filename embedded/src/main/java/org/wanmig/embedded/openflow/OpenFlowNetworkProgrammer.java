package org.wanmig.embedded.openflow;

import org.wanmig.planner.Cookies;

import io.netty.util.concurrent.DefaultThreadFactory;
import org.onosproject.net.DeviceId;
import org.onosproject.net.flow.FlowRule;
import org.onosproject.net.flow.TrafficSelector;
import org.projectfloodlight.openflow.protocol.OFFlowMod;
import org.projectfloodlight.openflow.protocol.OFFlowStatsEntry;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.wanmig.spi.NetworkProgrammer;
import org.wanmig.spi.SwitchException;

import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.function.Consumer;

/**
 * {@link NetworkProgrammer} over the embedded OpenFlow 1.3 controller.
 * <p>
 * Every install and remove is confirmed by a barrier on each switch it touches; a switch error is
 * reported as a {@link SwitchException} carrying the cookie of the refused rule. The programmer also
 * keeps the <em>desired</em> rules per switch (installed minus removed) and, whenever a switch
 * (re)connects, reconciles the switch with them: missing or altered rules are installed again, and
 * rules carrying wanmig's cookie tag that are no longer desired are deleted. Rules of others
 * (untagged cookies) are never touched.
 * <p>
 * The returned futures are completed on a thread of the programmer's own, never on a Netty event
 * loop, so callers may chain blocking work on them.
 */
public final class OpenFlowNetworkProgrammer implements NetworkProgrammer, AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(OpenFlowNetworkProgrammer.class);

    private final OpenFlowController controller;
    private final Map<DeviceId, DesiredRules> desired = new ConcurrentHashMap<>();
    private final List<Consumer<ReconcileResult>> reconcileListeners = new CopyOnWriteArrayList<>();
    private final ExecutorService callbacks =
            Executors.newCachedThreadPool(new DefaultThreadFactory("wanmig-of-programmer", true));
    private final SwitchListener reconnects = new SwitchListener() {
        @Override
        public void switchConnected(SwitchInfo info) {
            reconcile(info.deviceId());
        }
    };

    /** Registers with the controller; create it before {@link OpenFlowController#start()}. */
    public OpenFlowNetworkProgrammer(OpenFlowController controller) {
        this.controller = Objects.requireNonNull(controller);
        controller.addSwitchListener(reconnects);
    }

    @Override
    public boolean isAvailable(DeviceId device) {
        return controller.isConnected(device);
    }

    /**
     * Installs with OFPFC_ADD (replacing a rule of the same table, priority and match), then a
     * barrier per switch. Fails at once, sending nothing, when a rule cannot be translated or a
     * switch is not connected.
     */
    @Override
    public CompletableFuture<Void> install(Collection<FlowRule> rules) {
        Map<DeviceId, List<FlowRule>> byDevice;
        try {
            byDevice = validated(rules, true);
        } catch (SwitchException e) {
            return CompletableFuture.failedFuture(e);
        }
        for (DeviceId device : byDevice.keySet()) {
            if (!controller.isConnected(device)) {
                return CompletableFuture.failedFuture(new SwitchException(device, 0, "switch not connected"));
            }
        }
        List<CompletableFuture<Void>> parts = new ArrayList<>();
        byDevice.forEach((device, deviceRules) -> parts.add(installOn(device, deviceRules)));
        return combine(parts);
    }

    private CompletableFuture<Void> installOn(DeviceId device, List<FlowRule> rules) {
        Optional<OpenFlowSwitch> sw = controller.getSwitch(device);
        if (sw.isEmpty()) {
            return CompletableFuture.failedFuture(new SwitchException(device, 0, "switch not connected"));
        }
        DesiredRules state = desired(device);
        Map<Long, FlowRule> byXid = new HashMap<>();
        CompletableFuture<List<FlowModFailure>> sent;
        // Desired-state update and send under one lock: a concurrent reconciliation sees either
        // neither or both, and its flow-mods cannot overtake ours.
        synchronized (state) {
            List<OFFlowMod> mods = new ArrayList<>();
            for (FlowRule rule : rules) {
                state.put(rule);
                long xid = sw.get().nextXid();
                mods.add(FlowRuleTranslator.toFlowAdd(rule, xid));
                byXid.put(xid, rule);
            }
            sent = sw.get().sendFlowMods(mods);
        }
        return sent.thenAccept(failures -> {
            if (failures.isEmpty()) {
                return;
            }
            // The switch does not hold a refused rule and never will: it is not desired either.
            synchronized (state) {
                failures.forEach(f -> state.removeIfSame(byXid.get(f.flowMod().getXid())));
            }
            throw asException(device, failures);
        });
    }

    /**
     * Removes with OFPFC_DELETE_STRICT (table, priority, match), then a barrier per switch. For a switch
     * that is not connected the removal is recorded and completes normally: reconciliation deletes
     * wanmig-tagged rules when the switch comes back. A rule with an untagged cookie on a
     * disconnected switch fails, since nothing would remove it later.
     */
    @Override
    public CompletableFuture<Void> remove(Collection<FlowRule> rules) {
        Map<DeviceId, List<FlowRule>> byDevice;
        try {
            byDevice = validated(rules, false);
        } catch (SwitchException e) {
            return CompletableFuture.failedFuture(e);
        }
        List<CompletableFuture<Void>> parts = new ArrayList<>();
        byDevice.forEach((device, deviceRules) -> parts.add(removeOn(device, deviceRules)));
        return combine(parts);
    }

    private CompletableFuture<Void> removeOn(DeviceId device, List<FlowRule> rules) {
        DesiredRules state = desired(device);
        Optional<OpenFlowSwitch> sw = controller.getSwitch(device);
        CompletableFuture<List<FlowModFailure>> sent;
        synchronized (state) {
            rules.forEach(state::remove);
            if (sw.isEmpty()) {
                for (FlowRule rule : rules) {
                    long cookie = FlowRuleTranslator.cookie(rule);
                    if (!Cookies.isOurs(cookie)) {
                        return CompletableFuture.failedFuture(new SwitchException(device, cookie,
                                "switch not connected, and an untagged rule would not be removed on reconnect"));
                    }
                }
                log.info("{} not connected: removal of {} rules deferred to its reconnection", device, rules.size());
                return CompletableFuture.completedFuture(null);
            }
            List<OFFlowMod> mods = new ArrayList<>();
            for (FlowRule rule : rules) {
                mods.add(FlowRuleTranslator.toFlowDeleteStrict(rule, sw.get().nextXid()));
            }
            sent = sw.get().sendFlowMods(mods);
        }
        return sent.thenAccept(failures -> {
            if (!failures.isEmpty()) {
                throw asException(device, failures);
            }
        });
    }

    /** The rules the programmer wants on the switch now (installed and not removed). */
    public List<FlowRule> desiredRules(DeviceId device) {
        DesiredRules state = desired.get(device);
        if (state == null) {
            return List.of();
        }
        synchronized (state) {
            return List.copyOf(state.rules.values());
        }
    }

    /** Called with the outcome of every reconciliation (on a programmer thread). */
    public void addReconcileListener(Consumer<ReconcileResult> listener) {
        reconcileListeners.add(listener);
    }

    public void removeReconcileListener(Consumer<ReconcileResult> listener) {
        reconcileListeners.remove(listener);
    }

    /**
     * Brings the switch in line with the desired rules: reads all its flows, installs desired rules
     * that are missing or differ, deletes (strictly, by cookie too) wanmig-tagged rules that are not
     * desired, and confirms with a barrier. Runs by itself whenever a switch connects.
     */
    public CompletableFuture<ReconcileResult> reconcile(DeviceId device) {
        Optional<OpenFlowSwitch> sw = controller.getSwitch(device);
        if (sw.isEmpty()) {
            return CompletableFuture.failedFuture(new SwitchException(device, 0, "switch not connected"));
        }
        CompletableFuture<ReconcileResult> result = sw.get().flowStats()
                .thenComposeAsync(entries -> reconcileWith(sw.get(), entries), callbacks);
        result.whenCompleteAsync((r, error) -> {
            if (error != null) {
                log.warn("Reconciliation of {} failed: {}", device, unwrap(error).getMessage());
                return;
            }
            log.info("Reconciled {}", r);
            reconcileListeners.forEach(l -> {
                try {
                    l.accept(r);
                } catch (RuntimeException e) {
                    log.warn("Reconcile listener failed", e);
                }
            });
        }, callbacks);
        return result;
    }

    private CompletableFuture<ReconcileResult> reconcileWith(OpenFlowSwitch sw, List<OFFlowStatsEntry> entries) {
        DesiredRules state = desired(sw.deviceId());
        Map<String, OFFlowStatsEntry> present = new HashMap<>();
        entries.forEach(e -> present.put(FlowRuleTranslator.slot(e), e));
        List<OFFlowMod> mods = new ArrayList<>();
        List<Long> reinstalled = new ArrayList<>();
        List<Long> removed = new ArrayList<>();
        CompletableFuture<List<FlowModFailure>> sent;
        synchronized (state) {
            Set<String> desiredSlots = new HashSet<>();
            for (FlowRule rule : state.rules.values()) {
                OFFlowMod add = FlowRuleTranslator.toFlowAdd(rule, sw.nextXid());
                desiredSlots.add(FlowRuleTranslator.slot(add));
                OFFlowStatsEntry entry = present.get(FlowRuleTranslator.slot(add));
                if (entry == null || !FlowRuleTranslator.sameRule(add, entry)) {
                    mods.add(add);
                    reinstalled.add(FlowRuleTranslator.cookie(rule));
                }
            }
            for (OFFlowStatsEntry entry : entries) {
                long cookie = entry.getCookie().getValue();
                if (Cookies.isOurs(cookie) && !desiredSlots.contains(FlowRuleTranslator.slot(entry))) {
                    mods.add(FlowRuleTranslator.toFlowDeleteStrict(entry, sw.nextXid()));
                    removed.add(cookie);
                }
            }
            if (mods.isEmpty()) {
                return CompletableFuture.completedFuture(
                        new ReconcileResult(sw.deviceId(), List.of(), List.of(), List.of()));
            }
            sent = sw.sendFlowMods(mods);
        }
        return sent.thenApply(failures -> new ReconcileResult(sw.deviceId(), reinstalled, removed,
                failures.stream().map(FlowModFailure::toString).collect(java.util.stream.Collectors.toList())));
    }

    /** Stops the programmer's threads and its reconciliation on reconnect. */
    @Override
    public void close() {
        controller.removeSwitchListener(reconnects);
        callbacks.shutdown();
    }

    // Translating every rule up front means a batch with one bad rule sends nothing at all.
    private static Map<DeviceId, List<FlowRule>> validated(Collection<FlowRule> rules, boolean install) {
        Map<DeviceId, List<FlowRule>> byDevice = new LinkedHashMap<>();
        for (FlowRule rule : rules) {
            if (install) {
                FlowRuleTranslator.toFlowAdd(rule, 0);
            } else {
                FlowRuleTranslator.toFlowDeleteStrict(rule, 0);
            }
            byDevice.computeIfAbsent(rule.deviceId(), d -> new ArrayList<>()).add(rule);
        }
        return byDevice;
    }

    private DesiredRules desired(DeviceId device) {
        return desired.computeIfAbsent(device, d -> new DesiredRules());
    }

    private static SwitchException asException(DeviceId device, List<FlowModFailure> failures) {
        FlowModFailure first = failures.get(0);
        SwitchException e = new SwitchException(device, first.cookie(), "switch refused "
                + first.flowMod().getCommand() + ": " + first.describe());
        failures.stream().skip(1).forEach(f -> e.addSuppressed(new SwitchException(device, f.cookie(),
                "switch refused " + f.flowMod().getCommand() + ": " + f.describe())));
        return e;
    }

    /**
     * Waits for every part (so the caller learns about every switch, not just the quickest failure),
     * then completes on a programmer thread: with the first failure, the others attached as suppressed.
     */
    private CompletableFuture<Void> combine(List<CompletableFuture<Void>> parts) {
        CompletableFuture<Void> result = new CompletableFuture<>();
        CompletableFuture.allOf(parts.toArray(new CompletableFuture<?>[0])).whenComplete((v, ignored) -> {
            List<Throwable> errors = new ArrayList<>();
            for (CompletableFuture<Void> part : parts) {
                try {
                    part.get();
                } catch (ExecutionException | CompletionException e) {
                    errors.add(unwrap(e));
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt(); // cannot happen: every part is complete
                }
            }
            try {
                callbacks.execute(() -> {
                    if (errors.isEmpty()) {
                        result.complete(null);
                    } else {
                        errors.stream().skip(1).forEach(errors.get(0)::addSuppressed);
                        result.completeExceptionally(errors.get(0));
                    }
                });
            } catch (java.util.concurrent.RejectedExecutionException e) {
                result.completeExceptionally(new IllegalStateException("network programmer closed"));
            }
        });
        return result;
    }

    private static Throwable unwrap(Throwable t) {
        while ((t instanceof CompletionException || t instanceof ExecutionException) && t.getCause() != null) {
            t = t.getCause();
        }
        return t;
    }

    /** The rules wanted on one switch, one per slot (table, priority, selector), like the switch keeps them. */
    private static final class DesiredRules {
        final Map<Slot, FlowRule> rules = new LinkedHashMap<>();

        void put(FlowRule rule) {
            rules.put(new Slot(rule), rule);
        }

        void remove(FlowRule rule) {
            rules.remove(new Slot(rule));
        }

        void removeIfSame(FlowRule rule) {
            if (rule != null) {
                rules.remove(new Slot(rule), rule);
            }
        }
    }

    private static final class Slot {
        final int table;
        final int priority;
        final TrafficSelector selector;

        Slot(FlowRule rule) {
            this.table = rule.tableId();
            this.priority = rule.priority();
            this.selector = rule.selector();
        }

        @Override
        public boolean equals(Object o) {
            if (!(o instanceof Slot)) {
                return false;
            }
            Slot s = (Slot) o;
            return table == s.table && priority == s.priority && selector.equals(s.selector);
        }

        @Override
        public int hashCode() {
            return Objects.hash(table, priority, selector);
        }
    }
}
