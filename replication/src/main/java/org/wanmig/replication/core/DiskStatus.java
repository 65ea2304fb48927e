package org.wanmig.replication.core;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.annotation.JsonPropertyOrder;

/** Immutable snapshot of one disk's replication state; this is the control API's status JSON. */
@JsonPropertyOrder({"disk", "role", "mode", "inSync", "peerConnected", "lagBlocks", "lagBytes", "rpoSeconds",
        "throughputBytesPerSec", "sizeBytes", "resyncRemainingBytes"})
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

    @JsonCreator
    public DiskStatus(@JsonProperty("disk") String disk, @JsonProperty("role") Role role,
                      @JsonProperty("mode") Mode mode, @JsonProperty("inSync") boolean inSync,
                      @JsonProperty("peerConnected") boolean peerConnected,
                      @JsonProperty("lagBlocks") long lagBlocks, @JsonProperty("lagBytes") long lagBytes,
                      @JsonProperty("rpoSeconds") double rpoSeconds,
                      @JsonProperty("throughputBytesPerSec") double throughputBytesPerSec,
                      @JsonProperty("sizeBytes") long sizeBytes,
                      @JsonProperty("resyncRemainingBytes") long resyncRemainingBytes) {
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

    @Override
    public String toString() {
        return disk + " " + role + " " + mode + (inSync ? " in-sync" : " not-in-sync")
                + (peerConnected ? " peer-up" : " peer-down") + " lag=" + lagBytes + "B resync=" + resyncRemainingBytes + "B";
    }
}
