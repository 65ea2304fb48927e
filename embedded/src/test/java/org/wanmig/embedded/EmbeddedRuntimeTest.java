package org.wanmig.embedded;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.wanmig.api.Migration;
import org.wanmig.api.MigrationState;
import org.wanmig.api.TunnelLabels;
import org.wanmig.embedded.store.StateDirInUseException;
import org.wanmig.embedded.store.UnreadableStateException;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The runtime's own lifecycle, built but not started: no port is bound, no switch awaited. */
class EmbeddedRuntimeTest {

    private static EmbeddedRuntime runtime(Path state) throws Exception {
        return new EmbeddedRuntime(RuntimeOptions.parse(new String[] {"--config",
                Path.of("src/test/resources/openflow/two-dc.json").toString(), "--state-dir", state.toString(),
                "--openflow-port", "0", "--http-port", "0"}));
    }

    @Test
    void closingWritesTheMarkStillWaitingSoTheRestartedRuntimeSeesIt(@TempDir Path state) throws Exception {
        EmbeddedRuntime first = runtime(state);
        Migration m = Migration.requested(first.store().nextId(), "vs1", "dcA", "dcB", 2,
                new TunnelLabels(1000, Map.of("site1", 1001)), 1000)
                .transition(MigrationState.PREPARING, 1010, "tunnel")
                .transition(MigrationState.MIGRATING, 1020, "copying");
        first.store().put(m);
        // what the pause hook leaves: shown at once, its write waiting out the store's delay (500 ms;
        // a close slower than that could not tell a flush from the delayed write, but never fails)
        first.store().mark(m.withSwitchedInPause());
        first.close();

        EmbeddedRuntime second = runtime(state);
        try {
            Migration found = second.store().get(m.id()).orElseThrow();
            assertTrue(found.switchedInPause(), "the marked record on disk at close: " + found);
            assertEquals(MigrationState.MIGRATING, found.state());
        } finally {
            second.close();
        }
    }

    @Test
    void aSecondRuntimeOnTheSameStateDirectoryIsRefusedAndTheFirstKeepsItsRecords(@TempDir Path state)
            throws Exception {
        EmbeddedRuntime first = runtime(state);
        try {
            Migration m = Migration.requested(first.store().nextId(), "vs1", "dcA", "dcB", 2,
                    new TunnelLabels(1000, Map.of("site1", 1001)), 1000);
            first.store().put(m);
            StateDirInUseException refused = assertThrows(StateDirInUseException.class, () -> runtime(state));
            assertTrue(refused.getMessage().contains("in use by another wanmig runtime (pid "
                    + ProcessHandle.current().pid() + ")"), refused.getMessage());
            assertEquals(m, first.store().get(m.id()).orElseThrow());
        } finally {
            first.close();
        }
        EmbeddedRuntime next = runtime(state);   // the lock goes with the runtime that held it
        next.close();
    }

    @Test
    void aStartStoppedByARecordItCannotReadLeavesTheStateDirectoryFree(@TempDir Path state) throws Exception {
        Path record = state.resolve("migrations").resolve("9.json");
        Files.createDirectories(record.getParent());
        Files.writeString(record, "{\"id\": 9, \"serv");
        UnreadableStateException e = assertThrows(UnreadableStateException.class, () -> runtime(state));
        assertEquals(record, e.file());
        Files.delete(record);   // mended: the next start in this JVM takes the directory
        EmbeddedRuntime next = runtime(state);
        next.close();
    }
}
