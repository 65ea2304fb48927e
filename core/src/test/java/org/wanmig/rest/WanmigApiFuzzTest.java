package org.wanmig.rest;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import org.wanmig.api.MigrationService;
import org.wanmig.codec.WanmigCodecContext;
import org.wanmig.config.WanTopology;
import org.wanmig.lifecycle.MigrationManager;
import org.wanmig.spi.Leadership;
import org.wanmig.store.InMemoryMigrationStore;
import org.wanmig.testing.FakeHypervisor;
import org.wanmig.testing.FakeNetwork;
import org.wanmig.testing.FakeReplication;
import org.wanmig.testing.Topologies;

import java.time.Clock;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * The REST operations under arbitrary requests: every answer is a success or a client error
 * (4xx, or 503 when the service is not available) with an "error" body; never a 500 and never an
 * exception out of {@link WanmigApi}. Each input runs against a fresh manager over fakes, so a finding
 * replays alone. Seeds: WanmigApiFuzzTestInputs/&lt;method&gt;/.
 */
class WanmigApiFuzzTest {
    private static final WanTopology TOPOLOGY = Topologies.topology(Topologies.TWO_DC_TWO_SERVERS);

    @FuzzTest
    void operations(FuzzedDataProvider data) {
        MigrationManager manager = new MigrationManager(TOPOLOGY, Topologies.APP_ID, new FakeNetwork(),
                x -> new FakeHypervisor(), new FakeReplication(), new InMemoryMigrationStore(),
                Leadership.STANDALONE, Clock.systemUTC());
        try {
            manager.takeOver().get(10, TimeUnit.SECONDS);
            WanmigApi api = new WanmigApi(manager, new WanmigCodecContext(Map.of(MigrationService.class, manager)),
                    manager::planner);
            if (data.consumeBoolean()) {
                // a migration in flight, so that ids, abort and hypervisor reports reach the lifecycle
                assertEquals(201, api.start("{\"server\":\"vs1\",\"destination\":\"dcB\"}").status());
            }
            int requests = data.consumeInt(1, 4);
            for (int i = 0; i < requests && data.remainingBytes() > 0; i++) {
                check(request(api, data));
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (java.util.concurrent.ExecutionException | java.util.concurrent.TimeoutException e) {
            fail("fixture did not take over", e);
        } finally {
            manager.shutdown();
        }
    }

    private static ApiResponse request(WanmigApi api, FuzzedDataProvider data) {
        String id = data.consumeBoolean() ? String.valueOf(data.consumeInt(-1, 3)) : data.consumeString(16);
        switch (data.consumeInt(0, 6)) {
            case 0:
                return api.start(data.consumeString(400));
            case 1:
                return api.hypervisorReport(id, data.consumeString(400));
            case 2:
                return api.abort(id);
            case 3:
                return api.migration(id);
            case 4:
                return api.rules(id);
            case 5:
                return api.dataCenters();
            default:
                return data.consumeBoolean() ? api.servers() : api.migrations();
        }
    }

    private static void check(ApiResponse r) {
        assertNotNull(r, "an answer");
        int s = r.status();
        assertTrue(s == 200 || s == 201 || (s >= 400 && s < 500) || s == 503, "status " + s + ": " + r.body());
        assertNotNull(r.body(), "a body");
        if (s >= 400) {
            assertTrue(r.body().has("error"), "an error body: " + r.body());
        }
    }
}
