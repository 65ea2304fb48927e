package org.wanmig.rest;

import com.fasterxml.jackson.databind.JsonNode;
import org.glassfish.jersey.server.ResourceConfig;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.onlab.osgi.TestServiceDirectory;
import org.onosproject.codec.CodecService;
import org.onosproject.codec.JsonCodec;
import org.onosproject.codec.impl.CodecManager;
import org.onosproject.net.flow.FlowRule;
import org.onosproject.rest.resources.ResourceTest;
import org.wanmig.api.MigrationId;
import org.wanmig.api.MigrationService;
import org.wanmig.api.MigrationState;
import org.wanmig.codec.WanmigCodecs;
import org.wanmig.planner.PlannerService;
import org.wanmig.testing.WanmigFixtures;
import org.wanmig.testing.WanmigFixtures.RecordingNetwork;
import org.wanmig.lifecycle.MigrationManager;
import org.wanmig.planner.Cookies;
import org.wanmig.store.InMemoryMigrationStore;

import javax.ws.rs.client.Entity;
import javax.ws.rs.core.Response;
import java.io.IOException;
import java.util.List;
import java.util.Set;
import java.util.stream.Collectors;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.wanmig.testing.WanmigFixtures.MAPPER;

/**
 * The REST API through Jersey and ONOS's web-resource plumbing, on a real MigrationManager whose
 * network confirms every rule at once and records it. ResourceTest is JUnit 4's; Jupiter drives
 * its setUp/tearDown here.
 */
class WanmigWebResourceTest extends ResourceTest {
    private RecordingNetwork network;
    private MigrationManager manager;

    WanmigWebResourceTest() {
        super(ResourceConfig.forApplicationClass(WanmigWebApplication.class));
    }

    @BeforeEach
    void start() throws Exception {
        network = new RecordingNetwork();
        manager = WanmigFixtures.drivingManager(WanmigFixtures.restDriverTopology(), network,
                new InMemoryMigrationStore());
        network.clear(); // the baseline is not what these tests look at
        CodecManager codecs = new CodecManager();
        codecs.activate();
        registerCodecs(codecs);
        setServiceDirectory(new TestServiceDirectory()
                .add(MigrationService.class, manager)
                .add(PlannerService.class, (PlannerService) manager::planner)
                .add(CodecService.class, codecs));
        super.setUp();
    }

    @SuppressWarnings({"unchecked", "rawtypes"})
    static void registerCodecs(CodecService codecs) {
        WanmigCodecs.all().forEach((type, codec) -> codecs.registerCodec((Class) type, (JsonCodec) codec));
    }

    @AfterEach
    void stop() throws Exception {
        super.tearDown();
        manager.shutdown();
    }

    // ---- helpers -------------------------------------------------------------------------------

    private static final class Reply {
        final int status;
        final JsonNode body;

        Reply(Response r) throws IOException {
            status = r.getStatus();
            body = MAPPER.readTree(r.readEntity(String.class));
        }
    }

    private Reply get(String path) throws IOException {
        return new Reply(target(path).request().get());
    }

    private Reply post(String path, String json) throws IOException {
        return new Reply(target(path).request().post(Entity.json(json)));
    }

    private Reply startVs1() throws IOException {
        Reply r = post("migrations", "{\"server\":\"vs1\",\"destination\":\"dcB\"}");
        assertEquals(201, r.status, r.body.toString());
        return r;
    }

    private List<FlowRule> migrationRules(List<FlowRule> rules, long id) {
        return rules.stream().filter(r -> Cookies.ofMigration(r.id().value(), id)).collect(Collectors.toList());
    }

    private static void assertError(Reply r, int status, String field) {
        assertEquals(status, r.status, r.body.toString());
        assertFalse(r.body.path("error").asText().isBlank(), r.body.toString());
        if (field == null) {
            assertTrue(r.body.path("field").isNull(), r.body.toString());
        } else {
            assertEquals(field, r.body.path("field").asText(), r.body.toString());
        }
    }

    // ---- reads -------------------------------------------------------------------------------

    @Test
    void listsDataCentersOfTheConfiguration() throws IOException {
        Reply r = get("datacenters");
        assertEquals(200, r.status);
        List<String> names = r.body.findValues("name").stream().map(JsonNode::asText).collect(Collectors.toList());
        assertEquals(List.of("dcA", "dcB"), names);
        assertEquals("of:000000000000000a", r.body.path("dataCenters").get(0).path("pe").asText());
    }

    @Test
    void listsServersWithLocationAndNoMigration() throws IOException {
        Reply r = get("servers");
        assertEquals(200, r.status);
        JsonNode vs1 = r.body.path("servers").get(0);
        assertEquals("vs1", vs1.path("name").asText());
        assertEquals("dcA", vs1.path("location").asText());
        assertTrue(vs1.path("migration").isNull());
    }

    @Test
    void noMigrationsAtFirst() throws IOException {
        Reply r = get("migrations");
        assertEquals(200, r.status);
        assertEquals(0, r.body.path("migrations").size());
    }

    // ---- starting a migration -------------------------------------------------------------------

    @Test
    void postMigrationCreatesItAndInstallsTheTunnel() throws IOException {
        Reply r = startVs1();
        long id = r.body.path("id").asLong();
        assertEquals("vs1", r.body.path("server").asText());
        assertEquals("dcA", r.body.path("source").asText());
        assertEquals("dcB", r.body.path("destination").asText());
        assertTrue(Set.of("PREPARING", "MIGRATING").contains(r.body.path("state").asText()), r.body.toString());
        assertFalse(migrationRules(network.installed, id).isEmpty(), "tunnel rules installed");

        Reply one = get("migrations/" + id);
        assertEquals(200, one.status);
        assertEquals(id, one.body.path("id").asLong());
        assertEquals("REQUESTED", one.body.path("timeline").get(0).path("state").asText());
        assertEquals(id, get("servers").body.path("servers").get(0).path("migration").asLong());
    }

    @Test
    void unknownServerIs404NamingTheField() throws IOException {
        assertError(post("migrations", "{\"server\":\"nope\",\"destination\":\"dcB\"}"), 404, "server");
    }

    @Test
    void unknownDestinationIs404NamingTheField() throws IOException {
        assertError(post("migrations", "{\"server\":\"vs1\",\"destination\":\"dcZ\"}"), 404, "destination");
    }

    @Test
    void missingFieldIs400NamingIt() throws IOException {
        assertError(post("migrations", "{\"server\":\"vs1\"}"), 400, "destination");
        assertError(post("migrations", "{\"destination\":\"dcB\"}"), 400, "server");
    }

    @Test
    void unknownFieldIs400NamingIt() throws IOException {
        assertError(post("migrations", "{\"server\":\"vs1\",\"destination\":\"dcB\",\"speed\":9}"), 400, "speed");
    }

    @Test
    void malformedBodyIs400() throws IOException {
        assertError(post("migrations", "{\"server\":"), 400, "body");
        assertError(post("migrations", "[]"), 400, "body");
    }

    @Test
    void migratingToTheDataCenterItRunsInIs400() throws IOException {
        assertError(post("migrations", "{\"server\":\"vs1\",\"destination\":\"dcA\"}"), 400, "destination");
        assertTrue(network.installed.isEmpty());
    }

    @Test
    void secondMigrationOfTheSameServerIs409AndChangesNothing() throws IOException {
        startVs1();
        JsonNode before = get("migrations").body;
        int installed = network.installed.size();

        assertError(post("migrations", "{\"server\":\"vs1\",\"destination\":\"dcB\"}"), 409, "server");
        assertEquals(before.path("migrations").size(), get("migrations").body.path("migrations").size());
        assertEquals(installed, network.installed.size(), "no rules for a refused migration");
    }

    @Test
    void refusedMigrationRecordsNoRules() throws IOException {
        assertError(post("migrations", "{\"server\":\"nope\",\"destination\":\"dcB\"}"), 404, "server");
        assertTrue(network.installed.isEmpty());
        assertEquals(0, get("migrations").body.path("migrations").size());
    }

    @Test
    void disconnectedPeIs503() throws IOException {
        network.down.add(org.onosproject.net.DeviceId.deviceId("of:000000000000000b"));
        assertError(post("migrations", "{\"server\":\"vs1\",\"destination\":\"dcB\"}"), 503, null);
    }

    // ---- one migration -------------------------------------------------------------------------

    @Test
    void unknownOrMalformedIdIs404Or400() throws IOException {
        assertError(get("migrations/42"), 404, "id");
        assertError(get("migrations/abc"), 400, "id");
        assertError(post("migrations/42/abort", ""), 404, "id");
    }

    @Test
    void rulesOfAMigrationAreListedByPhase() throws IOException {
        long id = startVs1().body.path("id").asLong();
        Reply r = get("migrations/" + id + "/rules");
        assertEquals(200, r.status, r.body.toString());
        assertTrue(r.body.path("tunnel").size() > 0);
        List<FlowRule> redirects = manager.planner().migration(manager.migration(MigrationId.of(id)).orElseThrow())
                .redirects();
        assertEquals(redirects.size(), r.body.path("redirect").size(), r.body.toString());
        for (JsonNode line : r.body.path("redirect")) {
            assertTrue(line.asText().startsWith("of:000000000000000a "), "redirects at PE_A: " + r.body);
        }
    }

    @Test
    void hypervisorCompletionCutsOverAndInstallsTheRedirect() throws Exception {
        long id = startVs1().body.path("id").asLong();
        awaitState(id, MigrationState.MIGRATING);
        List<FlowRule> redirects = manager.planner().migration(manager.migration(MigrationId.of(id)).orElseThrow())
                .redirects();
        assertTrue(redirects.stream().noneMatch(network.installed::contains), "no redirect before the report");

        Reply r = post("migrations/" + id + "/hypervisor", "{\"status\":\"completed\",\"detail\":\"moved\"}");
        assertEquals(200, r.status, r.body.toString());
        MigrationState state = MigrationState.valueOf(r.body.path("state").asText());
        assertTrue(state.serverMoved(), "CUTOVER or later: " + state);
        assertTrue(network.installed.containsAll(redirects), "redirects recorded");
    }

    @Test
    void hypervisorReportWithBadStatusIs400() throws Exception {
        long id = startVs1().body.path("id").asLong();
        assertError(post("migrations/" + id + "/hypervisor", "{\"status\":\"done\"}"), 400, "status");
        assertError(post("migrations/" + id + "/hypervisor", "{\"status\":\"completed\",\"x\":1}"), 400, "x");
    }

    @Test
    void hypervisorFailureRollsBack() throws Exception {
        long id = startVs1().body.path("id").asLong();
        awaitState(id, MigrationState.MIGRATING);
        Reply r = post("migrations/" + id + "/hypervisor", "{\"status\":\"failed\",\"detail\":\"disk full\"}");
        assertEquals(200, r.status, r.body.toString());
        assertEquals("FAILED", r.body.path("state").asText());
        assertTrue(r.body.path("error").asText().contains("disk full"), r.body.toString());
    }

    @Test
    void abortRollsBackAndRemovesEveryRuleOfTheMigration() throws Exception {
        long id = startVs1().body.path("id").asLong();
        awaitState(id, MigrationState.MIGRATING);

        Reply r = post("migrations/" + id + "/abort", "");
        assertEquals(200, r.status, r.body.toString());
        assertEquals("ROLLED_BACK", r.body.path("state").asText());
        List<FlowRule> installed = migrationRules(network.installed, id);
        assertFalse(installed.isEmpty());
        Set<Long> removed = network.removed.stream().map(f -> f.id().value()).collect(Collectors.toSet());
        installed.forEach(f -> assertTrue(removed.contains(f.id().value()), "left behind: " + f));
        assertEquals("dcA", get("servers").body.path("servers").get(0).path("location").asText());

        assertError(post("migrations/" + id + "/abort", ""), 409, "id");
    }

    private void awaitState(long id, MigrationState state) throws InterruptedException {
        for (int i = 0; i < 200; i++) {
            if (manager.migration(MigrationId.of(id)).orElseThrow().reached(state)) {
                return;
            }
            Thread.sleep(10);
        }
        throw new AssertionError("migration " + id + " never reached " + state);
    }
}
