package org.wanmig.config;

import java.net.URI;
import java.time.Duration;
import java.util.Map;
import java.util.Objects;

/**
 * Settings of the "qemu" hypervisor driver, from {@code migration.hypervisor} in netcfg: where
 * each DC's hypervisor agent is, and the live-migration parameters the MMS sets through QMP.
 */
public final class QemuOptions {
    /** When the network and storage switch over. */
    public enum Switchover {
        /** Inside QEMU's pause (pause-before-switchover): the VS resumes with disk and network at B. */
        PAUSE,
        /** The paper's order: after QEMU reports completion. */
        PAPER
    }

    /**
     * QEMU switches over once it expects the rest to take at most its downtime-limit; by default
     * the rest may take this many times that, and at least {@link #MIN_COMPLETION_BUDGET}, after
     * migrate-continue before the stream counts as stalled (a WAN gone silent).
     */
    public static final int COMPLETION_FACTOR = 5;
    public static final Duration MIN_COMPLETION_BUDGET = Duration.ofSeconds(3);

    public static final QemuOptions NONE = new QemuOptions(Map.of(), Switchover.PAUSE,
            Duration.ofMillis(300), 0, 100);

    private final Map<String, URI> agents;
    private final Switchover switchover;
    private final Duration downtimeLimit;
    private final long maxBandwidthMbps;
    private final long compressBelowMbps;
    private final Duration completionBudget;

    public QemuOptions(Map<String, URI> agents, Switchover switchover, Duration downtimeLimit,
                       long maxBandwidthMbps, long compressBelowMbps) {
        this(agents, switchover, downtimeLimit, maxBandwidthMbps, compressBelowMbps,
                defaultCompletionBudget(downtimeLimit));
    }

    public QemuOptions(Map<String, URI> agents, Switchover switchover, Duration downtimeLimit,
                       long maxBandwidthMbps, long compressBelowMbps, Duration completionBudget) {
        this.completionBudget = Objects.requireNonNull(completionBudget);
        this.agents = Map.copyOf(agents);
        this.switchover = Objects.requireNonNull(switchover);
        this.downtimeLimit = Objects.requireNonNull(downtimeLimit);
        this.maxBandwidthMbps = maxBandwidthMbps;
        this.compressBelowMbps = compressBelowMbps;
    }

    /** Hypervisor agent per data center name. */
    public Map<String, URI> agents() {
        return agents;
    }

    public Switchover switchover() {
        return switchover;
    }

    /** QEMU's downtime-limit: the stop-and-copy it may aim for. */
    public Duration downtimeLimit() {
        return downtimeLimit;
    }

    /** QEMU's max-bandwidth for the migration stream, Mbit/s; 0 leaves QEMU's default. */
    public long maxBandwidthMbps() {
        return maxBandwidthMbps;
    }

    /** XBZRLE compression is turned on when the stream is capped below this many Mbit/s. */
    public long compressBelowMbps() {
        return compressBelowMbps;
    }

    /**
     * How long QEMU may take, after migrate-continue, to send the rest and complete (its guest
     * paused all along); beyond it the migration fails with its stream cut, and the guest goes on
     * at the source.
     */
    public Duration completionBudget() {
        return completionBudget;
    }

    /** {@link #COMPLETION_FACTOR} times the downtime-limit, at least {@link #MIN_COMPLETION_BUDGET}. */
    public static Duration defaultCompletionBudget(Duration downtimeLimit) {
        Duration scaled = downtimeLimit.multipliedBy(COMPLETION_FACTOR);
        return scaled.compareTo(MIN_COMPLETION_BUDGET) > 0 ? scaled : MIN_COMPLETION_BUDGET;
    }

    public boolean compress() {
        return maxBandwidthMbps > 0 && maxBandwidthMbps < compressBelowMbps;
    }

    @Override
    public boolean equals(Object o) {
        if (!(o instanceof QemuOptions)) {
            return false;
        }
        QemuOptions q = (QemuOptions) o;
        return agents.equals(q.agents) && switchover == q.switchover && downtimeLimit.equals(q.downtimeLimit)
                && maxBandwidthMbps == q.maxBandwidthMbps && compressBelowMbps == q.compressBelowMbps
                && completionBudget.equals(q.completionBudget);
    }

    @Override
    public int hashCode() {
        return Objects.hash(agents, switchover, downtimeLimit, maxBandwidthMbps, compressBelowMbps, completionBudget);
    }
}
