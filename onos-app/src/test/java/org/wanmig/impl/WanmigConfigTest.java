package org.wanmig.impl;

import org.wanmig.testing.WanmigFixtures;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.junit.jupiter.api.Test;
import org.onosproject.net.config.ConfigFactory;
import org.onosproject.net.config.basics.SubjectFactories;
import org.wanmig.config.ConfigException;
import org.wanmig.config.ConfigProblem;
import org.wanmig.config.WanTopology;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.wanmig.testing.WanmigFixtures.APP_ID;
import static org.wanmig.testing.WanmigFixtures.MAPPER;

class WanmigConfigTest {

    static WanmigConfig config(ObjectNode json) {
        WanmigConfig config = new WanmigConfig();
        config.init(APP_ID, "wanmig", json, MAPPER, c -> { });
        return config;
    }

    @Test
    void sampleConfigIsValidAndGivesItsTopology() {
        WanmigConfig config = config(WanmigFixtures.sampleConfig());
        assertTrue(config.isValid());
        WanTopology t = config.topology();
        assertEquals(2, t.dataCenters().size());
        assertEquals("dcA", t.server("vs1").orElseThrow().dc());
        assertEquals("http", t.settings().hypervisorDriver());
    }

    @Test
    void brokenConfigIsInvalidWithEveryProblemByPath() {
        ObjectNode json = WanmigFixtures.sampleConfig();
        ((ObjectNode) json.path("servers").get(0)).put("ip", "10.2.0.300");
        ((ObjectNode) json.path("dataCenters").get(1)).put("pe", "switch-b");
        WanmigConfig config = config(json);

        assertFalse(config.isValid());
        List<String> paths = config.problems().stream().map(ConfigProblem::path).collect(java.util.stream.Collectors.toList());
        assertTrue(paths.contains("servers[0].ip"), paths.toString());
        assertTrue(paths.contains("dataCenters[1].pe"), paths.toString());
        assertThrows(ConfigException.class, config::topology);
    }

    @Test
    void crossReferenceProblemIsInvalid() {
        ObjectNode json = WanmigFixtures.sampleConfig();
        ((ObjectNode) json.path("servers").get(0)).put("dc", "dcZ");
        assertFalse(config(json).isValid());
    }

    @Test
    void missingDataCentersIsInvalid() {
        ObjectNode json = WanmigFixtures.sampleConfig();
        json.remove("dataCenters");
        WanmigConfig config = config(json);
        assertFalse(config.isValid());
        assertEquals("dataCenters", config.problems().get(0).path());
    }

    @Test
    void notAnObjectIsInvalid() {
        WanmigConfig config = new WanmigConfig();
        ArrayNode array = MAPPER.createArrayNode();
        config.init(APP_ID, "wanmig", array, MAPPER, c -> { });
        assertFalse(config.isValid());
    }

    @Test
    void factoryRegistersTheAppSubjectUnderKeyWanmig() {
        ConfigFactory<?, WanmigConfig> factory = WanmigConfig.factory();
        assertEquals("wanmig", factory.configKey());
        assertEquals(WanmigConfig.class, factory.configClass());
        assertEquals(SubjectFactories.APP_SUBJECT_FACTORY, factory.subjectFactory());
        assertTrue(factory.createConfig() instanceof WanmigConfig);
    }
}
