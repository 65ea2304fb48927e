package org.wanmig.embedded.store;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.wanmig.api.Evacuation;
import org.wanmig.api.EvacuationId;
import org.wanmig.api.EvacuationState;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Collectors;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.wanmig.testing.EvacuationSamples.running;

class FileEvacuationStoreTest {
    @TempDir
    Path dir;

    @Test
    void aRestartedStoreReadsEveryRecordBack() {
        FileEvacuationStore store = new FileEvacuationStore(dir);
        store.put(running(1));
        Evacuation aborting = running(2).transition(EvacuationState.ABORTING, 1_700_000_001_000L, "abort requested");
        store.put(aborting);
        FileEvacuationStore restarted = new FileEvacuationStore(dir);
        assertEquals(List.of(running(1), aborting), List.copyOf(restarted.all()));
        assertEquals(EvacuationId.of(3), restarted.nextId());
    }

    @Test
    void oneFilePerRecordAndNoTemporaryFileLeft() throws Exception {
        FileEvacuationStore store = new FileEvacuationStore(dir);
        store.put(running(1));
        store.put(running(1).transition(EvacuationState.ABORTING, 1_700_000_001_000L, "abort requested"));
        store.put(running(2));
        try (Stream<Path> files = Files.list(dir.resolve("evacuations"))) {
            assertEquals(List.of("1.json", "2.json"), files.map(p -> p.getFileName().toString()).sorted()
                    .collect(Collectors.toList()));
        }
        assertTrue(Files.readString(store.file(1)).contains("ABORTING"));
        assertEquals(EvacuationState.ABORTING, new FileEvacuationStore(dir).get(EvacuationId.of(1)).orElseThrow().state());
    }

    @Test
    void aTemporaryFileOfAnInterruptedWriteIsIgnored() throws Exception {
        FileEvacuationStore store = new FileEvacuationStore(dir);
        store.put(running(1));
        // a crash between write and rename leaves 1.json.tmp: the last renamed record is what counts
        Files.writeString(dir.resolve("evacuations").resolve("1.json.tmp"), "{\"id\": 1, \"trunc");
        assertEquals(running(1), new FileEvacuationStore(dir).get(EvacuationId.of(1)).orElseThrow());
    }

    @Test
    void aCorruptRecordIsReportedNotSkipped() throws Exception {
        Files.createDirectories(dir.resolve("evacuations"));
        Path corrupt = dir.resolve("evacuations").resolve("4.json");
        Files.writeString(corrupt, "[1, 2]");
        UnreadableStateException e = assertThrows(UnreadableStateException.class, () -> new FileEvacuationStore(dir));
        assertEquals(corrupt, e.file());
        assertEquals("cannot read " + corrupt + ": not a JSON object", e.getMessage());
    }
}
