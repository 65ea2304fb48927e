package org.wanmig.codec;

import com.fasterxml.jackson.databind.node.ObjectNode;
import org.junit.jupiter.api.Test;
import org.wanmig.api.Evacuation;
import org.wanmig.api.EvacuationEvent;
import org.wanmig.api.EvacuationId;
import org.wanmig.api.EvacuationState;
import org.wanmig.api.MigrationId;
import org.wanmig.api.ServerEvacuation;
import org.wanmig.store.InMemoryEvacuationStore;

import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class EvacuationCodecTest {
    private final WanmigCodecContext context = new WanmigCodecContext(Map.of());

    private static ServerEvacuation server(String name, ServerEvacuation.State state, Long migration, int attempts,
                                           String reason) {
        return new ServerEvacuation(name, "dcB", name.equals("vs0") ? "database" : null, name.equals("vs0") ? 0 : 1,
                name.equals("vs2"), 1_073_741_824L, 45_000, 90_000, !name.equals("vs2"), state,
                migration == null ? null : MigrationId.of(migration), attempts,
                migration == null ? 0 : 1_700_000_000_000L + migration, reason);
    }

    static Evacuation sample() {
        return new Evacuation(EvacuationId.of(7), "dcA", List.of("dcB", "dcC"), EvacuationState.RUNNING,
                List.of(server("vs0", ServerEvacuation.State.DONE, 3L, 1, null),
                        server("vs1", ServerEvacuation.State.IN_FLIGHT, 5L, 2, "migration 4 FAILED: timeout"),
                        server("vs2", ServerEvacuation.State.QUEUED, null, 0, null),
                        server("vs3", ServerEvacuation.State.FAILED, 6L, 2, "disk \"not\" in sync")),
                Map.of("dcA<->dcB", 4, "dcA<->dcC", 2), 2, 1_700_000_000_000L, 180_000,
                List.of(new EvacuationEvent(1_700_000_000_000L, null, "started"),
                        new EvacuationEvent(1_700_000_000_100L, "vs0", "migration 3 to dcB started")));
    }

    @Test
    void aRecordSurvivesTheRoundTripWhole() throws Exception {
        EvacuationCodec codec = new EvacuationCodec();
        Evacuation e = sample();
        ObjectNode json = codec.encode(e, context);
        assertEquals(e, codec.decode(json, context));
        // and through text, as a file store keeps it
        com.fasterxml.jackson.databind.ObjectMapper mapper = org.wanmig.testing.Topologies.MAPPER;
        assertEquals(e, codec.decode((ObjectNode) mapper.readTree(mapper.writeValueAsString(json)), context));
    }

    @Test
    void progressBytesAndEtaAreShownForPeople() {
        ObjectNode json = context.codec(Evacuation.class).encode(sample(), context);
        ObjectNode progress = (ObjectNode) json.get("progress");
        assertEquals(1, progress.get("done").asInt());
        assertEquals(1, progress.get("inFlight").asInt());
        assertEquals(1, progress.get("queued").asInt());
        assertEquals(1, progress.get("failed").asInt());
        assertEquals(0, progress.get("cancelled").asInt());
        assertEquals(1_073_741_824L, progress.get("bytesDone").asLong());
        assertEquals(4 * 1_073_741_824L, progress.get("bytesTotal").asLong());
        assertEquals("2023-11-14T22:16:20Z", json.get("eta").asText());
        assertEquals(5, json.get("servers").get(1).get("migration").asLong());
        assertTrue(json.get("servers").get(2).get("migration").isNull());
    }

    @Test
    void theInMemoryStoreNeverHandsOutAnIdTwice() {
        InMemoryEvacuationStore store = new InMemoryEvacuationStore();
        store.put(sample());
        assertEquals(EvacuationId.of(8), store.nextId());
        assertEquals(sample(), store.get(EvacuationId.of(7)).orElseThrow());
        assertEquals(1, store.all().size());
    }
}
