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
import java.util.Map;
import java.util.Optional;
import java.util.stream.Collectors;

/**
 * Migration records and placements in the cluster's consistent store, so whichever instance
 * becomes leader resumes from them. Records are kept as the REST JSON of {@link MigrationCodec}:
 * the maps hold only Longs and Strings, so none of our classes needs a Kryo registration, and a
 * record survives an upgrade of the app's classes.
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
        return Optional.ofNullable(Versioned.valueOrNull(records.get(id.value()))).map(this::decode);
    }

    @Override
    public Collection<Migration> all() {
        return records.values().stream().map(Versioned::value).map(this::decode).collect(Collectors.toList());
    }

    @Override
    public void put(Migration migration) {
        records.put(migration.id().value(), codec.encode(migration, context).toString());
    }

    @Override
    public void remove(MigrationId id) {
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
