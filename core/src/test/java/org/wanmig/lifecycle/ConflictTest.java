package org.wanmig.lifecycle;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.onosproject.net.DeviceId;
import org.wanmig.api.Migration;
import org.wanmig.api.MigrationId;
import org.wanmig.api.MigrationState;
import org.wanmig.api.WanmigException;
import org.wanmig.testing.FakeNetwork;

import java.util.stream.Collectors;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.wanmig.api.MigrationState.COMPLETED;
import static org.wanmig.api.MigrationState.CUTOVER;
import static org.wanmig.api.MigrationState.PREPARING;

/** What the service refuses, and what it allows side by side. */
class ConflictTest {
    private LifecycleFixture f;

    @AfterEach
    void stop() {
        if (f != null) {
            f.close();
        }
    }

    private static WanmigException refused(WanmigException.Kind kind, org.junit.jupiter.api.function.Executable call) {
        WanmigException e = assertThrows(WanmigException.class, call);
        assertEquals(kind, e.kind(), e.getMessage());
        return e;
    }

    @Test
    void secondMigrationOfTheSameServerIsAConflict() {
        f = LifecycleFixture.start();
        MigrationId id = f.migrating("vs1");
        WanmigException e = refused(WanmigException.Kind.CONFLICT, () -> f.manager.startMigration("vs1", "dcB"));
        assertTrue(e.reason().contains("migration " + id), e.reason());
        assertEquals(1, f.store.all().size());
    }

    @Test
    void differentServersMigrateConcurrently() {
        f = LifecycleFixture.start();
        MigrationId one = f.migrating("vs1");
        MigrationId two = f.migrating("vs2");
        // one DC pair, one tunnel: the second migration holds the first's labels and adds no label rule
        assertEquals(f.record(one).labels(), f.record(two).labels());
        int pairRules = f.network.pairTunnelRules().size();
        assertTrue(pairRules > 0);
        f.manager.hypervisorCompleted(two, "vs2 moved");
        f.awaitState(two, COMPLETED);
        assertEquals(pairRules, f.network.pairTunnelRules().size(), "the tunnel stays while vs1 needs it");
        assertEquals(MigrationState.MIGRATING, f.state(one));
        f.manager.hypervisorCompleted(one, "vs1 moved");
        f.awaitState(one, COMPLETED);
        assertTrue(f.network.pairTunnelRules().isEmpty(), "the tunnel goes with the last migration of the pair");
        f.assertAtDestination(one);
        f.assertAtDestination(two);
        assertEquals("dcB", f.manager.location("vs2"));
    }

    @Test
    void hypervisorCompletionWhileNotMigratingIsAConflict() {
        f = LifecycleFixture.start();
        f.network.holdNext(FakeNetwork.anyRuleOfMigration(1));
        MigrationId id = f.startMigration("vs1");
        f.awaitState(id, PREPARING);
        WanmigException e = refused(WanmigException.Kind.CONFLICT, () -> f.manager.hypervisorCompleted(id, "early"));
        assertEquals("status", e.field());
        assertEquals(PREPARING, f.state(id));
    }

    @Test
    void repeatedCompletionReportIsIdempotent() {
        f = LifecycleFixture.start(LifecycleFixture.drainSeconds(60));
        MigrationId id = f.migrating("vs1");
        Migration first = f.manager.hypervisorCompleted(id, "moved");
        Migration again = f.manager.hypervisorCompleted(id, "moved");
        assertTrue(again.state().serverMoved(), again.toString());
        assertTrue(first.state().serverMoved());
        f.awaitState(id, MigrationState.DRAINING);
        f.manager.hypervisorCompleted(id, "moved, third time");
        assertEquals(1, f.record(id).timeline().stream().filter(e -> e.state() == CUTOVER).count());
        assertEquals(1, f.network.installs().stream().filter(b -> b.equals(f.manager.planner()
                .migration(f.record(id)).redirects())).count(), "redirect installed once");
    }

    @Test
    void secondReportDuringTheCutoverWaitsForTheSameRedirect() throws Exception {
        f = LifecycleFixture.start(LifecycleFixture.drainSeconds(60));
        MigrationId id = f.migrating("vs1");
        f.network.holdNext(FakeNetwork.anyRuleOfMigration(id.value()));
        java.util.concurrent.CompletableFuture<Migration> first = java.util.concurrent.CompletableFuture
                .supplyAsync(() -> f.manager.hypervisorCompleted(id, "moved"));
        org.wanmig.testing.Poll.until("redirect install held", () -> f.network.heldCount() == 1);
        java.util.concurrent.CompletableFuture<Migration> second = java.util.concurrent.CompletableFuture
                .supplyAsync(() -> f.manager.hypervisorCompleted(id, "moved, reported again"));
        f.network.releaseHeld();
        assertTrue(first.get(10, java.util.concurrent.TimeUnit.SECONDS).state().serverMoved());
        assertTrue(second.get(10, java.util.concurrent.TimeUnit.SECONDS).state().serverMoved());
        assertEquals(1, f.record(id).timeline().stream().filter(e -> e.state() == CUTOVER).count());
    }

    @Test
    void completionOfAFinishedMigrationIsAConflict() {
        f = LifecycleFixture.start();
        MigrationId id = f.migrating("vs1");
        f.manager.hypervisorCompleted(id, "moved");
        f.awaitState(id, COMPLETED);
        refused(WanmigException.Kind.CONFLICT, () -> f.manager.hypervisorCompleted(id, "moved"));
        refused(WanmigException.Kind.CONFLICT, () -> f.manager.abort(id));
    }

    @Test
    void exhaustedLabelRangeIsAConflictAndStoresNothing() {
        // room for one tunnel: dcA to dcB takes it, dcB to dcA (another tunnel) finds none free
        f = LifecycleFixture.start(c -> c.putObject("labels").put("min", 16).put("max", 17));
        f.store.setPlacement("vs2", "dcB");
        MigrationId id = f.migrating("vs1");
        WanmigException e = refused(WanmigException.Kind.CONFLICT, () -> f.manager.startMigration("vs2", "dcA"));
        assertEquals("labels", e.field());
        assertEquals(1, f.store.all().size());
        assertTrue(f.manager.activeMigration("vs2").isEmpty());
        f.manager.abort(id);
        f.awaitEnd(id);
        MigrationId back = f.manager.startMigration("vs2", "dcA").id();
        assertEquals(MigrationState.MIGRATING, f.awaitState(back, MigrationState.MIGRATING).state(),
                "labels freed by the abort");
    }

    @Test
    void unknownServerOrDataCenterIsNotFound() {
        f = LifecycleFixture.start();
        assertEquals("server", refused(WanmigException.Kind.NOT_FOUND, () -> f.manager.startMigration("vs9", "dcB")).field());
        assertEquals("destination", refused(WanmigException.Kind.NOT_FOUND, () -> f.manager.startMigration("vs1", "dcZ")).field());
        refused(WanmigException.Kind.NOT_FOUND, () -> f.manager.abort(MigrationId.of(77)));
    }

    @Test
    void migrationToWhereTheServerRunsIsABadRequest() {
        f = LifecycleFixture.start();
        refused(WanmigException.Kind.BAD_REQUEST, () -> f.manager.startMigration("vs1", "dcA"));
        refused(WanmigException.Kind.BAD_REQUEST, () -> f.manager.startMigration(" ", "dcB"));
        assertTrue(f.store.all().isEmpty());
    }

    @Test
    void disconnectedPeMakesMigrationUnavailable() {
        f = LifecycleFixture.start();
        f.network.disconnect(DeviceId.deviceId("of:000000000000000b"));
        refused(WanmigException.Kind.UNAVAILABLE, () -> f.manager.startMigration("vs1", "dcB"));
        assertTrue(f.store.all().isEmpty());
    }

    @Test
    void migrationsListInIdOrder() {
        f = LifecycleFixture.start();
        MigrationId one = f.migrating("vs1");
        MigrationId two = f.migrating("vs2");
        assertEquals(java.util.List.of(one, two), f.manager.migrations().stream().map(Migration::id)
                .collect(Collectors.toList()));
    }

    @Test
    void shutDownServiceIsUnavailableAndShutsDownOnce() {
        f = LifecycleFixture.start();
        f.manager.shutdown();
        f.manager.shutdown();
        refused(WanmigException.Kind.UNAVAILABLE, () -> f.manager.startMigration("vs1", "dcB"));
    }
}
