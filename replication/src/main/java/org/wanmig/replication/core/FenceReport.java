package org.wanmig.replication.core;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.annotation.JsonPropertyOrder;

import java.util.List;

/**
 * A primary that met a newer generation at its peer and stopped: the writes it had acknowledged
 * that the peer never received (they are discarded by the resync from the new primary). Extents
 * are "offset+length" in bytes at dirty-block granularity, the first MAX_EXTENTS of them; bytes
 * and blocks count all. Immutable; persisted and shown in the status until the next promote.
 */
@JsonIgnoreProperties(ignoreUnknown = true)
@JsonPropertyOrder({"atMillis", "ownGeneration", "peerGeneration", "unreplicatedBytes", "unreplicatedBlocks",
        "unreplicatedExtents", "extentsTruncated", "wholeDiskUnknown"})
public final class FenceReport {
    public static final int MAX_EXTENTS = 64;

    private final long atMillis;
    private final long ownGeneration;
    private final long peerGeneration;
    private final long unreplicatedBytes;
    private final long unreplicatedBlocks;
    private final List<String> unreplicatedExtents;
    private final boolean extentsTruncated;
    private final boolean wholeDiskUnknown;

    @JsonCreator
    public FenceReport(@JsonProperty("atMillis") long atMillis, @JsonProperty("ownGeneration") long ownGeneration,
                       @JsonProperty("peerGeneration") long peerGeneration,
                       @JsonProperty("unreplicatedBytes") long unreplicatedBytes,
                       @JsonProperty("unreplicatedBlocks") long unreplicatedBlocks,
                       @JsonProperty("unreplicatedExtents") List<String> unreplicatedExtents,
                       @JsonProperty("extentsTruncated") boolean extentsTruncated,
                       @JsonProperty("wholeDiskUnknown") boolean wholeDiskUnknown) {
        this.atMillis = atMillis;
        this.ownGeneration = ownGeneration;
        this.peerGeneration = peerGeneration;
        this.unreplicatedBytes = unreplicatedBytes;
        this.unreplicatedBlocks = unreplicatedBlocks;
        this.unreplicatedExtents = unreplicatedExtents == null ? List.of() : List.copyOf(unreplicatedExtents);
        this.extentsTruncated = extentsTruncated;
        this.wholeDiskUnknown = wholeDiskUnknown;
    }

    @JsonProperty("atMillis") public long atMillis() { return atMillis; }
    @JsonProperty("ownGeneration") public long ownGeneration() { return ownGeneration; }
    @JsonProperty("peerGeneration") public long peerGeneration() { return peerGeneration; }
    @JsonProperty("unreplicatedBytes") public long unreplicatedBytes() { return unreplicatedBytes; }
    @JsonProperty("unreplicatedBlocks") public long unreplicatedBlocks() { return unreplicatedBlocks; }
    @JsonProperty("unreplicatedExtents") public List<String> unreplicatedExtents() { return unreplicatedExtents; }
    @JsonProperty("extentsTruncated") public boolean extentsTruncated() { return extentsTruncated; }
    /** The dirty bitmap was in compare mode (unclean shutdown): which blocks differ is not known. */
    @JsonProperty("wholeDiskUnknown") public boolean wholeDiskUnknown() { return wholeDiskUnknown; }

    @Override
    public String toString() {
        return unreplicatedBytes + " bytes in " + unreplicatedBlocks + " blocks never replicated (generation "
                + ownGeneration + " fenced by " + peerGeneration + ")" + (wholeDiskUnknown ? ", whole disk unknown" : "")
                + ": " + String.join(", ", unreplicatedExtents) + (extentsTruncated ? ", ..." : "");
    }
}
