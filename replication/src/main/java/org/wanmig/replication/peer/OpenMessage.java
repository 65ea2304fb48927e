package org.wanmig.replication.peer;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import com.fasterxml.jackson.annotation.JsonProperty;

/**
 * Body of OPEN (primary to replica) and OPEN_OK (answer): which disk, its size, sync identity and
 * generation. Also the body of FENCED (replica to an old primary), where generation is the newer one.
 */
@JsonIgnoreProperties(ignoreUnknown = true)
public final class OpenMessage {
    private final String disk;
    private final long sizeBytes;
    private final String syncId;
    private final long generation;

    public OpenMessage(String disk, long sizeBytes, String syncId) {
        this(disk, sizeBytes, syncId, 0L);
    }

    @JsonCreator
    public OpenMessage(@JsonProperty("disk") String disk, @JsonProperty("sizeBytes") long sizeBytes,
                       @JsonProperty("syncId") String syncId, @JsonProperty("generation") Long generation) {
        this.disk = disk;
        this.sizeBytes = sizeBytes;
        this.syncId = syncId == null ? "" : syncId;
        this.generation = generation == null ? 0 : generation;
    }

    @JsonProperty("disk") public String disk() { return disk; }
    @JsonProperty("sizeBytes") public long sizeBytes() { return sizeBytes; }
    @JsonProperty("syncId") public String syncId() { return syncId; }
    @JsonProperty("generation") public long generation() { return generation; }
}
