package org.wanmig.embedded.openflow;

import io.netty.util.concurrent.DefaultThreadFactory;
import org.onosproject.net.DeviceId;
import org.onosproject.net.flow.FlowRule;
import org.projectfloodlight.openflow.protocol.OFFlowMod;
import org.projectfloodlight.openflow.protocol.OFFlowStatsEntry;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.wanmig.planner.Cookies;
import org.wanmig.spi.NetworkProgrammer;
import org.wanmig.spi.SwitchException;

import java.util.ArrayList;
import java.util.Collection;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

/**
 * {@link NetworkProgrammer} over the embedded OpenFlow 1.3 controller: applies change sets and reads
 * tables, nothing else. Every install and remove is confirmed by a barrier on each switch it touches;
 * a switch error is reported as a {@link SwitchException} carrying the cookie of the refused rule. It
 * keeps no desired state and deletes nothing on its own: a switch that connects is read and brought
 * in line by the core's reconciler, which knows what is wanted.
 * <p>
 * The returned futures are completed on a thread of the programmer's own, never on a Netty event
 * loop, so callers may chain blocking work on them.
 */
public final class OpenFlowNetworkProgrammer implements NetworkProgrammer, AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(OpenFlowNetworkProgrammer.class);

    private final OpenFlowController controller;
    /** Above this many prepared rules none is kept: prepared rules never installed (aborted moves) go. */
    static final int MAX_PREPARED = 1024;

    private final ExecutorService callbacks =
            Executors.newCachedThreadPool(new DefaultThreadFactory("wanmig-of-programmer", true));
    /** Rules translated ahead by {@link #prepare}, by identity (xid 0), each used by one install. */
    private final Map<FlowRule, OFFlowMod> prepared = new IdentityHashMap<>();

    public OpenFlowNetworkProgrammer(OpenFlowController controller) {
        this.controller = Objects.requireNonNull(controller);
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
        Map<FlowRule, OFFlowMod> ready = takePrepared(rules);
        Map<DeviceId, List<FlowRule>> byDevice;
        try {
            byDevice = validated(rules, true, ready);
        } catch (SwitchException e) {
            return CompletableFuture.failedFuture(e);
        }
        Map<DeviceId, OpenFlowSwitch> switches = new LinkedHashMap<>();
        for (DeviceId device : byDevice.keySet()) {
            Optional<OpenFlowSwitch> sw = controller.getSwitch(device);
            if (sw.isEmpty() || !controller.isConnected(device)) {
                return CompletableFuture.failedFuture(new SwitchException(device, 0, "switch not connected"));
            }
            switches.put(device, sw.get());
        }
        List<CompletableFuture<Void>> parts = new ArrayList<>();
        byDevice.forEach((device, deviceRules) -> {
            OpenFlowSwitch sw = switches.get(device);
            List<OFFlowMod> mods = new ArrayList<>();
            deviceRules.forEach(rule -> {
                OFFlowMod mod = ready.get(rule);
                mods.add(mod != null ? mod.createBuilder().setXid(sw.nextXid()).build()
                        : FlowRuleTranslator.toFlowAdd(rule, sw.nextXid()));
            });
            parts.add(confirmed(device, sw.sendFlowMods(mods)));
        });
        return combine(parts);
    }

    /**
     * Translates the rules now, so that their install is a send only: on a busy host, translating
     * the redirect's two rules inside the hypervisor's pause took the MMS's thread 4-7 ms. A rule
     * that cannot be translated is left for its install to refuse.
     */
    @Override
    public void prepare(Collection<FlowRule> rules) {
        Map<FlowRule, OFFlowMod> translated = new IdentityHashMap<>();
        for (FlowRule rule : rules) {
            try {
                translated.put(rule, FlowRuleTranslator.toFlowAdd(rule, 0));
            } catch (SwitchException e) {
                log.debug("{}: not prepared: {}", rule.deviceId(), e.getMessage());
            }
        }
        synchronized (prepared) {
            if (prepared.size() + translated.size() > MAX_PREPARED) {
                prepared.clear();
            }
            prepared.putAll(translated);
        }
    }

    /** How many prepared rules wait for their install (tests). */
    int preparedCount() {
        synchronized (prepared) {
            return prepared.size();
        }
    }

    private Map<FlowRule, OFFlowMod> takePrepared(Collection<FlowRule> rules) {
        Map<FlowRule, OFFlowMod> ready = new IdentityHashMap<>();
        synchronized (prepared) {
            if (prepared.isEmpty()) {
                return ready;
            }
            for (FlowRule rule : rules) {
                OFFlowMod mod = prepared.remove(rule);
                if (mod != null) {
                    ready.put(rule, mod);
                }
            }
        }
        return ready;
    }

    /**
     * Removes with OFPFC_DELETE_STRICT (table, priority, match), then a barrier per switch. On a
     * switch that is not connected nothing can be sent: the removal completes, and the reconciler
     * reads the switch when it connects again and deletes what is no longer wanted.
     */
    @Override
    public CompletableFuture<Void> remove(Collection<FlowRule> rules) {
        Map<DeviceId, List<FlowRule>> byDevice;
        try {
            byDevice = validated(rules, false, Map.of());
        } catch (SwitchException e) {
            return CompletableFuture.failedFuture(e);
        }
        List<CompletableFuture<Void>> parts = new ArrayList<>();
        byDevice.forEach((device, deviceRules) -> {
            Optional<OpenFlowSwitch> sw = controller.getSwitch(device);
            if (sw.isEmpty() || !controller.isConnected(device)) {
                log.info("{} not connected: removal of {} rules left to its reconciliation on connect",
                        device, deviceRules.size());
                return;
            }
            List<OFFlowMod> mods = new ArrayList<>();
            deviceRules.forEach(rule -> mods.add(FlowRuleTranslator.toFlowDeleteStrict(rule, sw.get().nextXid())));
            parts.add(confirmed(device, sw.get().sendFlowMods(mods)));
        });
        return combine(parts);
    }

    /** The rules carrying wanmig's cookie tag in the switch's table, from a flow-stats request. */
    @Override
    public CompletableFuture<List<FlowRule>> read(DeviceId device) {
        Optional<OpenFlowSwitch> sw = controller.getSwitch(device);
        if (sw.isEmpty() || !controller.isConnected(device)) {
            return CompletableFuture.failedFuture(new SwitchException(device, 0, "switch not connected"));
        }
        CompletableFuture<List<FlowRule>> result = new CompletableFuture<>();
        sw.get().flowStats().whenCompleteAsync((entries, error) -> {
            if (error != null) {
                result.completeExceptionally(unwrap(error));
                return;
            }
            List<FlowRule> rules = new ArrayList<>();
            for (OFFlowStatsEntry entry : entries) {
                long cookie = entry.getCookie().getValue();
                if (!Cookies.isOurs(cookie)) {
                    continue; // someone else's rule: never ours to judge
                }
                Optional<FlowRule> rule = FlowRuleTranslator.toFlowRule(device, entry);
                if (rule.isPresent()) {
                    rules.add(rule.get());
                } else {
                    log.warn("{}: rule 0x{} carries our tag but nothing we would install; left alone",
                            device, Long.toHexString(cookie));
                }
            }
            result.complete(rules);
        }, callbacks);
        return result;
    }

    @Override
    public void close() {
        callbacks.shutdown();
    }

    private static CompletableFuture<Void> confirmed(DeviceId device, CompletableFuture<List<FlowModFailure>> sent) {
        return sent.thenAccept(failures -> {
            if (!failures.isEmpty()) {
                throw asException(device, failures);
            }
        });
    }

    // Translating every rule up front means a batch with one bad rule sends nothing at all.
    private static Map<DeviceId, List<FlowRule>> validated(Collection<FlowRule> rules, boolean install,
                                                           Map<FlowRule, OFFlowMod> ready) {
        Map<DeviceId, List<FlowRule>> byDevice = new LinkedHashMap<>();
        for (FlowRule rule : rules) {
            if (ready.containsKey(rule)) {
                // translated by prepare
            } else if (install) {
                FlowRuleTranslator.toFlowAdd(rule, 0);
            } else {
                FlowRuleTranslator.toFlowDeleteStrict(rule, 0);
            }
            byDevice.computeIfAbsent(rule.deviceId(), d -> new ArrayList<>()).add(rule);
        }
        return byDevice;
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
}
