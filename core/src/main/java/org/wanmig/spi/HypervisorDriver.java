package org.wanmig.spi;

import org.wanmig.api.Migration;
import org.wanmig.config.DataCenter;
import org.wanmig.config.VirtualServer;

import java.util.concurrent.CompletableFuture;

/**
 * How the MMS asks a hypervisor (or its orchestrator) to live-migrate a server. The hypervisor's
 * completion report, which triggers the cutover, arrives through {@link HypervisorListener}
 * (or through the REST API, which calls the same listener).
 */
public interface HypervisorDriver {

    /** Short name used in configuration, e.g. "rest" or "http". */
    String name();

    /** The name of the driver that moves {@code server}: {@link #name()} unless one driver routes to several. */
    default String nameFor(VirtualServer server) {
        return name();
    }

    /**
     * Whether this driver switches {@code server} over inside the hypervisor's pause (it calls
     * {@link HypervisorListener#preSwitchover}): then the storage take-over is checked before the move.
     */
    default boolean switchesOverInPause(VirtualServer server) {
        return false;
    }

    /**
     * Whether {@link #abort} with {@code serverMoved} brings {@code server} back to the source. One
     * that cannot (a real guest that resumed at the destination goes back only by a migration of
     * its own) leaves it there, and the MMS then keeps the server's routes and storage with it.
     */
    default boolean returnsMovedServer(VirtualServer server) {
        return true;
    }

    /**
     * The server's disk at {@code at}, where it runs, takes writes from now on (its storage was
     * promoted there after the hypervisor's report, as in the paper's order). A guest that stopped
     * on a write error meanwhile (a disk configured to stop the guest rather than report the
     * error) goes on. Completes with a line for the timeline, or null if there was nothing to do.
     */
    default CompletableFuture<String> diskWritable(VirtualServer server, DataCenter at) {
        return CompletableFuture.completedFuture(null);
    }

    /**
     * Starts moving the server; returns at once, the outcome arrives through the listener. A new
     * leader or a restarted MMS repeats the request for a migration still in MIGRATING, so a
     * driver treats a second request for the same migration id as the first (and reports again
     * if the move is already done).
     */
    void migrate(Migration migration, VirtualServer server, DataCenter from, DataCenter to,
                 HypervisorListener listener);

    /**
     * Stops a migration that is being given up. {@code serverMoved} is true when the server
     * already runs at the destination and must be brought back to the source.
     */
    void abort(Migration migration, VirtualServer server, DataCenter from, DataCenter to, boolean serverMoved);

    /**
     * Unplanned failover: starts the server at {@code at} (attached to its PE on {@code port}) from
     * its promoted disk, the data center it ran in being lost. Completes with a line for the
     * timeline once it runs there, or fails. A driver that cannot do this fails it, saying so.
     */
    default CompletableFuture<String> restart(VirtualServer server, DataCenter at, long port) {
        return CompletableFuture.failedFuture(new UnsupportedOperationException("the '" + name()
                + "' hypervisor driver cannot restart a server at another data center"));
    }
}
