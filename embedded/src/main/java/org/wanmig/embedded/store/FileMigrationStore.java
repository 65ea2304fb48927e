package org.wanmig.embedded.store;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.wanmig.api.Migration;
import org.wanmig.api.MigrationId;
import org.wanmig.codec.MigrationCodec;
import org.wanmig.codec.WanmigCodecContext;
import org.wanmig.store.InMemoryMigrationStore;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executor;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;

/**
 * Migration records and placements on local disk, so a runtime killed at any instant restarts from
 * the last transition. One file per migration ({@code migrations/<id>.json}) and one for the
 * placements: a transition rewrites only its own migration's file (write, fsync, atomic rename),
 * never the whole history. A {@code migrations.json} of an older runtime is read once and split.
 */
public final class FileMigrationStore extends InMemoryMigrationStore {
    private static final Logger log = LoggerFactory.getLogger(FileMigrationStore.class);
    private final Path dir;
    private final Path records;
    private final Path placementsFile;
    private final MigrationCodec codec = new MigrationCodec();
    private final WanmigCodecContext context = new WanmigCodecContext(Map.of());
    private final ObjectMapper mapper = context.mapper();
    /** Taken for every record file's write or delete, after this store's own lock where both are. */
    private final Object fileLock = new Object();
    /** Marked records not yet on disk. */
    private final Set<MigrationId> unwritten = ConcurrentHashMap.newKeySet();
    /** Writes marked records (one thread: they reach the disk in the order they were marked). */
    private final Executor writer;

    /**
     * How long a marked record waits for its write. The mark comes inside a guest's pause, and the
     * record's next put (CUTOVER or a rollback, right after the pause hook) writes it anyway; a
     * write at once competed with the hook for the CPU (2-4 ms of encoding and a flush inside a
     * 10-80 ms hook on the testbed's two cores). It is written on its own only if no put follows.
     */
    static final long MARK_WRITE_DELAY_MS = 500;

    public FileMigrationStore(Path stateDir) {
        this(stateDir, CompletableFuture.delayedExecutor(MARK_WRITE_DELAY_MS, TimeUnit.MILLISECONDS,
                Executors.newSingleThreadExecutor(r -> {
                    Thread t = new Thread(r, "wanmig-store-writer");
                    t.setDaemon(true);
                    return t;
                })));
    }

    /** @param writer where marked records are written (tests run it by hand) */
    FileMigrationStore(Path stateDir, Executor writer) {
        this.writer = writer;
        this.dir = stateDir;
        this.records = stateDir.resolve("migrations");
        this.placementsFile = stateDir.resolve("placements.json");
        try {
            Files.createDirectories(records);
            try (DirectoryStream<Path> files = Files.newDirectoryStream(records, "*.json")) {
                for (Path f : files) {
                    super.put(AtomicJsonFile.read(mapper, f, node -> codec.decode(node, context)));
                }
            }
            if (Files.exists(placementsFile)) {
                loadPlacements(AtomicJsonFile.read(mapper, placementsFile, node -> node));
            }
            Path legacy = stateDir.resolve("migrations.json");
            if (Files.exists(legacy)) {
                List<Migration> all = new ArrayList<>();
                JsonNode root = AtomicJsonFile.read(mapper, legacy, node -> {
                    node.path("migrations").forEach(m -> all.add(codec.decode((ObjectNode) m, context)));
                    return node;
                });
                all.forEach(this::put);
                loadPlacements(root.path("placements"));
                savePlacements();
                Files.delete(legacy);
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read the records in " + stateDir, e);
        }
    }

    /** The directory holding one file per migration. */
    public Path recordsDir() {
        return records;
    }

    public Path placementsFile() {
        return placementsFile;
    }

    private void loadPlacements(JsonNode node) {
        Iterator<Map.Entry<String, JsonNode>> it = node.fields();
        while (it.hasNext()) {
            Map.Entry<String, JsonNode> e = it.next();
            super.setPlacement(e.getKey(), e.getValue().asText());
        }
    }

    @Override
    public synchronized void put(Migration migration) {
        synchronized (fileLock) {
            AtomicJsonFile.write(mapper, file(migration.id()), codec.encode(migration, context));
            // in memory only once on disk: a client that saw a phase (GET /migrations) and then kills
            // the runtime finds that phase after the restart, not the one before it
            super.put(migration);
            unwritten.remove(migration.id());
        }
    }

    /**
     * Shown at once, written and flushed by a thread of its own {@link #MARK_WRITE_DELAY_MS} later
     * unless a put of the same record wrote it first: the lifecycle thread, which runs the pause
     * hook's completion, waited 3-28 ms for this disk when the pause's record was a put, and 1-25
     * ms for a write without flush. A later put of the same record is never overtaken.
     */
    @Override
    public synchronized void mark(Migration migration) {
        super.put(migration);
        unwritten.add(migration.id());
        writer.execute(() -> writeMarked(migration.id()));
    }

    /** The record as it is now (a note may have followed the mark), unless a put wrote it meanwhile. */
    private void writeMarked(MigrationId id) {
        synchronized (fileLock) {
            if (!unwritten.remove(id)) {
                return;
            }
            try {
                get(id).ifPresent(m -> AtomicJsonFile.write(mapper, file(id), codec.encode(m, context)));
            } catch (UncheckedIOException e) {
                // on disk with the record's next put, as a note is; nothing else waits for this write
                log.warn("migration {}: marked record not written: {}", id, e.getMessage());
            }
        }
    }

    /**
     * Writes now every marked record whose write is still waiting (the runtime's clean stop: the
     * writer's delay would otherwise outlive the process).
     */
    public void flush() {
        for (MigrationId id : Set.copyOf(unwritten)) {
            writeMarked(id);
        }
    }

    /** Shown at once, on disk with the record's next put (or never, if the runtime dies first). */
    @Override
    public synchronized void note(Migration migration) {
        super.put(migration);
    }

    @Override
    public synchronized void remove(MigrationId id) {
        synchronized (fileLock) {
            super.remove(id);
            unwritten.remove(id);
            try {
                Files.deleteIfExists(file(id));
            } catch (IOException e) {
                throw new UncheckedIOException("cannot delete the record of migration " + id, e);
            }
        }
    }

    private Path file(MigrationId id) {
        return records.resolve(id.value() + ".json");
    }

    @Override
    public synchronized void setPlacement(String server, String dataCenter) {
        super.setPlacement(server, dataCenter);
        savePlacements();
    }

    private void savePlacements() {
        ObjectNode placements = mapper.createObjectNode();
        placements().forEach(placements::put);
        AtomicJsonFile.write(mapper, placementsFile, placements);
    }

    @Override
    public String toString() {
        return "FileMigrationStore{" + dir + "}";
    }
}
