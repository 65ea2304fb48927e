package org.wanmig.evacuation;

import java.time.Duration;
import java.util.Objects;

/** One server of an evacuation plan: where it goes, when it may start, and what it is estimated to cost. */
public final class PlannedMove {
    private final String server;
    private final String source;
    private final String destination;
    private final String group;
    private final int rank;
    private final int priority;
    private final long memoryMiB;
    private final double dirtyRateMiBps;
    private final double shareMbps;
    private final boolean exclusive;
    private final int rounds;
    private final long estimatedBytes;
    private final Duration estimatedDuration;
    private final Duration estimatedStopCopy;
    private final boolean converges;
    private final Duration startOffset;

    public PlannedMove(String server, String source, String destination, String group, int rank, int priority,
                       long memoryMiB, double dirtyRateMiBps, double shareMbps, boolean exclusive, int rounds,
                       long estimatedBytes, Duration estimatedDuration, Duration estimatedStopCopy,
                       boolean converges, Duration startOffset) {
        this.server = Objects.requireNonNull(server);
        this.source = Objects.requireNonNull(source);
        this.destination = Objects.requireNonNull(destination);
        this.group = group;
        this.rank = rank;
        this.priority = priority;
        this.memoryMiB = memoryMiB;
        this.dirtyRateMiBps = dirtyRateMiBps;
        this.shareMbps = shareMbps;
        this.exclusive = exclusive;
        this.rounds = rounds;
        this.estimatedBytes = estimatedBytes;
        this.estimatedDuration = Objects.requireNonNull(estimatedDuration);
        this.estimatedStopCopy = Objects.requireNonNull(estimatedStopCopy);
        this.converges = converges;
        this.startOffset = Objects.requireNonNull(startOffset);
    }

    public String server() {
        return server;
    }

    public String source() {
        return source;
    }

    public String destination() {
        return destination;
    }

    /** The budget this move draws on: the unordered pair of its data centers. */
    public String pair() {
        return org.wanmig.config.EvacuationSettings.pairKey(source, destination);
    }

    /** The server's group, or null. */
    public String group() {
        return group;
    }

    /** Position of the group in migration.evacuation.groupOrder (ungrouped and unlisted servers last). */
    public int rank() {
        return rank;
    }

    public int priority() {
        return priority;
    }

    public long memoryMiB() {
        return memoryMiB;
    }

    public double dirtyRateMiBps() {
        return dirtyRateMiBps;
    }

    /** The part of its pair's budget this migration is planned to use, in Mbit/s. */
    public double shareMbps() {
        return shareMbps;
    }

    /** Whether it runs alone on its pair, with the whole budget, because it converges only so. */
    public boolean exclusive() {
        return exclusive;
    }

    public int rounds() {
        return rounds;
    }

    public long estimatedBytes() {
        return estimatedBytes;
    }

    /** From start to completion: the per-migration overhead, pre-copy and stop-and-copy. */
    public Duration estimatedDuration() {
        return estimatedDuration;
    }

    /** The memory part of the server's downtime. */
    public Duration estimatedStopCopy() {
        return estimatedStopCopy;
    }

    /** False for a server whose dirty set does not shrink to the stop-copy size even with the whole budget. */
    public boolean converges() {
        return converges;
    }

    /** When it starts, from the start of the evacuation, if every earlier estimate holds. */
    public Duration startOffset() {
        return startOffset;
    }

    public Duration endOffset() {
        return startOffset.plus(estimatedDuration);
    }

    PlannedMove startingAt(Duration offset) {
        return new PlannedMove(server, source, destination, group, rank, priority, memoryMiB, dirtyRateMiBps,
                shareMbps, exclusive, rounds, estimatedBytes, estimatedDuration, estimatedStopCopy, converges, offset);
    }

    @Override
    public boolean equals(Object o) {
        if (!(o instanceof PlannedMove)) {
            return false;
        }
        PlannedMove m = (PlannedMove) o;
        return server.equals(m.server) && source.equals(m.source) && destination.equals(m.destination)
                && Objects.equals(group, m.group) && rank == m.rank && priority == m.priority
                && memoryMiB == m.memoryMiB && Double.compare(dirtyRateMiBps, m.dirtyRateMiBps) == 0
                && Double.compare(shareMbps, m.shareMbps) == 0 && exclusive == m.exclusive && rounds == m.rounds
                && estimatedBytes == m.estimatedBytes && estimatedDuration.equals(m.estimatedDuration)
                && estimatedStopCopy.equals(m.estimatedStopCopy) && converges == m.converges
                && startOffset.equals(m.startOffset);
    }

    @Override
    public int hashCode() {
        return Objects.hash(server, destination, startOffset, estimatedBytes);
    }

    @Override
    public String toString() {
        return server + " " + source + "->" + destination + " at +" + startOffset.toMillis() + " ms for "
                + estimatedDuration.toMillis() + " ms" + (converges ? "" : " (does not converge)");
    }
}
