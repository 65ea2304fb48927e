package org.wanmig.config;

import java.time.Duration;
import java.util.Objects;

/**
 * Whether and how the MMS declares a data center lost by itself, from the optional
 * {@code failover.detection} object of the wanmig configuration (off by default):
 * <pre>
 *   "failover": { "detection": { "enabled": true, "afterSeconds": 10, "pollSeconds": 1,
 *                                "peerSilenceSeconds": 2, "to": "dcB" } }
 * </pre>
 * A DC is declared lost once its PE is disconnected from the controller, its replication agent
 * does not answer the controller, and a surviving DC's agent (a witness, reached on its own path)
 * reports its replication link to the lost DC down or silent for {@code peerSilenceSeconds}, all
 * three without a break for {@code afterSeconds}. The agents are asked every {@code pollSeconds}.
 * {@code to} names the destination of the failover and the only witness; without it every other DC
 * with an agent is a witness and each server goes to its replica's DC, as an operator's
 * declaration without {@code --to} does.
 */
public final class FailoverDetection {
    public static final String KEY = "failover";
    public static final Duration DEFAULT_AFTER = Duration.ofSeconds(10);
    public static final Duration DEFAULT_POLL = Duration.ofSeconds(1);
    public static final Duration DEFAULT_PEER_SILENCE = Duration.ofSeconds(2);
    public static final FailoverDetection DISABLED = new FailoverDetection(false, DEFAULT_AFTER, DEFAULT_POLL,
            DEFAULT_PEER_SILENCE, null);

    private final boolean enabled;
    private final Duration after;
    private final Duration poll;
    private final Duration peerSilence;
    private final String to;

    public FailoverDetection(boolean enabled, Duration after, Duration poll, Duration peerSilence, String to) {
        this.enabled = enabled;
        this.after = positive(after, "afterSeconds");
        this.poll = positive(poll, "pollSeconds");
        this.peerSilence = positive(peerSilence, "peerSilenceSeconds");
        this.to = to;
    }

    private static Duration positive(Duration d, String what) {
        if (Objects.requireNonNull(d).isZero() || d.isNegative()) {
            throw new IllegalArgumentException(what + " must be positive: " + d);
        }
        return d;
    }

    public boolean enabled() {
        return enabled;
    }

    /** How long every signal must hold without a break before the DC is declared lost. */
    public Duration after() {
        return after;
    }

    /** How often the agents are asked (and how long an answer may take). */
    public Duration poll() {
        return poll;
    }

    /** A witness's link to the watched DC counts as down once it has carried nothing this long. */
    public Duration peerSilence() {
        return peerSilence;
    }

    /** The failover's destination and only witness, or null: every other DC with an agent witnesses. */
    public String to() {
        return to;
    }

    @Override
    public boolean equals(Object o) {
        if (!(o instanceof FailoverDetection)) {
            return false;
        }
        FailoverDetection f = (FailoverDetection) o;
        return enabled == f.enabled && after.equals(f.after) && poll.equals(f.poll)
                && peerSilence.equals(f.peerSilence) && Objects.equals(to, f.to);
    }

    @Override
    public int hashCode() {
        return Objects.hash(enabled, after, poll, peerSilence, to);
    }

    @Override
    public String toString() {
        return enabled ? "detection after " + after.toMillis() + " ms, poll " + poll.toMillis() + " ms, peer silence "
                + peerSilence.toMillis() + " ms" + (to == null ? "" : ", to " + to) : "detection off";
    }
}
