package org.wanmig.replication.core;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.annotation.JsonPropertyOrder;

/**
 * Immutable snapshot of one disk's replication state; this is the control API's status JSON.
 * generation: fencing epoch (bumped by every promote). consistent: false while a replica is in the
 * middle of a resync (promote would roll it back first). behind/lagWrites: the replica's own view,
 * from the sequence numbers in the data frames. lastPromote / fenced: reports of the last promote
 * of this copy and of the fencing of this copy as an old primary (absent if none).
 */
@JsonIgnoreProperties(ignoreUnknown = true)
@JsonInclude(JsonInclude.Include.NON_NULL)
@JsonPropertyOrder({"disk", "role", "mode", "inSync", "peerConnected", "lagBlocks", "lagBytes", "rpoSeconds",
        "throughputBytesPerSec", "sizeBytes", "resyncRemainingBytes", "generation", "consistent", "behind",
        "lagWrites", "peerSilentMillis", "lastPromote", "fenced"})
public final class DiskStatus {
    private final String disk;
    private final Role role;
    private final Mode mode;
    private final boolean inSync;
    private final boolean peerConnected;
    private final long lagBlocks;
    private final long lagBytes;
    private final double rpoSeconds;
    private final double throughputBytesPerSec;
    private final long sizeBytes;
    private final long resyncRemainingBytes;
    private final long generation;
    private final boolean consistent;
    private final boolean behind;
    private final long lagWrites;
    private final long peerSilentMillis;
    private final PromoteReport lastPromote;
    private final FenceReport fenced;

    @JsonCreator
    public DiskStatus(@JsonProperty("disk") String disk, @JsonProperty("role") Role role,
                      @JsonProperty("mode") Mode mode, @JsonProperty("inSync") boolean inSync,
                      @JsonProperty("peerConnected") boolean peerConnected,
                      @JsonProperty("lagBlocks") long lagBlocks, @JsonProperty("lagBytes") long lagBytes,
                      @JsonProperty("rpoSeconds") double rpoSeconds,
                      @JsonProperty("throughputBytesPerSec") double throughputBytesPerSec,
                      @JsonProperty("sizeBytes") long sizeBytes,
                      @JsonProperty("resyncRemainingBytes") long resyncRemainingBytes,
                      @JsonProperty("generation") long generation,
                      @JsonProperty("consistent") boolean consistent,
                      @JsonProperty("behind") boolean behind,
                      @JsonProperty("lagWrites") long lagWrites,
                      @JsonProperty("peerSilentMillis") long peerSilentMillis,
                      @JsonProperty("lastPromote") PromoteReport lastPromote,
                      @JsonProperty("fenced") FenceReport fenced) {
        this.disk = disk;
        this.role = role;
        this.mode = mode;
        this.inSync = inSync;
        this.peerConnected = peerConnected;
        this.lagBlocks = lagBlocks;
        this.lagBytes = lagBytes;
        this.rpoSeconds = rpoSeconds;
        this.throughputBytesPerSec = throughputBytesPerSec;
        this.sizeBytes = sizeBytes;
        this.resyncRemainingBytes = resyncRemainingBytes;
        this.generation = generation;
        this.consistent = consistent;
        this.behind = behind;
        this.lagWrites = lagWrites;
        this.peerSilentMillis = peerSilentMillis;
        this.lastPromote = lastPromote;
        this.fenced = fenced;
    }

    @JsonProperty("disk") public String disk() { return disk; }
    @JsonProperty("role") public Role role() { return role; }
    @JsonProperty("mode") public Mode mode() { return mode; }
    @JsonProperty("inSync") public boolean inSync() { return inSync; }
    @JsonProperty("peerConnected") public boolean peerConnected() { return peerConnected; }
    @JsonProperty("lagBlocks") public long lagBlocks() { return lagBlocks; }
    @JsonProperty("lagBytes") public long lagBytes() { return lagBytes; }
    @JsonProperty("rpoSeconds") public double rpoSeconds() { return rpoSeconds; }
    @JsonProperty("throughputBytesPerSec") public double throughputBytesPerSec() { return throughputBytesPerSec; }
    @JsonProperty("sizeBytes") public long sizeBytes() { return sizeBytes; }
    @JsonProperty("resyncRemainingBytes") public long resyncRemainingBytes() { return resyncRemainingBytes; }
    @JsonProperty("generation") public long generation() { return generation; }
    @JsonProperty("consistent") public boolean consistent() { return consistent; }
    @JsonProperty("behind") public boolean behind() { return behind; }
    @JsonProperty("lagWrites") public long lagWrites() { return lagWrites; }
    @JsonProperty("peerSilentMillis") public long peerSilentMillis() { return peerSilentMillis; }
    @JsonProperty("lastPromote") public PromoteReport lastPromote() { return lastPromote; }
    @JsonProperty("fenced") public FenceReport fenced() { return fenced; }

    @Override
    public String toString() {
        return disk + " " + role + " " + mode + (inSync ? " in-sync" : " not-in-sync")
                + (peerConnected ? " peer-up" : " peer-down") + " lag=" + lagBytes + "B resync=" + resyncRemainingBytes + "B gen=" + generation
                + (consistent ? "" : " INCONSISTENT") + (behind ? " behind" : "");
    }
}
