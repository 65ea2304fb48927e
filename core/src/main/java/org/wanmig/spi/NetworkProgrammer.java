package org.wanmig.spi;

import org.onosproject.net.DeviceId;
import org.onosproject.net.flow.FlowRule;

import java.util.Collection;
import java.util.List;
import java.util.concurrent.CompletableFuture;

/**
 * How the MMS programs the switches: an adapter does two things only, apply a change set (an
 * install or a removal) with confirmation, and read a switch's table. What is wanted where, and in
 * which order changes go, is the core's reconciler's business, never an adapter's. The ONOS adapter
 * uses FlowRuleService (confirmed by FlowRuleOperationsContext); the embedded runtime speaks
 * OpenFlow 1.3 itself (confirmed by barriers). Rules are identified by
 * {@link org.wanmig.planner.RuleKey}; both adapters pass one contract test suite.
 */
public interface NetworkProgrammer {

    /**
     * Installs (or replaces the rules with the same key) and completes once every switch has
     * confirmed every rule. Completes exceptionally with {@link SwitchException} when a switch
     * rejects a rule or is not connected.
     */
    CompletableFuture<Void> install(Collection<FlowRule> rules);

    /**
     * A hint, changing nothing on any switch: these rules (the same instances) are installed
     * soon, at a moment where every millisecond counts (the redirect inside a hypervisor's pause),
     * so an adapter may do its per-rule work (translation, encoding) now. By default nothing.
     */
    default void prepare(Collection<FlowRule> rules) {
    }

    /**
     * Removes the rules (matched by key) and completes once confirmed. On a switch that is not
     * connected the removal completes at once: the reconciler reads the switch when it connects
     * again and removes what is no longer wanted then.
     */
    CompletableFuture<Void> remove(Collection<FlowRule> rules);

    /**
     * This application's rules in the switch's table now, as the switch (or ONOS's flow store)
     * reports them; completes exceptionally with {@link SwitchException} when it cannot be read.
     */
    CompletableFuture<List<FlowRule>> read(DeviceId device);

    /** Whether the switch is connected and can be programmed now. */
    boolean isAvailable(DeviceId device);
}
