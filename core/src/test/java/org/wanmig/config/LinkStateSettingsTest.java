package org.wanmig.config;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.List;
import java.util.stream.Collectors;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

class LinkStateSettingsTest {
    private static final ObjectMapper MAPPER = new ObjectMapper();

    private static ObjectNode config(String linkState) throws Exception {
        return (ObjectNode) MAPPER.readTree("{\"linkState\": " + linkState + "}");
    }

    @Test
    void absentMeansDefaults() {
        assertEquals(LinkStateSettings.DEFAULTS, LinkStateSettings.fromConfig(MAPPER.createObjectNode()));
        assertEquals(Duration.ofSeconds(5), LinkStateSettings.DEFAULTS.holdDown());
    }

    @Test
    void readsHoldDownAndReroute() throws Exception {
        LinkStateSettings s = LinkStateSettings.fromConfig(config("{\"holdDownSeconds\": 0.25, \"reroute\": false}"));
        assertEquals(Duration.ofMillis(250), s.holdDown());
        assertEquals(false, s.reroute());
    }

    @Test
    void readsFromAWholeNetcfgFile() throws Exception {
        ObjectNode netcfg = (ObjectNode) MAPPER.readTree(
                "{\"apps\": {\"org.wanmig.app\": {\"wanmig\": {\"linkState\": {\"holdDownSeconds\": 2}}}}}");
        assertEquals(Duration.ofSeconds(2), LinkStateSettings.fromNetcfg(netcfg).holdDown());
    }

    @Test
    void badValuesAreReportedWithTheirPaths() throws Exception {
        ConfigException e = assertThrows(ConfigException.class,
                () -> LinkStateSettings.fromConfig(config("{\"holdDownSeconds\": -1, \"reroute\": \"yes\"}")));
        List<String> paths = e.problems().stream().map(ConfigProblem::path).collect(Collectors.toList());
        assertEquals(List.of("linkState.holdDownSeconds", "linkState.reroute"), paths);
    }
}
