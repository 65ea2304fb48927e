package org.wanmig.cli;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.onosproject.net.flow.FlowRule;
import org.wanmig.api.Migration;
import org.wanmig.api.MigrationId;
import org.wanmig.api.MigrationService;
import org.wanmig.api.MigrationState;
import org.wanmig.api.WanmigException;
import org.wanmig.codec.WanmigCodecContext;
import org.wanmig.testing.WanmigFixtures;
import org.wanmig.testing.WanmigFixtures.RecordingNetwork;
import org.wanmig.lifecycle.MigrationManager;
import org.wanmig.planner.MigrationPlan;
import org.wanmig.planner.RuleFormatter;
import org.wanmig.store.InMemoryMigrationStore;

import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The command logic on a real MigrationManager (network confirms at once, hypervisor reports by hand). */
class WanmigCliTest {
    private RecordingNetwork network;
    private MigrationManager manager;

    @BeforeEach
    void setUp() {
        network = new RecordingNetwork();
        manager = WanmigFixtures.drivingManager(WanmigFixtures.restDriverTopology(), network,
                new InMemoryMigrationStore());
    }

    @AfterEach
    void tearDown() {
        manager.shutdown();
    }

    private long start() {
        String first = WanmigCli.start(manager, "vs1", "dcB").get(0);
        assertTrue(first.startsWith("migration 1: vs1 from dcA to dcB (port 2), "), first);
        return 1;
    }

    /** The timeline lines of a {@link MigrationText#details} listing. */
    private static List<String> timeline(List<String> lines) {
        return lines.subList(lines.indexOf("timeline:") + 1, lines.contains("rules:") ? lines.indexOf("rules:")
                : lines.size());
    }

    private void awaitState(long id, MigrationState state) throws InterruptedException {
        for (int i = 0; i < 200 && !manager.migration(MigrationId.of(id)).orElseThrow().reached(state); i++) {
            Thread.sleep(10);
        }
        assertTrue(manager.migration(MigrationId.of(id)).orElseThrow().reached(state), "never reached " + state);
    }

    @Test
    void dataCentersShowPePortsAndTheServersRunningThere() {
        assertEquals(List.of(
                "name=dcA pe=of:000000000000000a wanPorts=[1] serverPorts=[2] agent=none servers=vs1",
                "name=dcB pe=of:000000000000000b wanPorts=[1] serverPorts=[2] agent=none servers=none"),
                WanmigCli.dataCenters(manager));
    }

    @Test
    void serversShowLocationAndActiveMigration() {
        assertEquals(List.of("name=vs1 ip=10.2.0.10 mac=00:00:00:00:02:10 location=dcA configured=dcA migration=none"),
                WanmigCli.servers(manager));
        start();
        String line = WanmigCli.servers(manager).get(0);
        assertTrue(line.matches(".*migration=1 \\((PREPARING|MIGRATING) to dcB\\)"), line);
    }

    @Test
    void migrationsListOneLinePerMigration() {
        assertEquals(List.of(MigrationText.summaryHeader()), WanmigCli.migrations(manager));
        start();
        List<String> lines = WanmigCli.migrations(manager);
        assertEquals(2, lines.size());
        assertTrue(lines.get(1).matches("1\\s+vs1\\s+dcA -> dcB\\s+(PREPARING|MIGRATING).*"), lines.get(1));
    }

    @Test
    void migrationShowsTheTimelineWithOffsetsSinceRequested() throws Exception {
        start();
        awaitState(1, MigrationState.MIGRATING);
        List<String> lines = WanmigCli.migration(manager, manager::planner, "1", false);
        assertTrue(lines.get(0).startsWith("migration 1: vs1 from dcA to dcB"), lines.get(0));
        List<String> events = timeline(lines);
        assertEquals(3, events.size(), String.join("\n", lines));
        assertTrue(events.get(0).matches("\\s+\\S+Z\\s+\\+\\s+0\\.000 s\\s+REQUESTED\\s+vs1 from dcA to dcB"),
                events.get(0));
        assertTrue(events.get(1).matches("\\s+\\S+Z\\s+\\+\\s*\\d+\\.\\d{3} s\\s+PREPARING\\s+installing tunnel.*"),
                events.get(1));
        assertTrue(events.get(2).contains("MIGRATING"), events.get(2));
    }

    @Test
    void migrationWithRulesPrintsThePlannedRulesOfEachPhase() {
        start();
        Migration m = manager.migration(MigrationId.of(1)).orElseThrow();
        MigrationPlan plan = manager.planner().migration(m);
        List<String> lines = WanmigCli.migration(manager, manager::planner, "1", true);
        for (FlowRule r : plan.all()) {
            assertTrue(lines.contains("    " + RuleFormatter.format(r)), "missing " + RuleFormatter.format(r));
        }
        List<FlowRule> redirects = plan.redirects();
        assertEquals("  redirect:", lines.get(lines.size() - 1 - redirects.size()));
        assertEquals("    " + RuleFormatter.format(redirects.get(redirects.size() - 1)), lines.get(lines.size() - 1));
    }

    @Test
    void unknownOrMalformedIdIsRefusedNamingTheField() {
        WanmigException unknown = assertThrows(WanmigException.class,
                () -> WanmigCli.migration(manager, manager::planner, "9", false));
        assertEquals(WanmigException.Kind.NOT_FOUND, unknown.kind());
        WanmigException bad = assertThrows(WanmigException.class, () -> WanmigCli.abort(manager, "x1"));
        assertEquals("id", bad.field());
    }

    @Test
    void startRefusalsComeFromTheService() {
        assertEquals("server", assertThrows(WanmigException.class,
                () -> WanmigCli.start(manager, "nope", "dcB")).field());
        assertEquals(WanmigException.Kind.BAD_REQUEST, assertThrows(WanmigException.class,
                () -> WanmigCli.start(manager, "vs1", "dcA")).kind());
    }

    @Test
    void hypervisorDoneByHandCutsOver() throws Exception {
        start();
        awaitState(1, MigrationState.MIGRATING);
        String line = WanmigCli.hypervisorReport(manager, "1", null).get(0);
        assertTrue(line.matches(".*, (CUTOVER|ROUTES_UPDATED|DRAINING|COMPLETED)"), line);
        assertTrue(manager.migration(MigrationId.of(1)).orElseThrow().timeline().stream()
                .anyMatch(e -> e.detail().contains("reported by operator")));
    }

    @Test
    void hypervisorFailedByHandRollsBackWithTheReason() throws Exception {
        start();
        awaitState(1, MigrationState.MIGRATING);
        List<String> lines = WanmigCli.hypervisorReport(manager, "1", "host out of memory");
        assertTrue(lines.get(0).endsWith(", FAILED"), lines.get(0));
        assertTrue(lines.contains("error: hypervisor failed: host out of memory"), String.join("\n", lines));
    }

    @Test
    void abortRollsBack() throws Exception {
        start();
        awaitState(1, MigrationState.MIGRATING);
        List<String> lines = WanmigCli.abort(manager, "1");
        assertTrue(lines.get(0).endsWith(", ROLLED_BACK"), lines.get(0));
        assertTrue(lines.stream().anyMatch(l -> l.startsWith("error: aborted by operator in MIGRATING")),
                String.join("\n", lines));
        assertEquals(WanmigException.Kind.CONFLICT,
                assertThrows(WanmigException.class, () -> WanmigCli.abort(manager, "1")).kind());
    }

    @Test
    void completersOfferNamesAndIds() throws Exception {
        assertEquals(List.of("vs1"), WanmigCli.serverNames(manager));
        assertEquals(List.of("dcA", "dcB"), WanmigCli.dataCenterNames(manager));
        assertEquals(List.of(), WanmigCli.migrationIds(manager));
        start();
        awaitState(1, MigrationState.MIGRATING);
        WanmigCli.abort(manager, "1");
        WanmigCli.start(manager, "vs1", "dcB");
        assertEquals(List.of("2", "1"), WanmigCli.migrationIds(manager), "active first");
    }

    @Test
    void jsonOutputIsTheRestApisAnswer() {
        start();
        WanmigCodecContext context = new WanmigCodecContext(Map.of(MigrationService.class, manager));
        JsonNode dcs = WanmigCli.api(manager, context, manager::planner).dataCenters().body();
        assertEquals("dcA", dcs.path("dataCenters").get(0).path("name").asText());
        JsonNode m = WanmigCli.api(manager, context, manager::planner).migration("1").body();
        assertEquals("vs1", m.path("server").asText());
        assertEquals(404, WanmigCli.api(manager, context, manager::planner).migration("7").status());
    }
}
