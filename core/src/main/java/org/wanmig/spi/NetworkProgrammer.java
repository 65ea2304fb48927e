package org.wanmig.spi;

import org.onosproject.net.DeviceId;
import org.onosproject.net.flow.FlowRule;

import java.util.Collection;
import java.util.concurrent.CompletableFuture;

/**
 * How the MMS programs the switches. The ONOS adapter uses FlowRuleService; the embedded runtime
 * speaks OpenFlow 1.3 itself. Both confirm before completing, so the lifecycle can rely on
 * "installed" meaning "in the switch's table".
 */
public interface NetworkProgrammer {

    /**
     * Installs (or replaces rules with the same device, priority and selector) and completes once
     * every switch has confirmed every rule. Completes exceptionally with {@link SwitchException}
     * when a switch rejects a rule or is not connected.
     */
    CompletableFuture<Void> install(Collection<FlowRule> rules);

    /** Removes the rules (matched by device, priority and selector) and completes once confirmed. */
    CompletableFuture<Void> remove(Collection<FlowRule> rules);

    /** Whether the switch is connected and can be programmed now. */
    boolean isAvailable(DeviceId device);
}
