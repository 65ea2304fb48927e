package org.wanmig.config;

import org.junit.jupiter.api.Test;
import org.onosproject.net.DeviceId;
import org.onosproject.net.PortNumber;

import java.net.URI;
import java.time.Duration;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.wanmig.testing.Topologies.repositoryFile;

class SampleConfigTest {

    @Test
    void twoDcSampleParses() {
        WanTopology t = WanTopologyParser.parseNetcfg(repositoryFile("mininet-topos/wanmig-2dc.json"));
        assertEquals(2, t.dataCenters().size());
        assertEquals(3, t.wanSwitches().size());
        assertEquals(4, t.links().size());
        assertEquals(DeviceId.deviceId("of:000000000000000b"), t.dataCenter("dcB").orElseThrow().pe());
        assertEquals(PortNumber.portNumber(2), t.server("vs1").orElseThrow().portAt("dcB").orElseThrow());
        assertEquals(new LabelRange(1000, 1999), t.labels());
        assertEquals("http", t.settings().hypervisorDriver());
        assertEquals(URI.create("http://127.0.0.1:8300"), t.settings().hypervisorUrl());
        assertEquals(Duration.ofSeconds(2), t.settings().drain());
    }

    @Test
    void threeDcSampleParses() {
        WanTopology t = WanTopologyParser.parseNetcfg(repositoryFile("mininet-topos/wanmig-3dc.json"));
        assertEquals(3, t.dataCenters().size());
        assertEquals(2, t.clientSites().size());
        assertEquals(3, t.servers().size());
        assertEquals(8, t.allSwitches().size());
    }

    @Test
    void linkMayBeMarkedDown() {
        WanTopology t = org.wanmig.testing.Topologies.topology(org.wanmig.testing.Topologies.THREE_DC_LINK_DOWN);
        assertEquals(1, t.links().stream().filter(l -> !l.isUp()).count());
        assertTrue(t.links().stream().filter(WanLink::isUp).count() >= 7);
    }

    @Test
    void fractionalTimeoutsAreAccepted() {
        WanTopology t = org.wanmig.testing.Topologies.topology(org.wanmig.testing.Topologies.TWO_DC, c ->
                org.wanmig.testing.Topologies.migration(c).put("prepareTimeoutSeconds", 0.2).put("drainSeconds", 0));
        assertEquals(Duration.ofMillis(200), t.settings().prepareTimeout());
        assertEquals(Duration.ZERO, t.settings().drain());
    }

    @Test
    void netcfgWithoutWanmigSectionIsRejected() {
        ConfigException e = org.junit.jupiter.api.Assertions.assertThrows(ConfigException.class,
                () -> WanTopologyParser.parseNetcfg("{\"apps\":{}}"));
        ConfigAssertions.assertOnlyProblem(e, "apps.org.wanmig.app.wanmig", "missing");
    }

    @Test
    void invalidJsonIsRejected() {
        ConfigException e = org.junit.jupiter.api.Assertions.assertThrows(ConfigException.class,
                () -> WanTopologyParser.parseNetcfg("{\"apps\":"));
        ConfigAssertions.assertOnlyProblem(e, "$", "not valid JSON");
        assertFalse(e.getMessage().isEmpty());
    }
}
