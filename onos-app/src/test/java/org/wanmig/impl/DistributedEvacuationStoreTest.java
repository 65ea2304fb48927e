package org.wanmig.impl;

import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.onosproject.store.serializers.KryoNamespaces;
import org.onosproject.store.service.Serializer;
import org.wanmig.api.Evacuation;
import org.wanmig.api.EvacuationId;
import org.wanmig.api.EvacuationState;
import org.wanmig.codec.EvacuationCodec;
import org.wanmig.codec.WanmigCodecContext;

import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.wanmig.testing.EvacuationSamples.running;

class DistributedEvacuationStoreTest {
    private final SharedStorageService storage = new SharedStorageService();
    private DistributedEvacuationStore store;

    @BeforeEach
    void setUp() {
        store = new DistributedEvacuationStore(storage);
    }

    @Test
    void recordSurvivesTheRoundTripThroughTheMapUnchanged() {
        Evacuation e = running(3);
        store.put(e);
        assertEquals(e, store.get(EvacuationId.of(3)).orElseThrow());
        assertEquals(List.of(e), List.copyOf(store.all()));
    }

    @Test
    void putReplacesTheRecordOfTheSameId() {
        store.put(running(1));
        store.put(running(1).transition(EvacuationState.ABORTING, 1_700_000_001_000L, "abort requested"));
        assertEquals(1, store.all().size());
        assertEquals(EvacuationState.ABORTING, store.get(EvacuationId.of(1)).orElseThrow().state());
    }

    @Test
    void unknownIdIsEmpty() {
        assertTrue(store.get(EvacuationId.of(77)).isEmpty());
    }

    @Test
    void idsIncreaseAndSkipIdsTheMapAlreadyHolds() {
        EvacuationId first = store.nextId();
        EvacuationId second = store.nextId();
        assertTrue(second.compareTo(first) > 0);
        store.put(running(second.value() + 1));
        EvacuationId third = store.nextId();
        assertNotEquals(second.value() + 1, third.value());
        assertTrue(third.compareTo(second) > 0);
    }

    @Test
    void allComeOldestFirst() {
        for (long id : new long[]{4, 2, 5, 1, 3}) {
            store.put(running(id));
        }
        assertEquals(List.of(1L, 2L, 3L, 4L, 5L),
                store.all().stream().map(e -> e.id().value()).collect(Collectors.toList()));
    }

    @Test
    void anotherInstanceOnTheSameStorageSeesTheRecord() {
        // what a new leader does: a store of its own over the cluster's primitives
        store.put(running(9));
        DistributedEvacuationStore other = new DistributedEvacuationStore(storage);
        assertEquals(running(9), other.get(EvacuationId.of(9)).orElseThrow());
        assertNotEquals(9, other.nextId().value());
    }

    @Test
    void onOnosTestStorageEveryRecordIsKept() {
        DistributedEvacuationStore plain = new DistributedEvacuationStore(new org.onosproject.store.service.TestStorageService());
        plain.put(running(1));
        plain.put(running(2));
        assertEquals(List.of(running(1), running(2)), List.copyOf(plain.all()));
    }

    @Test
    void theMapHoldsOnlyTypesTheOnosApiNamespaceKnows() {
        Serializer api = Serializer.using(KryoNamespaces.API);
        String json = new EvacuationCodec().encode(running(1), new WanmigCodecContext(Map.of())).toString();
        assertEquals(json, api.decode(api.encode(json)));
    }
}
