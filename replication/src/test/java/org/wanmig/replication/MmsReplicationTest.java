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
    void takeOverInThePauseThenAFailureAfterContinueMakesTheSourcePrimaryAgainAboveTheDestination(@TempDir Path dir)
            throws Exception {
        start(dir);
        MigrationId id = mms.startMigration("vs1", "dcB").id();
        await(id, MigrationState.MIGRATING);
        byte[] block = new byte[4096];
        try (NbdTestClient a = new NbdTestClient(agents.a.nbdPort(), "vs1")) {
            for (int i = 0; i < 8; i++) {
                java.util.Arrays.fill(block, (byte) (0x60 + i));
                assertEquals(0, a.write(i * 65536L, block), "acknowledged at A, synchronously");
            }
        }
        // the guest is paused with nothing in flight: B takes over inside the hook, A is demoted after it
        mms.preSwitchover(id, "paused before switchover").toCompletableFuture().get(10, TimeUnit.SECONDS);
        assertEquals(Role.PRIMARY, agents.b.status("vs1").role(), "B primary when the hypervisor goes on");
        long taken = agents.b.status("vs1").generation();
        AgentPair.await("A demoted after the pause", 10_000, () -> agents.a.status("vs1").role() == Role.REPLICA);
        try (NbdTestClient a = new NbdTestClient(agents.a.nbdPort(), "vs1")) {
            assertEquals(1, a.write(0, block), "A refuses writes (EPERM) once B took over");
        }

        // QEMU fails after migrate-continue (the destination never ran): the source resumes at A
        mms.failed(id, "device state transfer failed; source resumed");
        Migration end = await(id, MigrationState.FAILED);
        assertTrue(end.error().contains("device state"), end.error());
        assertEquals(Role.PRIMARY, agents.a.status("vs1").role());
        assertEquals(Mode.ASYNC, agents.a.status("vs1").mode());
        assertEquals(Role.REPLICA, agents.b.status("vs1").role());
        assertTrue(agents.a.status("vs1").generation() > taken, "A's generation " + agents.a.status("vs1").generation()
                + " above the one B took over with (" + taken + ")");
        byte[] image = java.nio.file.Files.readAllBytes(agents.imageA());
        for (int i = 0; i < 8; i++) {
            assertEquals(0x60 + i, image[i * 65536 + 7], "acknowledged write " + i + " still at A");
        }
        // A takes writes again and B follows it, not fencing it
        try (NbdTestClient a = new NbdTestClient(agents.a.nbdPort(), "vs1")) {
            java.util.Arrays.fill(block, (byte) 0x7e);
            assertEquals(0, a.write(1 << 20, block));
        }
        agents.syncUp(agents.a);
        AgentPair.assertSameBytes(agents.imageA(), agents.imageB());
        assertEquals(Role.PRIMARY, agents.a.status("vs1").role(), "A not fenced by B");
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
