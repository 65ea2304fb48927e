package org.wanmig.drivers;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.wanmig.api.Migration;
import org.wanmig.api.MigrationId;
import org.wanmig.config.DataCenter;
import org.wanmig.config.QemuOptions;
import org.wanmig.config.VirtualServer;
import org.wanmig.config.WanTopology;
import org.wanmig.drivers.qemu.QmpClient;
import org.wanmig.spi.HypervisorListener;
import org.wanmig.testing.ChildProcesses;
import org.wanmig.testing.WanmigFixtures;

import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The qemu driver against real QEMU processes (TCG, no guest: SeaBIOS finds nothing to boot and
 * idles, which is enough RAM and device state to migrate). This test plays both data centers'
 * hypervisor agents: it starts the source QEMU, and the destination with -incoming on request.
 */
@Timeout(120)
class QemuHypervisorDriverTest {
    private static final ObjectMapper MAPPER = new ObjectMapper();
    private static final Duration WAIT = Duration.ofSeconds(60);
    /** The driver's completionBudgetMs here: above the default for its 300 ms downtime-limit (3 s), so a failure says which. */
    private static final Duration COMPLETION_BUDGET = Duration.ofSeconds(4);

    private final Map<String, Process> processes = new ConcurrentHashMap<>();
    private final Map<String, String> qmp = new ConcurrentHashMap<>();
    private final Map<String, String> observer = new ConcurrentHashMap<>();
    private final AtomicInteger launches = new AtomicInteger();
    private final List<Process> launched = new CopyOnWriteArrayList<>();
    private final List<String> agentCalls = new CopyOnWriteArrayList<>();
    /** What the source's agent does on cut-migration (null: an agent without the call, 404). */
    private volatile Runnable onCut;
    /** What the source's agent answers to drain-nic: 200, or an agent without the call (404) or refusing it. */
    private volatile int drainStatus = 200;
    private HttpServer agents;
    private Path dir;
    private WanTopology topology;
    private DataCenter dcA;
    private DataCenter dcB;
    private VirtualServer vs1;

    @BeforeEach
    void setUp() throws IOException {
        dir = Files.createTempDirectory("wanmig-qemu-test");
        agents = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
        agents.createContext("/dcA/", ex -> agent("dcA", ex));
        agents.createContext("/dcB/", ex -> agent("dcB", ex));
        agents.start();
        topology = WanmigFixtures.restDriverTopology();
        dcA = topology.dataCenter("dcA").orElseThrow();
        dcB = topology.dataCenter("dcB").orElseThrow();
        vs1 = topology.server("vs1").orElseThrow();
    }

    @AfterEach
    void tearDown() throws IOException {
        agents.stop(0);
        // every QEMU launched, also those a later launch in the same DC replaced in processes
        launched.forEach(Process::destroyForcibly);
        for (Process p : launched) {
            try {
                p.waitFor(5, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        try (var files = Files.walk(dir)) {
            files.sorted(java.util.Comparator.reverseOrder()).forEach(f -> f.toFile().delete());
        }
    }

    @Test
    void migratesInsideThePauseAndResumesAtTheDestination() throws Exception {
        startSource();
        Recorder rec = new Recorder(CompletableFuture.completedFuture(null));
        driver(QemuOptions.Switchover.PAUSE, 0).migrate(migration(), vs1, dcA, dcB, rec);

        String done = rec.completed.get(WAIT.toSeconds(), TimeUnit.SECONDS);
        assertTrue(done.startsWith("QEMU completed"), done);
        assertFalse(done.contains("total 0 ms"), "QEMU's figures, not the ones before it set them: " + done);
        assertEquals(1, rec.preSwitchover.size(), "one pause before switchover");
        assertTrue(rec.progress.stream().anyMatch(p -> p.startsWith("pre-copy pass")), rec.progress.toString());
        assertTrue(running("dcB"), "the guest runs at the destination");
        waitFor(() -> agentCalls.contains("dcA POST /vms/vs1/stop"), "the source is told to stop");
        assertTrue(agentCalls.contains("dcB POST /vms/vs1/started"), agentCalls.toString());
        waitFor(() -> rec.progress.stream().anyMatch(p -> p.startsWith("source NIC drained at dcA: 2 frames")
                && p.endsWith("(1 from QEMU's own net queue)")),
                "the frames left in the source's tap sent on after migrate-continue");
        assertEquals(1, agentCalls.stream().filter("dcA POST /vms/vs1/drain-nic"::equals).count(), agentCalls.toString());
        assertTrue(agentCalls.indexOf("dcB POST /vms/vs1/started") < agentCalls.indexOf("dcA POST /vms/vs1/drain-nic")
                && agentCalls.indexOf("dcA POST /vms/vs1/drain-nic") < agentCalls.indexOf("dcA POST /vms/vs1/stop"),
                "drained once the guest resumed at B, before the source's tap goes with its QEMU: " + agentCalls);
    }

    @Test
    void anAgentThatCannotDrainTheSourceNicLeavesTheMigrationCompletedAndTheSourceStopped() throws Exception {
        for (int status : new int[] {404, 409}) {
            drainStatus = status;
            agentCalls.clear();
            processes.values().forEach(Process::destroyForcibly);
            processes.clear();
            startSource();
            Recorder rec = new Recorder(CompletableFuture.completedFuture(null));
            driver(QemuOptions.Switchover.PAUSE, 0).migrate(migration(), vs1, dcA, dcB, rec);

            String done = rec.completed.get(WAIT.toSeconds(), TimeUnit.SECONDS);
            assertTrue(done.startsWith("QEMU completed"), done);
            waitFor(() -> agentCalls.contains("dcA POST /vms/vs1/stop"),
                    "the source is stopped although its NIC was not drained (" + status + ")");
            assertTrue(agentCalls.indexOf("dcA POST /vms/vs1/drain-nic") < agentCalls.indexOf("dcA POST /vms/vs1/stop"),
                    agentCalls.toString());
            waitFor(() -> rec.progress.stream().anyMatch(p -> p.startsWith("source NIC not drained at dcA")
                    && p.contains(String.valueOf(status))), "the refusal noted with its status: " + rec.progress);
            assertFalse(rec.failed.isDone(), "a drain is best effort: " + rec.failed.getNow(null));
            assertTrue(running("dcB"), "the guest runs on at the destination");
        }
    }

    @Test
    void refusedSwitchoverCancelsAndTheSourceRunsOn() throws Exception {
        startSource();
        Recorder rec = new Recorder(CompletableFuture.failedFuture(new IllegalStateException("redirect refused")));
        driver(QemuOptions.Switchover.PAUSE, 0).migrate(migration(), vs1, dcA, dcB, rec);

        String why = rec.failed.get(WAIT.toSeconds(), TimeUnit.SECONDS);
        assertTrue(why.contains("cancelled"), why);
        assertFalse(rec.completed.isDone());
        assertTrue(running("dcA"), "the guest runs on at the source");
        waitFor(() -> agentCalls.contains("dcB DELETE /vms/vs1/incoming"), "the destination is stopped");
        assertFalse(agentCalls.contains("dcA POST /vms/vs1/drain-nic"), "the source reads its own tap again");
    }

    @Test
    void paperModeSwitchesOverAfterCompletion() throws Exception {
        startSource();
        Recorder rec = new Recorder(CompletableFuture.completedFuture(null));
        driver(QemuOptions.Switchover.PAPER, 0).migrate(migration(), vs1, dcA, dcB, rec);

        rec.completed.get(WAIT.toSeconds(), TimeUnit.SECONDS);
        assertTrue(rec.preSwitchover.isEmpty(), "no pause in the paper's mode");
        assertTrue(running("dcB"));
        waitFor(() -> agentCalls.contains("dcA POST /vms/vs1/stop"), "the source is told to stop");
        assertFalse(agentCalls.contains("dcA POST /vms/vs1/drain-nic"),
                "no redirect was in place when the guest stopped: nothing to send its queued frames on to");
    }

    @Test
    void destinationKilledMidMigrationFailsAndTheSourceRunsOn() throws Exception {
        startSource();
        Recorder rec = new Recorder(CompletableFuture.completedFuture(null));
        // 8 Mbit/s: 64 MiB takes a minute, so the kill lands in pre-copy
        driver(QemuOptions.Switchover.PAUSE, 8).migrate(migration(), vs1, dcA, dcB, rec);
        waitFor(() -> processes.containsKey("dcB"), "destination started");
        waitFor(() -> rec.progress.stream().anyMatch(p -> p.startsWith("QEMU migrating")), "migration started");
        processes.get("dcB").destroyForcibly();

        String why = rec.failed.get(WAIT.toSeconds(), TimeUnit.SECONDS);
        assertTrue(why.contains("failed") || why.contains("cancelled"), why);
        assertTrue(running("dcA"), "the guest runs on at the source");
        assertTrue(rec.preSwitchover.isEmpty());
    }

    @Test
    void destinationLostAfterTheSourceCompletedFailsAtOnceAndTheAbortResumesTheSource() throws Exception {
        Paused p = pausedMigration();
        // the destination takes in no more: the source sends the rest into the socket and completes
        Process destination = processes.get("dcB");
        signal("STOP", destination);
        p.hook.complete(null);
        try (QmpClient watch = QmpClient.connect(observer.get("dcA"), Duration.ofSeconds(30), e -> { })) {
            waitFor(() -> migrateStatus(watch).equals("completed"), "the source completed (its guest stopped)");
            signal("KILL", destination);
            // the destination's monitor closes with it: no waiting out the resume budget
            String why = p.rec.failed.get(5, TimeUnit.SECONDS);
            assertTrue(why.contains("did not resume") && why.contains("closed"), why);
            assertEquals("postmigrate", runStatus(watch));

            p.driver.abort(p.migration, vs1, dcA, dcB, false);   // the MMS, once the storage is back at A
            waitFor(() -> runStatus(watch).equals("running"), "the source resumed from postmigrate");
        }
        assertFalse(p.rec.completed.isDone(), "not reported as a move");
        waitFor(() -> agentCalls.contains("dcB DELETE /vms/vs1/incoming"), "the destination is cleaned up");
        p.driver.close();
    }

    @Test
    void theSourceGoneOnceItCompletedIsNotAFailureTheDestinationsResumeDecides() throws Exception {
        Paused p = pausedMigration();
        Process destination = processes.get("dcB");
        signal("STOP", destination);   // it takes in the rest only once continued
        p.hook.complete(null);
        try (QmpClient watch = QmpClient.connect(observer.get("dcA"), Duration.ofSeconds(30), e -> { })) {
            waitFor(() -> migrateStatus(watch).equals("completed"), "the source completed");
        }
        // the source's host goes away with its QEMU (the driver's monitor closes, its "completed"
        // event read or not) before the guest resumed at B
        Process source = processes.remove("dcA");
        source.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
        Thread.sleep(500);
        assertFalse(p.rec.failed.isDone(), "not a failure: the source had completed (" + p.rec.failed.getNow(null) + ")");
        signal("CONT", destination);
        String done = p.rec.completed.get(WAIT.toSeconds(), TimeUnit.SECONDS);
        assertTrue(done.startsWith("QEMU completed"), done);
        assertTrue(running("dcB"), "the guest runs at the destination");
        assertFalse(p.rec.failed.isDone(), String.valueOf(p.rec.failed.getNow(null)));
        p.driver.close();
    }

    @Test
    void theSourceGoneInThePauseBeforeItSentEverythingIsAFailureNotAMove() throws Exception {
        Paused p = pausedMigration();
        signal("STOP", processes.get("dcA"));   // it will send nothing after migrate-continue
        p.hook.complete(null);
        Thread.sleep(300);
        processes.remove("dcA").destroyForcibly().waitFor(10, TimeUnit.SECONDS);
        // migrate-continue unanswered, or answered and then the destination's stream ends
        // unfinished (its QEMU exits): a failure either way, not a move
        String why = p.rec.failed.get(WAIT.toSeconds(), TimeUnit.SECONDS);
        assertTrue(why.contains("did not resume") || why.contains("migrate-continue refused"), why);
        assertFalse(p.rec.completed.isDone());
        p.driver.close();
    }

    @Test
    void aSourceMonitorThatDoesNotAnswerTheAbortIsFreedByCuttingTheStream() throws Exception {
        Paused p = pausedMigration();
        // QEMU's monitor held up (its migration thread holding the big lock on a stalled stream),
        // met by an MMS that did not send migrate-continue itself (restarted): it knows of no stream
        Process source = processes.get("dcA");
        p.driver.close();
        signal("STOP", source);
        onCut = () -> signalOrFail("CONT", source);   // the kernel fails the stalled write: the monitor answers again
        QemuHypervisorDriver successor = driver(QemuOptions.Switchover.PAUSE, 64);
        successor.abort(p.migration, vs1, dcA, dcB, false);
        waitFor(() -> agentCalls.contains("dcB DELETE /vms/vs1/incoming"), "the abort's end");
        assertTrue(agentCalls.contains("dcA POST /vms/vs1/cut-migration"), agentCalls.toString());
        assertTrue(running("dcA"), "the guest goes on at the source");
        successor.close();
    }

    @Test
    void aSuccessorAfterTheSwitchoverInThePauseCutsTheStreamOfASilentMonitorAndStartsNoOtherMigration()
            throws Exception {
        Paused p = pausedMigration();
        Process source = predecessorGoneMonitorHeld(p);
        onCut = () -> streamFailed(source);   // QEMU's migration ends, its monitor answers again
        Recorder rec = new Recorder(new CompletableFuture<>());
        QemuHypervisorDriver successor = driver(QemuOptions.Switchover.PAUSE, 64);
        successor.migrate(p.migration.withSwitchedInPause(), vs1, dcA, dcB, rec);
        String why = rec.failed.get(WAIT.toSeconds(), TimeUnit.SECONDS);
        assertTrue(why.startsWith("QEMU's migration of vs1 is cancelled after the switchover in the pause"), why);
        assertTrue(agentCalls.contains("dcA POST /vms/vs1/cut-migration"), agentCalls.toString());
        assertEquals(1, agentCalls.stream().filter("dcB POST /vms/vs1/incoming"::equals).count(),
                "the successor started no migration of its own: " + agentCalls);
        successor.close();
    }

    @Test
    void aSuccessorThatTookOverLongerAgoThanTheBudgetCutsASilentMonitorsStreamWithoutWaitingTheBudgetAgain()
            throws Exception {
        Paused p = pausedMigration();
        Process source = predecessorGoneMonitorHeld(p);
        CompletableFuture<Long> cutAt = new CompletableFuture<>();
        onCut = () -> {
            cutAt.complete(System.nanoTime());
            streamFailed(source);
        };
        Recorder rec = new Recorder(new CompletableFuture<>());
        QemuHypervisorDriver successor = driver(QemuOptions.Switchover.PAUSE, 64);
        // it took over two budgets ago, then asked the destination's silent agent until now: any
        // migrate-continue came before the take-over, so the stream has had its budget already
        long tookOver = System.currentTimeMillis() - 2 * COMPLETION_BUDGET.toMillis();
        long asked = System.nanoTime();
        successor.migrate(p.migration.withSwitchoverUnknown(tookOver), vs1, dcA, dcB, rec);
        String why = rec.failed.get(WAIT.toSeconds(), TimeUnit.SECONDS);
        assertTrue(why.startsWith("QEMU's migration of vs1 is cancelled after a switchover in the pause that may"),
                why);
        Duration waited = Duration.ofNanos(cutAt.get(1, TimeUnit.SECONDS) - asked);
        assertTrue(waited.compareTo(COMPLETION_BUDGET) < 0,
                "the greeting was given the whole budget again: cut after " + waited.toMillis() + " ms");
        assertEquals(1, agentCalls.stream().filter("dcB POST /vms/vs1/incoming"::equals).count(),
                "the successor started no migration of its own: " + agentCalls);
        successor.close();
    }

    @Test
    void anAbortWhileASuccessorsStartWaitsForTheMonitorLetsTheStartThroughAndCancelsOnItsConnection()
            throws Exception {
        Paused p = pausedMigration();
        Process source = predecessorGoneMonitorHeld(p);
        // the cut fails the stalled write a moment after the agent answers: only then does the
        // monitor greet the successor's start, which is first in its queue
        onCut = () -> CompletableFuture.delayedExecutor(300, TimeUnit.MILLISECONDS)
                .execute(() -> signalOrFail("CONT", source));
        long sourceLookups = agentCalls.stream().filter("dcA GET /vms/vs1"::equals).count();
        Recorder rec = new Recorder(new CompletableFuture<>());
        QemuHypervisorDriver successor = driver(QemuOptions.Switchover.PAUSE, 64);
        successor.migrate(p.migration.withSwitchoverUnknown(System.currentTimeMillis()), vs1, dcA, dcB, rec);
        waitFor(() -> agentCalls.stream().filter("dcA GET /vms/vs1"::equals).count() > sourceLookups,
                "the successor's start asking for the source's monitor");
        Thread.sleep(300);   // its connection waits for the greeting
        successor.abort(p.migration, vs1, dcA, dcB, false);
        // A connection of the abort's own would queue behind the start's, which the session keeps:
        // not greeted within the QMP timeout, the abort would give the guest up as paused.
        String why = rec.failed.get(WAIT.toSeconds(), TimeUnit.SECONDS);
        assertTrue(why.startsWith("QEMU migration cancelled"), why);
        assertTrue(running("dcA"), "the guest goes on at the source");
        waitFor(() -> agentCalls.contains("dcB DELETE /vms/vs1/incoming"), "the destination ended");
        assertEquals(1, agentCalls.stream().filter("dcB POST /vms/vs1/incoming"::equals).count(),
                "the successor started no migration of its own: " + agentCalls);
        successor.close();
    }

    @Test
    void anAbortThatNeitherTheMonitorNorTheCutReachesSaysTheGuestStaysPausedNotThatItRuns() throws Exception {
        Paused p = pausedMigration();
        Process source = processes.get("dcA");
        signal("STOP", source);   // a monitor that answers nothing, and an agent that cannot cut (404)
        onCut = null;
        p.driver.abort(p.migration, vs1, dcA, dcB, false);
        String why = p.rec.failed.get(WAIT.toSeconds(), TimeUnit.SECONDS);
        assertTrue(why.startsWith("QEMU migration not cancelled: the monitor at dcA did not answer")
                && why.endsWith("vs1 stays paused at dcA until its migration stream fails"), why);
        assertTrue(agentCalls.contains("dcA POST /vms/vs1/cut-migration"), "the cut was asked: " + agentCalls);
        assertTrue(agentCalls.contains("dcB DELETE /vms/vs1/incoming"), "the destination ended: " + agentCalls);
        signal("CONT", source);
        p.driver.close();
    }

    @Test
    void aSourceThatDoesNotGoOnAfterThePauseFailsWithinTheCompletionBudgetAndItsStreamIsCut() throws Exception {
        Paused p = pausedMigration();
        Process source = processes.get("dcA");
        signal("STOP", source);   // neither its monitor nor its stream moves: a tail that stalled
        onCut = () -> signalOrFail("CONT", source);
        long t0 = System.nanoTime();
        p.hook.complete(null);
        String why = p.rec.failed.get(WAIT.toSeconds(), TimeUnit.SECONDS);
        long ms = (System.nanoTime() - t0) / 1_000_000;
        // the configured budget, not the default (3 s for a 300 ms downtime-limit); a bound, not a speed check
        // QEMU not completed within it, or (its monitor held up as well) migrate-continue not answered within it
        assertTrue((why.contains("within " + COMPLETION_BUDGET.toMillis() + " ms of migrate-continue")
                || why.contains("migrate-continue: no answer") && why.contains("within " + COMPLETION_BUDGET))
                && why.contains("cut at dcA"), why);
        assertTrue(ms >= COMPLETION_BUDGET.toMillis() - 100 && ms < 20_000,
                "failed " + ms + " ms after the hook: " + why);
        assertTrue(agentCalls.contains("dcA POST /vms/vs1/cut-migration"), agentCalls.toString());
        p.driver.close();
    }

    /** A pause-mode migration of the source this test started, stopped at pre-switchover, its hook unanswered. */
    private static final class Paused {
        final CompletableFuture<Void> hook = new CompletableFuture<>();
        final Recorder rec = new Recorder(hook);
        final Migration migration;
        final QemuHypervisorDriver driver;

        Paused(QemuHypervisorDriver driver, Migration migration) {
            this.driver = driver;
            this.migration = migration;
        }
    }

    private Paused pausedMigration() throws IOException {
        startSource();
        Paused p = new Paused(driver(QemuOptions.Switchover.PAUSE, 64), migration());
        p.driver.migrate(p.migration, vs1, dcA, dcB, p.rec);
        waitFor(() -> !p.rec.preSwitchover.isEmpty(), "the pause");
        return p;
    }

    private static String migrateStatus(QmpClient c) {
        try {
            return c.call("query-migrate", null, Duration.ofSeconds(30)).path("status").asText("none");
        } catch (IOException e) {
            throw new AssertionError(e);
        }
    }

    private static String runStatus(QmpClient c) {
        try {
            return c.call("query-status", null, Duration.ofSeconds(30)).path("status").asText();
        } catch (IOException e) {
            throw new AssertionError(e);
        }
    }

    private static void signal(String name, Process p) throws IOException, InterruptedException {
        assertEquals(0, new ProcessBuilder("kill", "-" + name, Long.toString(p.pid())).start().waitFor());
    }

    @Test
    void abortBeforeSwitchoverCancelsTheMigration() throws Exception {
        startSource();
        Recorder rec = new Recorder(new CompletableFuture<>());
        QemuHypervisorDriver driver = driver(QemuOptions.Switchover.PAUSE, 8);
        Migration m = migration();
        driver.migrate(m, vs1, dcA, dcB, rec);
        waitFor(() -> rec.progress.stream().anyMatch(p -> p.startsWith("QEMU migrating")), "migration started");
        driver.abort(m, vs1, dcA, dcB, false);

        rec.failed.get(WAIT.toSeconds(), TimeUnit.SECONDS);
        assertTrue(running("dcA"), "the guest runs on at the source");
        waitFor(() -> agentCalls.contains("dcB DELETE /vms/vs1/incoming"), "the destination is stopped");
    }

    @Test
    void migratesBackAServerThatArrivedByMigration() throws Exception {
        startSource();
        Recorder there = new Recorder(CompletableFuture.completedFuture(null));
        QemuHypervisorDriver driver = driver(QemuOptions.Switchover.PAUSE, 0);
        driver.migrate(migration(), vs1, dcA, dcB, there);
        there.completed.get(WAIT.toSeconds(), TimeUnit.SECONDS);
        processes.remove("dcA").destroyForcibly();    // the agent at A quits the source after the move

        // dcB's QEMU still reports its own incoming migration as "completed": not one under way
        Recorder back = new Recorder(CompletableFuture.completedFuture(null));
        driver.migrate(Migration.requested(MigrationId.of(2), "vs1", "dcB", "dcA", 2,
                new org.wanmig.api.TunnelLabels(1000, Map.of("site1", 1001)), System.currentTimeMillis()),
                vs1, dcB, dcA, back);
        String done = back.completed.get(WAIT.toSeconds(), TimeUnit.SECONDS);
        assertTrue(done.startsWith("QEMU completed"), done);
        assertEquals(1, back.preSwitchover.size(), "one pause before switchover on the way back");
        assertTrue(agentCalls.contains("dcA POST /vms/vs1/incoming"), agentCalls.toString());
        assertTrue(running("dcA"), "the guest runs at its first home again");
    }

    @Test
    void aRestartedMmsFollowsTheMigrationUnderWayInsteadOfStartingAnother() throws Exception {
        startSource();
        Recorder first = new Recorder(CompletableFuture.completedFuture(null));
        QemuHypervisorDriver before = driver(QemuOptions.Switchover.PAUSE, 32);
        Migration m = migration();
        before.migrate(m, vs1, dcA, dcB, first);
        waitFor(() -> first.progress.stream().anyMatch(p -> p.startsWith("QEMU migrating")), "migration started");
        before.close();   // the MMS dies; QEMU goes on copying

        Recorder second = new Recorder(CompletableFuture.completedFuture(null));
        QemuHypervisorDriver after = driver(QemuOptions.Switchover.PAUSE, 32);
        after.migrate(m, vs1, dcA, dcB, second);
        second.completed.get(WAIT.toSeconds(), TimeUnit.SECONDS);
        after.close();    // QEMU's monitor serves one client at a time: free it for running() below
        assertTrue(second.progress.stream().anyMatch(p -> p.contains("already under way")), second.progress.toString());
        assertEquals(1, agentCalls.stream().filter("dcB POST /vms/vs1/incoming"::equals).count(),
                "the destination was started once: " + agentCalls);
        assertFalse(first.failed.isDone() || first.completed.isDone(), "the first driver let go silently");
        assertTrue(running("dcB"), "the guest runs at the destination");
    }

    @Test
    void restartBootsTheServerAtTheDestinationOnceAndChecksItRuns() throws Exception {
        QemuHypervisorDriver driver = driver(QemuOptions.Switchover.PAUSE, 1000);
        String detail = driver.restart(vs1, dcB, 2).get(60, TimeUnit.SECONDS);
        assertTrue(detail.startsWith("qemu: vs1 booted at dcB"), detail);
        assertTrue(running("dcB"), "QEMU runs at dcB");
        // a resumed failover asks again: checked, not booted twice
        String again = driver.restart(vs1, dcB, 2).get(60, TimeUnit.SECONDS);
        assertTrue(again.startsWith("qemu: vs1 already running at dcB"), again);
        assertEquals(1, agentCalls.stream().filter(c -> c.equals("dcB POST /vms/vs1/boot")).count(), agentCalls.toString());
        driver.close();
    }

    // ---- fixtures ----------------------------------------------------------------------------

    private QemuHypervisorDriver driver(QemuOptions.Switchover mode, long mbps) {
        URI base = URI.create("http://127.0.0.1:" + agents.getAddress().getPort() + "/");
        return new QemuHypervisorDriver(new QemuOptions(Map.of("dcA", base.resolve("dcA/"), "dcB", base.resolve("dcB/")),
                mode, Duration.ofMillis(300), mbps, 100, COMPLETION_BUDGET));
    }

    private Migration migration() {
        return Migration.requested(MigrationId.of(1), "vs1", "dcA", "dcB", 2, new org.wanmig.api.TunnelLabels(1000, Map.of("site1", 1001)), System.currentTimeMillis());
    }

    private void startSource() throws IOException {
        launch("dcA", null);
    }

    private String launch(String dc, String incoming) throws IOException {
        // unix sockets in the test's own directory: a tcp port picked free and then given to QEMU can
        // be taken by someone else in between, and QEMU then exits without a monitor
        int n = launches.incrementAndGet();
        String address = "unix:" + dir.resolve(dc + "-" + n + ".qmp");
        String observerAddress = "unix:" + dir.resolve(dc + "-" + n + "-observer.qmp");
        // a second monitor for the test itself: QEMU serves each monitor one client, the driver holds the first
        List<String> cmd = new ArrayList<>(List.of("qemu-system-x86_64", "-accel", "tcg", "-machine", "pc",
                "-m", "64", "-nodefaults", "-display", "none", "-serial", "none",
                "-qmp", address + ",server=on,wait=off",
                "-qmp", observerAddress + ",server=on,wait=off"));
        observer.put(dc, observerAddress);
        if (incoming != null) {
            cmd.add("-incoming");
            cmd.add(incoming);
        }
        Path log = dir.resolve(dc + "-" + n + ".log");
        ChildProcesses.killAtExit();
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile()).start();
        processes.put(dc, p);
        launched.add(p);
        qmp.put(dc, address);
        waitFor(() -> {
            if (!p.isAlive()) {
                throw new AssertionError("QEMU of " + dc + " exited with " + p.exitValue() + " before its monitor"
                        + " answered: " + readQuietly(log));
            }
            try (QmpClient c = QmpClient.connect(address, Duration.ofSeconds(1), e -> { })) {
                return true;
            } catch (IOException e) {
                return false;
            }
        }, "QMP of " + dc);
        return address;
    }

    private static String readQuietly(Path file) {
        try {
            return Files.readString(file);
        } catch (IOException e) {
            return "(no log: " + e + ")";
        }
    }

    private boolean running(String dc) throws IOException {
        // a bound, not a speed check: QEMU under TCG on a loaded 2-core host took over 5 s to greet
        try (QmpClient c = QmpClient.connect(qmp.get(dc), Duration.ofSeconds(30), e -> { })) {
            return c.call("query-status", null, Duration.ofSeconds(30)).path("running").asBoolean();
        }
    }

    /** The hypervisor agent API the driver expects, over the processes this test owns. */
    private void agent(String dc, HttpExchange ex) throws IOException {
        String path = ex.getRequestURI().getPath().substring(("/" + dc).length());
        agentCalls.add(dc + " " + ex.getRequestMethod() + " " + path);
        ex.getRequestBody().readAllBytes();
        JsonNode reply;
        int status = 200;
        if (path.equals("/vms/vs1") && processes.containsKey(dc)) {
            reply = MAPPER.createObjectNode().put("state", "running").put("qmp", qmp.get(dc));
        } else if (path.equals("/vms/vs1") && ex.getRequestMethod().equals("GET")) {
            reply = MAPPER.createObjectNode().put("state", "absent");
        } else if (path.equals("/vms/vs1/incoming") && ex.getRequestMethod().equals("POST")) {
            String uri = "unix:" + dir.resolve(dc + "-" + launches.incrementAndGet() + "-incoming.sock");
            String address = launch(dc, uri);
            reply = MAPPER.createObjectNode().put("uri", uri).put("qmp", address);
        } else if (path.equals("/vms/vs1/incoming") && ex.getRequestMethod().equals("DELETE")) {
            Process p = processes.remove(dc);
            if (p != null) {
                p.destroyForcibly();
            }
            reply = MAPPER.createObjectNode();
        } else if (path.equals("/vms/vs1/boot") && ex.getRequestMethod().equals("POST")) {
            String address = launch(dc, null);
            reply = MAPPER.createObjectNode().put("state", "running").put("qmp", address);
        } else if (path.equals("/vms/vs1")) {
            reply = MAPPER.createObjectNode().put("state", "absent");
        } else if (path.equals("/vms/vs1/drain-nic") && ex.getRequestMethod().equals("POST") && drainStatus != 200) {
            status = drainStatus;
            reply = MAPPER.createObjectNode().put("error", status == 404 ? "no such route" : "QEMU still runs");
        } else if (path.equals("/vms/vs1/drain-nic") && ex.getRequestMethod().equals("POST")) {
            reply = MAPPER.createObjectNode().put("frames", 2).put("bytes", 196).put("fromQemuQueue", 1);
        } else if (path.equals("/vms/vs1/cut-migration") && ex.getRequestMethod().equals("POST") && onCut != null) {
            onCut.run();
            reply = MAPPER.createObjectNode().put("cut", 1);
        } else if (path.equals("/vms/vs1/started") || path.equals("/vms/vs1/stop")) {
            reply = MAPPER.createObjectNode();
        } else {
            status = 404;
            reply = MAPPER.createObjectNode().put("error", "no such VM");
        }
        byte[] body = reply.toString().getBytes(StandardCharsets.UTF_8);
        ex.sendResponseHeaders(status, body.length);
        try (OutputStream out = ex.getResponseBody()) {
            out.write(body);
        }
    }

    /** {@link #signal} from a callback that cannot throw checked exceptions (the stand-in agent's cut). */
    /**
     * The predecessor's driver died in the pause, and the source's monitor greets no one (as when
     * QEMU's migration thread is held up on a stalled stream). Returns the source.
     */
    private Process predecessorGoneMonitorHeld(Paused p) throws IOException, InterruptedException {
        Process source = processes.get("dcA");
        p.driver.close();
        signal("STOP", source);
        return source;
    }

    /** What a cut does to a source held up on its stream: the write fails, the migration ends. */
    private void streamFailed(Process source) {
        signalOrFail("CONT", source);
        try (QmpClient q = QmpClient.connect(qmp.get("dcA"), Duration.ofSeconds(10), e -> { })) {
            q.call("migrate_cancel", null, Duration.ofSeconds(10));
        } catch (IOException e) {
            throw new AssertionError(e);
        }
    }

    private static void signalOrFail(String sig, Process p) {
        try {
            signal(sig, p);
        } catch (IOException | InterruptedException e) {
            throw new AssertionError(e);
        }
    }

    private static void waitFor(java.util.function.BooleanSupplier condition, String what) {
        long end = System.nanoTime() + WAIT.toNanos();
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > end) {
                throw new AssertionError("timed out waiting for: " + what);
            }
            try {
                Thread.sleep(50);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new AssertionError(e);
            }
        }
    }

    /** The MMS side: records what the driver reports, answers the pause with a given outcome. */
    private static final class Recorder implements HypervisorListener {
        final CompletableFuture<String> completed = new CompletableFuture<>();
        final CompletableFuture<String> failed = new CompletableFuture<>();
        final List<String> progress = new CopyOnWriteArrayList<>();
        final List<String> preSwitchover = new CopyOnWriteArrayList<>();
        private final CompletableFuture<Void> switchoverOutcome;

        Recorder(CompletableFuture<Void> switchoverOutcome) {
            this.switchoverOutcome = switchoverOutcome;
        }

        @Override
        public void completed(MigrationId id, String detail) {
            completed.complete(detail);
        }

        @Override
        public void failed(MigrationId id, String reason) {
            failed.complete(reason);
        }

        @Override
        public void progress(MigrationId id, String detail) {
            progress.add(detail);
        }

        @Override
        public CompletionStage<Void> preSwitchover(MigrationId id, String detail) {
            preSwitchover.add(detail);
            return switchoverOutcome;
        }
    }
}
