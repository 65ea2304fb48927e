package org.wanmig.replication.control.takeover;

import org.wanmig.replication.control.ReplicationControl;
import org.wanmig.replication.core.DiskStatus;
import org.wanmig.replication.core.Mode;
import org.wanmig.replication.core.Role;

import java.util.List;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Consumer;

/**
 * A ReplicationControl whose take-over answers by disk name: "nope" is unknown (404), "busy"
 * conflicts (409), "boom" fails (500), any other disk is taken over at generation 7. Records every
 * take-over call.
 */
final class FakeControl implements ReplicationControl {
    static final long GENERATION = 7;

    /** One take-over call as the agent saw it. */
    static final class Call {
        final String disk;
        final String takeOverId;
        final CompletionStage<?> answered;
        final boolean answeredWhenCalled;
        final String thread;

        Call(String disk, String takeOverId, CompletionStage<?> answered) {
            this.disk = disk;
            this.takeOverId = takeOverId;
            this.answered = answered;
            this.answeredWhenCalled = answered.toCompletableFuture().isDone();
            this.thread = Thread.currentThread().getName();
        }
    }

    final List<Call> calls = new CopyOnWriteArrayList<>();
    /** The disks of the take-over checks asked (CHECK). */
    final List<String> checks = new CopyOnWriteArrayList<>();
    /** Runs inside each take-over (e.g. to hook the answered stage). */
    volatile Consumer<CompletionStage<?>> onTakeOver = a -> { };

    static DiskStatus status(String disk, Role role, long generation) {
        return new DiskStatus(disk, role, Mode.SYNC, true, true, 0, 0, 0, 0, 1 << 20, 0, generation, true, false, 0,
                0, null, null);
    }

    @Override
    public DiskStatus takeOver(String disk, String takeOverId, CompletionStage<?> answered) {
        calls.add(new Call(disk, takeOverId, answered));
        switch (disk) {
            case "nope": throw new NoSuchDiskException(disk);
            case "busy": throw new ConflictException(disk + ": cannot take over from the live primary: not in sync");
            case "boom": throw new IllegalStateException("boom\nforged log line");
            default:
                onTakeOver.accept(answered);
                return status(disk, Role.PRIMARY, GENERATION);
        }
    }

    @Override
    public DiskStatus checkTakeOver(String disk) {
        checks.add(disk);
        switch (disk) {
            case "nope": throw new NoSuchDiskException(disk);
            case "busy": throw new ConflictException(disk + ": cannot take over from the live primary: not in sync");
            default: return status(disk, Role.REPLICA, GENERATION - 1);
        }
    }

    @Override
    public List<DiskStatus> list() {
        return List.of(status("vs1", Role.REPLICA, GENERATION - 1));
    }

    @Override
    public DiskStatus status(String disk) {
        if (!disk.equals("vs1")) {
            throw new NoSuchDiskException(disk);
        }
        return status(disk, Role.REPLICA, GENERATION - 1);
    }

    @Override
    public DiskStatus setMode(String disk, Mode mode) {
        throw new UnsupportedOperationException();
    }

    @Override
    public DiskStatus waitSync(String disk, long timeoutMs) {
        throw new UnsupportedOperationException();
    }

    @Override
    public DiskStatus promote(String disk, boolean force) {
        throw new UnsupportedOperationException();
    }

    @Override
    public DiskStatus demote(String disk) {
        throw new UnsupportedOperationException();
    }

    @Override
    public List<DiskCounters> counters() {
        return List.of();
    }
}
