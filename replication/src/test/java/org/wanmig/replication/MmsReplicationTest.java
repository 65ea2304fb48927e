package org.wanmig.replication;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.wanmig.api.Migration;
import org.wanmig.api.MigrationId;
import org.wanmig.api.MigrationState;
import org.wanmig.lifecycle.MigrationManager;
import org.wanmig.replication.core.Mode;
import org.wanmig.replication.core.Role;

import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The migration management system steering two real agents through its replication client:
 * PREPARING waits until A's disk is synchronous and in sync, the route update reverses roles,
 * an abort returns the disk to ASYNC with A primary.
 */
class MmsReplicationTest {
    private AgentPair agents;
    private MigrationManager mms;

    private void start(Path dir) throws Exception {
        agents = new AgentPair(dir, 4 << 20);
        mms = AgentPair.migrationManager(agents.topology(30));
        mms.takeOver().get(10, TimeUnit.SECONDS);
    }

    @AfterEach
    void stop() {
        if (mms != null) {
            mms.shutdown();
        }
        if (agents != null) {
            agents.close();
        }
    }

    private Migration await(MigrationId id, MigrationState state) throws InterruptedException {
        AgentPair.await(id + " in " + state, 30_000, () -> mms.migration(id).orElseThrow().state() == state);
        return mms.migration(id).orElseThrow();
    }

    @Test
    void migrationGoesSynchronousBeforeTheMoveAndReversesRolesAfter(@TempDir Path dir) throws Exception {
        start(dir);
        Tools.require("qemu-io");
        Tools.qemuIo(AgentPair.url(agents.a), "write -P 0x5a 0 1M").ok(); // lands ASYNC
        assertEquals(Mode.ASYNC, agents.a.status("vs1").mode());

        MigrationId id = mms.startMigration("vs1", "dcB").id();
        await(id, MigrationState.MIGRATING);
        // the hypervisor may start copying: the replica is identical and every write is now synchronous
        assertEquals(Mode.SYNC, agents.a.status("vs1").mode());
        assertTrue(agents.a.status("vs1").inSync());
        AgentPair.assertSameBytes(agents.imageA(), agents.imageB());

        mms.hypervisorCompleted(id, "moved");
        await(id, MigrationState.COMPLETED);
        assertEquals(Role.REPLICA, agents.a.status("vs1").role());
        assertEquals(Role.PRIMARY, agents.b.status("vs1").role());
        // B now serves the disk and A follows it
        Tools.qemuIo(AgentPair.url(agents.b), "write -P 0xc3 1M 64k").ok();
        agents.ok(agents.b, "POST", "/v1/disks/vs1/mode", "{\"mode\":\"SYNC\"}");
        agents.ok(agents.b, "POST", "/v1/disks/vs1/wait-sync", "{\"timeoutMs\":30000}");
        AgentPair.assertSameBytes(agents.imageA(), agents.imageB());
    }

    @Test
    void abortReturnsTheDiskToAsyncWithTheSourcePrimary(@TempDir Path dir) throws Exception {
        start(dir);
        MigrationId id = mms.startMigration("vs1", "dcB").id();
        await(id, MigrationState.MIGRATING);
        assertEquals(Mode.SYNC, agents.a.status("vs1").mode());
        assertEquals(MigrationState.ROLLED_BACK, mms.abort(id).state());
        assertEquals(Role.PRIMARY, agents.a.status("vs1").role());
        assertEquals(Mode.ASYNC, agents.a.status("vs1").mode());
        assertEquals(Role.REPLICA, agents.b.status("vs1").role());
    }
}
