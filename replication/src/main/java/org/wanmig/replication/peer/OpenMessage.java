package org.wanmig.replication.peer;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonProperty;

/** Body of OPEN (primary to replica) and OPEN_OK (answer): which disk, its size and sync identity. */
public final class OpenMessage {
    private final String disk;
    private final long sizeBytes;
    private final String syncId;

    @JsonCreator
    public OpenMessage(@JsonProperty("disk") String disk, @JsonProperty("sizeBytes") long sizeBytes,
                       @JsonProperty("syncId") String syncId) {
        this.disk = disk;
        this.sizeBytes = sizeBytes;
        this.syncId = syncId == null ? "" : syncId;
    }

    @JsonProperty("disk") public String disk() { return disk; }
    @JsonProperty("sizeBytes") public long sizeBytes() { return sizeBytes; }
    @JsonProperty("syncId") public String syncId() { return syncId; }
}
