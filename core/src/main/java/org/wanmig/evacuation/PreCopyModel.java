package org.wanmig.evacuation;

import java.time.Duration;

/**
 * The iterative pre-copy of a live migration, as an estimate: the first round sends all of memory;
 * while it is sent the server dirties pages at its dirty rate, and each later round re-sends what
 * the previous round's duration dirtied. Pre-copy ends when the dirty set is at most the stop-copy
 * size (the server is then paused and the rest sent) or after the maximum number of rounds. A server
 * that dirties memory at least as fast as its bandwidth share never gets there: it does not converge.
 */
public final class PreCopyModel {
    public static final long MIB = 1024L * 1024;

    private PreCopyModel() {
    }

    /** Bytes per second of a rate in Mbit/s (10^6 bits, as WAN links are sold). */
    public static double bytesPerSecond(double mbps) {
        return mbps * 1_000_000 / 8;
    }

    /** The outcome for one server at one bandwidth. */
    public static final class Estimate {
        private final int rounds;
        private final long bytes;
        private final Duration preCopy;
        private final Duration stopCopy;
        private final boolean converges;

        Estimate(int rounds, long bytes, Duration preCopy, Duration stopCopy, boolean converges) {
            this.rounds = rounds;
            this.bytes = bytes;
            this.preCopy = preCopy;
            this.stopCopy = stopCopy;
            this.converges = converges;
        }

        /** Pre-copy rounds before the server is paused. */
        public int rounds() {
            return rounds;
        }

        /** Everything sent: every round plus the stop-and-copy. */
        public long bytes() {
            return bytes;
        }

        /** Time the server keeps running while memory is copied. */
        public Duration preCopy() {
            return preCopy;
        }

        /** Time the server is paused for the last copy: the memory part of its downtime. */
        public Duration stopCopy() {
            return stopCopy;
        }

        /** Whether the dirty set got down to the stop-copy size within the maximum rounds. */
        public boolean converges() {
            return converges;
        }

        public Duration total() {
            return preCopy.plus(stopCopy);
        }
    }

    /**
     * @param memoryBytes        the server's memory (round one)
     * @param dirtyBytesPerSec   how fast the running server dirties memory
     * @param bandwidthBytesPerSec the share of the WAN this migration gets
     * @param stopCopyBytes      dirty-set size at which the server is paused
     * @param maxRounds          rounds after which the server is paused whatever the dirty set
     */
    public static Estimate estimate(long memoryBytes, double dirtyBytesPerSec, double bandwidthBytesPerSec,
                                    double stopCopyBytes, int maxRounds) {
        if (memoryBytes <= 0 || bandwidthBytesPerSec <= 0 || maxRounds < 1 || dirtyBytesPerSec < 0) {
            throw new IllegalArgumentException("memory, bandwidth and rounds must be positive");
        }
        double toSend = memoryBytes;
        double sent = 0;
        double seconds = 0;
        int rounds = 0;
        double dirty;
        while (true) {
            rounds++;
            double roundSeconds = toSend / bandwidthBytesPerSec;
            sent += toSend;
            seconds += roundSeconds;
            // a page dirtied twice is sent once: the dirty set never exceeds memory
            dirty = Math.min(memoryBytes, dirtyBytesPerSec * roundSeconds);
            if (dirty <= stopCopyBytes || rounds >= maxRounds) {
                break;
            }
            toSend = dirty;
        }
        // at a dirty rate of at least the bandwidth the dirty set never shrinks below memory, so
        // this is false for such a server unless all of its memory fits in one stop-and-copy
        boolean converges = dirty <= stopCopyBytes;
        double pause = dirty / bandwidthBytesPerSec;
        return new Estimate(rounds, Math.round(sent + dirty), millis(seconds), millis(pause), converges);
    }

    private static Duration millis(double seconds) {
        return Duration.ofMillis((long) Math.ceil(seconds * 1000));
    }
}
