package org.wanmig.api;

import java.util.Objects;

/**
 * What a forced promotion of a server's replica did, as the replication agent reported it: the
 * new generation, and how much of the lost primary's writing the promoted copy lacks (its last
 * known lag, read just before the promotion, and the agent's RPO bound). Immutable.
 */
public final class Promotion {
    private final long generation;
    private final long lagBytes;
    private final long lagWrites;
    private final double rpoSeconds;
    private final long rolledBackBytes;
    private final String detail;

    /**
     * @param generation      the copy's generation after the promotion; -1 when no agent was asked
     * @param lagBytes        bytes the old primary had not had acknowledged, as last known to the replica
     * @param lagWrites       writes queued at the old primary behind the last one applied here
     * @param rpoSeconds      upper bound on the span of writing lost (agent's promote report); -1 unknown
     * @param rolledBackBytes bytes an interrupted resync was rolled back by to make the copy consistent
     * @param detail          one line for people
     */
    public Promotion(long generation, long lagBytes, long lagWrites, double rpoSeconds, long rolledBackBytes,
                     String detail) {
        this.generation = generation;
        this.lagBytes = lagBytes;
        this.lagWrites = lagWrites;
        this.rpoSeconds = rpoSeconds;
        this.rolledBackBytes = rolledBackBytes;
        this.detail = Objects.requireNonNull(detail);
    }

    public long generation() {
        return generation;
    }

    public long lagBytes() {
        return lagBytes;
    }

    public long lagWrites() {
        return lagWrites;
    }

    public double rpoSeconds() {
        return rpoSeconds;
    }

    public long rolledBackBytes() {
        return rolledBackBytes;
    }

    public String detail() {
        return detail;
    }

    @Override
    public boolean equals(Object o) {
        if (!(o instanceof Promotion)) {
            return false;
        }
        Promotion p = (Promotion) o;
        return generation == p.generation && lagBytes == p.lagBytes && lagWrites == p.lagWrites
                && Double.compare(rpoSeconds, p.rpoSeconds) == 0 && rolledBackBytes == p.rolledBackBytes
                && detail.equals(p.detail);
    }

    @Override
    public int hashCode() {
        return Objects.hash(generation, lagBytes, lagWrites, rpoSeconds, rolledBackBytes, detail);
    }

    @Override
    public String toString() {
        return "generation " + generation + ", RPO lost: " + lagBytes + " bytes / " + lagWrites + " writes"
                + (rpoSeconds >= 0 ? String.format(", <= %.3f s", rpoSeconds) : "")
                + (rolledBackBytes > 0 ? ", rolled back " + rolledBackBytes + " bytes" : "");
    }
}
