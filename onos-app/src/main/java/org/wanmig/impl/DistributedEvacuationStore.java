package org.wanmig.impl;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.onosproject.store.serializers.KryoNamespaces;
import org.onosproject.store.service.AtomicCounter;
import org.onosproject.store.service.ConsistentMap;
import org.onosproject.store.service.Serializer;
import org.onosproject.store.service.StorageService;
import org.onosproject.store.service.Versioned;
import org.wanmig.api.Evacuation;
import org.wanmig.api.EvacuationId;
import org.wanmig.codec.EvacuationCodec;
import org.wanmig.codec.WanmigCodecContext;
import org.wanmig.spi.EvacuationStore;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.Collection;
import java.util.Comparator;
import java.util.Map;
import java.util.Optional;
import java.util.stream.Collectors;

/**
 * Evacuation records in the cluster's consistent store, so a new leader's runner goes on with an
 * evacuation. Like {@link DistributedMigrationStore}, records are kept as the codec's JSON
 * ({@link EvacuationCodec}): the map holds Longs and Strings only, no Kryo registration needed.
 */
public final class DistributedEvacuationStore implements EvacuationStore {
    static final String RECORDS = "wanmig-evacuations";
    static final String IDS = "wanmig-evacuation-ids";

    private final ConsistentMap<Long, String> records;
    private final AtomicCounter ids;
    private final EvacuationCodec codec = new EvacuationCodec();
    private final WanmigCodecContext context = new WanmigCodecContext(Map.of());
    private final ObjectMapper mapper = context.mapper();

    public DistributedEvacuationStore(StorageService storage) {
        this.records = storage.<Long, String>consistentMapBuilder().withName(RECORDS)
                .withSerializer(Serializer.using(KryoNamespaces.API)).build();
        this.ids = storage.atomicCounterBuilder().withName(IDS).build().asAtomicCounter();
    }

    @Override
    public EvacuationId nextId() {
        long id = ids.incrementAndGet();
        // the counter and the map are separate primitives: never reuse an id the map already holds
        while (records.containsKey(id)) {
            id = ids.incrementAndGet();
        }
        return EvacuationId.of(id);
    }

    @Override
    public Optional<Evacuation> get(EvacuationId id) {
        return Optional.ofNullable(Versioned.valueOrNull(records.get(id.value()))).map(this::decode);
    }

    /** By id, oldest first. */
    @Override
    public Collection<Evacuation> all() {
        return records.values().stream().map(Versioned::value).map(this::decode)
                .sorted(Comparator.comparing(Evacuation::id)).collect(Collectors.toList());
    }

    @Override
    public void put(Evacuation evacuation) {
        records.put(evacuation.id().value(), codec.encode(evacuation, context).toString());
    }

    private Evacuation decode(String json) {
        try {
            return codec.decode((ObjectNode) mapper.readTree(json), context);
        } catch (IOException e) {
            throw new UncheckedIOException("corrupt evacuation record: " + json, e);
        }
    }
}
