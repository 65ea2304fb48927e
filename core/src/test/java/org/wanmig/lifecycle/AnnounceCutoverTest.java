package org.wanmig.lifecycle;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.wanmig.api.Migration;
import org.wanmig.api.MigrationId;
import org.wanmig.net.ServerAnnounceDetector.Announce;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.wanmig.api.MigrationState.COMPLETED;
import static org.wanmig.api.MigrationState.MIGRATING;
import static org.wanmig.api.MigrationState.PREPARING;

/** The server's own announce at the destination PE triggers the cutover before the hypervisor reports. */
class AnnounceCutoverTest {
    private LifecycleFixture f;

    @AfterEach
    void stop() {
        if (f != null) {
            f.close();
        }
    }

    @Test
    void announceAtTheDestinationCutsOverAndTheReportOnlyConfirms() {
        f = LifecycleFixture.start();
        MigrationId id = f.migrating("vs1");
        f.manager.serverAnnounced(new Announce("vs1", "dcB", "RARP"));
        Migration done = f.awaitState(id, COMPLETED);
        assertTrue(done.timeline().get(3).detail().contains("RARP from vs1 at dcB (before the hypervisor's report)"),
                f.describe(id));
        f.assertAtDestination(id);

        // the migration is over: a late report is refused (409) and changes nothing
        org.junit.jupiter.api.Assertions.assertThrows(org.wanmig.api.WanmigException.class,
                () -> f.manager.hypervisorCompleted(id, "moved"));
        assertEquals(COMPLETED, f.state(id));
    }

    @Test
    void reportAfterAnnounceIsNotedWhileTheMigrationRuns() {
        f = LifecycleFixture.start(LifecycleFixture.drainSeconds(30));
        MigrationId id = f.migrating("vs1");
        f.manager.serverAnnounced(new Announce("vs1", "dcB", "gratuitous ARP"));
        f.awaitState(id, org.wanmig.api.MigrationState.DRAINING);
        f.manager.hypervisorCompleted(id, "QEMU completed");
        assertTrue(f.record(id).timeline().stream().anyMatch(e -> e.detail().equals("hypervisor confirms: QEMU completed")),
                f.describe(id));
    }

    @Test
    void announceAtTheSourceOrBeforeMigratingChangesNothing() {
        f = LifecycleFixture.start();
        f.replication.holdSync();
        MigrationId id = f.startMigration("vs1");
        f.awaitState(id, PREPARING);
        f.manager.serverAnnounced(new Announce("vs1", "dcB", "RARP"));
        f.replication.completeSyncs();
        f.awaitState(id, MIGRATING);
        f.manager.serverAnnounced(new Announce("vs1", "dcA", "RARP"));
        f.manager.serverAnnounced(new Announce("vs2", "dcB", "RARP"));
        // the announces queue on the lifecycle thread; a call through it returns after they ran
        f.manager.pruneFinished();
        assertEquals(MIGRATING, f.state(id), f.describe(id));
        assertTrue(f.network.rulesOfMigration(id.value()).stream().noneMatch(r -> r.priority() >= 2000
                && r.deviceId().equals(f.topology.dataCenter("dcA").orElseThrow().pe())), "no redirect at PE_A");
    }
}
