package org.wanmig.config;

import com.fasterxml.jackson.databind.node.ObjectNode;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.function.Consumer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.wanmig.config.ConfigAssertions.assertOnlyProblem;
import static org.wanmig.config.ConfigAssertions.assertProblem;
import static org.wanmig.config.ConfigAssertions.rejected;
import static org.wanmig.testing.Topologies.TWO_DC;
import static org.wanmig.testing.Topologies.config;

/** migration.hypervisor for the qemu driver. */
class QemuConfigTest {

    private static ObjectNode qemu(Consumer<ObjectNode> edit) {
        return config(TWO_DC, c -> {
            ObjectNode hv = ((ObjectNode) c.with("migration")).putObject("hypervisor").put("driver", "qemu");
            hv.putObject("agents").put("dcA", "http://127.0.0.1:8401").put("dcB", "http://127.0.0.1:8402");
            edit.accept(hv);
        });
    }

    @Test
    void defaultsArePauseModeWithoutCap() {
        QemuOptions q = WanTopologyParser.parse(qemu(hv -> { })).settings().qemu();
        assertEquals(QemuOptions.Switchover.PAUSE, q.switchover());
        assertEquals(Duration.ofMillis(300), q.downtimeLimit());
        assertEquals(2, q.agents().size());
        assertFalse(q.compress());
        assertEquals(Duration.ofSeconds(3), q.completionBudget(), "5 x 300 ms is under the 3 s floor");
    }

    @Test
    void completionBudgetDefaultsToFiveDowntimeLimitsOrIsSetWithinTheSwitchTimeout() {
        assertEquals(Duration.ofSeconds(5), WanTopologyParser.parse(qemu(hv -> hv.put("downtimeLimitMs", 1000)))
                .settings().qemu().completionBudget());
        assertEquals(Duration.ofMillis(2500), WanTopologyParser.parse(qemu(hv -> hv.put("downtimeLimitMs", 1000)
                .put("completionBudgetMs", 2500))).settings().qemu().completionBudget());
    }

    @Test
    void completionBudgetNotAboveTheDowntimeLimitOrNotUnderTheSwitchTimeoutIsRefused() {
        assertOnlyProblem(rejected(qemu(hv -> hv.put("downtimeLimitMs", 1000).put("completionBudgetMs", 1000))),
                "migration.hypervisor.completionBudgetMs", "must be longer than downtimeLimitMs (1000)");
        assertOnlyProblem(rejected(config(TWO_DC, c -> {
            ObjectNode m = (ObjectNode) c.with("migration");
            m.put("switchTimeoutSeconds", 10);
            ObjectNode hv = m.putObject("hypervisor").put("driver", "qemu").put("completionBudgetMs", 10_000);
            hv.putObject("agents").put("dcA", "http://127.0.0.1:8401").put("dcB", "http://127.0.0.1:8402");
        })), "migration.hypervisor.completionBudgetMs", "must be shorter than migration.switchTimeoutSeconds (10 s)");
        assertOnlyProblem(rejected(qemu(hv -> hv.put("completionBudgetMs", "soon"))),
                "migration.hypervisor.completionBudgetMs", "must be a positive integer");
    }

    @Test
    void slowCapTurnsCompressionOn() {
        QemuOptions q = WanTopologyParser.parse(qemu(hv -> hv.put("maxBandwidthMbps", 50)
                .put("switchover", "paper").put("downtimeLimitMs", 100))).settings().qemu();
        assertTrue(q.compress());
        assertEquals(QemuOptions.Switchover.PAPER, q.switchover());
        assertEquals(Duration.ofMillis(100), q.downtimeLimit());
    }

    @Test
    void everyDataCenterNeedsAnAgent() {
        assertOnlyProblem(rejected(qemu(hv -> ((ObjectNode) hv.get("agents")).remove("dcB"))),
                "migration.hypervisor.agents", "missing the hypervisor agent of data center dcB");
    }

    @Test
    void agentOfUnknownDataCenterAndBadValuesAreReported() {
        var e = rejected(qemu(hv -> {
            ((ObjectNode) hv.get("agents")).put("dcX", "ftp://x");
            hv.put("switchover", "later").put("downtimeLimitMs", -1);
        }));
        assertProblem(e, "migration.hypervisor.agents.dcX", "unknown data center");
        assertProblem(e, "migration.hypervisor.agents.dcX", "not an http(s) URL");
        assertProblem(e, "migration.hypervisor.switchover", "expected \"pause\"");
        assertProblem(e, "migration.hypervisor.downtimeLimitMs", "must be a positive integer");
    }
}
