package org.wanmig.planner;

import org.junit.jupiter.api.Test;
import org.onosproject.net.DeviceId;
import org.wanmig.testing.ScaleTopology;
import org.wanmig.testing.Topologies;
import org.wanmig.config.WanTopologyParser;

import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** Rules per switch, counted by hand on the 3-DC sample and checked for linear growth. */
class RuleCountReportTest {
    private static final DeviceId PE_A = DeviceId.deviceId("of:000000000000000a");
    private static final DeviceId PE_B = DeviceId.deviceId("of:000000000000000b");
    private static final DeviceId PE_C = DeviceId.deviceId("of:000000000000000c");
    private static final DeviceId S2 = DeviceId.deviceId("of:0000000000000002");
    private static final DeviceId S3 = DeviceId.deviceId("of:0000000000000003");
    private static final DeviceId S1 = DeviceId.deviceId("of:0000000000000001");

    @Test
    void baselineOfTheThreeDcSampleCountedByHand() {
        // site1 - s1 - s2 - peA; s2 - s3 - peB; s3 - s5 - peC; s5 - s4 - site2; s2 - s5
        // per server at dcA: toward peA one rule on s1, s2, peA, s4, s5; back to site1 on peA, s2,
        // s1 and to site2 on peA, s2, s5, s4. Every switch also has its ARP rule, every PE its RARP rule.
        Scenario s = Scenario.of(Topologies.THREE_DC, "vs1", "dcA", "dcC");
        RuleCountReport r = RuleCountReport.of(s.planner, Map.of(), List.of());
        assertEquals(2 + 2 * 3, r.baseline().get(PE_A));
        assertEquals(1 + 2 + 2 * 3, r.baseline().get(S2), "site routes both ways cross s2");
        assertEquals(2, r.baseline().get(PE_B));
        assertEquals(1, r.baseline().get(S3), "off every shortest path");
        assertEquals(1 + 2 + 2 * 2, r.baseline().get(S1), "site1's edge: 1 site route out, 1 delivery, 2 per server");
        assertEquals(RuleCountReport.Role.SITE_EDGE, r.role(S1));
        assertEquals(RuleCountReport.Role.CORE, r.role(S2));
        assertEquals(8, r.baseline().size());
        assertEquals(8, r.max(RuleCountReport.Role.PE));

        RuleCountReport moved = RuleCountReport.of(s.planner, Map.of("vs1", "dcC"), List.of());
        assertEquals(2 + 3, moved.baseline().get(PE_A));
        assertEquals(2 + 3, moved.baseline().get(PE_C));
    }

    @Test
    void aMigrationsRulesSitOnItsPathOnly() {
        Scenario s = Scenario.of(Topologies.THREE_DC, "vs1", "dcA", "dcC");
        RuleCountReport r = RuleCountReport.of(s.planner, Map.of(), List.of(s.migration));
        assertEquals(s.plan.all().size(), r.totalMigrations());
        assertEquals(0, r.migrations().get(S3));
        assertEquals(0, r.migrations().get(PE_B));
        assertEquals(r.baseline().get(PE_A) + r.migrations().get(PE_A), r.total(PE_A));
    }

    @Test
    void todayEverySwitchOnAServersPathsGrowsWithTheServers() {
        // the per-server design item 2 of issue 10 replaces: rules per core switch grow linearly
        DeviceId core = DeviceId.deviceId("of:0000000000000200"); // dcA's core switch
        DeviceId peA = DeviceId.deviceId("of:0000000000000100");
        for (DeviceId sw : List.of(core, peA)) {
            int ten = report(10).baseline().get(sw);
            int twenty = report(20).baseline().get(sw);
            int forty = report(40).baseline().get(sw);
            assertEquals(2 * (twenty - ten), forty - twenty, sw + ": the same count per server");
            assertEquals(true, twenty > ten, sw + " grows");
        }
        assertEquals(report(10).baseline().get(DeviceId.deviceId("of:0000000000000101")),
                report(40).baseline().get(DeviceId.deviceId("of:0000000000000101")),
                "dcB's PE holds none of dcA's servers' rules");
    }

    private static RuleCountReport report(int servers) {
        NetworkPlanner p = new NetworkPlanner(WanTopologyParser.parse(ScaleTopology.config(servers, 3, 4, i -> 0)),
                Topologies.APP_ID);
        return RuleCountReport.of(p, Map.of(), List.of());
    }
}
