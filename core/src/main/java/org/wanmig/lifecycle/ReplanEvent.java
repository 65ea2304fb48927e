package org.wanmig.lifecycle;

import java.time.Instant;
import java.util.List;
import java.util.Objects;

/**
 * One re-plan of the baseline routes after the network changed (a link or switch went down or came
 * back, a hold-down ended): what triggered it and when, which links were left out, and when the
 * switches confirmed the new rules. Immutable; kept by {@link LinkStateTracker} as its timeline.
 */
public final class ReplanEvent {
    private final long sequence;
    private final Instant triggeredAt;
    private final List<String> causes;
    private final List<String> linksOut;
    private final List<String> unreachable;
    private final Instant startedAt;
    private final Instant finishedAt;
    private final String error;

    ReplanEvent(long sequence, Instant triggeredAt, List<String> causes, List<String> linksOut,
                List<String> unreachable, Instant startedAt, Instant finishedAt, String error) {
        this.sequence = sequence;
        this.triggeredAt = Objects.requireNonNull(triggeredAt);
        this.causes = List.copyOf(causes);
        this.linksOut = List.copyOf(linksOut);
        this.unreachable = List.copyOf(unreachable);
        this.startedAt = Objects.requireNonNull(startedAt);
        this.finishedAt = Objects.requireNonNull(finishedAt);
        this.error = error;
    }

    public long sequence() {
        return sequence;
    }

    /** When the first network report behind this re-plan arrived. */
    public Instant triggeredAt() {
        return triggeredAt;
    }

    /** The reports behind it, e.g. "link of:..2/4<->of:..5/4 down"; several when they came in together. */
    public List<String> causes() {
        return causes;
    }

    /** Links the new routes avoid, with why ("down", "hold-down", "switch ... disconnected", "configured down"). */
    public List<String> linksOut() {
        return linksOut;
    }

    /** Client site / data center pairs (and DC pairs) with no WAN path left: no route until a link recovers. */
    public List<String> unreachable() {
        return unreachable;
    }

    public Instant startedAt() {
        return startedAt;
    }

    /** When every switch had confirmed the new rules (and the old ones were removed), or the re-plan failed. */
    public Instant finishedAt() {
        return finishedAt;
    }

    public boolean confirmed() {
        return error == null;
    }

    /** Why the re-plan did not complete; null when confirmed. */
    public String error() {
        return error;
    }

    @Override
    public String toString() {
        return "re-plan " + sequence + " (" + String.join("; ", causes) + "): "
                + (error == null ? "confirmed" : "failed: " + error) + " in "
                + (finishedAt.toEpochMilli() - triggeredAt.toEpochMilli()) + " ms; links out " + linksOut
                + (unreachable.isEmpty() ? "" : "; NO PATH " + unreachable);
    }
}
