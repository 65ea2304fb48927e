package org.wanmig.impl;

import org.onosproject.store.service.AsyncAtomicCounter;
import org.onosproject.store.service.AtomicCounterBuilder;
import org.onosproject.store.service.ConsistentMap;
import org.onosproject.store.service.ConsistentMapBuilder;
import org.onosproject.store.service.TestConsistentMap;
import org.onosproject.store.service.TestStorageService;

import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The cluster's storage as several instances see it: unlike {@link TestStorageService}, which
 * builds a fresh primitive on every build, a map or counter of a given name is the same object for
 * every instance built on this service.
 */
final class SharedStorageService extends TestStorageService {
    private final Map<String, ConsistentMap<?, ?>> maps = new ConcurrentHashMap<>();
    private final Map<String, AsyncAtomicCounter> counters = new ConcurrentHashMap<>();

    @Override
    public <K, V> ConsistentMapBuilder<K, V> consistentMapBuilder() {
        return new TestConsistentMap.Builder<K, V>() {
            @Override
            @SuppressWarnings("unchecked")
            public ConsistentMap<K, V> build() {
                return (ConsistentMap<K, V>) maps.computeIfAbsent(name(), n -> super.build());
            }
        };
    }

    @Override
    public AtomicCounterBuilder atomicCounterBuilder() {
        TestStorageService fresh = new TestStorageService();
        return new AtomicCounterBuilder() {
            @Override
            public AsyncAtomicCounter build() {
                return counters.computeIfAbsent(name(), n -> fresh.atomicCounterBuilder().withName(n).build());
            }
        };
    }
}
