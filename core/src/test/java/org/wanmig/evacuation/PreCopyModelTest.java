package org.wanmig.evacuation;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.wanmig.evacuation.PreCopyModel.MIB;

class PreCopyModelTest {
    private static final double MIB_PER_S = MIB;

    @Test
    void idleServerIsCopiedInOneRound() {
        PreCopyModel.Estimate e = PreCopyModel.estimate(1024 * MIB, 0, 100 * MIB_PER_S, 64 * MIB, 30);
        assertEquals(1, e.rounds());
        assertEquals(1024 * MIB, e.bytes());
        assertEquals(10_240, e.preCopy().toMillis());
        assertEquals(0, e.stopCopy().toMillis());
        assertTrue(e.converges());
    }

    @Test
    void eachRoundResendsWhatThePreviousOneDirtied() {
        // 1024 MiB at 100 MiB/s: 10.24 s, dirtying 102.4 MiB at 10 MiB/s; that round takes 1.024 s
        // and dirties 10.24 MiB, under the 64 MiB stop-copy size: pause and send it (0.1024 s)
        PreCopyModel.Estimate e = PreCopyModel.estimate(1024 * MIB, 10 * MIB_PER_S, 100 * MIB_PER_S, 64 * MIB, 30);
        assertEquals(2, e.rounds());
        assertEquals(Math.round((1024 + 102.4 + 10.24) * MIB), e.bytes());
        assertEquals(11_264, e.preCopy().toMillis());
        assertEquals(103, e.stopCopy().toMillis());
        assertTrue(e.converges());
    }

    @Test
    void serverDirtyingFasterThanItsBandwidthDoesNotConverge() {
        PreCopyModel.Estimate e = PreCopyModel.estimate(512 * MIB, 120 * MIB_PER_S, 100 * MIB_PER_S, 64 * MIB, 5);
        assertFalse(e.converges());
        assertEquals(5, e.rounds(), "pre-copy gives up at the round limit");
        assertEquals(5120, e.stopCopy().toMillis(), "and pauses to send the whole (capped) dirty set");
    }

    @Test
    void roundLimitStopsASlowlyConvergingServer() {
        // ratio 0.9: the dirty set shrinks by 10 % a round, far from 64 MiB after 3 rounds
        PreCopyModel.Estimate e = PreCopyModel.estimate(4096 * MIB, 90 * MIB_PER_S, 100 * MIB_PER_S, 64 * MIB, 3);
        assertEquals(3, e.rounds());
        assertFalse(e.converges());
    }

    @Test
    void megabitsAreDecimal() {
        assertEquals(125_000_000.0, PreCopyModel.bytesPerSecond(1000));
    }
}
