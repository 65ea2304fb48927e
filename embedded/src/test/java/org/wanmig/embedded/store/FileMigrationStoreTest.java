package org.wanmig.embedded.store;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.wanmig.api.Migration;
import org.wanmig.api.MigrationState;
import org.wanmig.api.TunnelLabels;
import org.wanmig.testing.Poll;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.Map;
import java.util.concurrent.Executor;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
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
        assertFalse(Files.exists(dir.resolve("migrations/" + m.id().value() + ".json.tmp")),
                "no half-written file left");
    }

    /** A new migration of vs1 from dcA to dcB, in {@code state}. */
    private static Migration vs1(FileMigrationStore store, MigrationState state, String detail) {
        return Migration.requested(store.nextId(), "vs1", "dcA", "dcB", 2,
                new TunnelLabels(1000, Map.of("site1", 1001)), 1000).transition(state, 1010, detail);
    }

    @Test
    void aRecordThatCannotBeReadStopsTheStoreNamingItsFileAndChangesNothing(@TempDir Path dir) throws Exception {
        FileMigrationStore first = new FileMigrationStore(dir);
        Migration m = vs1(first, MigrationState.MIGRATING, "copying");
        first.put(m);
        first.setPlacement("vs2", "dcB");
        Path good = dir.resolve("migrations/" + m.id().value() + ".json");
        Path cut = dir.resolve("migrations/77.json");
        String goodText = Files.readString(good);
        Map<String, String> cases = Map.of(
                "{\"id\": 77, \"serv", "Unexpected end-of-input",   // cut short
                "[1, 2]", "not a JSON object",
                "{\"id\": 0}", "migration id must be in");            // parsed, does not decode
        for (Map.Entry<String, String> c : cases.entrySet()) {
            Files.writeString(cut, c.getKey());
            UnreadableStateException e = assertThrows(UnreadableStateException.class, () -> new FileMigrationStore(dir));
            assertEquals(cut, e.file());
            assertTrue(e.getMessage().startsWith("cannot read " + cut + ": "), e.getMessage());
            assertTrue(e.getMessage().contains(c.getValue()), e.getMessage());
            assertFalse(e.getMessage().contains("\n"), "one line: " + e.getMessage());
            assertEquals(c.getKey(), Files.readString(cut), "left as it was");
            assertEquals(goodText, Files.readString(good));
        }
        Files.writeString(dir.resolve("placements.json"), "{\"vs2\": ");
        Files.delete(cut);
        UnreadableStateException e = assertThrows(UnreadableStateException.class, () -> new FileMigrationStore(dir));
        assertEquals(dir.resolve("placements.json"), e.file());
    }

    @Test
    void aPhaseIsVisibleOnlyOnceItIsOnDisk(@TempDir Path dir) throws Exception {
        FileMigrationStore store = new FileMigrationStore(dir);
        Migration m = vs1(store, MigrationState.PREPARING, "tunnel");
        store.put(m);
        // the next write of this record fails: a directory where its temporary file goes
        Files.createDirectory(store.recordsDir().resolve(m.id().value() + ".json.tmp"));
        Migration migrating = m.transition(MigrationState.MIGRATING, 1020, "copying");
        org.junit.jupiter.api.Assertions.assertThrows(java.io.UncheckedIOException.class, () -> store.put(migrating));
        assertEquals(MigrationState.PREPARING, store.get(m.id()).orElseThrow().state(),
                "a reader never sees a phase that a restart would not find");
        assertEquals(MigrationState.PREPARING, new FileMigrationStore(dir).get(m.id()).orElseThrow().state());
    }

    @Test
    void aNoteIsShownAtOnceAndWrittenWithTheNextPut(@TempDir Path dir) throws Exception {
        FileMigrationStore store = new FileMigrationStore(dir);
        Migration m = vs1(store, MigrationState.MIGRATING, "copying");
        store.put(m);
        Path file = store.recordsDir().resolve(m.id().value() + ".json");
        String onDisk = Files.readString(file);
        Migration noted = m.noted(1020, "pre-copy pass 2");
        store.note(noted);
        assertEquals(noted, store.get(m.id()).orElseThrow(), "readers see the note at once");
        assertEquals(onDisk, Files.readString(file), "no disk write for a note (the lifecycle does not wait)");
        store.put(noted.transition(MigrationState.CUTOVER, 1030, "switched"));
        Migration restarted = new FileMigrationStore(dir).get(m.id()).orElseThrow();
        assertEquals(MigrationState.CUTOVER, restarted.state());
        assertTrue(restarted.timeline().stream().anyMatch(e -> e.detail().equals("pre-copy pass 2")),
                "the note went to disk with the next put: " + restarted.timeline());
    }

    /** A migration of vs1 in MIGRATING, stored. */
    private static Migration migrating(FileMigrationStore store) {
        Migration m = vs1(store, MigrationState.MIGRATING, "copying");
        store.put(m);
        return m;
    }

    /** A store whose marked records are written when the test says so. */
    private static final class HeldWriter implements Executor {
        private final ArrayDeque<Runnable> queued = new ArrayDeque<>();

        @Override
        public synchronized void execute(Runnable r) {
            queued.add(r);
        }

        synchronized void runAll() {
            while (!queued.isEmpty()) {
                queued.poll().run();
            }
        }
    }

    @Test
    void aMarkIsShownAtOnceAndWrittenOffTheCallersThreadAsItIsThen(@TempDir Path dir) throws Exception {
        HeldWriter writer = new HeldWriter();
        FileMigrationStore store = new FileMigrationStore(dir, writer);
        Migration m = migrating(store);
        Path file = store.recordsDir().resolve(m.id().value() + ".json");
        String before = Files.readString(file);
        Migration inPause = m.withSwitchedInPause().noted(1020, "hypervisor paused");
        store.mark(inPause);
        assertEquals(inPause, store.get(m.id()).orElseThrow(), "readers see the mark at once");
        assertEquals(before, Files.readString(file), "the caller does not wait for the disk");
        Migration noted = inPause.noted(1025, "QEMU: 3 passes");
        store.note(noted);
        writer.runAll();
        Migration restarted = new FileMigrationStore(dir).get(m.id()).orElseThrow();
        assertTrue(restarted.switchedInPause(), "the mark reached the disk");
        assertEquals(noted, restarted, "with the note that followed it: the record as it was when written");
    }

    @Test
    void aMarkNeverOverwritesALaterPutNorARemove(@TempDir Path dir) throws Exception {
        HeldWriter writer = new HeldWriter();
        FileMigrationStore store = new FileMigrationStore(dir, writer);
        Migration m = migrating(store);
        store.mark(m.withSwitchedInPause());
        Migration cutover = m.withSwitchedInPause().transition(MigrationState.CUTOVER, 1030, "switched");
        store.put(cutover);
        writer.runAll();   // the mark's write comes after the put: it must not undo it
        assertEquals(cutover, new FileMigrationStore(dir).get(m.id()).orElseThrow());

        Migration other = migrating(store);
        store.mark(other.withSwitchedInPause());
        store.remove(other.id());
        writer.runAll();
        assertFalse(Files.exists(store.recordsDir().resolve(other.id().value() + ".json")),
                "a removed record is not written back by its mark");
        assertFalse(new FileMigrationStore(dir).get(other.id()).isPresent());
    }

    @Test
    void aMarkThatCannotBeWrittenStaysShownAndGoesToDiskWithTheNextPut(@TempDir Path dir) throws Exception {
        HeldWriter writer = new HeldWriter();
        FileMigrationStore store = new FileMigrationStore(dir, writer);
        Migration m = migrating(store);
        Path blocker = store.recordsDir().resolve(m.id().value() + ".json.tmp");
        Files.createDirectory(blocker);   // the mark's write fails: a directory where its temporary file goes
        store.mark(m.withSwitchedInPause());
        writer.runAll();                  // logged, not thrown into the writer thread
        assertTrue(store.get(m.id()).orElseThrow().switchedInPause());
        assertFalse(new FileMigrationStore(dir).get(m.id()).orElseThrow().switchedInPause());
        Files.delete(blocker);
        Migration cutover = m.withSwitchedInPause().transition(MigrationState.CUTOVER, 1030, "switched");
        store.put(cutover);
        assertEquals(cutover, new FileMigrationStore(dir).get(m.id()).orElseThrow());
    }

    @Test
    void aMarkStillWaitingIsWrittenByFlush(@TempDir Path dir) throws Exception {
        HeldWriter writer = new HeldWriter();   // never runs: the delayed write has not come yet
        FileMigrationStore store = new FileMigrationStore(dir, writer);
        Migration m = migrating(store);
        store.mark(m.withSwitchedInPause());
        assertFalse(new FileMigrationStore(dir).get(m.id()).orElseThrow().switchedInPause(), "not on disk yet");
        store.flush();   // the runtime's clean stop
        assertTrue(new FileMigrationStore(dir).get(m.id()).orElseThrow().switchedInPause(), "on disk after flush");
        writer.runAll();   // the delayed write, come after all: nothing left to write
        assertTrue(new FileMigrationStore(dir).get(m.id()).orElseThrow().switchedInPause());
    }

    @Test
    void aMarkReachesTheDiskOnItsOwn(@TempDir Path dir) throws Exception {
        FileMigrationStore store = new FileMigrationStore(dir);
        Migration m = migrating(store);
        store.mark(m.withSwitchedInPause());
        Poll.until("the marked record on disk",
                () -> new FileMigrationStore(dir).get(m.id()).orElseThrow().switchedInPause());
    }

    @Test
    void aTransitionRewritesOnlyItsOwnMigrationsFile(@TempDir Path dir) throws Exception {
        FileMigrationStore store = new FileMigrationStore(dir);
        Migration a = Migration.requested(store.nextId(), "vs1", "dcA", "dcB", 2,
                new TunnelLabels(1000, Map.of("site1", 1001)), 1000);
        Migration b = Migration.requested(store.nextId(), "vs2", "dcA", "dcB", 3,
                new TunnelLabels(1002, Map.of("site1", 1003)), 1000);
        store.put(a);
        store.put(b);
        Path fileA = store.recordsDir().resolve(a.id().value() + ".json");
        Path fileB = store.recordsDir().resolve(b.id().value() + ".json");
        String before = Files.readString(fileA);
        java.nio.file.attribute.FileTime touched = Files.getLastModifiedTime(fileA);
        Thread.sleep(20);
        store.put(b.transition(MigrationState.PREPARING, 1010, "tunnel"));
        assertEquals(before, Files.readString(fileA));
        assertEquals(touched, Files.getLastModifiedTime(fileA), "the other record is not rewritten");
        assertTrue(Files.readString(fileB).contains("PREPARING"));

        store.remove(a.id());
        assertFalse(Files.exists(fileA));
        FileMigrationStore again = new FileMigrationStore(dir);
        assertTrue(again.get(a.id()).isEmpty(), "a pruned record stays gone");
        assertTrue(again.nextId().value() > b.id().value());
    }

    @Test
    void theSingleFileOfAnOlderRuntimeIsSplit(@TempDir Path dir) throws Exception {
        Files.writeString(dir.resolve("migrations.json"), "{\"migrations\":[{\"id\":7,\"server\":\"vs1\","
                + "\"source\":\"dcA\",\"destination\":\"dcB\",\"destinationPort\":2,\"labels\":{\"forward\":"
                + "1000,\"reverse\":{\"site1\":1001}},\"timeline\":[{\"state\":\"REQUESTED\",\"epochMillis\":1,"
                + "\"detail\":\"\"}]}],\"placements\":{\"vs2\":\"dcB\"}}");
        FileMigrationStore store = new FileMigrationStore(dir);
        assertEquals("vs1", store.get(org.wanmig.api.MigrationId.of(7)).orElseThrow().server());
        assertEquals(Map.of("vs2", "dcB"), store.placements());
        assertFalse(Files.exists(dir.resolve("migrations.json")));
        assertTrue(Files.exists(store.recordsDir().resolve("7.json")));
    }

    @Test
    void aMissingDirectoryIsCreated(@TempDir Path dir) {
        FileMigrationStore store = new FileMigrationStore(dir.resolve("a/b"));
        store.setPlacement("vs1", "dcA");
        assertTrue(Files.exists(dir.resolve("a/b/placements.json")));
    }
}
