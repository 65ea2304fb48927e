package org.wanmig.config;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.junit.jupiter.api.Test;
import org.wanmig.testing.Topologies;

import java.time.Duration;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.wanmig.config.ConfigAssertions.assertOnlyProblem;
import static org.wanmig.config.ConfigAssertions.assertProblem;
import static org.wanmig.config.ConfigAssertions.rejected;

/** failover.detection: off by default, every bad value refused with its path. */
class FailoverDetectionConfigTest {

    /** Two DCs with replication agents, and failover.detection as given (JSON). */
    private static ObjectNode config(String detection) {
        ObjectNode c = Topologies.config(Topologies.TWO_DC_TWO_SERVERS);
        ArrayNode dcs = (ArrayNode) c.get("dataCenters");
        ((ObjectNode) dcs.get(0)).put("agent", "http://127.0.0.1:17070");
        ((ObjectNode) dcs.get(1)).put("agent", "http://127.0.0.1:17071");
        if (detection != null) {
            try {
                c.set("failover", Topologies.MAPPER.readTree("{\"detection\": " + detection + "}"));
            } catch (java.io.IOException e) {
                throw new IllegalArgumentException(e);
            }
        }
        return c;
    }

    @Test
    void offByDefault() {
        FailoverDetection d = WanTopologyParser.parse(config(null)).failoverDetection();
        assertEquals(FailoverDetection.DISABLED, d);
        assertFalse(d.enabled());
        assertEquals(Duration.ofSeconds(10), d.after());
        assertEquals(Duration.ofSeconds(1), d.poll());
        assertEquals(Duration.ofSeconds(2), d.peerSilence());
        assertNull(d.to());
        assertFalse(WanTopologyParser.parse(config("{}")).failoverDetection().enabled());
    }

    @Test
    void readsEveryKey() {
        FailoverDetection d = WanTopologyParser.parse(config("{\"enabled\": true, \"afterSeconds\": 4.5,"
                + " \"pollSeconds\": 0.5, \"peerSilenceSeconds\": 1.5, \"to\": \"dcB\"}")).failoverDetection();
        assertTrue(d.enabled());
        assertEquals(Duration.ofMillis(4500), d.after());
        assertEquals(Duration.ofMillis(500), d.poll());
        assertEquals(Duration.ofMillis(1500), d.peerSilence());
        assertEquals("dcB", d.to());
    }

    @Test
    void badValuesAreRefusedWithTheirPaths() {
        assertOnlyProblem(rejected(config("{\"enabled\": \"yes\"}")), "failover.detection.enabled",
                "must be true or false");
        assertOnlyProblem(rejected(config("{\"afterSeconds\": 0}")), "failover.detection.afterSeconds", "positive");
        assertOnlyProblem(rejected(config("{\"afterSeconds\": -3}")), "failover.detection.afterSeconds", "positive");
        assertOnlyProblem(rejected(config("{\"pollSeconds\": \"1\"}")), "failover.detection.pollSeconds", "positive");
        assertOnlyProblem(rejected(config("{\"peerSilenceSeconds\": 0}")), "failover.detection.peerSilenceSeconds",
                "positive");
        assertOnlyProblem(rejected(config("{\"afterSeconds\": 2, \"pollSeconds\": 3}")),
                "failover.detection.pollSeconds", "must not exceed afterSeconds");
        assertOnlyProblem(rejected(config("{\"to\": \"dcZ\"}")), "failover.detection.to", "unknown data center 'dcZ'");
        assertOnlyProblem(rejected(config("{\"to\": 7}")), "failover.detection.to", "must be a data center name");
        // a misspelt key of a safety feature does not pass silently
        assertOnlyProblem(rejected(config("{\"enabled\": true, \"afterSecond\": 5}")),
                "failover.detection.afterSecond", "unknown key");
        assertOnlyProblem(rejected(config("true")), "failover.detection", "must be an object");
        ObjectNode c = config(null);
        c.putObject("failover").put("detect", true);
        assertOnlyProblem(rejected(c), "failover.detect", "unknown key");
        c = config(null);
        c.put("failover", 3);
        assertOnlyProblem(rejected(c), "failover", "must be an object");
    }

    @Test
    void detectionNeedsAgentsInTwoDataCentersAndTheWitnessNeedsOne() {
        ObjectNode c = config("{\"enabled\": true, \"to\": \"dcB\"}");
        ((ObjectNode) c.get("dataCenters").get(1)).remove("agent");
        ConfigException e = rejected(c);
        assertProblem(e, "failover.detection.to", "has no replication agent");
        assertProblem(e, "failover.detection.enabled", "replication agents in two data centers");
        // off, the same configuration is fine: nothing is watched
        c = config("{\"enabled\": false}");
        ((ObjectNode) c.get("dataCenters").get(1)).remove("agent");
        assertFalse(WanTopologyParser.parse(c).failoverDetection().enabled());
    }
}
