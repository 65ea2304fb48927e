package org.wanmig.rest;

import com.fasterxml.jackson.databind.JsonNode;
import org.glassfish.jersey.server.ResourceConfig;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.onlab.osgi.TestServiceDirectory;
import org.onosproject.codec.CodecService;
import org.onosproject.codec.impl.CodecManager;
import org.onosproject.rest.resources.ResourceTest;
import org.wanmig.api.EvacuationService;
import org.wanmig.api.MigrationService;
import org.wanmig.config.WanTopology;
import org.wanmig.evacuation.EvacuationHost;
import org.wanmig.lifecycle.MigrationManager;
import org.wanmig.planner.PlannerService;
import org.wanmig.spi.Leadership;
import org.wanmig.store.InMemoryEvacuationStore;
import org.wanmig.store.InMemoryMigrationStore;
import org.wanmig.testing.WanmigFixtures;
import org.wanmig.testing.WanmigFixtures.RecordingNetwork;

import javax.ws.rs.client.Entity;
import javax.ws.rs.core.Response;
import java.io.IOException;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.wanmig.testing.WanmigFixtures.MAPPER;

/**
 * POST /datacenters/{dc}/failover through Jersey and ONOS's web-resource plumbing, on a real
 * MigrationManager and EvacuationHost (direct mode: no replication agents, the "rest" hypervisor
 * driver, so the orchestrator restarts the server and the MMS routes it).
 */
class FailoverResourceTest extends ResourceTest {
    private MigrationManager manager;
    private EvacuationHost host;

    FailoverResourceTest() {
        super(ResourceConfig.forApplicationClass(WanmigWebApplication.class));
    }

    @BeforeEach
    void start() throws Exception {
        WanTopology topology = WanmigFixtures.restDriverTopology();
        manager = WanmigFixtures.drivingManager(topology, new RecordingNetwork(), new InMemoryMigrationStore());
        host = new EvacuationHost(manager, manager, new InMemoryEvacuationStore(), () -> topology,
                Leadership.STANDALONE, System::currentTimeMillis);
        host.takeOver();
        CodecManager codecs = new CodecManager();
        codecs.activate();
        WanmigWebResourceTest.registerCodecs(codecs);
        setServiceDirectory(new TestServiceDirectory()
                .add(MigrationService.class, manager)
                .add(EvacuationService.class, host)
                .add(PlannerService.class, (PlannerService) manager::planner)
                .add(CodecService.class, codecs));
        super.setUp();
    }

    @AfterEach
    void stop() throws Exception {
        super.tearDown();
        host.close();
        manager.shutdown();
    }

    private JsonNode[] post(String path, String json) throws IOException {
        Response r = target(path).request().post(Entity.json(json));
        return new JsonNode[]{MAPPER.valueToTree(r.getStatus()), MAPPER.readTree(r.readEntity(String.class))};
    }

    private JsonNode get(String path) throws IOException {
        return MAPPER.readTree(target(path).request().get(String.class));
    }

    private void assertError(JsonNode[] r, int status, String field) {
        assertEquals(status, r[0].asInt(), r[1].toString());
        assertEquals(field, r[1].path("field").asText(), r[1].toString());
    }

    @Test
    void failoverStartsAndEndsWithTheServerRoutedAtTheDestination() throws Exception {
        JsonNode[] r = post("datacenters/dcA/failover", "{\"to\":\"dcB\"}");
        assertEquals(201, r[0].asInt(), r[1].toString());
        assertEquals("FAILOVER", r[1].path("kind").asText());
        assertEquals("dcA", r[1].path("source").asText());
        long id = r[1].path("id").asLong();
        JsonNode e = null;
        for (int i = 0; i < 500; i++) {
            e = get("evacuations/" + id);
            if (!e.path("active").asBoolean()) {
                break;
            }
            Thread.sleep(10);
        }
        assertEquals("COMPLETED", e.path("state").asText(), e.toString());
        JsonNode vs1 = e.path("servers").get(0);
        assertEquals("vs1", vs1.path("server").asText());
        assertEquals("ROUTED", vs1.path("step").asText());
        assertEquals("DONE", vs1.path("state").asText());
        assertTrue(vs1.path("promotion").path("detail").asText().contains("no replication agent at dcB"), vs1.toString());
        assertTrue(e.path("timeline").toString().contains("routed to dcB directly"), e.toString());
        assertEquals("dcB", get("servers").path("servers").get(0).path("location").asText());
        // listed with the evacuations; it is no evacuation to abort
        assertEquals(id, get("evacuations").path("evacuations").get(0).path("id").asLong());
        assertError(post("evacuations/" + id + "/abort", ""), 409, "id");
    }

    @Test
    void anEmptyBodyFailsOverToTheReplicasDataCenter() throws Exception {
        Response resp = target("datacenters/dcA/failover").request().post(Entity.json(""));
        JsonNode body = MAPPER.readTree(resp.readEntity(String.class));
        assertEquals(201, resp.getStatus(), body.toString());
        assertEquals("dcB", body.path("servers").get(0).path("destination").asText());
    }

    @Test
    void badRequestsAreRefusedNamingTheField() throws Exception {
        assertError(post("datacenters/dcX/failover", "{}"), 404, "dc");
        assertError(post("datacenters/dcA/failover", "{\"to\":\"dcA\"}"), 400, "to");
        assertError(post("datacenters/dcA/failover", "{\"to\":\"dcZ\"}"), 404, "to");
        assertError(post("datacenters/dcA/failover", "{\"to\":5}"), 400, "to");
        assertError(post("datacenters/dcA/failover", "{\"destination\":\"dcB\"}"), 400, "destination");
        assertEquals(0, get("evacuations").path("evacuations").size(), "nothing recorded");
        assertEquals("dcA", get("servers").path("servers").get(0).path("location").asText());
    }
}
