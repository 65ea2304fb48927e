package org.wanmig.replication;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.wanmig.replication.core.Mode;
import org.wanmig.replication.core.Role;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The peer link dies silently, as when a WAN link goes down: nothing is closed, bytes just stop
 * arriving (LinkProxy.blackhole). A synchronous write must not wait out the peer's 30 s idle
 * deadline: after the ack timeout (1 s here, 5 s by default) with the peer silent, the link is
 * declared dead and the write completes at the primary, dirty; when the link returns, the
 * replica is brought up to date. A switch to ASYNC releases a waiting write at once.
 */
@Timeout(120)
class SilentLinkTest {
    @TempDir
    Path dir;

    /** Agents whose primary (A) declares a silent link dead after {@code ackTimeoutMs}. */
    private AgentPair pairWithAckTimeout(int ackTimeoutMs) throws IOException {
        return new AgentPair(dir, 8 << 20, a -> a.psk(AgentPair.PSK).transport.peerAckTimeoutMs(ackTimeoutMs),
                b -> b.psk(AgentPair.PSK));
    }

    /** Both directions of the peer link drop every byte, nothing closed: a WAN link gone down. */
    private static void silence(AgentPair p) {
        p.ab.blackhole();
        p.ba.blackhole();
    }

    /** A 4 KiB write of {@code pattern} at {@code offset} on a thread of its own; completes with its NBD error. */
    private static CompletableFuture<Integer> writeInBackground(NbdTestClient c, long offset, int pattern) {
        return CompletableFuture.supplyAsync(() -> {
            try {
                return c.write(offset, AgentPair.pattern(pattern, 4096));
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        });
    }

    @Test
    void aSynchronousWriteOverADeadLinkCompletesAfterTheAckTimeoutAndIsResyncedLater() throws Exception {
        try (AgentPair p = pairWithAckTimeout(2000)) {
            p.syncUp(p.a);
            try (NbdTestClient a = new NbdTestClient(p.a.nbdPort(), "vs1")) {
                assertEquals(0, a.write(0, AgentPair.pattern(0x41, 4096)), "SYNC over a live link");

                silence(p);
                long t0 = System.nanoTime();
                assertEquals(0, a.write(65536, AgentPair.pattern(0x42, 4096)), "completed at A without B");
                long tookMs = (System.nanoTime() - t0) / 1_000_000;
                assertTrue(tookMs >= 1_900 && tookMs < 15_000, "waited the ack timeout, not the 30 s idle deadline: "
                        + tookMs + " ms");
                AgentPair.await("A's link down", 5_000, () -> !p.a.disk("vs1").isLinkUp());
                assertFalse(p.a.status("vs1").inSync());
                assertEquals(Mode.SYNC, p.a.status("vs1").mode(), "the mode asked for stays; it is not in sync");
                long t1 = System.nanoTime();
                assertEquals(0, a.write(2 * 65536, AgentPair.pattern(0x43, 4096)), "and the next one at once");
                assertTrue((System.nanoTime() - t1) / 1_000_000 < 1_900, "no link: no wait");
            }
            p.ab.restore();
            p.ba.restore();
            p.ok(p.a, "POST", "/v1/disks/vs1/wait-sync", "{\"timeoutMs\":30000}");
            AgentPair.assertSameBytes(p.imageA(), p.imageB());
            assertEquals(0x43, Files.readAllBytes(p.imageB())[2 * 65536 + 5]);
            assertEquals(Role.PRIMARY, p.a.status("vs1").role());
        }
    }

    /**
     * The replica stops counting a silent stream as live for a take-over well before its primary
     * declares the link dead and acknowledges writes the replica lacks: a take-over asked in
     * between is refused (before, the replica trusted the session until its 30 s idle deadline).
     */
    @Test
    void aReplicaRefusesATakeOverOnceItsPrimaryIsSilentBeforeThePrimaryWritesWithoutIt() throws Exception {
        try (AgentPair p = pairWithAckTimeout(2000)) {
            p.syncUp(p.a);
            AgentPair.await("B sees SYNC", 5_000, () -> p.b.disk("vs1").takeOverLacking() == null);
            try (NbdTestClient a = new NbdTestClient(p.a.nbdPort(), "vs1")) {
                silence(p);
                CompletableFuture<Integer> write = writeInBackground(a, 5 * 65536, 0x45);
                AgentPair.await("B no longer trusts the stream", 5_000, () -> p.b.disk("vs1").takeOverLacking() != null);
                String why = p.b.disk("vs1").takeOverLacking();
                assertTrue(why.startsWith("the primary has been silent for"), why);
                assertFalse(write.isDone(), "A acknowledged nothing without B before B stopped trusting the stream");
                String[] r = p.call(p.b, "POST", "/v1/disks/vs1/promote", "{\"takeover\":true}");
                assertEquals("409", r[0], r[1]);
                assertEquals(Role.REPLICA, p.b.disk("vs1").role());
                assertEquals(0, write.get(10, TimeUnit.SECONDS), "then A declares the link dead");
            }
        }
    }

    /**
     * The MMS gives up a migration whose replica is cut off and sets the primary ASYNC: a write
     * already waiting for the dead link's acknowledgement completes then, not at the ack timeout
     * (60 s here), and reaches the replica once the link is back.
     */
    @Test
    void aWriteWaitingOnADeadLinkCompletesWhenThePrimaryGoesAsync() throws Exception {
        try (AgentPair p = pairWithAckTimeout(60_000)) {
            p.syncUp(p.a);
            try (NbdTestClient a = new NbdTestClient(p.a.nbdPort(), "vs1")) {
                silence(p);
                CompletableFuture<Integer> write = writeInBackground(a, 3 * 65536, 0x44);
                Thread.sleep(500);
                assertFalse(write.isDone(), "a synchronous write waits for the peer");
                long t0 = System.nanoTime();
                p.ok(p.a, "POST", "/v1/disks/vs1/mode", "{\"mode\":\"ASYNC\"}");
                assertEquals(0, write.get(5, TimeUnit.SECONDS), "completed once ASYNC");
                assertTrue((System.nanoTime() - t0) / 1_000_000 < 2_000, "at the mode change, not a timeout");
            }
            p.ab.cut();   // the connections that lost bytes end; new ones carry the resync
            p.ba.cut();
            p.ab.restore();
            p.ba.restore();
            p.syncUp(p.a);
            AgentPair.assertSameBytes(p.imageA(), p.imageB());
            assertEquals(0x44, Files.readAllBytes(p.imageB())[3 * 65536 + 5]);
        }
    }
}
