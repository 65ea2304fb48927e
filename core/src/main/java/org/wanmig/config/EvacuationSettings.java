package org.wanmig.config;

import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;

/**
 * How whole-DC evacuations are planned and run (migration.evacuation in the configuration): the
 * order of server groups, the WAN bandwidth each pair of data centers may spend on migrations, and
 * the parameters of the pre-copy model that estimates how long each server takes. Every key is
 * optional; {@link #DEFAULTS} documents the defaults.
 */
public final class EvacuationSettings {
    public static final double DEFAULT_BANDWIDTH_MBPS = 1000;
    public static final int DEFAULT_MAX_CONCURRENT_PER_PAIR = 4;
    public static final int DEFAULT_MAX_ROUNDS = 30;
    public static final double DEFAULT_STOP_COPY_MIB = 64;
    public static final Duration DEFAULT_OVERHEAD = Duration.ofSeconds(5);
    public static final int DEFAULT_RETRIES = 1;

    public static final EvacuationSettings DEFAULTS = new EvacuationSettings(List.of(), DEFAULT_BANDWIDTH_MBPS,
            Map.of(), DEFAULT_MAX_CONCURRENT_PER_PAIR, DEFAULT_MAX_ROUNDS, DEFAULT_STOP_COPY_MIB,
            DEFAULT_OVERHEAD, DEFAULT_RETRIES);

    private final List<String> groupOrder;
    private final double defaultBandwidthMbps;
    private final Map<String, Double> bandwidthByPair;
    private final int maxConcurrentPerPair;
    private final int maxRounds;
    private final double stopCopyMiB;
    private final Duration overhead;
    private final int retries;

    /** {@code bandwidthByPair} is keyed by {@link #pairKey}; the other arguments are validated by the parser. */
    public EvacuationSettings(List<String> groupOrder, double defaultBandwidthMbps, Map<String, Double> bandwidthByPair,
                              int maxConcurrentPerPair, int maxRounds, double stopCopyMiB, Duration overhead,
                              int retries) {
        this.groupOrder = List.copyOf(groupOrder);
        this.defaultBandwidthMbps = defaultBandwidthMbps;
        this.bandwidthByPair = Map.copyOf(new TreeMap<>(bandwidthByPair));
        this.maxConcurrentPerPair = maxConcurrentPerPair;
        this.maxRounds = maxRounds;
        this.stopCopyMiB = stopCopyMiB;
        this.overhead = Objects.requireNonNull(overhead);
        this.retries = retries;
    }

    /** The key of an unordered pair of data centers: both directions share one budget. */
    public static String pairKey(String a, String b) {
        return a.compareTo(b) <= 0 ? a + "<->" + b : b + "<->" + a;
    }

    /** Groups in the order they move; servers of a group listed later wait until the earlier ones are done. */
    public List<String> groupOrder() {
        return groupOrder;
    }

    /** The WAN bandwidth migrations between {@code a} and {@code b} may use together, in Mbit/s. */
    public double bandwidthMbps(String a, String b) {
        return bandwidthByPair.getOrDefault(pairKey(a, b), defaultBandwidthMbps);
    }

    /** The budget of pairs not listed in migration.evacuation.bandwidth, in Mbit/s. */
    public double defaultBandwidthMbps() {
        return defaultBandwidthMbps;
    }

    /** Budgets configured per pair, keyed by {@link #pairKey}. */
    public Map<String, Double> bandwidthByPair() {
        return bandwidthByPair;
    }

    /** How many migrations of one DC pair run at once; each gets an equal share of the pair's budget. */
    public int maxConcurrentPerPair() {
        return maxConcurrentPerPair;
    }

    /** Pre-copy gives up shrinking the dirty set after this many rounds and stops the server. */
    public int maxRounds() {
        return maxRounds;
    }

    /** Pre-copy stops the server once the dirty set is at most this many MiB (the stop-and-copy size). */
    public double stopCopyMiB() {
        return stopCopyMiB;
    }

    /** Time a migration holds its slot besides copying memory: tunnel, storage sync, cutover, drain. */
    public Duration overhead() {
        return overhead;
    }

    /** How often a failed server is tried again before the evacuation reports it failed. */
    public int retries() {
        return retries;
    }

    @Override
    public boolean equals(Object o) {
        if (!(o instanceof EvacuationSettings)) {
            return false;
        }
        EvacuationSettings s = (EvacuationSettings) o;
        return groupOrder.equals(s.groupOrder) && Double.compare(defaultBandwidthMbps, s.defaultBandwidthMbps) == 0
                && bandwidthByPair.equals(s.bandwidthByPair) && maxConcurrentPerPair == s.maxConcurrentPerPair
                && maxRounds == s.maxRounds && Double.compare(stopCopyMiB, s.stopCopyMiB) == 0
                && overhead.equals(s.overhead) && retries == s.retries;
    }

    @Override
    public int hashCode() {
        return Objects.hash(groupOrder, defaultBandwidthMbps, bandwidthByPair, maxConcurrentPerPair, maxRounds);
    }
}
