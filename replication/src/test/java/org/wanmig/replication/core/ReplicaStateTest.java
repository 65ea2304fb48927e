package org.wanmig.replication.core;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.wanmig.replication.disk.DiskImage;

import java.nio.ByteBuffer;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * "Behind" follows what it is derived from (the stream's sequence numbers, the resync, the
 * primary's STATUS, a fence) in the status and in the persisted metadata; demote and fence leave a
 * replica with an empty dirty bitmap, fence with a report of what was never replicated.
 */
@Timeout(30)
class ReplicaStateTest {
    private static final long SIZE = 1 << 20;
    private static final int BLOCK = 64 * 1024;

    @TempDir
    Path dir;

    private ReplicatedDisk disk(String name, Role role) throws Exception {
        return new ReplicatedDisk(name, DiskImage.open(dir.resolve(name + ".img"), SIZE), role, BLOCK, 4 << 20);
    }

    private static void assertBehind(ReplicatedDisk d, boolean behind, long lagWrites, String when) {
        assertEquals(behind, d.knownBehind(), when);
        assertEquals(behind, d.status().behind(), when + " (status)");
        assertEquals(lagWrites, d.status().lagWrites(), when + " (lagWrites)");
    }

    @Test
    void behindFollowsTheStreamSequenceNumbersAndStatus() throws Exception {
        ReplicatedDisk d = disk("r", Role.REPLICA);
        assertBehind(d, false, 0, "a fresh replica");
        Object session = new Object();
        d.claimSession(session);
        assertBehind(d, true, 0, "stream open, its resync not ended");
        d.apply(session, java.util.List.of(ReplicatedWrite.data(0, ByteBuffer.wrap(new byte[4096]), true)));
        assertFalse(d.consistent(), "a resync write marks the image inconsistent");
        d.resyncComplete(session, 10, 10);
        assertBehind(d, false, 0, "resync ended with nothing queued behind it");
        assertTrue(d.consistent());
        d.noteApplied(11, 15);
        assertBehind(d, true, 4, "four writes queued behind the last applied one");
        d.noteApplied(15, 15);
        assertBehind(d, false, 0, "caught up with the head");
        d.peerStatus(new PeerView(Mode.ASYNC, false, 4096, 0.1, 0));
        assertBehind(d, true, 0, "the primary reports unacknowledged data");
        d.peerStatus(new PeerView(Mode.ASYNC, false, 0, 0, 0));
        assertBehind(d, false, 0, "the primary reports nothing unacknowledged");
        d.noteApplied(16, 20);
        d.sessionUp(false);
        d.close();
        // persisted at the end of the session: a restart still knows it is behind
        ReplicatedDisk again = disk("r", Role.REPLICA);
        assertBehind(again, true, 0, "reloaded after a session that ended behind");
        Object next = new Object();
        again.claimSession(next);
        again.resyncComplete(next, 30, 30);
        assertBehind(again, false, 0, "a new stream's resync ended");
        again.close();
    }

    @Test
    void promoteAndDemoteLeaveNoStaleReplicaState() throws Exception {
        ReplicatedDisk d = disk("p", Role.REPLICA);
        Object session = new Object();
        d.claimSession(session);
        d.resyncComplete(session, 5, 5);
        d.noteApplied(6, 9);
        d.peerStatus(new PeerView(Mode.ASYNC, false, 4096, 0.1, 0));
        assertBehind(d, true, 3, "behind before the forced promote");
        d.becomePrimary(true);
        assertBehind(d, false, 0, "a primary is never behind");
        d.becomeReplica(true);
        assertBehind(d, false, 0, "demoted: what it knew as a replica before the promote is gone");
        d.close();
    }

    @Test
    void fenceMakesABehindReplicaWithAReportAndAnEmptyBitmap() throws Exception {
        ReplicatedDisk d = disk("f", Role.PRIMARY);
        d.write(2 * BLOCK + 100, ByteBuffer.wrap(new byte[2 * BLOCK]), false); // no link: marked dirty
        assertEquals(null, d.fenceByGeneration(0), "not above our generation: nothing happens");
        FenceReport rep = d.fenceByGeneration(3);
        assertNotNull(rep);
        assertEquals(Role.REPLICA, d.role());
        assertEquals(3, d.generation());
        assertEquals(3 * BLOCK, rep.unreplicatedBytes(), rep.toString());
        assertEquals(0, d.dirtyBitmap().dirtyCount(), "nothing is owed to a peer by a replica");
        assertBehind(d, true, 0, "fenced: behind until the new primary's resync ends");
        assertEquals(null, d.fenceByGeneration(4), "already a replica");
        d.close();
        ReplicatedDisk again = disk("f", Role.PRIMARY);
        assertEquals(Role.REPLICA, again.role());
        assertBehind(again, true, 0, "a restarted fenced copy still knows it is behind");
        again.close();
    }
}
