package org.wanmig.failover;

import org.wanmig.api.AgentDiskStatus;

import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;

/**
 * What {@link DataCenterLossDetector} reads of the MMS (the migration manager, which owns the
 * southbound and the replication client). Data centers are named by their configured names.
 */
public interface LossSignals {

    /** Whether {@code dc}'s PE is connected to this controller now. */
    boolean peConnected(String dc);

    /**
     * The disks {@code dc}'s replication agent serves, with each one's peer link as the agent sees
     * it, asked over the controller's path to that agent; fails when it does not answer in
     * {@code timeout}.
     */
    CompletableFuture<List<AgentDiskStatus>> agentDisks(String dc, Duration timeout);
}
