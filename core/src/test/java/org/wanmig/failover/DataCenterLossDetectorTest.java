package org.wanmig.failover;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.wanmig.api.AgentDiskStatus;
import org.wanmig.config.WanTopology;
import org.wanmig.config.WanTopologyParser;
import org.wanmig.failover.DataCenterLossDetector.State;
import org.wanmig.testing.FakeMigrationService;
import org.wanmig.testing.Topologies;

import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.PriorityQueue;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Future;
import java.util.concurrent.FutureTask;
import java.util.function.Consumer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The loss detector's state machine on a fake clock and scheduler: dcA (vs1, vs2) is watched,
 * dcB's agent is the witness (failover.detection.to = dcB), afterSeconds 10, pollSeconds 1,
 * peerSilenceSeconds 2. Each tick reads the agents' answers to the previous tick's questions.
 */
class DataCenterLossDetectorTest {

    /** Tasks run when the test moves the clock past their time, in time order. */
    private static final class FakeScheduler implements org.wanmig.evacuation.EvacuationRunner.Scheduler {
        private final PriorityQueue<Object[]> due = new PriorityQueue<>((a, b) -> Long.compare((Long) a[0], (Long) b[0]));
        long now = 1_000_000;

        @Override
        public Future<?> schedule(Runnable task, Duration delay) {
            FutureTask<Void> f = new FutureTask<>(task, null);
            due.add(new Object[] {now + delay.toMillis(), f});
            return f;
        }

        void advance(Duration d) {
            long until = now + d.toMillis();
            while (!due.isEmpty() && (Long) due.peek()[0] <= until) {
                Object[] next = due.poll();
                now = (Long) next[0];
                ((FutureTask<?>) next[1]).run(); // a cancelled task does not run
            }
            now = until;
        }
    }

    /** The MMS's view: PEs connected or not, agents answering with their disks or silent. */
    private static final class FakeSignals implements LossSignals {
        final Set<String> peDown = new HashSet<>();
        final Map<String, List<AgentDiskStatus>> answers = new HashMap<>();
        final List<String> asked = new ArrayList<>();

        @Override
        public boolean peConnected(String dc) {
            return !peDown.contains(dc);
        }

        @Override
        public CompletableFuture<List<AgentDiskStatus>> agentDisks(String dc, Duration timeout) {
            asked.add(dc);
            List<AgentDiskStatus> a = answers.get(dc);
            return a == null ? new CompletableFuture<>() : CompletableFuture.completedFuture(a);
        }
    }

    private final FakeScheduler scheduler = new FakeScheduler();
    private final FakeSignals signals = new FakeSignals();
    private final List<String> declared = new ArrayList<>();
    private WanTopology topology;
    private DataCenterLossDetector detector;

    private static WanTopology topology(Consumer<ObjectNode> detection) {
        return Topologies.topology(Topologies.TWO_DC_TWO_SERVERS, c -> {
            ArrayNode dcs = (ArrayNode) c.get("dataCenters");
            ((ObjectNode) dcs.get(0)).put("agent", "http://127.0.0.1:17070");
            ((ObjectNode) dcs.get(1)).put("agent", "http://127.0.0.1:17071");
            ObjectNode d = c.putObject("failover").putObject("detection").put("enabled", true)
                    .put("afterSeconds", 10).put("pollSeconds", 1).put("peerSilenceSeconds", 2).put("to", "dcB");
            detection.accept(d);
        });
    }

    @BeforeEach
    void start() {
        start(d -> { });
    }

    private void start(Consumer<ObjectNode> detection) {
        if (detector != null) {
            detector.close();
        }
        topology = topology(detection);
        WanTopology t = topology;
        detector = new DataCenterLossDetector(() -> t, new FakeMigrationService(t), signals, scheduler,
                () -> scheduler.now, (lost, to, why) -> declared.add(lost + "->" + to + ": " + why));
        healthy();
        detector.start();
        seconds(2);
    }

    private void seconds(double s) {
        scheduler.advance(Duration.ofMillis(Math.round(s * 1000)));
    }

    private static AgentDiskStatus disk(String name, boolean peerConnected, long silentMillis) {
        return new AgentDiskStatus(name, "REPLICA", peerConnected, silentMillis);
    }

    /** Both DCs up: PEs connected, both agents answering, the replicas hearing dcA. */
    private void healthy() {
        signals.peDown.clear();
        signals.answers.put("dcA", List.of(new AgentDiskStatus("vs1", "PRIMARY", true, 100),
                new AgentDiskStatus("vs2", "PRIMARY", true, 100)));
        signals.answers.put("dcB", List.of(disk("vs1", true, 100), disk("vs2", true, 100)));
    }

    private void peDown() {
        signals.peDown.add("dcA");
    }

    private void agentDown() {
        signals.answers.remove("dcA");
    }

    /** The witness (dcB's agent) no longer hears dcA's agent on either disk. */
    private void witnessSeesPeerDown() {
        signals.answers.put("dcB", List.of(disk("vs1", false, 3_000), disk("vs2", false, 3_000)));
    }

    private void allSignals() {
        peDown();
        agentDown();
        witnessSeesPeerDown();
    }

    private State stateOfA() {
        return detector.states().get("dcA");
    }

    @Test
    void eachSignalAloneDeclaresNothing() {
        peDown();
        seconds(30);
        assertEquals(State.HEALTHY, stateOfA());
        healthy();
        agentDown();
        seconds(30);
        assertEquals(State.HEALTHY, stateOfA());
        healthy();
        witnessSeesPeerDown();
        seconds(30);
        assertEquals(State.HEALTHY, stateOfA());
        assertEquals(List.of(), declared);
    }

    @Test
    void everySignalForAfterSecondsDeclaresOnceWithTheSignalsAsReason() {
        allSignals();
        seconds(2.5); // the next tick asks, the one after reads the answers
        assertEquals(State.SUSPECT, stateOfA());
        seconds(8);
        assertEquals(List.of(), declared, "not before afterSeconds");
        seconds(2);
        assertEquals(1, declared.size(), declared.toString());
        String d = declared.get(0);
        assertTrue(d.startsWith("dcA->dcB: PE disconnected, agent unreachable from the controller, witness sees the"
                + " peer link down"), d);
        assertTrue(d.contains("dcB:vs1 REPLICA peer-down") && d.contains("(afterSeconds 10.0)"), d);
        assertEquals(State.LOST, stateOfA());
        seconds(60);
        assertEquals(1, declared.size(), "at most once per loss");
        assertEquals(null, detector.states().get("dcB"), "the destination is the witness, not watched");
    }

    @Test
    void aFlapResetsTheClock() {
        allSignals();
        seconds(8);
        assertEquals(State.SUSPECT, stateOfA());
        signals.peDown.clear(); // the PE reconnects for a moment
        seconds(1);
        assertEquals(State.HEALTHY, stateOfA());
        peDown();
        seconds(9);
        assertEquals(List.of(), declared, "the 10 s start over after the flap");
        seconds(2);
        assertEquals(1, declared.size());
    }

    @Test
    void aControllerSidePartitionIsNotTakenForALoss() {
        // the controller loses the PE and the agent, but between the DCs replication goes on
        peDown();
        agentDown();
        seconds(60);
        assertEquals(State.HEALTHY, stateOfA());
        assertEquals(List.of(), declared);
        // ... also when the witness hears dcA on one disk only
        signals.answers.put("dcB", List.of(disk("vs1", false, 5_000), disk("vs2", true, 100)));
        seconds(60);
        assertEquals(List.of(), declared);
        // ... and when the controller cannot reach the witness either: nothing confirms the loss
        signals.answers.remove("dcB");
        seconds(60);
        assertEquals(List.of(), declared);
    }

    @Test
    void aSilentLinkCountsAsDownAtPeerSilence() {
        peDown();
        agentDown();
        // connected (the idle timeout has not ended the stream yet) but nothing heard for 1.5 s: not yet
        signals.answers.put("dcB", List.of(disk("vs1", true, 1_500), disk("vs2", true, 1_500)));
        seconds(30);
        assertEquals(State.HEALTHY, stateOfA());
        signals.answers.put("dcB", List.of(disk("vs1", true, 2_000), disk("vs2", true, 2_500)));
        seconds(13);
        assertEquals(1, declared.size(), "silent for peerSilenceSeconds: down");
    }

    @Test
    void aDcThatReturnsIsWatchedAgainAndALaterLossDeclaredAgain() {
        allSignals();
        seconds(13);
        assertEquals(1, declared.size());
        signals.peDown.clear(); // the PE is back, the agent not yet: still lost
        seconds(5);
        assertEquals(State.LOST, stateOfA());
        healthy();
        seconds(2);
        assertEquals(State.HEALTHY, stateOfA(), "back: PE connected and agent answering");
        allSignals();
        seconds(13);
        assertEquals(2, declared.size(), "a new loss is a new declaration");
    }

    @Test
    void aRefusedDeclarationIsStillOneLoss() {
        start(d -> { });
        List<String> tries = new ArrayList<>();
        detector.close();
        WanTopology t = topology;
        detector = new DataCenterLossDetector(() -> t, new FakeMigrationService(t), signals, scheduler,
                () -> scheduler.now, (lost, to, why) -> {
                    tries.add(lost);
                    throw new IllegalStateException("dcA is already being failed over");
                });
        detector.start();
        allSignals();
        seconds(30);
        assertEquals(List.of("dcA"), tries, "refused (an operator was first): not asked again");
        assertEquals(State.LOST, stateOfA());
    }

    @Test
    void withoutToEveryOtherAgentWitnessesAndTheFailoverGoesToEachReplica() {
        start(d -> d.remove("to"));
        allSignals();
        seconds(13);
        assertEquals(1, declared.size());
        assertTrue(declared.get(0).startsWith("dcA->null: "), declared.get(0));
        assertEquals(State.HEALTHY, detector.states().get("dcB"), "dcB is watched too");
    }

    @Test
    void offByDefaultItAsksNothingAndDeclaresNothing() {
        start(d -> d.put("enabled", false));
        signals.asked.clear();
        allSignals();
        seconds(60);
        assertEquals(List.of(), signals.asked, "no agent is polled while detection is off");
        assertEquals(List.of(), declared);
        assertEquals(Map.of(), detector.states());
    }

    @Test
    void closedItStopsTicking() {
        detector.close();
        signals.asked.clear();
        allSignals();
        seconds(60);
        assertEquals(List.of(), signals.asked);
        assertEquals(List.of(), declared);
    }
}
