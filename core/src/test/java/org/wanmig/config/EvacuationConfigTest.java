package org.wanmig.config;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.List;
import java.util.function.Consumer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.wanmig.config.ConfigAssertions.assertOnlyProblem;
import static org.wanmig.config.ConfigAssertions.assertProblem;
import static org.wanmig.config.ConfigAssertions.rejected;
import static org.wanmig.testing.Topologies.THREE_DC;
import static org.wanmig.testing.Topologies.config;
import static org.wanmig.testing.Topologies.entry;
import static org.wanmig.testing.Topologies.migration;

/** The evacuation keys: optional with defaults, and each mistake named by its path. */
class EvacuationConfigTest {

    private static ObjectNode threeDc(Consumer<ObjectNode> edit) {
        return config(THREE_DC, edit);
    }

    private static ObjectNode evacuation(ObjectNode c) {
        ObjectNode m = migration(c);
        return m.has("evacuation") ? (ObjectNode) m.get("evacuation") : m.putObject("evacuation");
    }

    private static void budget(ObjectNode c, String a, String b, Object mbps) {
        ArrayNode list = evacuation(c).has("bandwidth") ? (ArrayNode) evacuation(c).get("bandwidth")
                : evacuation(c).putArray("bandwidth");
        ObjectNode entry = list.addObject();
        entry.putArray("between").add(a).add(b);
        if (mbps instanceof Number) {
            entry.put("mbps", ((Number) mbps).doubleValue());
        }
    }

    @Test
    void configurationWithoutEvacuationKeysGetsTheDefaults() {
        WanTopology t = WanTopologyParser.parse(config(THREE_DC));
        assertEquals(EvacuationSettings.DEFAULTS, t.settings().evacuation());
        t.dataCenters().forEach(d -> assertTrue(d.capacity().isUnlimited(), d.name()));
        VirtualServer vs1 = t.server("vs1").orElseThrow();
        assertEquals(VirtualServer.DEFAULT_MEMORY_MIB, vs1.memoryMiB());
        assertEquals(VirtualServer.DEFAULT_DIRTY_RATE_MIBPS, vs1.dirtyRateMiBps());
        assertEquals(0, vs1.priority());
        assertNull(vs1.group());
        assertEquals(1000.0, t.settings().evacuation().bandwidthMbps("dcA", "dcB"));
    }

    @Test
    void everyEvacuationKeyIsRead() {
        WanTopology t = WanTopologyParser.parse(threeDc(c -> {
            entry(c, "dataCenters", 1).putObject("capacity").put("memoryMiB", 8192).put("slots", 4);
            entry(c, "dataCenters", 2).putObject("capacity").put("slots", 1);
            entry(c, "servers", 0).put("memoryMiB", 2048).put("dirtyRateMiBps", 12.5).put("priority", 7)
                    .put("group", "database");
            entry(c, "servers", 1).put("group", "web");
            evacuation(c).put("defaultBandwidthMbps", 200).put("maxConcurrentPerPair", 2).put("maxRounds", 10)
                    .put("stopCopyMiB", 16).put("overheadSeconds", 1.5).put("retries", 0)
                    .putArray("groupOrder").add("database").add("web");
            budget(c, "dcB", "dcA", 500);
        }));
        assertEquals(new Capacity(8192L, 4), t.dataCenter("dcB").orElseThrow().capacity());
        assertEquals(new Capacity(null, 1), t.dataCenter("dcC").orElseThrow().capacity());
        assertTrue(t.dataCenter("dcA").orElseThrow().capacity().isUnlimited());
        VirtualServer vs1 = t.server("vs1").orElseThrow();
        assertEquals(2048, vs1.memoryMiB());
        assertEquals(12.5, vs1.dirtyRateMiBps());
        assertEquals(7, vs1.priority());
        assertEquals("database", vs1.group());
        EvacuationSettings e = t.settings().evacuation();
        assertEquals(List.of("database", "web"), e.groupOrder());
        assertEquals(500.0, e.bandwidthMbps("dcA", "dcB"), "one budget for both directions");
        assertEquals(500.0, e.bandwidthMbps("dcB", "dcA"));
        assertEquals(200.0, e.bandwidthMbps("dcA", "dcC"), "pairs not listed get the default");
        assertEquals(2, e.maxConcurrentPerPair());
        assertEquals(10, e.maxRounds());
        assertEquals(16.0, e.stopCopyMiB());
        assertEquals(Duration.ofMillis(1500), e.overhead());
        assertEquals(0, e.retries());
    }

    @Test
    void nonPositiveMemoryIsReported() {
        ConfigException e = rejected(threeDc(c -> entry(c, "servers", 1).put("memoryMiB", 0)));
        assertOnlyProblem(e, "servers[1].memoryMiB", "must be a positive integer");
    }

    @Test
    void negativeDirtyRateIsReported() {
        ConfigException e = rejected(threeDc(c -> entry(c, "servers", 0).put("dirtyRateMiBps", -1)));
        assertOnlyProblem(e, "servers[0].dirtyRateMiBps", "non-negative number");
    }

    @Test
    void fractionalPriorityIsReported() {
        ConfigException e = rejected(threeDc(c -> entry(c, "servers", 0).put("priority", 1.5)));
        assertOnlyProblem(e, "servers[0].priority", "integer");
    }

    @Test
    void emptyGroupIsReported() {
        ConfigException e = rejected(threeDc(c -> entry(c, "servers", 0).put("group", " ")));
        assertOnlyProblem(e, "servers[0].group", "non-empty string");
    }

    @Test
    void zeroSlotsAreReported() {
        ConfigException e = rejected(threeDc(c -> entry(c, "dataCenters", 2).putObject("capacity").put("slots", 0)));
        assertOnlyProblem(e, "dataCenters[2].capacity.slots", "positive integer");
    }

    @Test
    void capacityThatIsNotAnObjectIsReported() {
        ConfigException e = rejected(threeDc(c -> entry(c, "dataCenters", 0).put("capacity", 4096)));
        assertOnlyProblem(e, "dataCenters[0].capacity", "memoryMiB and/or slots");
    }

    @Test
    void budgetForAnUnknownDataCenterIsReported() {
        ConfigException e = rejected(threeDc(c -> {
            budget(c, "dcA", "dcB", 100);
            budget(c, "dcA", "dcX", 100);
        }));
        assertOnlyProblem(e, "migration.evacuation.bandwidth[1].between", "unknown data center 'dcX'");
    }

    @Test
    void budgetBetweenADataCenterAndItselfIsReported() {
        ConfigException e = rejected(threeDc(c -> budget(c, "dcA", "dcA", 100)));
        assertOnlyProblem(e, "migration.evacuation.bandwidth[0].between", "two different data centers");
    }

    @Test
    void secondBudgetForTheSamePairIsReportedWhicheverWayRoundItIsWritten() {
        ConfigException e = rejected(threeDc(c -> {
            budget(c, "dcA", "dcB", 100);
            budget(c, "dcB", "dcA", 200);
        }));
        assertOnlyProblem(e, "migration.evacuation.bandwidth[1].between", "duplicate budget for dcA<->dcB");
    }

    @Test
    void budgetWithoutMbpsIsReported() {
        ConfigException e = rejected(threeDc(c -> budget(c, "dcA", "dcB", null)));
        assertOnlyProblem(e, "migration.evacuation.bandwidth[0].mbps", "missing");
    }

    @Test
    void zeroBudgetIsReported() {
        ConfigException e = rejected(threeDc(c -> budget(c, "dcA", "dcC", 0)));
        assertOnlyProblem(e, "migration.evacuation.bandwidth[0].mbps", "positive number");
    }

    @Test
    void groupMissingFromTheGroupOrderIsReported() {
        ConfigException e = rejected(threeDc(c -> {
            evacuation(c).putArray("groupOrder").add("database").add("web");
            entry(c, "servers", 1).put("group", "databse");
        }));
        assertOnlyProblem(e, "servers[1].group", "group 'databse' is not in migration.evacuation.groupOrder");
    }

    @Test
    void groupsNeedNoOrderWhenNoneIsGiven() {
        WanTopology t = WanTopologyParser.parse(threeDc(c -> entry(c, "servers", 1).put("group", "web")));
        assertEquals("web", t.server("vs2").orElseThrow().group());
    }

    @Test
    void duplicateGroupInTheOrderIsReported() {
        ConfigException e = rejected(threeDc(c -> evacuation(c).putArray("groupOrder").add("web").add("web")));
        assertOnlyProblem(e, "migration.evacuation.groupOrder[1]", "duplicate group 'web'");
    }

    @Test
    void badModelParametersAreEachReported() {
        ConfigException e = rejected(threeDc(c -> evacuation(c).put("maxConcurrentPerPair", 0)
                .put("maxRounds", 2.5).put("stopCopyMiB", -3).put("retries", -1)));
        assertProblem(e, "migration.evacuation.maxConcurrentPerPair", "positive integer");
        assertProblem(e, "migration.evacuation.maxRounds", "positive integer");
        assertProblem(e, "migration.evacuation.stopCopyMiB", "positive number");
        assertProblem(e, "migration.evacuation.retries", "non-negative integer");
        assertEquals(4, e.problems().size(), e.problems().toString());
    }
}
