package org.wanmig.failover;

import org.wanmig.api.Migration;
import org.wanmig.api.Promotion;

import java.util.List;
import java.util.concurrent.CompletableFuture;

/**
 * What an unplanned failover asks of the migration management system, which alone owns the
 * migrations, the placements, the replication client, the hypervisor driver and the reconciler.
 * Every operation names data centers and servers by their configured names.
 */
public interface FailoverActions {

    /**
     * Gives up every active migration that involves {@code lost} without waiting on anything in
     * it: each ends FAILED with {@code reason}, its rules are no longer desired (the reconciler
     * removes them from the switches that are connected; the lost PE is read and cleaned when it
     * reconnects), and its server is placed where it runs now (at the destination once the
     * hypervisor reported it or the cutover passed, else at the source). A server moved away from
     * {@code lost} has its copy at the destination promoted. Returns the migrations given up.
     */
    List<Migration> giveUp(String lost, String reason);

    /** Promotes {@code server}'s replica at {@code at} with a new generation, {@code lost} being gone. */
    CompletableFuture<Promotion> promote(String server, String at, String lost);

    /** Starts {@code server} at {@code at} by its hypervisor driver; completes with a line for the timeline. */
    CompletableFuture<String> restart(String server, String at);

    /**
     * Places {@code server} at {@code at} and brings the switches in line: its address is routed to
     * {@code at} directly, no tunnel. Fails if {@code at}'s PE is not connected (the placement stays:
     * its routes follow when the PE connects).
     */
    CompletableFuture<String> route(String server, String at);
}
