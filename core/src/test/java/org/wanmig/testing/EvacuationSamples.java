package org.wanmig.testing;

import org.wanmig.api.Evacuation;
import org.wanmig.api.EvacuationEvent;
import org.wanmig.api.EvacuationId;
import org.wanmig.api.EvacuationState;
import org.wanmig.api.MigrationId;
import org.wanmig.api.ServerEvacuation;

import java.util.List;
import java.util.Map;

/** Evacuation records in every server state, for the stores' tests in each runtime. */
public final class EvacuationSamples {
    private EvacuationSamples() {
    }

    private static ServerEvacuation server(String name, ServerEvacuation.State state, Long migration, int attempts,
                                           String reason) {
        return new ServerEvacuation(name, "dcB", name.equals("vs0") ? "database" : null, name.equals("vs0") ? 0 : 1,
                name.equals("vs2"), 1_073_741_824L, 45_000, 90_000, !name.equals("vs2"), state,
                migration == null ? null : MigrationId.of(migration), attempts,
                migration == null ? 0 : 1_700_000_000_000L + migration, reason);
    }

    /** A running evacuation with a done, an in-flight, a queued and a failed server. */
    public static Evacuation running(long id) {
        return new Evacuation(EvacuationId.of(id), "dcA", List.of("dcB", "dcC"), EvacuationState.RUNNING,
                List.of(server("vs0", ServerEvacuation.State.DONE, 3L, 1, null),
                        server("vs1", ServerEvacuation.State.IN_FLIGHT, 5L, 2, "migration 4 FAILED: timeout"),
                        server("vs2", ServerEvacuation.State.QUEUED, null, 0, null),
                        server("vs3", ServerEvacuation.State.FAILED, 6L, 2, "disk \"not\" in sync")),
                Map.of("dcA<->dcB", 4, "dcA<->dcC", 2), 2, 1_700_000_000_000L, 180_000,
                List.of(new EvacuationEvent(1_700_000_000_000L, null, "started"),
                        new EvacuationEvent(1_700_000_000_100L, "vs0", "migration 3 to dcB started")));
    }
}
