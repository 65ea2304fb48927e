package org.wanmig.planner;

import org.junit.jupiter.api.Test;
import org.onosproject.net.ConnectPoint;
import org.onosproject.net.DeviceId;
import org.wanmig.api.WanmigException;
import org.wanmig.config.WanLink;
import org.wanmig.config.WanTopology;
import org.wanmig.testing.Topologies;

import java.util.List;
import java.util.stream.Collectors;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Which way the tunnel goes: fewest hops over links that are up, or no migration at all. */
class PathSelectionTest {

    private static List<String> switches(List<ConnectPoint> path) {
        return path.stream().map(cp -> cp.deviceId().toString().substring(18)).collect(Collectors.toList());
    }

    private static WanLink link(String one, String two, boolean up) {
        return new WanLink(ConnectPoint.deviceConnectPoint(one), ConnectPoint.deviceConnectPoint(two), up);
    }

    @Test
    void directlyLinkedPesTunnelOverOneLink() {
        Scenario s = Scenario.of(Topologies.TWO_DC_DIRECT, "vs1", "dcA", "dcB");
        assertEquals(List.of("a"), switches(s.plan.forwardPath()));
        assertEquals(List.of("b"), switches(s.plan.reversePath()));
    }

    @Test
    void multiHopPathTakesTheFewestHops() {
        Scenario s = Scenario.of(Topologies.THREE_DC, "vs1", "dcA", "dcC");
        assertEquals(List.of("a", "2", "5"), switches(s.plan.forwardPath()));
        assertEquals(List.of("c", "5", "2"), switches(s.plan.reversePath()));
    }

    @Test
    void linkMarkedDownIsAvoided() {
        Scenario s = Scenario.of(Topologies.THREE_DC_LINK_DOWN, "vs1", "dcA", "dcC");
        assertEquals(List.of("a", "2", "3", "5"), switches(s.plan.forwardPath()));
        assertEquals(List.of("c", "5", "3", "2"), switches(s.plan.reversePath()));
    }

    @Test
    void linkTakenDownLaterIsAvoided() {
        WanTopology t = Topologies.topology(Topologies.THREE_DC)
                .withLink(link("of:0000000000000005/4", "of:0000000000000002/4", false)); // ends swapped on purpose
        Scenario s = Scenario.of(Topologies.THREE_DC, "vs1", "dcA", "dcC");
        MigrationPlan plan = new NetworkPlanner(t, Topologies.APP_ID).migration(s.migration);
        assertEquals(List.of("a", "2", "3", "5"), switches(plan.forwardPath()));
        assertTrue(plan.all().stream().noneMatch(r -> r.deviceId().equals(DeviceId.deviceId("of:0000000000000004"))));
    }

    @Test
    void noPathAfterTopologyChangeRefusesTheMigration() {
        Scenario s = Scenario.of(Topologies.TWO_DC, "vs1", "dcA", "dcB");
        WanTopology cut = s.topology.withLink(link("of:0000000000000002/3", "of:0000000000000003/1", false));
        WanmigException e = assertThrows(WanmigException.class,
                () -> new NetworkPlanner(cut, Topologies.APP_ID).migration(s.migration));
        assertEquals(WanmigException.Kind.UNAVAILABLE, e.kind());
        assertTrue(e.reason().contains("no WAN path from dcA to dcB"), e.reason());
    }

    @Test
    void linkBackUpRestoresThePath() {
        Scenario s = Scenario.of(Topologies.TWO_DC, "vs1", "dcA", "dcB");
        WanLink core = link("of:0000000000000002/3", "of:0000000000000003/1", false);
        WanTopology back = s.topology.withLink(core).withLink(core.withUp(true));
        assertEquals(s.topology, back);
        assertEquals(s.plan.all(), new NetworkPlanner(back, Topologies.APP_ID).migration(s.migration).all());
    }
}
