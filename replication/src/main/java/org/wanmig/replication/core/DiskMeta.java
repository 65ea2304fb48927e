package org.wanmig.replication.core;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;

/**
 * Persistent per-disk replication state kept next to the image (image + ".wanmig.json"), so
 * role changes and sync identity survive restarts. Immutable; "with" methods return copies.
 * syncId: both copies of a pair carry the same id exactly when the replica is known to equal the
 * primary up to the primary's dirty bitmap; a mismatch forces a hash-compare full resync.
 */
public final class DiskMeta {
    private static final ObjectMapper JSON = new ObjectMapper();

    private final Role role;
    private final Mode mode;
    private final String syncId;
    private final boolean cleanShutdown;
    private final boolean behind;

    @JsonCreator
    public DiskMeta(@JsonProperty("role") Role role, @JsonProperty("mode") Mode mode,
                    @JsonProperty("syncId") String syncId, @JsonProperty("cleanShutdown") boolean cleanShutdown,
                    @JsonProperty("behind") boolean behind) {
        this.role = role;
        this.mode = mode == null ? Mode.ASYNC : mode;
        this.syncId = syncId == null ? "" : syncId;
        this.cleanShutdown = cleanShutdown;
        this.behind = behind;
    }

    @JsonProperty("role") public Role role() { return role; }
    @JsonProperty("mode") public Mode mode() { return mode; }
    @JsonProperty("syncId") public String syncId() { return syncId; }
    @JsonProperty("cleanShutdown") public boolean cleanShutdown() { return cleanShutdown; }
    @JsonProperty("behind") public boolean behind() { return behind; }

    public DiskMeta withRole(Role r) { return new DiskMeta(r, mode, syncId, cleanShutdown, behind); }
    public DiskMeta withMode(Mode m) { return new DiskMeta(role, m, syncId, cleanShutdown, behind); }
    public DiskMeta withSyncId(String s) { return new DiskMeta(role, mode, s, cleanShutdown, behind); }
    public DiskMeta withCleanShutdown(boolean c) { return new DiskMeta(role, mode, syncId, c, behind); }
    public DiskMeta withBehind(boolean b) { return new DiskMeta(role, mode, syncId, cleanShutdown, b); }

    public static Path fileFor(Path image) {
        return image.resolveSibling(image.getFileName() + ".wanmig.json");
    }

    public static DiskMeta load(Path file) throws IOException {
        if (!Files.exists(file)) {
            return null;
        }
        return JSON.readValue(file.toFile(), DiskMeta.class);
    }

    public void save(Path file) throws IOException {
        Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
        Files.write(tmp, JSON.writeValueAsBytes(this));
        Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    }
}
