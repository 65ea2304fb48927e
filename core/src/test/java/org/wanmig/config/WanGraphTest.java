package org.wanmig.config;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.junit.jupiter.api.Test;
import org.onosproject.net.ConnectPoint;
import org.onosproject.net.DeviceId;
import org.wanmig.testing.Topologies;

import java.time.Duration;
import java.util.List;
import java.util.Optional;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Found by fuzzing the netcfg parser: a port claimed by two links made the reachability check loop forever. */
class WanGraphTest {
    private static final DeviceId A = DeviceId.deviceId("of:000000000000000a");
    private static final DeviceId B = DeviceId.deviceId("of:000000000000000b");
    private static final DeviceId W = DeviceId.deviceId("of:0000000000000001");

    private static WanLink link(String one, String two) {
        return new WanLink(ConnectPoint.deviceConnectPoint(one), ConnectPoint.deviceConnectPoint(two), true);
    }

    @Test
    void pathFollowsTheTreeWhenTwoLinksShareAPort() {
        // A/1 is claimed twice; A's edges sort W first, and W's way to B leads back through A/1.
        WanGraph graph = new WanGraph(List.of(A, B, W), List.of(
                link("of:000000000000000a/1", "of:0000000000000001/5"),
                link("of:000000000000000a/1", "of:000000000000000b/1")));
        Optional<List<ConnectPoint>> path = assertTimeoutPreemptively(Duration.ofSeconds(5), () -> graph.path(A, B));
        assertEquals(List.of(ConnectPoint.deviceConnectPoint("of:000000000000000a/1")), path.orElseThrow());
        assertEquals(2, graph.path(W, B).orElseThrow().size());
    }

    @Test
    void configWithAPortOnTwoLinksIsRejectedNotHung() {
        ObjectNode config = Topologies.config(Topologies.TWO_DC);
        ArrayNode links = config.putArray("links");
        links.addObject().put("one", "of:000000000000000a/1").put("two", "of:0000000000000001/5");
        links.addObject().put("one", "of:000000000000000a/1").put("two", "of:000000000000000b/1");
        ConfigException e = assertTimeoutPreemptively(Duration.ofSeconds(5),
                () -> assertThrows(ConfigException.class, () -> WanTopologyParser.parse(config)));
        assertTrue(e.getMessage().contains("already used"), e.getMessage());
    }
}
