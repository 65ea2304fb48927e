package org.wanmig.replication.control;

import org.wanmig.replication.core.DiskStatus;
import org.wanmig.replication.core.Mode;

import java.util.List;

/** Operations the control API exposes; implemented by the agent. */
public interface ReplicationControl {
    List<DiskStatus> list();

    /** @throws NoSuchDiskException for an unknown disk */
    DiskStatus status(String disk);

    DiskStatus setMode(String disk, Mode mode);

    /** Waits until in sync or the timeout; returns the last status either way (caller checks inSync). */
    DiskStatus waitSync(String disk, long timeoutMs) throws InterruptedException;

    /** @throws ConflictException if the local copy is known to be behind or the peer is still primary */
    DiskStatus promote(String disk, boolean force) throws InterruptedException;

    /**
     * With {@code aboveTakeOver}: the copy that was primary until a hypervisor's pause becomes
     * primary again after that pause was rolled back (the guest goes on here, from the state this
     * copy holds). The peer may have taken over in the pause without the caller learning of it, and
     * may even stream to us: the new generation skips one so that it fences such a take-over, and
     * neither that stream nor being behind it refuses the promotion.
     */
    default DiskStatus promote(String disk, boolean force, boolean aboveTakeOver) throws InterruptedException {
        if (aboveTakeOver) {
            throw new ConflictException("promotion above a take-over is not supported here");
        }
        return promote(disk, force);
    }

    DiskStatus demote(String disk) throws InterruptedException;

    /**
     * Promote while the primary still streams to us synchronously, the caller guaranteeing that
     * no write is in flight (a hypervisor's pause): one call instead of demote-then-promote. The
     * old primary is fenced by the new generation.
     *
     * @throws ConflictException if the stream shows we may lack a write the primary acknowledged
     */
    default DiskStatus takeOver(String disk) throws InterruptedException {
        return takeOver(disk, java.util.concurrent.CompletableFuture.completedFuture(null));
    }

    /**
     * {@link #takeOver(String)}, its follow-up work (ending the old session, starting the new
     * stream) held until {@code answered} completes: the caller answers first, inside the pause.
     */
    default DiskStatus takeOver(String disk, java.util.concurrent.CompletionStage<?> answered)
            throws InterruptedException {
        return takeOver(disk, null, answered);
    }

    /**
     * {@link #takeOver(String, java.util.concurrent.CompletionStage)} named {@code takeOverId} (null:
     * unnamed): a copy that is primary by the take-over of that name answers its status (the caller
     * asks again, e.g. restarted), and is refused as primary already by any other. An unnamed
     * take-over of a primary answers its status.
     */
    default DiskStatus takeOver(String disk, String takeOverId, java.util.concurrent.CompletionStage<?> answered)
            throws InterruptedException {
        throw new ConflictException("take-over is not supported here");
    }

    /**
     * {@link #takeOver}'s checks alone, before the move: changes nothing, returns the status if the
     * copy could take over now.
     *
     * @throws ConflictException with the reason it could not
     */
    default DiskStatus checkTakeOver(String disk) {
        throw new ConflictException("take-over is not supported here");
    }

    /** Demote, handing over within {@code handoverTimeoutMs} (the MMS's demote budget). */
    default DiskStatus demote(String disk, long handoverTimeoutMs) throws InterruptedException {
        return demote(disk);
    }

    /** Extra counters for /metrics. */
    List<DiskCounters> counters();

    /** Unknown disk name. */
    final class NoSuchDiskException extends RuntimeException {
        public NoSuchDiskException(String disk) {
            super("no such disk: " + disk);
        }
    }

    /** Refused role change. */
    final class ConflictException extends RuntimeException {
        public ConflictException(String msg) {
            super(msg);
        }
    }

    /** Monotonic counters of one disk; immutable. */
    final class DiskCounters {
        private final DiskStatus status;
        private final long writes;
        private final long shippedBytes;
        private final long appliedBytes;

        public DiskCounters(DiskStatus status, long writes, long shippedBytes, long appliedBytes) {
            this.status = status;
            this.writes = writes;
            this.shippedBytes = shippedBytes;
            this.appliedBytes = appliedBytes;
        }

        public DiskStatus status() { return status; }
        public long writes() { return writes; }
        public long shippedBytes() { return shippedBytes; }
        public long appliedBytes() { return appliedBytes; }
    }
}
