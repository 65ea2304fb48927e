package org.wanmig.evacuation;

import org.junit.jupiter.api.Test;
import org.wanmig.api.Evacuation;
import org.wanmig.api.EvacuationEvent;
import org.wanmig.api.EvacuationId;
import org.wanmig.api.EvacuationState;
import org.wanmig.api.MigrationId;
import org.wanmig.api.ServerEvacuation;

import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** The live ETA follows what really happened, not only the plan. */
class EvacuationProgressTest {

    private static ServerEvacuation server(String name, String dc, ServerEvacuation.State state, long started,
                                           long estimate) {
        return new ServerEvacuation(name, dc, null, 0, false, 1, estimate, 0, true, state,
                state == ServerEvacuation.State.IN_FLIGHT ? MigrationId.of(1) : null, 1, started, null);
    }

    private static Evacuation evacuation(EvacuationState state, ServerEvacuation... servers) {
        return new Evacuation(EvacuationId.of(1), "dcA", List.of("dcB", "dcC"), state, List.of(servers),
                Map.of("dcA<->dcB", 1, "dcA<->dcC", 1), 2, 1000, 20_000,
                List.of(new EvacuationEvent(1000, null, "started"), new EvacuationEvent(30_000, null, "last")));
    }

    @Test
    void inFlightServersEndAtTheirEstimateAndTheQueueFollowsOnTheirPair() {
        Evacuation e = evacuation(EvacuationState.RUNNING,
                server("vs0", "dcB", ServerEvacuation.State.IN_FLIGHT, 1000, 10_000),
                server("vs1", "dcB", ServerEvacuation.State.QUEUED, 0, 5_000),
                server("vs2", "dcB", ServerEvacuation.State.QUEUED, 0, 5_000),
                server("vs3", "dcC", ServerEvacuation.State.QUEUED, 0, 7_000),
                server("vs4", "dcB", ServerEvacuation.State.DONE, 0, 99_000));
        // dcB: vs0 ends at 11 000, then vs1 and vs2 one after the other; dcC: vs3 from now
        assertEquals(21_000, EvacuationProgress.projectedEndMillis(e, 4000));
        assertEquals(21_000, e.etaMillis(), "the plan's ETA is fixed: start + planned");
    }

    @Test
    void anOverdueServerIsAssumedToEndNow() {
        Evacuation e = evacuation(EvacuationState.RUNNING,
                server("vs0", "dcB", ServerEvacuation.State.IN_FLIGHT, 1000, 10_000),
                server("vs1", "dcB", ServerEvacuation.State.QUEUED, 0, 5_000));
        assertEquals(20_000, EvacuationProgress.projectedEndMillis(e, 15_000));
    }

    @Test
    void anEndedEvacuationEndedAtItsLastEvent() {
        Evacuation e = evacuation(EvacuationState.COMPLETED,
                server("vs0", "dcB", ServerEvacuation.State.DONE, 1000, 10_000));
        assertEquals(30_000, EvacuationProgress.projectedEndMillis(e, 99_000));
    }
}
