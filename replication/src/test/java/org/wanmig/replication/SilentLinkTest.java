package org.wanmig.replication;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.wanmig.replication.core.Mode;
import org.wanmig.replication.core.Role;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The peer link dies silently, as when a WAN link goes down: nothing is closed, bytes just stop
 * arriving (LinkProxy.blackhole). A synchronous write must not wait out the peer's 30 s idle
 * deadline: after the ack timeout (1 s here, 5 s by default) with the peer silent, the link is
 * declared dead and the write completes at the primary, dirty; when the link returns, the
 * replica is brought up to date.
 */
@Timeout(120)
class SilentLinkTest {
    @TempDir
    Path dir;

    @Test
    void aSynchronousWriteOverADeadLinkCompletesAfterTheAckTimeoutAndIsResyncedLater() throws Exception {
        try (AgentPair p = new AgentPair(dir, 8 << 20, a -> a.psk(AgentPair.PSK).transport.peerAckTimeoutMs(1000),
                b -> b.psk(AgentPair.PSK))) {
            p.syncUp(p.a);
            try (NbdTestClient a = new NbdTestClient(p.a.nbdPort(), "vs1")) {
                assertEquals(0, a.write(0, AgentPair.pattern(0x41, 4096)), "SYNC over a live link");

                p.ab.blackhole();
                p.ba.blackhole();
                long t0 = System.nanoTime();
                assertEquals(0, a.write(65536, AgentPair.pattern(0x42, 4096)), "completed at A without B");
                long tookMs = (System.nanoTime() - t0) / 1_000_000;
                assertTrue(tookMs >= 900 && tookMs < 10_000, "waited the ack timeout, not the 30 s idle deadline: "
                        + tookMs + " ms");
                AgentPair.await("A's link down", 5_000, () -> !p.a.disk("vs1").isLinkUp());
                assertFalse(p.a.status("vs1").inSync());
                assertEquals(Mode.SYNC, p.a.status("vs1").mode(), "the mode asked for stays; it is not in sync");
                long t1 = System.nanoTime();
                assertEquals(0, a.write(2 * 65536, AgentPair.pattern(0x43, 4096)), "and the next one at once");
                assertTrue((System.nanoTime() - t1) / 1_000_000 < 900, "no link: no wait");
            }
            p.ab.restore();
            p.ba.restore();
            p.ok(p.a, "POST", "/v1/disks/vs1/wait-sync", "{\"timeoutMs\":30000}");
            AgentPair.assertSameBytes(p.imageA(), p.imageB());
            assertEquals(0x43, Files.readAllBytes(p.imageB())[2 * 65536 + 5]);
            assertEquals(Role.PRIMARY, p.a.status("vs1").role());
        }
    }
}
