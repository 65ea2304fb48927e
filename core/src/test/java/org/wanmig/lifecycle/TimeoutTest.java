package org.wanmig.lifecycle;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.wanmig.api.Migration;
import org.wanmig.api.MigrationId;
import org.wanmig.api.WanmigException;
import org.wanmig.testing.Topologies;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.wanmig.api.MigrationState.FAILED;

/** Phase timeouts: short ones here (fractions of a second), and the test waits for the state. */
class TimeoutTest {
    private LifecycleFixture f;

    @AfterEach
    void stop() {
        if (f != null) {
            f.close();
        }
    }

    @Test
    void preparingTimesOutWhenStorageNeverSyncs() {
        f = LifecycleFixture.start(c -> Topologies.migration(c).put("prepareTimeoutSeconds", 0.2));
        f.replication.holdSync();
        MigrationId id = f.startMigration("vs1");
        Migration m = f.awaitEnd(id);
        assertEquals(FAILED, m.state());
        assertTrue(m.error().startsWith("PREPARING timed out after 0.2 s"), m.error());
        f.assertBackAtSource(id);
        assertTrue(f.hypervisor.migrations().isEmpty());
    }

    @Test
    void migratingTimesOutWhenTheHypervisorNeverReports() {
        f = LifecycleFixture.start(c -> Topologies.migration(c).put("migrateTimeoutSeconds", 0.2));
        MigrationId id = f.startMigration("vs1");
        Migration m = f.awaitEnd(id);
        assertEquals(FAILED, m.state());
        assertTrue(m.error().startsWith("MIGRATING timed out"), m.error());
        f.assertBackAtSource(id);
        assertEquals(List.of(id + " moved=false"), f.hypervisor.aborts());
    }

    @Test
    void lateCompletionAfterTimeoutIsAConflict() {
        f = LifecycleFixture.start(c -> Topologies.migration(c).put("migrateTimeoutSeconds", 0.2));
        MigrationId id = f.startMigration("vs1");
        f.awaitEnd(id);
        WanmigException e = assertThrows(WanmigException.class, () -> f.manager.hypervisorCompleted(id, "late"));
        assertEquals(WanmigException.Kind.CONFLICT, e.kind());
        f.assertBackAtSource(id);
    }

    @Test
    void switchTimeoutFailsAnUnconfirmedCutover() {
        f = LifecycleFixture.start(c -> Topologies.migration(c).put("switchTimeoutSeconds", 0.2));
        MigrationId id = f.migrating("vs1");
        f.network.holdEvery(org.wanmig.testing.FakeNetwork.anyRuleOfMigration(id.value()));
        f.manager.hypervisorCompleted(id, "moved");
        f.network.stopHolding();
        Migration m = f.awaitEnd(id);
        assertEquals(FAILED, m.state());
        assertTrue(m.error().contains("timed out"), m.error());
        f.assertBackAtSource(id);
    }
}
