package org.wanmig.lifecycle;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.wanmig.api.AgentDiskStatus;
import org.wanmig.api.Migration;
import org.wanmig.api.MigrationId;
import org.wanmig.api.MigrationState;
import org.wanmig.config.WanTopologyParser;
import org.wanmig.api.WanmigException;
import org.wanmig.planner.Cookies;
import org.wanmig.store.InMemoryMigrationStore;
import org.wanmig.testing.FakeNetwork;
import org.wanmig.testing.FakeReplication;
import org.wanmig.testing.Poll;

import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.wanmig.api.MigrationState.COMPLETED;
import static org.wanmig.api.MigrationState.CUTOVER;
import static org.wanmig.api.MigrationState.FAILED;
import static org.wanmig.api.MigrationState.MIGRATING;

/** The cutover inside the hypervisor's pause (QEMU's pre-switchover), before the server resumes. */
class PauseSwitchoverTest {
    private LifecycleFixture f;

    @AfterEach
    void stop() {
        if (f != null) {
            f.close();
        }
    }

    private CompletableFuture<Void> pause(MigrationId id) {
        return f.manager.preSwitchover(id, "paused before switchover: 128 MiB sent").toCompletableFuture();
    }

    @Test
    void rolesAndRedirectAreInPlaceBeforeTheHypervisorGoesOn() throws Exception {
        f = LifecycleFixture.start();
        MigrationId id = f.migrating("vs1");
        int before = f.network.installs().size();

        pause(id).get(5, TimeUnit.SECONDS);
        // the roles and the redirect are in place when the hypervisor goes on; the record follows
        Migration inPause = f.awaitState(id, CUTOVER);
        assertTrue(inPause.timeline().stream().anyMatch(e -> e.state() == CUTOVER
                && e.detail().startsWith("inside the hypervisor's pause: storage primary now dcB")), f.describe(id));
        assertEquals(List.of("sync vs1 dcA>dcB", "takeover vs1 dcA>dcB"), List.copyOf(f.replication.calls()).subList(0, 2),
                "the destination took over inside the pause, in one call");
        Poll.until("the source's copy demoted after the pause",
                () -> f.replication.calls().contains("retire vs1 dcA"));
        Poll.until("the demote noted", () -> f.record(id).timeline().stream()
                .anyMatch(e -> e.detail().startsWith("storage at dcA demoted after the pause")));
        assertTrue(f.network.installs().get(before).stream().allMatch(r ->
                Cookies.ofMigration(r.id().value(), id.value())
                        && r.deviceId().equals(f.topology.dataCenter("dcA").orElseThrow().pe())),
                "the redirect at PE_A is confirmed before the hypervisor continues");

        f.manager.completed(id, "QEMU completed: downtime 40 ms");
        Migration done = f.awaitState(id, COMPLETED);
        assertTrue(done.hypervisorReported() && done.switchedInPause(), "the report and the pause are stored");
        assertTrue(done.plan() != null, "timeline notes keep the stored plan");
        assertEquals(List.of("sync vs1 dcA>dcB", "takeover vs1 dcA>dcB", "retire vs1 dcA"), f.replication.calls(),
                "the route update does not flip the roles again");
        assertTrue(done.timeline().stream().anyMatch(e -> e.detail().contains("QEMU completed: downtime 40 ms")));
        f.assertAtDestination(id);
    }

    @Test
    void theRedirectIsPreparedAtMigratingAndSentBeforeTheTakeOverIsAsked() throws Exception {
        f = LifecycleFixture.start();
        MigrationId id = f.migrating("vs1");
        List<org.onosproject.net.flow.FlowRule> redirects = f.record(id).plan().redirects();
        assertFalse(redirects.isEmpty());
        assertEquals(List.of(redirects), f.network.prepares(), "the redirect announced once, before the pause");
        int before = f.network.installs().size();
        java.util.concurrent.atomic.AtomicInteger installsAtTakeOver = new java.util.concurrent.atomic.AtomicInteger(-1);
        f.replication.onTakeOver(() -> installsAtTakeOver.set(f.network.installs().size()));

        pause(id).get(5, TimeUnit.SECONDS);
        assertEquals(before + 1, installsAtTakeOver.get(), "the redirect was sent before the take-over was asked");
        assertEquals(redirects, f.network.installs().get(before));
    }

    /** A store whose disk is slow once {@code slow} is set: a put waits until it is cleared. */
    private static final class SlowDiskStore extends InMemoryMigrationStore {
        final CountDownLatch diskBack = new CountDownLatch(1);
        final List<String> marks = new CopyOnWriteArrayList<>();
        volatile boolean slow;

        @Override
        public void put(Migration m) {
            if (slow) {
                try {
                    diskBack.await();
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }
            super.put(m);
        }

        @Override
        public void mark(Migration m) {   // as the file store: shown at once, written by a thread of its own
            marks.add(m.state() + (m.switchedInPause() ? " switchedInPause" : ""));
            super.put(m);
        }
    }

    @Test
    void thePausesRecordIsMarkedNotWrittenThroughTheHookDoesNotWaitForTheDisk() throws Exception {
        SlowDiskStore store = new SlowDiskStore();
        f = LifecycleFixture.start(WanTopologyParser.parse(LifecycleFixture.config(c -> { })), new FakeNetwork(), store);
        MigrationId id = f.migrating("vs1");
        store.slow = true;
        try {
            pause(id).get(5, TimeUnit.SECONDS);   // the hypervisor goes on while the disk is still busy
            assertEquals(List.of("MIGRATING switchedInPause"), store.marks,
                    "the record that a successor recovers the take-over from, marked before the hook ends");
            assertTrue(store.get(id).orElseThrow().switchedInPause());
        } finally {
            store.diskBack.countDown();
        }
        f.awaitState(id, CUTOVER);
    }

    @Test
    void theHypervisorGoesOnWithoutWaitingForTheLifecycleThread() throws Exception {
        SlowDiskStore store = new SlowDiskStore();
        f = LifecycleFixture.start(WanTopologyParser.parse(LifecycleFixture.config(c -> { })), new FakeNetwork(), store);
        MigrationId id = f.migrating("vs1");
        f.network.holdNext(FakeNetwork.anyRuleOfMigration(id.value()));
        CompletableFuture<Void> proceed = pause(id);
        Poll.until("the take-over sent, the redirect held", () -> f.network.heldCount() == 1
                && f.replication.calls().contains("takeover vs1 dcA>dcB"));
        store.slow = true;
        f.manager.progress(id, "QEMU: 3 passes");   // the lifecycle thread now waits for the disk
        try {
            f.network.releaseHeld();
            proceed.get(5, TimeUnit.SECONDS);   // from the thread that confirmed the redirect
            assertEquals(MIGRATING, store.get(id).orElseThrow().state(), "the record follows once the thread is free");
        } finally {
            store.diskBack.countDown();
        }
        f.awaitState(id, CUTOVER);
    }

    @Test
    void aRollbackThatComesFirstInThePauseIsNotFollowedByTheHypervisorGoingOn() throws Exception {
        f = LifecycleFixture.start();
        MigrationId id = f.migrating("vs1");
        f.network.holdNext(FakeNetwork.anyRuleOfMigration(id.value()));
        CompletableFuture<Void> proceed = pause(id);
        Poll.until("the take-over sent, the redirect held", () -> f.network.heldCount() == 1
                && f.replication.calls().contains("takeover vs1 dcA>dcB"));
        f.manager.hypervisorFailed(id, "the destination QEMU died");
        f.network.releaseHeld();   // both done now, after the rollback decided
        ExecutionException e = assertThrows(ExecutionException.class, () -> proceed.get(5, TimeUnit.SECONDS));
        assertTrue(e.getCause().getMessage().contains("rolled back inside the pause"), e.toString());
        assertEquals(FAILED, f.awaitEnd(id).state(), f.describe(id));
        assertTrue(f.replication.calls().contains("reclaim vs1 dcA<dcB"), f.replication.calls().toString());
        f.assertBackAtSource(id);
    }

    @Test
    void takeoverCheckRefusedFailsInPreparingBeforeAnythingMoved() {
        f = LifecycleFixture.start();
        f.hypervisor.switchOverInPause(true);
        f.replication.refuseTakeOverCheck(new IllegalStateException("dcB agent would refuse the take-over in the pause:"
                + " vs1: cannot take over from the live primary: the primary is not streaming to us"));
        MigrationId id = f.startMigration("vs1");
        Migration end = f.awaitEnd(id);
        assertEquals(FAILED, end.state(), f.describe(id));
        assertTrue(end.error().startsWith("PREPARING failed") && end.error().contains("the primary is not streaming to us"),
                end.error());
        assertTrue(!LifecycleFixture.states(end).contains(MIGRATING), "never migrating: " + f.describe(id));
        assertTrue(f.hypervisor.migrations().isEmpty(), "the hypervisor was never asked to move the server");
        assertEquals(List.of("sync vs1 dcA>dcB", "check vs1 dcA>dcB"), f.replication.calls().subList(0, 2),
                "checked once in sync");
        assertTrue(f.replication.calls().stream().noneMatch(c -> c.startsWith("takeover") || c.startsWith("reverse")),
                "no role changed: " + f.replication.calls());
        f.assertBackAtSource(id);   // rules removed, storage back to ASYNC with the source primary
    }

    @Test
    void passingTakeoverCheckProceedsToTheMoveAndTheTakeoverInThePause() throws Exception {
        f = LifecycleFixture.start();
        f.hypervisor.switchOverInPause(true);
        MigrationId id = f.migrating("vs1");
        assertEquals(List.of("sync vs1 dcA>dcB", "check vs1 dcA>dcB"), f.replication.calls(),
                "checked in sync, before the hypervisor was asked");
        assertEquals(List.of(id), f.hypervisor.migrations());
        assertTrue(f.record(id).timeline().stream().anyMatch(e -> e.state() == MIGRATING
                && e.detail().contains("dcB ready to take over")), f.describe(id));
        pause(id).get(5, TimeUnit.SECONDS);
        f.awaitState(id, CUTOVER);
        f.manager.completed(id, "QEMU completed");
        f.awaitState(id, COMPLETED);
        assertEquals(List.of("sync vs1 dcA>dcB", "check vs1 dcA>dcB", "takeover vs1 dcA>dcB", "retire vs1 dcA"),
                f.replication.calls());
        f.assertAtDestination(id);
    }

    @Test
    void whileMigratingTheTakeoverIsCheckedAgainUntilThePause() throws Exception {
        f = LifecycleFixture.start();
        f.manager.recheckTakeOverEvery(Duration.ofMillis(20));
        f.hypervisor.switchOverInPause(true);
        MigrationId id = f.migrating("vs1");
        Poll.until("checked again while migrating", () -> checks() >= 3);
        pause(id).get(5, TimeUnit.SECONDS);
        f.awaitState(id, CUTOVER);
        long atPause = checks();
        Thread.sleep(200);   // ten intervals: none may come after the pause
        assertEquals(atPause, checks(), "no check after the pause: " + f.replication.calls());
        f.manager.completed(id, "QEMU completed");
        f.awaitState(id, COMPLETED);
        f.assertAtDestination(id);
    }

    @Test
    void afterARestartWhileMigratingTheTakeoverIsCheckedAgain() throws Exception {
        LifecycleFixture first = LifecycleFixture.start();
        first.hypervisor.switchOverInPause(true);
        MigrationId id = first.migrating("vs1");
        first.close();
        f = first.restartWith(next -> {
            next.hypervisor.switchOverInPause(true);
            next.manager.recheckTakeOverEvery(Duration.ofMillis(20));
        });
        Poll.until("checked again after the restart", () -> checks() >= 2);
        pause(id).get(5, TimeUnit.SECONDS);
        f.awaitState(id, CUTOVER);
        f.manager.completed(id, "QEMU completed");
        f.awaitState(id, COMPLETED);
        f.assertAtDestination(id);
    }

    @Test
    void aDestinationThatCanNoLongerTakeOverFailsTheMigrationBeforeThePause() {
        f = LifecycleFixture.start();
        f.manager.recheckTakeOverEvery(Duration.ofMillis(20));
        f.hypervisor.switchOverInPause(true);
        MigrationId id = f.migrating("vs1");
        f.replication.refuseTakeOverCheck(new IllegalStateException("dcB agent would refuse the take-over in the pause:"
                + " vs1: cannot take over from the live primary: the primary is not streaming to us"));
        Migration end = f.awaitEnd(id);
        assertEquals(FAILED, end.state(), f.describe(id));
        assertTrue(end.error().startsWith("MIGRATING: dcB can no longer take over vs1's storage")
                && end.error().contains("the primary is not streaming to us"), end.error());
        assertEquals(List.of(id + " moved=false"), f.hypervisor.aborts(), "the hypervisor stops copying; vs1 runs at A");
        assertTrue(f.replication.calls().stream().noneMatch(c -> c.startsWith("takeover") || c.startsWith("reverse")),
                "no role changed: " + f.replication.calls());
        assertThrows(ExecutionException.class, () -> pause(id).get(5, TimeUnit.SECONDS),
                "a pause that comes after the failure is refused");
        f.assertBackAtSource(id);
    }

    private long checks() {
        return f.replication.calls().stream().filter(c -> c.startsWith("check")).count();
    }

    @Test
    void noTakeoverCheckWhenTheHypervisorSwitchesOverAfterItsReport() {
        f = LifecycleFixture.start();
        f.replication.refuseTakeOverCheck(new IllegalStateException("would refuse"));
        MigrationId id = f.migrating("vs1");   // the paper's order: the roles reverse after the report
        f.manager.hypervisorCompleted(id, "moved");
        f.awaitState(id, COMPLETED);
        assertTrue(f.replication.calls().stream().noneMatch(c -> c.startsWith("check")), f.replication.calls().toString());
    }

    @Test
    void redirectRefusedInThePauseRollsBackAndTheServerStaysAtTheSource() {
        f = LifecycleFixture.start();
        MigrationId id = f.migrating("vs1");
        f.network.holdNext(FakeNetwork.anyRuleOfMigration(id.value()));
        CompletableFuture<Void> proceed = pause(id);
        Poll.until("redirect held", () -> f.network.heldCount() == 1);
        f.network.failHeld(new IllegalStateException("peA refused the redirect"));

        ExecutionException e = assertThrows(ExecutionException.class, () -> proceed.get(5, TimeUnit.SECONDS));
        assertTrue(e.getCause().getMessage().contains("peA refused"), e.toString());
        Migration end = f.awaitEnd(id);
        assertEquals(FAILED, end.state(), f.describe(id));
        assertEquals(List.of(id + " moved=false"), f.hypervisor.aborts(), "the source goes on running");
        assertTrue(f.replication.calls().contains("reclaim vs1 dcA<dcB"), f.replication.calls().toString());
        assertTrue(f.replication.calls().indexOf("retire vs1 dcA") < f.replication.calls().indexOf("reclaim vs1 dcA<dcB"),
                "the source's copy is demoted before it is promoted back: " + f.replication.calls());
        f.assertBackAtSource(id);
    }

    @Test
    void takeoverRefusedInThePauseRollsBackAndTheHypervisorGoesOnAtTheSource() {
        f = LifecycleFixture.start();
        MigrationId id = f.migrating("vs1");
        f.replication.failReverse(new IllegalStateException("dcB agent: cannot take over from the live primary"));
        ExecutionException e = assertThrows(ExecutionException.class, () -> pause(id).get(5, TimeUnit.SECONDS));
        assertTrue(e.getCause().getMessage().contains("cannot take over"), e.toString());
        assertEquals(FAILED, f.awaitEnd(id).state(), f.describe(id));
        assertEquals(List.of(id + " moved=false"), f.hypervisor.aborts(), "the source goes on running");
        assertEquals(List.of("sync vs1 dcA>dcB", "takeover vs1 dcA>dcB", "retire vs1 dcA", "reclaim vs1 dcA<dcB",
                "retire vs1 dcB"), f.replication.calls(), "no demote after a pause that did not switch; the rollback's"
                + " demote and reclaim of the source, the destination demoted (it may have taken over unheard)");
        f.assertBackAtSource(id);
    }

    @Test
    void aDestinationThatDoesNotAnswerDoesNotHoldTheGuestInThePause() {
        f = LifecycleFixture.start();
        MigrationId id = f.migrating("vs1");
        CompletableFuture<Void> destination = f.replication.holdRetire("dcB");
        f.replication.failReverse(new IllegalStateException("POST http://dcB-agent/v1/disks/vs1/promote: timed out"));
        assertThrows(ExecutionException.class, () -> pause(id).get(5, TimeUnit.SECONDS));
        Poll.until("the source goes on", () -> f.hypervisor.aborts().equals(List.of(id + " moved=false")));
        assertTrue(f.record(id).isActive(), "the rollback waits for dcB's answer; the guest does not: " + f.describe(id));
        assertTrue(f.replication.calls().indexOf("reclaim vs1 dcA<dcB") >= 0, f.replication.calls().toString());

        destination.completeExceptionally(new IllegalStateException("dcB agent: timed out"));
        Migration end = f.awaitEnd(id);
        assertEquals(FAILED, end.state(), f.describe(id));
        String last = LifecycleFixture.lastDetail(end);
        assertTrue(last.contains("dcB not demoted (dcB agent: timed out); dcA primary again without it"), last);
    }

    @Test
    void failureAfterTheHypervisorContinuedIsNotAMove() {
        f = LifecycleFixture.start();
        MigrationId id = f.migrating("vs1");
        pause(id).join();
        f.manager.failed(id, "device state transfer failed; source resumed");
        assertEquals(FAILED, f.awaitEnd(id).state());
        assertEquals(List.of(id + " moved=false"), f.hypervisor.aborts(),
                "no completion was reported: the server never ran at the destination");
        f.assertBackAtSource(id);
        // the source's copy is demoted (again, after the pause's own demote) before it is promoted
        // back, so its promotion takes a generation above the destination's
        List<String> calls = f.replication.calls();
        assertEquals(List.of("sync vs1 dcA>dcB", "takeover vs1 dcA>dcB", "retire vs1 dcA", "retire vs1 dcA",
                "reclaim vs1 dcA<dcB", "retire vs1 dcB"), calls);
    }

    /** Switched over in the pause, then the hypervisor fails (the destination died); the restore waits. */
    private MigrationId failedAfterTheSwitchoverWithTheRestoreHeld() {
        f = LifecycleFixture.start();
        f.manager.retryStorage(java.time.Duration.ofMillis(50), java.time.Duration.ofMillis(300));
        MigrationId id = f.migrating("vs1");
        pause(id).join();
        f.replication.holdRestore();
        // as the driver does, from a thread of its own (the call waits for the rollback, bounded)
        CompletableFuture.runAsync(() -> f.manager.failed(id, "the destination QEMU died after migrate-continue"));
        Poll.until("reclaim asked", () -> f.replication.calls().contains("reclaim vs1 dcA<dcB"));
        return id;
    }

    @Test
    void afterTheSwitchoverTheSourceGoesOnOnlyOnceItsCopyIsPrimaryAgain() {
        MigrationId id = failedAfterTheSwitchoverWithTheRestoreHeld();
        assertEquals(List.of(), f.hypervisor.aborts(),
                "the source's guest would write to its demoted copy: no abort (cont) before the restore"
                        + " (the old order aborted before it asked the restore)");
        f.replication.restoreHeld().complete(null);
        assertEquals(FAILED, f.awaitEnd(id).state(), f.describe(id));
        Poll.until("abort after the restore", () -> f.hypervisor.aborts().equals(List.of(id + " moved=false")));
        f.assertBackAtSource(id);
    }

    @Test
    void aCompletionReportedDuringTheRollbackIsRefusedAndTheRollbackEnds() {
        MigrationId id = failedAfterTheSwitchoverWithTheRestoreHeld();
        // the qemu driver reports completion once the destination resumed; a failure came first
        WanmigException late = assertThrows(WanmigException.class,
                () -> f.manager.hypervisorCompleted(id, "QEMU completed"));
        assertTrue(late.getMessage().contains("rolling back"), late.getMessage());
        f.replication.restoreHeld().complete(null);
        Migration end = f.awaitEnd(id);
        assertEquals(FAILED, end.state(), f.describe(id));
        assertFalse(end.hypervisorReported(), f.describe(id));
        assertFalse(end.timeline().stream().anyMatch(e -> e.state() == MigrationState.ROUTES_UPDATED), f.describe(id));
        Poll.until("abort after the restore", () -> f.hypervisor.aborts().equals(List.of(id + " moved=false")));
        f.assertBackAtSource(id);
    }

    /**
     * The source's agent does not answer the reclaim at first (down, then back): the reclaim is
     * asked again, and the guest goes on only once its copy is primary again, not when the first
     * try fails (its writes would meet a copy demoted in the pause).
     */
    @Test
    void afterTheSwitchoverAReclaimIsTriedAgainAndTheSourceGoesOnOnlyOnceItIsApplied() {
        f = LifecycleFixture.start();
        f.manager.retryStorage(java.time.Duration.ofMillis(200), java.time.Duration.ofSeconds(10));
        MigrationId id = f.migrating("vs1");
        pause(id).join();
        f.replication.failRestores(2, new IllegalStateException("dcA agent: Connection refused"));
        CompletableFuture.runAsync(() -> f.manager.failed(id, "the destination QEMU died after migrate-continue"));
        Poll.until("reclaim asked twice", () -> f.replication.reclaims() >= 2);
        assertEquals(List.of(), f.hypervisor.aborts(), "no abort (cont) while the reclaim has not been applied");
        Migration end = f.awaitEnd(id);
        assertEquals(FAILED, end.state(), f.describe(id));
        assertEquals(3, f.replication.reclaims(), f.replication.calls().toString());
        assertFalse(LifecycleFixture.lastDetail(end).contains("rollback incomplete"),
                f.describe(id));
        assertTrue(end.timeline().stream().anyMatch(e -> e.detail().equals("storage back at dcA (try 3)")),
                f.describe(id));
        Poll.until("abort after the reclaim", () -> f.hypervisor.aborts().equals(List.of(id + " moved=false")));
    }

    @Test
    void afterTheSwitchoverAFailedRestoreStillLetsTheSourceGoOn() {
        MigrationId id = failedAfterTheSwitchoverWithTheRestoreHeld();
        f.replication.restoreHeld().completeExceptionally(new IllegalStateException("dcA agent unreachable"));
        Migration end = f.awaitEnd(id);
        assertEquals(FAILED, end.state(), f.describe(id));
        assertTrue(LifecycleFixture.lastDetail(end).contains("storage: dcA agent unreachable"),
                f.describe(id));
        Poll.until("abort after the failed restore", () -> f.hypervisor.aborts().equals(List.of(id + " moved=false")));
    }

    @Test
    void inThePapersOrderAGuestStoppedOnARefusedWriteGoesOnOnceItsDiskIsPromoted() {
        f = LifecycleFixture.start();
        f.hypervisor.answerDiskWritable("qemu: vs1 at dcB had stopped on a write refused; resumed");
        MigrationId id = f.migrating("vs1");
        f.manager.hypervisorCompleted(id, "QEMU completed");
        Migration end = f.awaitEnd(id);
        assertEquals(COMPLETED, end.state(), f.describe(id));
        assertEquals(List.of("vs1 dcB"), f.hypervisor.diskWritableCalls());
        List<String> calls = f.replication.calls();
        assertTrue(calls.contains("reverse vs1 dcA>dcB"), calls.toString());
        assertTrue(end.timeline().stream().anyMatch(e -> e.detail().contains("had stopped on a write refused")),
                f.describe(id));
    }

    @Test
    void afterATakeoverInThePauseTheDiskWasWritableBeforeTheGuestResumed() throws Exception {
        f = LifecycleFixture.start();
        MigrationId id = f.migrating("vs1");
        pause(id).get(5, TimeUnit.SECONDS);
        f.manager.hypervisorCompleted(id, "QEMU completed");
        assertEquals(COMPLETED, f.awaitEnd(id).state(), f.describe(id));
        assertEquals(List.of(), f.hypervisor.diskWritableCalls(), "nothing to resume");
    }

    @Test
    void aPauseAskedAgainAfterARestartNamesTheSameTakeOver() throws Exception {
        f = LifecycleFixture.start();
        MigrationId id = f.migrating("vs1");
        f.network.holdNext(FakeNetwork.anyRuleOfMigration(id.value()));
        pause(id);
        Poll.until("the take-over sent, the redirect held", () -> f.network.heldCount() == 1
                && f.replication.calls().contains("takeover vs1 dcA>dcB"));

        LifecycleFixture before = f;
        before.close();   // died inside the pause: the destination may have taken over
        f = before.restart(c -> { });
        Poll.until("asked again after the restart", () -> f.hypervisor.migrations().size() == 1);
        assertEquals(MIGRATING, f.state(id));
        pause(id).get(5, TimeUnit.SECONDS);
        f.awaitState(id, CUTOVER);
        assertEquals(List.of("migration-" + id.value()), before.replication.takeOverIds());
        assertEquals(before.replication.takeOverIds(), f.replication.takeOverIds(),
                "the successor asks for the same take-over, which a destination primary by it answers as done");
    }

    @Test
    void aSuccessorThatFindsNothingOfThePauseOnDiskFinishesTheMoveWhenTheHypervisorReportsIt() throws Exception {
        f = LifecycleFixture.start();
        MigrationId id = f.migrating("vs1");
        Migration onDisk = f.record(id);   // what the disk held: MIGRATING, the pause's mark not yet written
        pause(id).get(5, TimeUnit.SECONDS);   // B took over, the redirect is in, the hypervisor went on
        f.awaitState(id, CUTOVER);

        LifecycleFixture before = f;
        before.close();   // killed before the mark's write and the CUTOVER's put reached the disk
        InMemoryMigrationStore disk = new InMemoryMigrationStore();
        before.store.placements().forEach(disk::setPlacement);
        disk.put(onDisk);
        f = LifecycleFixture.start(before.topology, before.network, disk);
        Poll.until("asked again after the restart", () -> f.hypervisor.migrations().size() == 1);
        assertEquals(MIGRATING, f.state(id));
        assertFalse(f.record(id).switchedInPause(), "nothing of the pause known");

        f.manager.completed(id, "QEMU completed");   // the source went on: the guest runs at B
        assertEquals(COMPLETED, f.awaitEnd(id).state(), f.describe(id));
        assertTrue(f.replication.calls().contains("reverse vs1 dcA>dcB"),
                "the paper's order: roles reversed after the move (B already primary by the take-over"
                        + " answers its promote as done, A is fenced): " + f.replication.calls());
        f.assertAtDestination(id);
    }

    /**
     * The previous instance died inside the pause after B took over and before the record's mark
     * reached the disk (it is written after the take-over is sent): the successor finds MIGRATING
     * and {@code agent} at dcB, and asks the hypervisor again.
     */
    private MigrationId resumedAfterASwitchoverTheDiskDoesNotKnow(java.util.function.Consumer<FakeReplication> agent)
            throws Exception {
        return resumedAfterASwitchoverTheDiskDoesNotKnow(agent, MigrationManager.Predecessors.GONE);
    }

    private MigrationId resumedAfterASwitchoverTheDiskDoesNotKnow(java.util.function.Consumer<FakeReplication> agent,
            MigrationManager.Predecessors predecessors) throws Exception {
        f = LifecycleFixture.start(c -> {   // replicated: an agent in each DC
            org.wanmig.testing.Topologies.entry(c, "dataCenters", 0).put("agent", "http://127.0.0.1:17070");
            org.wanmig.testing.Topologies.entry(c, "dataCenters", 1).put("agent", "http://127.0.0.1:17071");
        });
        f.hypervisor.switchOverInPause(true);
        MigrationId id = f.migrating("vs1");
        Migration onDisk = f.record(id);
        pause(id).get(5, TimeUnit.SECONDS);
        f.awaitState(id, CUTOVER);
        LifecycleFixture before = f;
        before.close();
        InMemoryMigrationStore disk = new InMemoryMigrationStore();
        before.store.placements().forEach(disk::setPlacement);
        disk.put(onDisk);
        f = LifecycleFixture.start(before.topology, before.network, disk, next -> {
            next.hypervisor.switchOverInPause(true);
            agent.accept(next.replication);
            next.predecessors = predecessors;
        });
        Poll.until("asked again after the restart", () -> f.hypervisor.migrations().size() == 1);
        return id;
    }

    /** QEMU fails: the rollback asks {@code used} of dcA's copy, never {@code notUsed}. */
    private void failsAndRollsBackWith(MigrationId id, String used, String notUsed) {
        f.manager.failed(id, "QEMU did not complete within 5000 ms of migrate-continue");
        assertEquals(FAILED, f.awaitEnd(id).state(), f.describe(id));
        List<String> calls = f.replication.calls();
        assertTrue(calls.contains(used + " vs1 dcA<dcB") && calls.stream().noneMatch(c -> c.startsWith(notUsed)),
                calls.toString());
    }

    @Test
    void aSuccessorFindingTheDestinationPrimaryKnowsTheSwitchoverHappenedAndReclaimsTheSourceAboveIt() throws Exception {
        MigrationId id = resumedAfterASwitchoverTheDiskDoesNotKnow(
                r -> r.agentAnswers("dcB", new AgentDiskStatus("vs1", "PRIMARY", false, 4000)));
        Migration m = f.record(id);
        assertEquals(CUTOVER, m.state(), f.describe(id));
        assertTrue(m.switchedInPause() && !m.serverMoved(), f.describe(id));
        assertTrue(LifecycleFixture.lastDetail(m).contains("before the restart: storage primary at dcB"),
                f.describe(id));
        // without the agent's word: restored as primary below B's take-over, two primaries
        failsAndRollsBackWith(id, "reclaim", "restore");
        assertTrue(f.replication.calls().contains("retire vs1 dcA"), f.replication.calls().toString());
        Poll.until("abort after the reclaim", () -> f.hypervisor.aborts().equals(List.of(id + " moved=false")));
        f.assertBackAtSource(id);
    }

    @Test
    void aSuccessorFindingTheDestinationPrimaryFinishesTheMoveOnTheHypervisorsReportWithoutFlippingRolesAgain()
            throws Exception {
        MigrationId id = resumedAfterASwitchoverTheDiskDoesNotKnow(
                r -> r.agentAnswers("dcB", new AgentDiskStatus("vs1", "PRIMARY", true, 0)));
        f.awaitState(id, CUTOVER);
        f.manager.hypervisorCompleted(id, "QEMU completed");   // the stream was not stalled: the guest runs at B
        assertEquals(COMPLETED, f.awaitEnd(id).state(), f.describe(id));
        assertTrue(f.replication.calls().stream().noneMatch(c -> c.startsWith("takeover") || c.startsWith("reverse")),
                "B is primary by the predecessor's take-over: " + f.replication.calls());
        f.assertAtDestination(id);
    }

    @Test
    void aSuccessorThatCannotAskTheDestinationTreatsTheTakeOverAsPossible() throws Exception {
        MigrationId id = resumedAfterASwitchoverTheDiskDoesNotKnow(r -> r.agentSilent("dcB"));
        assertEquals(MIGRATING, f.state(id), "nothing known to have moved: the redirect stays prepared only");
        assertTrue(f.record(id).switchoverUnknown() && !f.record(id).switchedInPause(), f.describe(id));
        assertTrue(f.hypervisor.asked().get(0).switchoverUnknown(),
                "the hypervisor is followed as after a switchover (a silent monitor's stream cut within the budget)");
        // and told since when any switchover is past: the take-over, before the silent agent was asked
        long goneBy = f.hypervisor.asked().get(0).predecessorsGoneBy();
        long doubtNoted = f.record(id).timeline().stream().filter(e -> e.detail().contains("did not say whether"))
                .mapToLong(e -> e.epochMillis()).findFirst().orElse(-1);
        assertTrue(goneBy > 0 && goneBy <= doubtNoted, "take-over at " + goneBy + ", doubt noted at " + doubtNoted);
        assertEquals(goneBy, f.record(id).predecessorsGoneBy(), "kept in the stored record");
        f.replication.holdRestore();
        CompletableFuture.runAsync(() -> f.manager.failed(id, "QEMU did not complete within 5000 ms of migrate-continue"));
        Poll.until("reclaim asked", () -> f.replication.calls().contains("reclaim vs1 dcA<dcB"));
        assertEquals(List.of(), f.hypervisor.aborts(), "as after a switchover known: the source's guest goes on"
                + " only once its copy is primary again");
        f.replication.restoreHeld().complete(null);
        assertEquals(FAILED, f.awaitEnd(id).state(), f.describe(id));
        Poll.until("abort after the reclaim", () -> f.hypervisor.aborts().equals(List.of(id + " moved=false")));
        assertTrue(f.replication.calls().stream().noneMatch(c -> c.startsWith("restore")), f.replication.calls().toString());
        f.assertBackAtSource(id);
    }

    @Test
    void aSuccessorWhosePredecessorMayStillRunBoundsNothingByItsTakeOver() throws Exception {
        // a former ONOS leader may still send the migrate-continue of a hook it began
        MigrationId id = resumedAfterASwitchoverTheDiskDoesNotKnow(r -> r.agentSilent("dcB"),
                MigrationManager.Predecessors.MAY_STILL_RUN);
        assertTrue(f.record(id).switchoverUnknown(), f.describe(id));
        assertEquals(0, f.hypervisor.asked().get(0).predecessorsGoneBy(),
                "no bound: the hypervisor's whole budget for the source's monitor");
        assertEquals(0, f.record(id).predecessorsGoneBy(), "none stored either");
    }

    @Test
    void aSuccessorFindingTheDestinationAReplicaRestoresAsBefore() throws Exception {
        MigrationId id = resumedAfterASwitchoverTheDiskDoesNotKnow(
                r -> r.agentAnswers("dcB", new AgentDiskStatus("vs1", "REPLICA", true, 0)));
        assertEquals(MIGRATING, f.state(id));
        failsAndRollsBackWith(id, "restore", "reclaim");
        f.assertBackAtSource(id);
    }

    @Test
    void restartAfterThePauseSwitchoverAsksTheHypervisorAgainAndWaitsForItsReport() throws Exception {
        f = LifecycleFixture.start();
        MigrationId id = f.migrating("vs1");
        pause(id).get(5, TimeUnit.SECONDS);
        f.awaitState(id, CUTOVER);
        assertTrue(f.record(id).switchedInPause() && !f.record(id).serverMoved(),
                "stopped at the pause: not moved until the hypervisor says so");

        LifecycleFixture before = f;
        before.close();   // the old manager stops; the switches keep their rules
        f = before.restart(c -> { });
        Poll.until("asked again after the restart", () -> f.hypervisor.migrations().size() == 1);
        assertEquals(CUTOVER, f.state(id), "no route update before the report");
        assertTrue(pause(id).toCompletableFuture().get(5, TimeUnit.SECONDS) == null,
                "a repeated pause (the driver following the migration) goes on at once");

        f.manager.completed(id, "QEMU completed");
        f.awaitState(id, COMPLETED);
        assertEquals(1, before.replication.calls().stream().filter(c -> c.startsWith("takeover")).count());
        assertTrue(f.replication.calls().stream().noneMatch(c -> c.startsWith("takeover") || c.startsWith("reverse")),
                "roles flipped once, in the pause, not again after the restart: " + f.replication.calls());
        f.assertAtDestination(id);
    }

    @Test
    void pauseOutsideMigratingIsRefusedAndChangesNothing() {
        f = LifecycleFixture.start();
        MigrationId id = f.migrating("vs1");
        f.manager.hypervisorCompleted(id, "paper mode");
        f.awaitState(id, COMPLETED);
        assertThrows(ExecutionException.class, () -> pause(id).get(5, TimeUnit.SECONDS));
        assertEquals(COMPLETED, f.state(id));
    }

    @Test
    void progressNotesJoinTheTimelineWithoutLeavingTheState() {
        f = LifecycleFixture.start();
        MigrationId id = f.migrating("vs1");
        long since = f.record(id).stateSince();
        f.manager.progress(id, "pre-copy pass 1: 64 MiB of 128 MiB sent");
        Poll.until("note recorded", () -> f.record(id).timeline().stream().anyMatch(e -> e.detail().startsWith("pre-copy pass 1")));
        Migration m = f.record(id);
        assertEquals(MIGRATING, m.state());
        assertEquals(since, m.stateSince(), "a note does not restart the phase's clock");
        assertEquals(MigrationState.MIGRATING, m.timeline().get(m.timeline().size() - 1).state());
    }
}
