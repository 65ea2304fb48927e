package org.wanmig.impl;

import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.onosproject.store.serializers.KryoNamespaces;
import org.onosproject.store.service.Serializer;
import org.onosproject.store.service.TestStorageService;
import org.wanmig.api.Migration;
import org.wanmig.api.MigrationId;
import org.wanmig.api.MigrationState;
import org.wanmig.api.TunnelLabels;

import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class DistributedMigrationStoreTest {
    private DistributedMigrationStore store;

    @BeforeEach
    void setUp() {
        store = new DistributedMigrationStore(new TestStorageService());
    }

    private static Migration failedMigration(long id) {
        return Migration.requested(MigrationId.of(id), "vs1", "dcA", "dcB", 2,
                        new TunnelLabels(1000, Map.of("site1", 1001, "site2", 1002)), 1_700_000_000_000L)
                .transition(MigrationState.PREPARING, 1_700_000_000_050L, "installing tunnel")
                .withError("PREPARING failed: of:0000000000000003 cookie 0x1: not connected")
                .transition(MigrationState.FAILED, 1_700_000_000_090L, "source routes restored");
    }

    @Test
    void recordSurvivesTheRoundTripThroughTheMapUnchanged() {
        Migration m = failedMigration(3);
        store.put(m);
        assertEquals(m, store.get(MigrationId.of(3)).orElseThrow());
        assertEquals(List.of(m), List.copyOf(store.all()));
    }

    @Test
    void putReplacesTheRecordOfTheSameId() {
        Migration requested = Migration.requested(MigrationId.of(1), "vs1", "dcA", "dcB", 2,
                new TunnelLabels(1000, Map.of()), 10);
        store.put(requested);
        Migration preparing = requested.transition(MigrationState.PREPARING, 20, "tunnel");
        store.put(preparing);
        assertEquals(1, store.all().size());
        assertEquals(MigrationState.PREPARING, store.get(MigrationId.of(1)).orElseThrow().state());
    }

    @Test
    void unknownIdIsEmpty() {
        assertTrue(store.get(MigrationId.of(77)).isEmpty());
    }

    @Test
    void idsIncreaseAndSkipIdsTheMapAlreadyHolds() {
        MigrationId first = store.nextId();
        MigrationId second = store.nextId();
        assertTrue(second.compareTo(first) > 0);
        // a record stored under the next id (e.g. by an instance whose counter was lost) is not reused
        store.put(failedMigration(second.value() + 1));
        MigrationId third = store.nextId();
        assertNotEquals(second.value() + 1, third.value());
        assertTrue(third.compareTo(second) > 0);
    }

    @Test
    void placementsAreKeptPerServer() {
        assertEquals(Map.of(), store.placements());
        store.setPlacement("vs1", "dcB");
        store.setPlacement("vs2", "dcA");
        store.setPlacement("vs1", "dcA");
        assertEquals(Map.of("vs1", "dcA", "vs2", "dcA"), store.placements());
    }

    /** The cluster's two instances share one storage service; the record they both write. */
    private static Migration migrating() {
        return Migration.requested(MigrationId.of(1), "vs1", "dcA", "dcB", 2, new TunnelLabels(1000, Map.of()), 10)
                .transition(MigrationState.MIGRATING, 20, "copying");
    }

    @Test
    void aNoteIsShownHereAtOnceAndReachesTheClusterWithTheNextPut() {
        SharedStorageService cluster = new SharedStorageService();
        DistributedMigrationStore leader = new DistributedMigrationStore(cluster);
        DistributedMigrationStore other = new DistributedMigrationStore(cluster);
        Migration migrating = migrating();
        leader.put(migrating);
        Migration noted = migrating.noted(30, "pre-copy pass 2: 65.7 MiB sent");

        leader.note(noted);
        assertEquals(noted, leader.get(noted.id()).orElseThrow(), "this instance shows the note at once");
        assertEquals(List.of(noted), List.copyOf(leader.all()));
        assertEquals(migrating, other.get(noted.id()).orElseThrow(), "not committed: another instance (a new"
                + " leader) resumes from the last put");

        Migration cutover = noted.transition(MigrationState.CUTOVER, 40, "redirect confirmed");
        leader.put(cutover);
        assertEquals(cutover, other.get(noted.id()).orElseThrow(), "the put carries the note to the cluster");
        assertEquals(cutover, leader.get(noted.id()).orElseThrow());

        leader.note(cutover.noted(50, "source demoted"));
        leader.remove(noted.id());
        assertTrue(leader.get(noted.id()).isEmpty() && leader.all().isEmpty(), "a removed record's note goes too");
        assertTrue(other.get(noted.id()).isEmpty());
    }

    @Test
    void aNoteIsNotShownOverWhatANewLeaderPutSince() {
        SharedStorageService cluster = new SharedStorageService();
        DistributedMigrationStore formerLeader = new DistributedMigrationStore(cluster);
        DistributedMigrationStore newLeader = new DistributedMigrationStore(cluster);
        Migration migrating = migrating();
        formerLeader.put(migrating);
        formerLeader.note(migrating.noted(30, "pre-copy pass 2"));   // then it lost the leadership

        Migration failed = migrating.withError("hypervisor lost").transition(MigrationState.FAILED, 40,
                "rolled back by the new leader");
        newLeader.put(failed);
        assertEquals(failed, formerLeader.get(failed.id()).orElseThrow(), "the new leader's put, not the old note");
        assertEquals(List.of(failed), List.copyOf(formerLeader.all()));
    }

    @Test
    void manyRecordsAllCome() {
        for (long id = 1; id <= 5; id++) {
            store.put(failedMigration(id));
        }
        Set<Long> ids = store.all().stream().map(m -> m.id().value()).collect(Collectors.toSet());
        assertEquals(Set.of(1L, 2L, 3L, 4L, 5L), ids);
    }

    @Test
    void theMapsHoldOnlyTypesTheOnosApiNamespaceKnows() {
        // what the store puts in its maps: a Long key and the record's JSON
        Serializer api = Serializer.using(KryoNamespaces.API);
        String json = new org.wanmig.codec.MigrationCodec().encode(failedMigration(1),
                new org.wanmig.codec.WanmigCodecContext(Map.of())).toString();
        assertEquals(json, api.decode(api.encode(json)));
        assertEquals(Long.valueOf(1), api.decode(api.encode(1L)));
    }
}
