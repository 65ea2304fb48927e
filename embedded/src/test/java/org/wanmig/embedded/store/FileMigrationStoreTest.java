package org.wanmig.embedded.store;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.wanmig.api.Migration;
import org.wanmig.api.MigrationState;
import org.wanmig.api.TunnelLabels;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** What a killed runtime finds when it starts again. */
class FileMigrationStoreTest {

    @Test
    void recordsPlacementsAndIdsSurviveARestart(@TempDir Path dir) {
        FileMigrationStore first = new FileMigrationStore(dir);
        Migration m = Migration.requested(first.nextId(), "vs1", "dcA", "dcB", 2,
                new TunnelLabels(1000, Map.of("site1", 1001)), 1000)
                .transition(MigrationState.PREPARING, 1010, "tunnel")
                .transition(MigrationState.MIGRATING, 1020, "copying");
        first.put(m);
        first.setPlacement("vs2", "dcB");

        FileMigrationStore second = new FileMigrationStore(dir);
        assertEquals(m, second.get(m.id()).orElseThrow());
        assertEquals(Map.of("vs2", "dcB"), second.placements());
        assertTrue(second.nextId().value() > m.id().value(), "ids are never handed out twice");
        assertFalse(Files.exists(dir.resolve("migrations.json.tmp")), "no half-written file left");
    }

    @Test
    void aMissingDirectoryIsCreated(@TempDir Path dir) {
        FileMigrationStore store = new FileMigrationStore(dir.resolve("a/b"));
        store.setPlacement("vs1", "dcA");
        assertTrue(Files.exists(dir.resolve("a/b/migrations.json")));
    }
}
