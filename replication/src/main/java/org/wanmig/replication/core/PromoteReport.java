package org.wanmig.replication.core;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.annotation.JsonPropertyOrder;

/**
 * What the last promote of this copy did; immutable, persisted in the metadata and shown in the
 * status. rpoSeconds is an upper bound on the span of the old primary's writing that this copy
 * lacks: promote time minus the time this copy last held everything the primary had sent it of
 * (for a rolled-back copy: the time of the restored state). 0 after a clean handover; -1 if this
 * copy never held the primary's state (its first sync never completed). takeOverId: the caller's
 * name for the take-over that made this copy primary (null for any other promote), so that the
 * same take-over asked again (a restarted MMS) is answered as done and no other is.
 */
@JsonIgnoreProperties(ignoreUnknown = true)
@JsonPropertyOrder({"atMillis", "forced", "generation", "rolledBack", "rolledBackBytes", "restoredAsOfMillis",
        "rpoSeconds", "handedOver", "takeOverId"})
public final class PromoteReport {
    private final long atMillis;
    private final boolean forced;
    private final long generation;
    private final boolean rolledBack;
    private final long rolledBackBytes;
    private final long restoredAsOfMillis;
    private final double rpoSeconds;
    private final boolean handedOver;
    private final String takeOverId;

    public PromoteReport(long atMillis, boolean forced, long generation, boolean rolledBack, long rolledBackBytes,
                         long restoredAsOfMillis, double rpoSeconds, boolean handedOver) {
        this(atMillis, forced, generation, rolledBack, rolledBackBytes, restoredAsOfMillis, rpoSeconds, handedOver, null);
    }

    @JsonCreator
    public PromoteReport(@JsonProperty("atMillis") long atMillis, @JsonProperty("forced") boolean forced,
                         @JsonProperty("generation") long generation,
                         @JsonProperty("rolledBack") boolean rolledBack,
                         @JsonProperty("rolledBackBytes") long rolledBackBytes,
                         @JsonProperty("restoredAsOfMillis") long restoredAsOfMillis,
                         @JsonProperty("rpoSeconds") double rpoSeconds,
                         @JsonProperty("handedOver") boolean handedOver,
                         @JsonProperty("takeOverId") String takeOverId) {
        this.atMillis = atMillis;
        this.forced = forced;
        this.generation = generation;
        this.rolledBack = rolledBack;
        this.rolledBackBytes = rolledBackBytes;
        this.restoredAsOfMillis = restoredAsOfMillis;
        this.rpoSeconds = rpoSeconds;
        this.handedOver = handedOver;
        this.takeOverId = takeOverId;
    }

    public PromoteReport withTakeOverId(String id) {
        return new PromoteReport(atMillis, forced, generation, rolledBack, rolledBackBytes, restoredAsOfMillis,
                rpoSeconds, handedOver, id);
    }

    @JsonProperty("atMillis") public long atMillis() { return atMillis; }
    @JsonProperty("forced") public boolean forced() { return forced; }
    @JsonProperty("generation") public long generation() { return generation; }
    @JsonProperty("rolledBack") public boolean rolledBack() { return rolledBack; }
    @JsonProperty("rolledBackBytes") public long rolledBackBytes() { return rolledBackBytes; }
    @JsonProperty("restoredAsOfMillis") public long restoredAsOfMillis() { return restoredAsOfMillis; }
    @JsonProperty("rpoSeconds") public double rpoSeconds() { return rpoSeconds; }
    @JsonProperty("handedOver") public boolean handedOver() { return handedOver; }
    @JsonInclude(JsonInclude.Include.NON_NULL)
    @JsonProperty("takeOverId") public String takeOverId() { return takeOverId; }
}
