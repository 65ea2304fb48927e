package org.wanmig.replication.core;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.wanmig.replication.disk.Directories;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;

/**
 * Persistent per-disk replication state kept next to the image (image + ".wanmig.json"), so
 * role changes, sync identity, generation and consistency survive restarts. Immutable; "with"
 * methods return copies.
 * syncId: both copies of a pair carry the same id exactly when the replica is known to equal the
 * primary up to the primary's dirty bitmap; a mismatch forces a hash-compare full resync.
 * generation: bumped by every promote; a primary that meets a higher one at its peer is fenced.
 * consistent: false from before the first resync write until the resync completed; while false
 * the undo journal (image + ".undo") holds what rolls the image back to its last consistent state.
 * currentAtMillis: wall-clock time the replica last held everything its primary had told it of
 * (for a replica that is inconsistent: the time of the state the journal restores).
 */
@JsonIgnoreProperties(ignoreUnknown = true)
@JsonInclude(JsonInclude.Include.NON_NULL)
public final class DiskMeta {
    private static final ObjectMapper JSON = new ObjectMapper();

    private final Role role;
    private final Mode mode;
    private final String syncId;
    private final boolean cleanShutdown;
    private final boolean behind;
    private final long generation;
    private final boolean consistent;
    private final long currentAtMillis;
    private final PromoteReport lastPromote;
    private final FenceReport fenced;

    public DiskMeta(Role role, Mode mode, String syncId, boolean cleanShutdown, boolean behind) {
        this(role, mode, syncId, cleanShutdown, behind, 0L, Boolean.TRUE, 0L, null, null);
    }

    @JsonCreator
    public DiskMeta(@JsonProperty("role") Role role, @JsonProperty("mode") Mode mode,
                    @JsonProperty("syncId") String syncId, @JsonProperty("cleanShutdown") boolean cleanShutdown,
                    @JsonProperty("behind") boolean behind, @JsonProperty("generation") Long generation,
                    @JsonProperty("consistent") Boolean consistent,
                    @JsonProperty("currentAtMillis") Long currentAtMillis,
                    @JsonProperty("lastPromote") PromoteReport lastPromote,
                    @JsonProperty("fenced") FenceReport fenced) {
        this.role = role;
        this.mode = mode == null ? Mode.ASYNC : mode;
        this.syncId = syncId == null ? "" : syncId;
        this.cleanShutdown = cleanShutdown;
        this.behind = behind;
        this.generation = generation == null ? 0 : generation;
        this.consistent = consistent == null || consistent; // files from before this field were consistent
        this.currentAtMillis = currentAtMillis == null ? 0 : currentAtMillis;
        this.lastPromote = lastPromote;
        this.fenced = fenced;
    }

    @JsonProperty("role") public Role role() { return role; }
    @JsonProperty("mode") public Mode mode() { return mode; }
    @JsonProperty("syncId") public String syncId() { return syncId; }
    @JsonProperty("cleanShutdown") public boolean cleanShutdown() { return cleanShutdown; }
    @JsonProperty("behind") public boolean behind() { return behind; }
    @JsonProperty("generation") public long generation() { return generation; }
    @JsonProperty("consistent") public boolean consistent() { return consistent; }
    @JsonProperty("currentAtMillis") public long currentAtMillis() { return currentAtMillis; }
    @JsonProperty("lastPromote") public PromoteReport lastPromote() { return lastPromote; }
    @JsonProperty("fenced") public FenceReport fenced() { return fenced; }

    private DiskMeta copy(Role r, Mode m, String s, boolean c, boolean b, long g, boolean cons, long cur,
                          PromoteReport p, FenceReport f) {
        return new DiskMeta(r, m, s, c, b, g, cons, cur, p, f);
    }

    public DiskMeta withRole(Role r) { return copy(r, mode, syncId, cleanShutdown, behind, generation, consistent, currentAtMillis, lastPromote, fenced); }
    public DiskMeta withMode(Mode m) { return copy(role, m, syncId, cleanShutdown, behind, generation, consistent, currentAtMillis, lastPromote, fenced); }
    public DiskMeta withSyncId(String s) { return copy(role, mode, s, cleanShutdown, behind, generation, consistent, currentAtMillis, lastPromote, fenced); }
    public DiskMeta withCleanShutdown(boolean c) { return copy(role, mode, syncId, c, behind, generation, consistent, currentAtMillis, lastPromote, fenced); }
    public DiskMeta withBehind(boolean b) { return copy(role, mode, syncId, cleanShutdown, b, generation, consistent, currentAtMillis, lastPromote, fenced); }
    public DiskMeta withGeneration(long g) { return copy(role, mode, syncId, cleanShutdown, behind, g, consistent, currentAtMillis, lastPromote, fenced); }
    public DiskMeta withConsistent(boolean cons) { return copy(role, mode, syncId, cleanShutdown, behind, generation, cons, currentAtMillis, lastPromote, fenced); }
    public DiskMeta withCurrentAtMillis(long t) { return copy(role, mode, syncId, cleanShutdown, behind, generation, consistent, t, lastPromote, fenced); }
    public DiskMeta withLastPromote(PromoteReport p) { return copy(role, mode, syncId, cleanShutdown, behind, generation, consistent, currentAtMillis, p, fenced); }
    public DiskMeta withFenced(FenceReport f) { return copy(role, mode, syncId, cleanShutdown, behind, generation, consistent, currentAtMillis, lastPromote, f); }

    public static Path fileFor(Path image) {
        return image.resolveSibling(image.getFileName() + ".wanmig.json");
    }

    public static DiskMeta load(Path file) throws IOException {
        if (!Files.exists(file)) {
            return null;
        }
        return JSON.readValue(file.toFile(), DiskMeta.class);
    }

    /**
     * Durable replace (file and directory fsync'd): the "inconsistent" mark must be on disk before
     * the first resync write.
     */
    public void save(Path file) throws IOException {
        Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
        try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                StandardOpenOption.TRUNCATE_EXISTING)) {
            ByteBuffer b = ByteBuffer.wrap(JSON.writeValueAsBytes(this));
            while (b.hasRemaining()) {
                ch.write(b);
            }
            ch.force(true);
        }
        Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        // The rename itself must survive power loss too, or the old file (say "consistent") comes back.
        Directories.syncParent(file);
    }
}
