package org.wanmig.store;

import org.wanmig.api.Migration;
import org.wanmig.api.MigrationId;
import org.wanmig.spi.MigrationStore;

import java.util.ArrayList;
import java.util.Collection;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;

/** Records held in memory by one process; the base of the embedded runtime's file store. */
public class InMemoryMigrationStore implements MigrationStore {
    private final Map<MigrationId, Migration> records = new ConcurrentHashMap<>();
    private final Map<String, String> placements = new ConcurrentHashMap<>();
    private final AtomicLong lastId = new AtomicLong();

    @Override
    public MigrationId nextId() {
        return MigrationId.of(lastId.incrementAndGet());
    }

    @Override
    public Optional<Migration> get(MigrationId id) {
        return Optional.ofNullable(records.get(id));
    }

    @Override
    public Collection<Migration> all() {
        return new ArrayList<>(records.values());
    }

    @Override
    public void put(Migration migration) {
        records.put(migration.id(), migration);
        lastId.accumulateAndGet(migration.id().value(), Math::max);
    }

    @Override
    public void remove(MigrationId id) {
        records.remove(id); // lastId stays: ids are never handed out twice
    }

    @Override
    public Map<String, String> placements() {
        return Map.copyOf(placements);
    }

    @Override
    public void setPlacement(String server, String dataCenter) {
        placements.put(server, dataCenter);
    }
}
