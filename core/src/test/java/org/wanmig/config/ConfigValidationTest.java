package org.wanmig.config;

import com.fasterxml.jackson.databind.node.ObjectNode;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.wanmig.config.ConfigAssertions.assertOnlyProblem;
import static org.wanmig.config.ConfigAssertions.assertProblem;
import static org.wanmig.config.ConfigAssertions.rejected;
import static org.wanmig.testing.Topologies.THREE_DC;
import static org.wanmig.testing.Topologies.TWO_DC;
import static org.wanmig.testing.Topologies.array;
import static org.wanmig.testing.Topologies.config;
import static org.wanmig.testing.Topologies.entry;
import static org.wanmig.testing.Topologies.migration;

/** Each problem is reported with its JSON path and reason, and rejects the whole configuration. */
class ConfigValidationTest {

    private static ObjectNode twoDc(java.util.function.Consumer<ObjectNode> edit) {
        return config(TWO_DC, edit);
    }

    @Test
    void unknownSwitchInLinkIsReported() {
        ConfigException e = rejected(twoDc(c -> entry(c, "links", 2).put("two", "of:00000000000000ff/1")));
        assertProblem(e, "links[2].two", "unknown switch of:00000000000000ff");
    }

    @Test
    void linkOnPortThatIsNotAWanPortOfThePeIsReported() {
        ConfigException e = rejected(twoDc(c -> entry(c, "links", 1).put("two", "of:000000000000000a/2")));
        assertProblem(e, "links[1].two", "not a WAN port of dcA");
    }

    @Test
    void unknownDataCenterOfServerIsReported() {
        ConfigException e = rejected(twoDc(c -> entry(c, "servers", 0).put("dc", "dcX")));
        assertProblem(e, "servers[0].dc", "unknown data center 'dcX'");
    }

    @Test
    void unknownDataCenterInServerPortsIsReported() {
        ConfigException e = rejected(twoDc(c -> ((ObjectNode) entry(c, "servers", 0).get("ports")).put("dcZ", 2)));
        assertOnlyProblem(e, "servers[0].ports.dcZ", "unknown data center 'dcZ'");
    }

    @Test
    void serverPortThatIsNotAServerPortIsReported() {
        ConfigException e = rejected(twoDc(c -> entry(c, "servers", 0).put("port", 1)));
        assertProblem(e, "servers[0].port", "not a server port of dcA");
    }

    @Test
    void serverPortAtOtherDataCenterThatIsNotAServerPortIsReported() {
        ConfigException e = rejected(twoDc(c -> ((ObjectNode) entry(c, "servers", 0).get("ports")).put("dcB", 7)));
        assertOnlyProblem(e, "servers[0].ports.dcB", "7 is not a server port of dcB");
    }

    @Test
    void duplicateServerIpIsReported() {
        ConfigException e = rejected(config(THREE_DC, c -> entry(c, "servers", 1).put("ip", "10.2.0.10")));
        assertOnlyProblem(e, "servers[1].ip", "duplicate IP 10.2.0.10");
    }

    @Test
    void duplicateServerNameIsReported() {
        ConfigException e = rejected(config(THREE_DC, c -> entry(c, "servers", 1).put("name", "vs1")));
        assertOnlyProblem(e, "servers[1].name", "duplicate name 'vs1'");
    }

    @Test
    void duplicateDataCenterNameIsReported() {
        ConfigException e = rejected(config(THREE_DC, c -> entry(c, "dataCenters", 2).put("name", "dcA")));
        assertProblem(e, "dataCenters[2].name", "duplicate name 'dcA'");
    }

    @Test
    void duplicateClientSiteNameIsReported() {
        ConfigException e = rejected(config(THREE_DC, c -> entry(c, "clientSites", 1).put("name", "site1")));
        assertOnlyProblem(e, "clientSites[1].name", "duplicate name 'site1'");
    }

    @Test
    void overlappingClientPrefixesAreReported() {
        ConfigException e = rejected(config(THREE_DC, c ->
                array(entry(c, "clientSites", 1), "prefixes").add("10.0.0.0/16")));
        assertProblem(e, "clientSites[1].prefixes[1]", "overlapping prefixes: 10.0.0.0/16 overlaps 10.0.1.0/24");
    }

    @Test
    void missingWanPathBetweenDataCentersIsReported() {
        ConfigException e = rejected(twoDc(c -> entry(c, "links", 3).put("up", false)));
        assertProblem(e, "links", "no WAN path between dcA and dcB");
    }

    @Test
    void siteCutOffFromTheWanIsReported() {
        ConfigException e = rejected(twoDc(c -> entry(c, "links", 0).put("up", false)));
        assertProblem(e, "links", "no WAN path between client site site1 and dcA");
    }

    @Test
    void labelRangeTooSmallForOneMigrationIsReported() {
        ConfigException e = rejected(config(THREE_DC, c -> c.putObject("labels").put("min", 500).put("max", 501)));
        assertOnlyProblem(e, "labels", "label range exhausted");
    }

    @Test
    void labelRangeExactlyOneMigrationIsAccepted() {
        WanTopology t = WanTopologyParser.parse(config(THREE_DC, c -> c.putObject("labels").put("min", 500).put("max", 502)));
        assertEquals(3, t.labels().size());
    }

    @Test
    void reservedLabelsAreReported() {
        ConfigException e = rejected(twoDc(c -> c.putObject("labels").put("min", 15).put("max", 100)));
        assertOnlyProblem(e, "labels.min", "reserved");
    }

    @Test
    void labelAboveTwentyBitsIsReported() {
        ConfigException e = rejected(twoDc(c -> c.putObject("labels").put("min", 1000).put("max", 1 << 20)));
        assertOnlyProblem(e, "labels.max", "at most 1048575");
    }

    @Test
    void largestLabelIsAccepted() {
        WanTopology t = WanTopologyParser.parse(twoDc(c -> c.putObject("labels").put("min", 16).put("max", (1 << 20) - 1)));
        assertEquals((1 << 20) - 1, t.labels().max());
    }

    @Test
    void labelMinAboveMaxIsReported() {
        ConfigException e = rejected(twoDc(c -> c.putObject("labels").put("min", 2000).put("max", 1000)));
        assertProblem(e, "labels", "min 2000 is above max 1000");
    }

    @Test
    void badMacIsReported() {
        ConfigException e = rejected(twoDc(c -> entry(c, "servers", 0).put("mac", "00:00:00:02:10")));
        assertOnlyProblem(e, "servers[0].mac", "must be a MAC address");
    }

    @Test
    void badGatewayMacIsReported() {
        ConfigException e = rejected(twoDc(c -> c.put("gatewayMac", "zz:00:5e:00:01:01")));
        assertOnlyProblem(e, "gatewayMac", "must be a MAC address");
    }

    @Test
    void badIpIsReported() {
        ConfigException e = rejected(twoDc(c -> entry(c, "servers", 0).put("ip", "10.2.0.300")));
        assertOnlyProblem(e, "servers[0].ip", "must be an IPv4 address, got '10.2.0.300'");
    }

    @Test
    void prefixWithHostBitsIsReported() {
        ConfigException e = rejected(twoDc(c -> array(entry(c, "clientSites", 0), "prefixes").set(0, com.fasterxml.jackson.databind.node.TextNode.valueOf("10.0.1.1/24"))));
        assertProblem(e, "clientSites[0].prefixes[0]", "host bits set");
    }

    @Test
    void badDeviceIdIsReported() {
        ConfigException e = rejected(twoDc(c -> entry(c, "dataCenters", 0).put("pe", "of:00a")));
        assertOnlyProblem(e, "dataCenters[0].pe", "is not an OpenFlow device id");
    }

    @Test
    void badDeviceIdInLinkIsReported() {
        ConfigException e = rejected(twoDc(c -> entry(c, "links", 0).put("one", "of:1/2")));
        assertOnlyProblem(e, "links[0].one", "is not an OpenFlow device id");
    }

    @Test
    void httpHypervisorDriverWithoutUrlIsReported() {
        ConfigException e = rejected(twoDc(c -> ((ObjectNode) migration(c).get("hypervisor")).remove("url")));
        assertOnlyProblem(e, "migration.hypervisor.url", "the http driver needs");
    }

    @Test
    void unknownHypervisorDriverIsReported() {
        ConfigException e = rejected(twoDc(c -> ((ObjectNode) migration(c).get("hypervisor")).put("driver", "qmp")));
        assertOnlyProblem(e, "migration.hypervisor.driver", "unknown driver 'qmp'");
    }

    @Test
    void nonPositiveTimeoutIsReported() {
        ConfigException e = rejected(twoDc(c -> migration(c).put("prepareTimeoutSeconds", 0)));
        assertOnlyProblem(e, "migration.prepareTimeoutSeconds", "positive");
    }

    @Test
    void retentionIsAPositiveNumberOfHours() {
        ConfigException e = rejected(twoDc(c -> migration(c).put("retentionHours", "a week")));
        assertOnlyProblem(e, "migration.retentionHours", "must be a positive number of hours");
        assertEquals(java.time.Duration.ofMinutes(90), WanTopologyParser.parse(twoDc(
                c -> migration(c).put("retentionHours", 1.5))).settings().retention());
    }

    @Test
    void routeStepGapIsMillisecondsUpToFiveSeconds() {
        assertEquals(java.time.Duration.ofMillis(100), WanTopologyParser.parse(twoDc(c -> { })).settings().routeStepGap());
        assertEquals(java.time.Duration.ZERO, WanTopologyParser.parse(twoDc(
                c -> migration(c).put("routeStepGapMs", 0))).settings().routeStepGap());
        assertEquals(java.time.Duration.ofMillis(40), WanTopologyParser.parse(twoDc(
                c -> migration(c).put("routeStepGapMs", 40))).settings().routeStepGap());
        assertOnlyProblem(rejected(twoDc(c -> migration(c).put("routeStepGapMs", -1))), "migration.routeStepGapMs",
                "must be a non-negative number of milliseconds");
        assertOnlyProblem(rejected(twoDc(c -> migration(c).put("routeStepGapMs", "20ms"))), "migration.routeStepGapMs",
                "must be a non-negative number of milliseconds");
        assertOnlyProblem(rejected(twoDc(c -> migration(c).put("routeStepGapMs", 6000))), "migration.routeStepGapMs",
                "at most 5000");
    }

    @Test
    void clientSiteWithoutPrefixesIsReportedNotACrash() {
        ConfigException e = rejected(twoDc(c -> entry(c, "clientSites", 0).remove("prefixes")));
        assertProblem(e, "clientSites[0].prefixes", "missing");
    }

    @Test
    void missingDataCentersAreReported() {
        ConfigException e = rejected(twoDc(c -> c.remove("dataCenters")));
        assertProblem(e, "dataCenters", "missing");
    }

    @Test
    void severalStructuralProblemsAreReportedAtOnce() {
        ConfigException e = rejected(twoDc(c -> {
            entry(c, "servers", 0).put("mac", "bad");
            entry(c, "dataCenters", 1).put("pe", "nope");
            c.putObject("labels").put("min", 3).put("max", 2_000_000);
            entry(c, "clientSites", 0).put("gateway", "1.2.3");
        }));
        assertProblem(e, "servers[0].mac", "MAC");
        assertProblem(e, "dataCenters[1].pe", "device id");
        assertProblem(e, "labels.min", "reserved");
        assertProblem(e, "labels.max", "at most");
        assertProblem(e, "clientSites[0].gateway", "IPv4 address");
        assertTrue(e.getMessage().contains("servers[0].mac"), e.getMessage());
    }

    @Test
    void severalCrossReferenceProblemsAreReportedAtOnce() {
        ConfigException e = rejected(config(THREE_DC, c -> {
            entry(c, "servers", 1).put("ip", "10.2.0.10");
            entry(c, "servers", 0).put("dc", "dcX");
            entry(c, "links", 0).put("one", "of:00000000000000ee/2");
            entry(c, "clientSites", 1).put("name", "site1");
        }));
        assertProblem(e, "servers[1].ip", "duplicate IP");
        assertProblem(e, "servers[0].dc", "unknown data center 'dcX'");
        assertProblem(e, "links[0].one", "unknown switch");
        assertProblem(e, "clientSites[1].name", "duplicate name");
    }
}
