package org.wanmig.embedded.store;

import com.fasterxml.jackson.databind.node.ObjectNode;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.wanmig.api.Evacuation;
import org.wanmig.api.EvacuationState;
import org.wanmig.api.MigrationId;
import org.wanmig.api.MigrationState;
import org.wanmig.api.ServerEvacuation;
import org.wanmig.config.WanTopology;
import org.wanmig.config.WanTopologyParser;
import org.wanmig.evacuation.EvacuationHost;
import org.wanmig.lifecycle.MigrationManager;
import org.wanmig.spi.Leadership;
import org.wanmig.testing.WanmigFixtures;

import java.nio.file.Path;
import java.util.List;
import java.util.function.Supplier;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * The embedded runtime's restart, as its main does it: a new manager and a new evacuation host over
 * the same --state-dir go on with an evacuation whose migration was in flight when the first stopped.
 */
class EvacuationRestartTest {
    @TempDir
    Path stateDir;

    private static <T> T eventually(String what, Supplier<T> value) throws InterruptedException {
        long deadline = System.nanoTime() + org.wanmig.testing.Poll.PATIENCE.toNanos(); // as every other wait
        while (System.nanoTime() < deadline) {
            T v = value.get();
            if (v != null) {
                return v;
            }
            Thread.sleep(10);
        }
        throw new AssertionError("never: " + what);
    }

    @Test
    void aRestartedRuntimeGoesOnWithTheEvacuation() throws Exception {
        ObjectNode config = WanmigFixtures.restDriverConfig();
        ((ObjectNode) config.path("migration")).put("drainSeconds", 0);
        WanTopology topology = WanTopologyParser.parse(config);

        MigrationManager first = WanmigFixtures.drivingManager(topology, new WanmigFixtures.RecordingNetwork(),
                new FileMigrationStore(stateDir));
        EvacuationHost before = new EvacuationHost(first, new FileEvacuationStore(stateDir), () -> topology,
                Leadership.STANDALONE, System::currentTimeMillis);
        before.takeOver();
        Evacuation e = before.evacuate("dcA", List.of("dcB"), List.of());
        MigrationId inFlight = eventually("vs1 in flight", () -> before.evacuation(e.id()).orElseThrow()
                .server("vs1").map(ServerEvacuation::migrationId).orElse(null));
        // killed while the hypervisor copies (a restart in PREPARING rolls the migration back instead)
        eventually("vs1 migrating", () -> first.migration(inFlight)
                .filter(m -> m.state() == MigrationState.MIGRATING).orElse(null));
        before.close();
        first.shutdown();

        MigrationManager second = WanmigFixtures.drivingManager(topology, new WanmigFixtures.RecordingNetwork(),
                new FileMigrationStore(stateDir));
        EvacuationHost after = new EvacuationHost(second, new FileEvacuationStore(stateDir), () -> topology,
                Leadership.STANDALONE, System::currentTimeMillis);
        try {
            after.takeOver();
            assertEquals(EvacuationState.RUNNING, after.evacuation(e.id()).orElseThrow().state());
            eventually("the restarted manager waits for the hypervisor", () -> second.migration(inFlight)
                    .filter(m -> m.state() == MigrationState.MIGRATING).orElse(null));
            second.hypervisorCompleted(inFlight, "running at dcB");
            Evacuation end = eventually("completed", () -> after.evacuation(e.id())
                    .filter(x -> x.state() == EvacuationState.COMPLETED).orElse(null));
            assertEquals(ServerEvacuation.State.DONE, end.server("vs1").orElseThrow().state());
            assertEquals(inFlight, end.server("vs1").orElseThrow().migrationId());
            assertEquals("dcB", second.location("vs1"));
            assertEquals(1, second.migrations().size(), "the restart started no second migration");
        } finally {
            after.close();
            second.shutdown();
        }
    }
}
