package org.wanmig.store;

import org.wanmig.api.Evacuation;
import org.wanmig.api.EvacuationId;
import org.wanmig.spi.EvacuationStore;

import java.util.ArrayList;
import java.util.Collection;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;

/** Evacuation records held in memory by one process; the base of the embedded runtime's file store. */
public class InMemoryEvacuationStore implements EvacuationStore {
    private final Map<EvacuationId, Evacuation> records = new ConcurrentHashMap<>();
    private final AtomicLong lastId = new AtomicLong();

    @Override
    public EvacuationId nextId() {
        return EvacuationId.of(lastId.incrementAndGet());
    }

    @Override
    public Optional<Evacuation> get(EvacuationId id) {
        return Optional.ofNullable(records.get(id));
    }

    /** By id, oldest first. */
    @Override
    public Collection<Evacuation> all() {
        List<Evacuation> all = new ArrayList<>(records.values());
        all.sort(Comparator.comparing(Evacuation::id));
        return all;
    }

    @Override
    public void put(Evacuation evacuation) {
        records.put(evacuation.id(), evacuation);
        lastId.accumulateAndGet(evacuation.id().value(), Math::max);
    }
}
