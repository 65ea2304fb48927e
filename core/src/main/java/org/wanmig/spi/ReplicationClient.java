package org.wanmig.spi;

import org.wanmig.api.AgentDiskStatus;
import org.wanmig.api.Promotion;
import org.wanmig.config.DataCenter;
import org.wanmig.config.VirtualServer;

import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;

/** How the MMS steers the replication of a server's disk between two data centers. */
public interface ReplicationClient {

    /** Switch to synchronous replication and complete once the replica is identical (RPO 0). */
    CompletableFuture<Void> goSynchronous(VirtualServer server, DataCenter primary, DataCenter replica,
                                          Duration timeout);

    /** Make {@code newPrimary} the primary and {@code oldPrimary} its replica. */
    CompletableFuture<Void> reverseRoles(VirtualServer server, DataCenter oldPrimary, DataCenter newPrimary);

    /**
     * The switchover inside the hypervisor's pause, where no write is in flight (the guest is
     * stopped, its block I/O drained) and replication is synchronous, so {@code newPrimary}
     * already holds every acknowledged write: it becomes primary at a new generation in one call,
     * which fences {@code oldPrimary}; {@link #retire} then demotes that one after the pause.
     * Completes with a short account of the call for the migration's timeline. {@code takeOverId}
     * names this take-over: asked again with the same name (a restarted MMS, whose predecessor's
     * call may have reached {@code newPrimary}), a copy primary by it answers as done, and a copy
     * primary by anything else refuses. Without a faster way, a client reverses the roles as
     * {@link #reverseRoles} does.
     */
    default CompletableFuture<String> takeOver(String takeOverId, VirtualServer server, DataCenter oldPrimary,
                                               DataCenter newPrimary) {
        return reverseRoles(server, oldPrimary, newPrimary).thenApply(x -> "roles reversed");
    }

    /**
     * Before the move (PREPARING, replication synchronous): {@code newPrimary} runs the checks of
     * {@link #takeOver} and changes nothing, so a take-over the pause would refuse fails the
     * migration while nothing has moved; it also makes the pause's call not the first of its kind
     * on either side. Completes with a short account for the timeline (null: nothing to note), or
     * fails with the reason the take-over would be refused. Without a check, completes at once.
     */
    default CompletableFuture<String> checkTakeOver(VirtualServer server, DataCenter oldPrimary, DataCenter newPrimary) {
        return CompletableFuture.completedFuture(null);
    }

    /**
     * After {@link #takeOver}: the old primary, fenced by the new generation, is demoted now
     * rather than whenever it learns of the generation (its stream to the new primary ended, so
     * there is nothing to hand over). Harmless on a copy that is a replica already.
     */
    default CompletableFuture<Void> retire(VirtualServer server, DataCenter oldPrimary) {
        return CompletableFuture.completedFuture(null);
    }

    /** Back to normal operation: {@code primary} is primary and replication is asynchronous. */
    CompletableFuture<Void> restore(VirtualServer server, DataCenter primary, DataCenter replica);

    /**
     * After a switchover in the hypervisor's pause that was rolled back, the server going on at
     * {@code primary} from what its copy holds (demoted already, see {@link #retire}): that copy
     * becomes primary again, asynchronous, at a generation above any take-over {@code replica} may
     * have done in the pause without the caller learning of it (its answer lost with its agent or
     * its link). {@code replica} is not asked: it took no write the server goes on with, and is
     * fenced by that generation if it took over. Without a faster way, as {@link #restore}.
     */
    default CompletableFuture<Void> reclaim(VirtualServer server, DataCenter primary, DataCenter replica) {
        return restore(server, primary, replica);
    }

    /**
     * Unplanned failover: {@code lost} is gone, so its copy is not asked. Promotes the replica at
     * {@code at} with a new generation even though it may lack the lost primary's latest writes,
     * and reports how much it lacks (its last known lag). Promoting a copy that is primary already
     * changes nothing and reports it as it is, so a repeated call is harmless.
     */
    CompletableFuture<Promotion> promote(VirtualServer server, DataCenter at, DataCenter lost);

    /**
     * Every disk the agent of {@code dc} serves, with its peer link as the agent sees it, asked
     * over the controller's path to that agent. Fails when the agent does not answer within
     * {@code timeout}; a data center without an agent fails too (there is nothing to ask).
     */
    CompletableFuture<List<AgentDiskStatus>> disks(DataCenter dc, Duration timeout);
}
