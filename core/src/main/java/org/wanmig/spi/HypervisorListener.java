package org.wanmig.spi;

import org.wanmig.api.MigrationId;

import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;

/** What a hypervisor reports about a migration it was asked to perform. */
public interface HypervisorListener {

    /** The server runs at the destination: the trigger for the cutover. */
    void completed(MigrationId id, String detail);

    /** The hypervisor gave up; the server still runs at the source. */
    void failed(MigrationId id, String reason);

    /** A step worth a line in the timeline: a pre-copy pass, RAM transferred, the dirty rate. */
    default void progress(MigrationId id, String detail) {
    }

    /**
     * The server is paused with its memory copied and the hypervisor waits before switching
     * over (QEMU's pre-switchover). The hypervisor continues when the returned stage completes
     * and gives the migration up (the server resumes at the source) when it fails. Whatever is
     * done here counts in the server's downtime. A listener that does nothing here lets the
     * hypervisor go on at once, and switches over on {@link #completed}.
     */
    default CompletionStage<Void> preSwitchover(MigrationId id, String detail) {
        return CompletableFuture.completedFuture(null);
    }
}
