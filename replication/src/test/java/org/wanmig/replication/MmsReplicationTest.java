package org.wanmig.replication;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.wanmig.api.Migration;
import org.wanmig.api.MigrationId;
import org.wanmig.api.MigrationState;
import org.wanmig.lifecycle.MigrationManager;
import org.wanmig.replication.agent.Agent;
import org.wanmig.replication.core.Mode;
import org.wanmig.replication.core.Role;

import org.wanmig.config.DataCenter;
import org.wanmig.config.VirtualServer;
import org.wanmig.drivers.AgentReplicationClient;
import org.wanmig.spi.HypervisorDriver;
import org.wanmig.spi.HypervisorListener;

import java.nio.file.Path;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
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

    /** Two agents and an MMS whose hypervisor switches over in its pause. */
    private void startPausing(Path dir) throws Exception {
        agents = new AgentPair(dir, 4 << 20);
        mms = AgentPair.migrationManager(agents.topology(30), new PausingHypervisor());
        mms.takeOver().get(10, TimeUnit.SECONDS);
    }

    /** A hypervisor that switches over in its pause (as qemu in "pause" mode); the test plays its pause. */
    private static final class PausingHypervisor implements HypervisorDriver {
        @Override
        public String name() {
            return "pausing";
        }

        @Override
        public boolean switchesOverInPause(VirtualServer server) {
            return true;
        }

        @Override
        public void migrate(Migration m, VirtualServer server, DataCenter from, DataCenter to, HypervisorListener l) {
        }

        @Override
        public void abort(Migration m, VirtualServer server, DataCenter from, DataCenter to, boolean moved) {
        }
    }

    @Test
    void pauseModeChecksTheTakeOverInPreparingChangingNothingAndTheTakeOverInThePauseFollows(@TempDir Path dir)
            throws Exception {
        startPausing(dir);
        // B sees ASYNC first: right after wait-sync its view of the mode may still be the old one
        agents.ok(agents.a, "POST", "/v1/disks/vs1/mode", "{\"mode\":\"ASYNC\"}");
        AgentPair.await("B sees ASYNC", 5_000, () -> agents.b.status("vs1").mode() == Mode.ASYNC);

        MigrationId id = mms.startMigration("vs1", "dcB").id();
        Migration migrating = await(id, MigrationState.MIGRATING);
        assertTrue(migrating.timeline().stream().anyMatch(e -> e.state() == MigrationState.MIGRATING
                && e.detail().contains("storage in sync") && e.detail().contains("dcB ready to take over (check")),
                migrating.timeline().toString());
        assertEquals(Role.REPLICA, agents.b.status("vs1").role(), "the check changed nothing at B");
        assertEquals(0, agents.b.status("vs1").generation());
        assertTrue(agents.b.disk("vs1").sessionUp());
        try (NbdTestClient a = new NbdTestClient(agents.a.nbdPort(), "vs1")) {
            assertEquals(0, a.write(0, AgentPair.pattern(0x3c, 4096)), "A still primary, synchronous");
        }
        mms.preSwitchover(id, "paused before switchover").toCompletableFuture().get(10, TimeUnit.SECONDS);
        assertEquals(Role.PRIMARY, agents.b.status("vs1").role(), "B took over in the pause");
        assertEquals(1, agents.b.status("vs1").generation());
        assertEquals(0x3c, java.nio.file.Files.readAllBytes(agents.imageB())[7]);
    }

    @Test
    void aDestinationLostInThePauseAfterItTookOverLeavesTheSourcePrimaryAboveItAndFollowingItWhenItReturns(
            @TempDir Path dir) throws Exception {
        startPausing(dir);
        MigrationId id = mms.startMigration("vs1", "dcB").id();
        await(id, MigrationState.MIGRATING);
        try (NbdTestClient a = new NbdTestClient(agents.a.nbdPort(), "vs1")) {
            assertEquals(0, a.write(0, AgentPair.pattern(0x21, 4096)), "acknowledged at A, synchronously");
        }
        // the pause: B takes over (the MMS's request reached it) and its agent dies before the answer
        agents.b.takeOver("vs1");
        long taken = agents.b.status("vs1").generation();
        AgentPair.await("B's generation durable", 5_000, () -> agents.b.disk("vs1").metaDurable().isDone());
        agents.b.close();

        ExecutionException hook = assertThrows(ExecutionException.class, () -> mms.preSwitchover(id,
                "paused before switchover").toCompletableFuture().get(30, TimeUnit.SECONDS));
        Migration end = await(id, MigrationState.FAILED);
        String last = end.timeline().get(end.timeline().size() - 1).detail();
        assertTrue(end.error().contains("switchover in the pause failed") && last.contains("dcB not demoted")
                && last.contains("dcA primary again without it"), hook + " / " + last);
        assertEquals(Role.PRIMARY, agents.a.status("vs1").role(), "A primary again without B: " + end.error());
        assertEquals(Mode.ASYNC, agents.a.status("vs1").mode());
        assertTrue(agents.a.status("vs1").generation() > taken, "A's generation " + agents.a.status("vs1").generation()
                + " above the one B took over with (" + taken + ")");
        try (NbdTestClient a = new NbdTestClient(agents.a.nbdPort(), "vs1")) {
            assertEquals(0, a.write(65536, AgentPair.pattern(0x22, 4096)), "A takes writes without B");
        }

        // B comes back as it left (primary at the generation it took over with): A's fences it, it follows A
        agents.b = new Agent(AgentPair.config(dir.resolve("b"), 4 << 20, Role.REPLICA, agents.ba.port(), AgentPair.PSK));
        agents.ab.target(new java.net.InetSocketAddress("127.0.0.1", agents.b.peerPort()));
        AgentPair.await("B fenced into A's replica", 15_000, () -> agents.b.status("vs1").role() == Role.REPLICA);
        agents.syncUp(agents.a);
        AgentPair.assertSameBytes(agents.imageA(), agents.imageB());
        assertEquals(Role.PRIMARY, agents.a.status("vs1").role(), "A not fenced by B");
        assertEquals(0x22, java.nio.file.Files.readAllBytes(agents.imageB())[65536 + 7], "A's write after the pause at B");
    }

    @Test
    void aReplicaThatFallsOutOfSyncWhileTheHypervisorCopiesFailsTheMigrationBeforeThePause(@TempDir Path dir)
            throws Exception {
        startPausing(dir);
        MigrationId id = mms.startMigration("vs1", "dcB").id();
        await(id, MigrationState.MIGRATING);
        // the pair leaves SYNC while the hypervisor copies (an operator, a broken stream): B could
        // not take over in the pause, so the re-check (every 2 s) fails the migration before it
        agents.ok(agents.a, "POST", "/v1/disks/vs1/mode", "{\"mode\":\"ASYNC\"}");
        Migration end = await(id, MigrationState.FAILED);
        assertTrue(end.error().startsWith("MIGRATING: dcB can no longer take over vs1's storage")
                && end.error().contains("the primary replicates ASYNC, not SYNC"), end.error());
        assertEquals(Role.PRIMARY, agents.a.status("vs1").role());
        assertEquals(Role.REPLICA, agents.b.status("vs1").role());
        assertEquals(0, agents.b.status("vs1").generation(), "B never took over");
        try (NbdTestClient a = new NbdTestClient(agents.a.nbdPort(), "vs1")) {
            assertEquals(0, a.write(0, AgentPair.pattern(0x4d, 4096)), "A still takes writes");
        }
    }

    @Test
    void takeOverCheckOfTheClientSaysWhyTheAgentWouldRefuse(@TempDir Path dir) throws Exception {
        start(dir);
        org.wanmig.config.WanTopology t = agents.topology(30);
        VirtualServer vs1 = t.server("vs1").orElseThrow();
        DataCenter dcA = t.dataCenter("dcA").orElseThrow();
        DataCenter dcB = t.dataCenter("dcB").orElseThrow();
        AgentReplicationClient client = new AgentReplicationClient();
        agents.syncUp(agents.a);
        assertTrue(client.checkTakeOver(vs1, dcA, dcB).get(10, TimeUnit.SECONDS).startsWith("dcB ready to take over"));

        agents.ok(agents.a, "POST", "/v1/disks/vs1/mode", "{\"mode\":\"ASYNC\"}");
        AgentPair.await("B sees ASYNC", 5_000, () -> agents.b.status("vs1").mode() == Mode.ASYNC);
        ExecutionException e = assertThrows(ExecutionException.class,
                () -> client.checkTakeOver(vs1, dcA, dcB).get(10, TimeUnit.SECONDS));
        assertTrue(e.getCause().getMessage().startsWith("dcB agent would refuse the take-over in the pause")
                && e.getCause().getMessage().contains("the primary replicates ASYNC, not SYNC"), e.getCause().getMessage());
        assertTrue(e.getCause().getMessage().contains(" checks in "), "asked again before giving up: " + e.getCause());
        assertEquals(Role.REPLICA, agents.b.status("vs1").role());
        assertEquals(0, agents.b.status("vs1").generation());
        assertEquals(Role.PRIMARY, agents.a.status("vs1").role());
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
