package org.wanmig.impl;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.onosproject.store.serializers.KryoNamespaces;
import org.onosproject.store.service.AtomicCounter;
import org.onosproject.store.service.ConsistentMap;
import org.onosproject.store.service.Serializer;
import org.onosproject.store.service.StorageService;
import org.onosproject.store.service.Versioned;
import org.wanmig.api.Migration;
import org.wanmig.api.MigrationId;
import org.wanmig.codec.MigrationCodec;
import org.wanmig.codec.WanmigCodecContext;
import org.wanmig.spi.MigrationStore;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.stream.Collectors;

/**
 * Migration records and placements in the cluster's consistent store, so whichever instance
 * becomes leader resumes from them. Records are kept as the REST JSON of {@link MigrationCodec}:
 * the maps hold only Longs and Strings, so none of our classes needs a Kryo registration, and a
 * record survives an upgrade of the app's classes.
 * <p>
 * A {@link #note} (progress within a phase) is held by this instance and shown by its reads, and
 * reaches the map with the record's next {@link #put}: one consensus commit per phase, not one per
 * progress note on the lifecycle thread (QEMU's last pre-copy pass is noted just before the pause
 * hook, which waited behind the file store's flush of it). A new leader resumes from the last put,
 * as from a file store whose runtime died.
 */
public final class DistributedMigrationStore implements MigrationStore {
    static final String RECORDS = "wanmig-migrations";
    static final String PLACEMENTS = "wanmig-placements";
    static final String IDS = "wanmig-migration-ids";

    private final ConsistentMap<Long, String> records;
    private final ConsistentMap<String, String> placements;
    private final AtomicCounter ids;
    private final MigrationCodec codec = new MigrationCodec();
    private final WanmigCodecContext context = new WanmigCodecContext(Map.of());
    private final ObjectMapper mapper = context.mapper();
    /** Noted records not yet in the map (this instance's lifecycle thread writes, any thread reads). */
    private final Map<Long, Migration> noted = new ConcurrentHashMap<>();

    public DistributedMigrationStore(StorageService storage) {
        Serializer serializer = Serializer.using(KryoNamespaces.API);
        this.records = storage.<Long, String>consistentMapBuilder().withName(RECORDS)
                .withSerializer(serializer).build();
        this.placements = storage.<String, String>consistentMapBuilder().withName(PLACEMENTS)
                .withSerializer(serializer).build();
        this.ids = storage.atomicCounterBuilder().withName(IDS).build().asAtomicCounter();
    }

    @Override
    public MigrationId nextId() {
        long id = ids.incrementAndGet();
        // the counter and the map are separate primitives: never reuse an id the map already holds
        while (records.containsKey(id)) {
            id = ids.incrementAndGet();
        }
        return MigrationId.of(id);
    }

    @Override
    public Optional<Migration> get(MigrationId id) {
        return Optional.ofNullable(Versioned.valueOrNull(records.get(id.value())))
                .map(json -> withNote(id.value(), decode(json)));
    }

    @Override
    public Collection<Migration> all() {
        return records.entrySet().stream().map(e -> withNote(e.getKey(), decode(e.getValue().value())))
                .collect(Collectors.toUnmodifiableList());
    }

    /**
     * The held note if it only adds to the committed record (same phase, its timeline continuing
     * the record's); else the record. An instance that noted and then lost the leadership must not
     * show its note over what the new leader has put since.
     */
    private Migration withNote(long id, Migration committed) {
        Migration held = noted.get(id);
        if (held == null) {
            return committed;
        }
        List<?> base = committed.timeline();
        List<?> more = held.timeline();
        if (held.state() == committed.state() && more.size() >= base.size()
                && more.subList(0, base.size()).equals(base)) {
            return held;
        }
        noted.remove(id, held);
        return committed;
    }

    @Override
    public void put(Migration migration) {
        long id = migration.id().value();
        // shown only once written; a held note (older) is dropped after: it is in this record
        records.put(id, codec.encode(migration, context).toString());
        noted.remove(id);
    }

    /** Held here and shown by this instance's reads; in the map with the record's next put. */
    @Override
    public void note(Migration migration) {
        noted.put(migration.id().value(), migration);
    }

    @Override
    public void remove(MigrationId id) {
        noted.remove(id.value());
        records.remove(id.value());
    }

    @Override
    public Map<String, String> placements() {
        return Map.copyOf(placements.asJavaMap());
    }

    @Override
    public void setPlacement(String server, String dataCenter) {
        placements.put(server, dataCenter);
    }

    private Migration decode(String json) {
        try {
            return codec.decode((ObjectNode) mapper.readTree(json), context);
        } catch (IOException e) {
            throw new UncheckedIOException("corrupt migration record: " + json, e);
        }
    }
}
