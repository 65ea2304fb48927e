package org.wanmig.evacuation;

import com.fasterxml.jackson.databind.node.ObjectNode;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.wanmig.api.Evacuation;
import org.wanmig.api.EvacuationId;
import org.wanmig.api.EvacuationState;
import org.wanmig.api.MigrationId;
import org.wanmig.api.ServerEvacuation;
import org.wanmig.api.WanmigException;
import org.wanmig.config.WanTopology;
import org.wanmig.config.WanTopologyParser;
import org.wanmig.store.InMemoryEvacuationStore;
import org.wanmig.testing.FakeMigrationService;
import org.wanmig.testing.Poll;
import org.wanmig.testing.ScaleTopology;
import org.wanmig.testing.Topologies;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Future;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import java.util.stream.Collectors;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The runner against a migration service whose migrations end when the test says. */
class EvacuationRunnerTest {
    private final List<ExecutorService> executors = new ArrayList<>();
    private final InMemoryEvacuationStore store = new InMemoryEvacuationStore();
    private WanTopology topology;
    private FakeMigrationService service;

    @AfterEach
    void stop() throws InterruptedException {
        for (ExecutorService x : executors) {
            x.shutdownNow();
            x.awaitTermination(5, TimeUnit.SECONDS);
        }
    }

    /** {@code n} servers in dcA, two migrations at once towards dcB, one retry. */
    private EvacuationPlan setUp(int n, Consumer<ObjectNode> edit) {
        ObjectNode c = ScaleTopology.config(n, 3, 1, i -> 0);
        ((ObjectNode) c.get("migration")).putObject("evacuation").put("maxConcurrentPerPair", 2).put("retries", 1);
        edit.accept(c);
        topology = WanTopologyParser.parse(c);
        service = new FakeMigrationService(topology);
        return new EvacuationPlanner(topology).plan(Map.of(), new EvacuationRequest("dcA", List.of("dcB"), List.of()));
    }

    private EvacuationPlan setUp(int n) {
        return setUp(n, c -> { });
    }

    private EvacuationRunner runner() {
        ScheduledExecutorService executor = Executors.newSingleThreadScheduledExecutor();
        executors.add(executor);
        return new EvacuationRunner(service, store, executor, System::currentTimeMillis);
    }

    private Evacuation record(EvacuationId id) {
        return store.get(id).orElseThrow();
    }

    private ServerEvacuation.State state(EvacuationId id, String server) {
        return record(id).server(server).orElseThrow().state();
    }

    private void awaitInFlight(EvacuationId id, Set<String> servers) {
        Poll.until("in flight: " + servers, () -> service.inFlight().equals(servers) && servers.stream()
                .allMatch(s -> state(id, s) == ServerEvacuation.State.IN_FLIGHT), () -> record(id).servers().toString()
                + " service: " + service.inFlight());
    }

    private void awaitState(EvacuationId id, EvacuationState state) {
        Poll.until(state.toString(), () -> record(id).state() == state, () -> record(id).toString()
                + " " + record(id).servers() + " " + record(id).timeline());
    }

    @Test
    void serversMoveTwoAtATimeUntilAllAreDone() {
        EvacuationPlan plan = setUp(5);
        Evacuation e = runner().start(plan);
        assertEquals(EvacuationState.RUNNING, e.state());
        assertEquals(5, e.count(ServerEvacuation.State.QUEUED), "start returns before any migration starts");
        awaitInFlight(e.id(), Set.of("vs0", "vs1"));
        assertEquals(3, record(e.id()).count(ServerEvacuation.State.QUEUED));

        service.complete("vs1");
        awaitInFlight(e.id(), Set.of("vs0", "vs2"));
        assertEquals(ServerEvacuation.State.DONE, state(e.id(), "vs1"));
        assertEquals(record(e.id()).server("vs1").orElseThrow().estimatedBytes(), record(e.id()).bytesDone());

        service.complete("vs0");
        service.complete("vs2");
        awaitInFlight(e.id(), Set.of("vs3", "vs4"));
        service.complete("vs3");
        service.complete("vs4");
        awaitState(e.id(), EvacuationState.COMPLETED);
        Evacuation done = record(e.id());
        assertEquals(5, done.count(ServerEvacuation.State.DONE));
        assertEquals(done.totalBytes(), done.bytesDone());
        assertEquals(5, service.started().size(), "one migration per server");
        assertEquals("dcB", service.location("vs4"));
        assertTrue(done.timeline().get(done.timeline().size() - 1).detail().contains("completed: 5 servers moved"));
    }

    @Test
    void eachDestinationPairRunsItsOwnSlots() {
        ObjectNode c = ScaleTopology.config(4, 3, 1, i -> 0);
        ((ObjectNode) c.get("migration")).putObject("evacuation").put("maxConcurrentPerPair", 1);
        topology = WanTopologyParser.parse(c);
        service = new FakeMigrationService(topology);
        EvacuationPlan plan = new EvacuationPlanner(topology).plan(Map.of(), EvacuationRequest.of("dcA"));
        EvacuationId id = runner().start(plan).id();
        Poll.until("one per pair", () -> record(id).count(ServerEvacuation.State.IN_FLIGHT) == 2);
        Set<String> destinations = record(id).servers().stream()
                .filter(s -> s.state() == ServerEvacuation.State.IN_FLIGHT).map(ServerEvacuation::destination)
                .collect(Collectors.toSet());
        assertEquals(Set.of("dcB", "dcC"), destinations);
        while (record(id).isActive()) {
            Set<String> running = service.inFlight();
            running.forEach(service::complete);
            Poll.until("next wave", () -> !record(id).isActive() || !service.inFlight().isEmpty()
                    && record(id).count(ServerEvacuation.State.IN_FLIGHT) == service.inFlight().size());
        }
        assertEquals(EvacuationState.COMPLETED, record(id).state());
        assertEquals(Set.of("dcB", "dcC"), Set.copyOf(List.of(service.location("vs0"), service.location("vs1"),
                service.location("vs2"), service.location("vs3"))));
    }

    @Test
    void aFailedServerIsRetriedOnce() {
        EvacuationPlan plan = setUp(2);
        EvacuationId id = runner().start(plan).id();
        awaitInFlight(id, Set.of("vs0", "vs1"));
        MigrationId first = record(id).server("vs0").orElseThrow().migrationId();
        service.fail("vs0", "hypervisor lost the connection");
        Poll.until("vs0 retried", () -> !first.equals(record(id).server("vs0").orElseThrow().migrationId())
                && state(id, "vs0") == ServerEvacuation.State.IN_FLIGHT);
        assertEquals(2, record(id).server("vs0").orElseThrow().attempts());
        service.complete("vs0");
        service.complete("vs1");
        awaitState(id, EvacuationState.COMPLETED);
        assertTrue(record(id).timeline().stream().anyMatch(ev -> "vs0".equals(ev.server())
                && ev.detail().contains("attempt 1 failed") && ev.detail().contains("hypervisor lost the connection")));
    }

    @Test
    void oneServerFailingForGoodDoesNotStopTheRest() {
        EvacuationPlan plan = setUp(4);
        EvacuationId id = runner().start(plan).id();
        awaitInFlight(id, Set.of("vs0", "vs1"));
        service.fail("vs0", "disk not in sync");
        Poll.until("vs0 retried", () -> record(id).server("vs0").orElseThrow().attempts() == 2
                && service.inFlight().contains("vs0"));
        service.fail("vs0", "disk not in sync again");
        Poll.until("vs0 failed", () -> state(id, "vs0") == ServerEvacuation.State.FAILED);
        awaitInFlight(id, Set.of("vs1", "vs2"));
        for (String s : List.of("vs1", "vs2")) {
            service.complete(s);
        }
        awaitInFlight(id, Set.of("vs3"));
        service.complete("vs3");
        awaitState(id, EvacuationState.COMPLETED_WITH_FAILURES);
        Evacuation e = record(id);
        assertEquals(3, e.count(ServerEvacuation.State.DONE));
        ServerEvacuation failed = e.server("vs0").orElseThrow();
        assertTrue(failed.reason().contains("disk not in sync again"), failed.reason());
        assertEquals("dcA", service.location("vs0"));
        assertTrue(e.timeline().get(e.timeline().size() - 1).detail().contains("1 failed and still at dcA: vs0"));
    }

    @Test
    void aRefusedStartCountsAsAnAttemptAndIsReported() {
        EvacuationPlan plan = setUp(3);
        service.refuse("vs0");
        EvacuationId id = runner().start(plan).id();
        Poll.until("vs0 failed", () -> state(id, "vs0") == ServerEvacuation.State.FAILED);
        ServerEvacuation vs0 = record(id).server("vs0").orElseThrow();
        assertEquals(2, vs0.attempts());
        assertTrue(vs0.reason().contains("does not answer"), vs0.reason());
        awaitInFlight(id, Set.of("vs1", "vs2"));
    }

    @Test
    void groupsWaitForTheEarlierGroupEvenWithSlotsFree() {
        EvacuationPlan plan = setUp(3, c -> {
            Topologies.entry(c, "servers", 0).put("group", "web");
            Topologies.entry(c, "servers", 1).put("group", "database");
            Topologies.entry(c, "servers", 2).put("group", "web");
            ((ObjectNode) c.get("migration").get("evacuation")).putArray("groupOrder").add("database").add("web");
        });
        EvacuationId id = runner().start(plan).id();
        awaitInFlight(id, Set.of("vs1"));
        assertEquals(ServerEvacuation.State.QUEUED, state(id, "vs0"));
        service.complete("vs1");
        awaitInFlight(id, Set.of("vs0", "vs2"));
    }

    @Test
    void abortCancelsTheQueuedRollsBackTheInFlightAndKeepsTheDone() throws Exception {
        EvacuationPlan plan = setUp(6);
        EvacuationRunner runner = runner();
        EvacuationId id = runner.start(plan).id();
        awaitInFlight(id, Set.of("vs0", "vs1"));
        service.complete("vs0");
        awaitInFlight(id, Set.of("vs1", "vs2"));
        List<MigrationId> inFlight = List.of(record(id).server("vs1").orElseThrow().migrationId(),
                record(id).server("vs2").orElseThrow().migrationId());

        runner.abort(id).get(10, TimeUnit.SECONDS);
        awaitState(id, EvacuationState.ABORTED);
        Evacuation e = record(id);
        assertEquals(inFlight, service.aborted());
        assertEquals(ServerEvacuation.State.DONE, e.server("vs0").orElseThrow().state());
        assertEquals("dcB", service.location("vs0"), "what is done stays done");
        for (String s : List.of("vs1", "vs2", "vs3", "vs4", "vs5")) {
            assertEquals(ServerEvacuation.State.CANCELLED, e.server(s).orElseThrow().state(), s);
            assertEquals("dcA", service.location(s), s);
        }
        assertTrue(e.server("vs1").orElseThrow().reason().contains("rolled back by the abort"));
        assertEquals(3, service.started().size(), "nothing starts after the abort");
        assertThrows(WanmigException.class, () -> runner.abort(id));
    }

    @Test
    void eventsAreHandledOnTheRunnersExecutorAndAMigrationThatCompletesBeforeTheAbortReachesItIsKept() {
        EvacuationPlan plan = setUp(4);
        List<Runnable> tasks = new ArrayList<>();
        EvacuationRunner runner = new EvacuationRunner(service, store, tasks::add, scheduler, System::currentTimeMillis);
        EvacuationId id = runner.start(plan).id();
        runAll(tasks);
        assertEquals(Set.of("vs0", "vs1"), service.inFlight());

        runner.abort(id); // queued behind nothing yet
        service.complete("vs1"); // its event is queued behind the abort
        assertEquals(ServerEvacuation.State.IN_FLIGHT, state(id, "vs1"), "nothing ran on the caller's thread");
        assertEquals(EvacuationState.RUNNING, record(id).state());
        runAll(tasks);

        Evacuation e = record(id);
        assertEquals(EvacuationState.ABORTED, e.state());
        assertEquals(ServerEvacuation.State.DONE, e.server("vs1").orElseThrow().state(), e.servers().toString());
        assertEquals(ServerEvacuation.State.CANCELLED, e.server("vs0").orElseThrow().state());
        assertEquals(List.of(e.server("vs0").orElseThrow().migrationId()), service.aborted(),
                "the completed one could not be aborted");
        assertTrue(e.timeline().stream().anyMatch(ev -> ev.detail().contains("kept")));
        assertEquals("dcB", service.location("vs1"));
    }

    /** A scheduler that runs nothing by itself: the test fires what is due. */
    private static final class FakeScheduler implements EvacuationRunner.Scheduler {
        final List<Duration> delays = new ArrayList<>();
        final List<Runnable> tasks = new ArrayList<>();
        final List<CompletableFuture<Void>> handles = new ArrayList<>();

        @Override
        public Future<?> schedule(Runnable task, Duration delay) {
            delays.add(delay);
            tasks.add(task);
            CompletableFuture<Void> handle = new CompletableFuture<>();
            handles.add(handle);
            return handle;
        }

        /** Runs the scheduled tasks not cancelled, as if their delays had passed. */
        void fireAll() {
            List<Runnable> due = new ArrayList<>();
            for (int i = 0; i < tasks.size(); i++) {
                if (!handles.get(i).isCancelled() && !handles.get(i).isDone()) {
                    handles.get(i).complete(null);
                    due.add(tasks.get(i));
                }
            }
            due.forEach(Runnable::run);
        }
    }

    private final FakeScheduler scheduler = new FakeScheduler();
    /** The runner's executor in the scheduler tests: what it was given to run, run when the test says. */
    private final List<Runnable> queued = new ArrayList<>();

    /** Three servers, two slots, vs0's start refused; started and every task run. */
    private EvacuationRunner startWithVs0Refused() {
        EvacuationPlan plan = setUp(3);
        service.refuse("vs0");
        EvacuationRunner runner = new EvacuationRunner(service, store, queued::add, scheduler, System::currentTimeMillis);
        runner.start(plan);
        runAll(queued);
        return runner;
    }

    @Test
    void aRefusedStartWaitsOutABackoffAndKeepsItsPlaceInLine() {
        startWithVs0Refused();
        EvacuationId id = store.all().iterator().next().id();
        ServerEvacuation vs0 = record(id).server("vs0").orElseThrow();
        assertEquals(ServerEvacuation.State.QUEUED, vs0.state());
        assertEquals(1, vs0.attempts(), "not tried again at once");
        assertEquals(List.of(Duration.ofSeconds(1)), scheduler.delays);
        assertEquals(Set.of("vs1"), service.inFlight(), "vs0 keeps its slot while it waits");

        scheduler.fireAll();
        runAll(queued);
        vs0 = record(id).server("vs0").orElseThrow();
        assertEquals(ServerEvacuation.State.FAILED, vs0.state(), "second and last attempt refused too");
        assertEquals(2, vs0.attempts());
        assertEquals(Set.of("vs1", "vs2"), service.inFlight());
        assertEquals(1, scheduler.delays.size(), "no retry after the last attempt");
    }

    @Test
    void abortDoesNotWaitForABackoffAndCancelsTheRetry() throws Exception {
        EvacuationRunner runner = startWithVs0Refused();
        EvacuationId id = store.all().iterator().next().id();
        assertEquals(1, scheduler.handles.size());

        CompletableFuture<Evacuation> aborted = runner.abort(id);
        runAll(queued); // the retry's delay has not passed
        assertTrue(aborted.isDone(), "the abort is under way without the backoff's end");
        assertEquals(ServerEvacuation.State.CANCELLED, state(id, "vs0"));
        assertTrue(scheduler.handles.get(0).isCancelled());
        assertEquals(EvacuationState.ABORTING, aborted.get().state(), "vs1 is being rolled back");

        scheduler.fireAll();
        runAll(queued);
        assertEquals(1, record(id).server("vs0").orElseThrow().attempts(), "no start after the abort");
    }

    @Test
    void backoffDoublesUpToAMinute() {
        assertEquals(Duration.ofSeconds(1), EvacuationRunner.backoff(1));
        assertEquals(Duration.ofSeconds(2), EvacuationRunner.backoff(2));
        assertEquals(Duration.ofSeconds(32), EvacuationRunner.backoff(6));
        assertEquals(Duration.ofMinutes(1), EvacuationRunner.backoff(7));
        assertEquals(Duration.ofMinutes(1), EvacuationRunner.backoff(40));
    }

    /** Runs queued tasks, and the tasks they queue, until none is left. */
    private static void runAll(List<Runnable> tasks) {
        while (!tasks.isEmpty()) {
            tasks.remove(0).run();
        }
    }

    @Test
    void aNewRunnerResumesFromTheStoreAndLearnsWhatHappenedMeanwhile() {
        EvacuationPlan plan = setUp(5);
        EvacuationRunner first = runner();
        EvacuationId id = first.start(plan).id();
        awaitInFlight(id, Set.of("vs0", "vs1"));
        first.close(); // the leader goes away; its migrations go on in the MMS
        service.complete("vs0"); // nobody listens to this one

        EvacuationRunner second = runner();
        assertEquals(ServerEvacuation.State.IN_FLIGHT, state(id, "vs0"), "the store alone does not know yet");
        second.resumeAll();
        awaitInFlight(id, Set.of("vs1", "vs2"));
        assertEquals(ServerEvacuation.State.DONE, state(id, "vs0"));
        for (String s : List.of("vs1", "vs2")) {
            service.complete(s);
        }
        awaitInFlight(id, Set.of("vs3", "vs4"));
        service.complete("vs3");
        service.complete("vs4");
        awaitState(id, EvacuationState.COMPLETED);
        assertEquals(5, service.started().size(), "no server moved twice");
    }

    @Test
    void aResumedRunnerAdoptsAMigrationStartedButNotYetRecorded() {
        EvacuationPlan plan = setUp(2);
        List<Runnable> tasks = new ArrayList<>();
        EvacuationRunner first = new EvacuationRunner(service, store, tasks::add, scheduler, System::currentTimeMillis);
        Evacuation queued = first.start(plan);
        new ArrayList<>(tasks).forEach(Runnable::run);
        first.close();
        assertEquals(Set.of("vs0", "vs1"), service.inFlight());
        // as if the previous runner died between startMigration and writing the record
        store.put(queued);
        assertEquals(2, record(queued.id()).count(ServerEvacuation.State.QUEUED));
        runner().resumeAll();
        awaitInFlight(queued.id(), Set.of("vs0", "vs1"));
        assertEquals(2, service.started().size(), "no second migration for the same server");
        assertTrue(record(queued.id()).timeline().stream().anyMatch(ev -> ev.detail().startsWith("adopted migration")));
        service.complete("vs0");
        service.complete("vs1");
        awaitState(queued.id(), EvacuationState.COMPLETED);
    }

    @Test
    void aServerCannotBeInTwoActiveEvacuations() {
        EvacuationPlan plan = setUp(2);
        EvacuationRunner runner = runner();
        EvacuationId first = runner.start(plan).id();
        WanmigException x = assertThrows(WanmigException.class, () -> runner.start(plan));
        assertEquals(WanmigException.Kind.CONFLICT, x.kind());
        assertNotEquals(null, first);
        assertEquals(1, store.all().size());
    }

    @Test
    void startDoesNotWaitForTheMigrationService() throws Exception {
        EvacuationPlan plan = setUp(1);
        // an executor that never runs anything: start must still return, with the record stored
        EvacuationRunner runner = new EvacuationRunner(service, store, task -> { }, scheduler, System::currentTimeMillis);
        Evacuation e = runner.start(plan);
        assertEquals(e, record(e.id()));
        assertTrue(service.started().isEmpty());
        assertEquals(List.of("vs0"), e.servers().stream().map(ServerEvacuation::server).collect(Collectors.toList()));
    }
}
