package org.wanmig.replication.core;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonProperty;

/** What a primary reports to its replica (peer STATUS message); immutable. */
public final class PeerView {
    public static final PeerView NONE = new PeerView(null, false, 0, 0, 0);

    private final Mode mode;
    private final boolean inSync;
    private final long lagBytes;
    private final double rpoSeconds;
    private final long resyncRemainingBytes;

    @JsonCreator
    public PeerView(@JsonProperty("mode") Mode mode, @JsonProperty("inSync") boolean inSync,
                    @JsonProperty("lagBytes") long lagBytes, @JsonProperty("rpoSeconds") double rpoSeconds,
                    @JsonProperty("resyncRemainingBytes") long resyncRemainingBytes) {
        this.mode = mode;
        this.inSync = inSync;
        this.lagBytes = lagBytes;
        this.rpoSeconds = rpoSeconds;
        this.resyncRemainingBytes = resyncRemainingBytes;
    }

    public static PeerView of(DiskStatus s) {
        return new PeerView(s.mode(), s.inSync(), s.lagBytes(), s.rpoSeconds(), s.resyncRemainingBytes());
    }

    @JsonProperty("mode") public Mode mode() { return mode; }
    @JsonProperty("inSync") public boolean inSync() { return inSync; }
    @JsonProperty("lagBytes") public long lagBytes() { return lagBytes; }
    @JsonProperty("rpoSeconds") public double rpoSeconds() { return rpoSeconds; }
    @JsonProperty("resyncRemainingBytes") public long resyncRemainingBytes() { return resyncRemainingBytes; }
}
