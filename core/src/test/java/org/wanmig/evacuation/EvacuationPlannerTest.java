package org.wanmig.evacuation;

import com.fasterxml.jackson.databind.node.ObjectNode;
import org.junit.jupiter.api.Test;
import org.wanmig.api.WanmigException;
import org.wanmig.config.WanTopology;
import org.wanmig.config.WanTopologyParser;
import org.wanmig.testing.ScaleTopology;
import org.wanmig.testing.Topologies;

import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;
import java.util.stream.Collectors;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Destinations within capacity, order by group and priority, concurrency under the budget, ETA. */
class EvacuationPlannerTest {

    /** {@code n} servers in dcA, three DCs, one site; no per-migration overhead unless edited. */
    private static WanTopology topology(int n, Consumer<ObjectNode> edit) {
        ObjectNode c = ScaleTopology.config(n, 3, 1, i -> 0);
        ((ObjectNode) c.get("migration")).putObject("evacuation").put("overheadSeconds", 0);
        edit.accept(c);
        return WanTopologyParser.parse(c);
    }

    private static ObjectNode server(ObjectNode c, int i) {
        return Topologies.entry(c, "servers", i);
    }

    private static ObjectNode evacuation(ObjectNode c) {
        return (ObjectNode) c.get("migration").get("evacuation");
    }

    private static ObjectNode capacity(ObjectNode c, int dc) {
        return Topologies.entry(c, "dataCenters", dc).putObject("capacity");
    }

    private static EvacuationPlan plan(WanTopology t, EvacuationRequest request) {
        return new EvacuationPlanner(t).plan(Map.of(), request);
    }

    private static EvacuationRequest toB() {
        return new EvacuationRequest("dcA", List.of("dcB"), List.of());
    }

    /** How many moves of a pair overlap at the start of each move, the most of them. */
    private static int peakConcurrency(EvacuationPlan p) {
        int peak = 0;
        for (PlannedMove m : p.moves()) {
            int at = (int) p.moves().stream().filter(o -> o.pair().equals(m.pair())
                    && o.startOffset().compareTo(m.startOffset()) <= 0 && o.endOffset().compareTo(m.startOffset()) > 0)
                    .count();
            peak = Math.max(peak, at);
        }
        return peak;
    }

    // ---- capacity --------------------------------------------------------------------------

    @Test
    void everyServerOfTheSourceMovesAndOnlyThose() {
        WanTopology t = topology(5, c -> server(c, 4).put("dc", "dcC"));
        EvacuationPlan p = plan(t, EvacuationRequest.of("dcA"));
        assertEquals(List.of("vs0", "vs1", "vs2", "vs3"),
                p.moves().stream().map(PlannedMove::server).sorted().collect(Collectors.toList()));
        assertEquals(List.of("dcB", "dcC"), p.destinations());
    }

    @Test
    void unlimitedDestinationsShareTheLoad() {
        EvacuationPlan p = plan(topology(6, c -> { }), EvacuationRequest.of("dcA"));
        Map<String, Long> perDc = p.moves().stream().collect(Collectors.groupingBy(PlannedMove::destination,
                Collectors.counting()));
        assertEquals(Map.of("dcB", 3L, "dcC", 3L), perDc);
    }

    @Test
    void destinationsStayWithinMemoryAndSlots() {
        WanTopology t = topology(4, c -> {
            for (int i = 0; i < 4; i++) {
                server(c, i).put("memoryMiB", 1024 * (i + 1)); // 1, 2, 3, 4 GiB
            }
            capacity(c, 1).put("memoryMiB", 5 * 1024);
            capacity(c, 2).put("slots", 2);
        });
        EvacuationPlan p = plan(t, EvacuationRequest.of("dcA"));
        long memoryAtB = p.moves().stream().filter(m -> m.destination().equals("dcB"))
                .mapToLong(PlannedMove::memoryMiB).sum();
        long serversAtC = p.moves().stream().filter(m -> m.destination().equals("dcC")).count();
        assertTrue(memoryAtB <= 5 * 1024, "dcB holds " + memoryAtB + " MiB");
        assertTrue(serversAtC <= 2, "dcC holds " + serversAtC);
        assertEquals(4, p.moves().size());
    }

    @Test
    void serversAlreadyAtADestinationCountAgainstItsCapacity() {
        WanTopology t = topology(3, c -> {
            capacity(c, 1).put("slots", 2);
            capacity(c, 2).put("slots", 5);
        });
        // vs2 already moved to dcB: dcB has one slot left for the two servers still in dcA
        EvacuationPlan p = new EvacuationPlanner(t).plan(Map.of("vs2", "dcB"), EvacuationRequest.of("dcA"));
        assertEquals(2, p.moves().size());
        assertTrue(p.moves().stream().filter(m -> m.destination().equals("dcB")).count() <= 1);
    }

    /** Agents in the three DCs; vs0's disk has its other copy at {@code pair}. */
    private static Consumer<ObjectNode> pairedTo(String pair) {
        return c -> {
            for (int d = 0; d < 3; d++) {
                Topologies.entry(c, "dataCenters", d).put("agent", "http://127.0.0.1:" + (17070 + d));
            }
            server(c, 0).put("replicaAt", pair);
        };
    }

    @Test
    void aServerGoesWhereItsDisksOtherCopyIsEvenIfAnotherDcHasMoreRoom() {
        WanTopology t = topology(4, pairedTo("dcC").andThen(c -> capacity(c, 2).put("slots", 1)));
        EvacuationPlan p = plan(t, EvacuationRequest.of("dcA"));
        Map<String, String> to = p.moves().stream().collect(Collectors.toMap(PlannedMove::server, PlannedMove::destination));
        assertEquals("dcC", to.get("vs0"), to.toString());
        assertEquals(List.of("dcB", "dcB", "dcB"), List.of(to.get("vs1"), to.get("vs2"), to.get("vs3")),
                "dcC's one slot went to the server that can only go there: " + to);
    }

    @Test
    void aServerWhoseOtherCopyIsNotAmongTheDestinationsIsRefusedByName() {
        WanTopology t = topology(3, pairedTo("dcC"));
        WanmigException e = assertThrows(WanmigException.class, () -> plan(t, toB()));
        assertEquals(WanmigException.Kind.CONFLICT, e.kind());
        assertTrue(e.reason().contains("vs0 (1024 MiB; its disk's other copy is at dcC)"), e.reason());
    }

    @Test
    void serversThatDoNotFitAreNamedWithTheRoomLeft() {
        WanTopology t = topology(3, c -> {
            server(c, 0).put("memoryMiB", 8192);
            capacity(c, 1).put("memoryMiB", 4096);
            capacity(c, 2).put("memoryMiB", 2048).put("slots", 1);
        });
        WanmigException e = assertThrows(WanmigException.class, () -> plan(t, EvacuationRequest.of("dcA")));
        assertEquals(WanmigException.Kind.CONFLICT, e.kind());
        assertEquals("destinations", e.field());
        assertTrue(e.reason().contains("capacity exceeded: 1 of 3 servers do not fit: vs0 (8192 MiB)"), e.reason());
        assertTrue(e.reason().contains("dcB 2048 MiB and unlimited slots"), e.reason());
        assertTrue(e.reason().contains("dcC 2048 MiB and 1 slots"), e.reason());
    }

    @Test
    void onlyTheNamedDestinationsAreUsed() {
        EvacuationPlan p = plan(topology(4, c -> { }), toB());
        assertTrue(p.moves().stream().allMatch(m -> m.destination().equals("dcB")));
        assertEquals(Map.of("dcA<->dcB", 1000.0), p.budgetMbpsByPair());
    }

    @Test
    void aChosenSetOfServersMoves() {
        EvacuationPlan p = plan(topology(4, c -> { }),
                new EvacuationRequest("dcA", List.of(), List.of("vs3", "vs1")));
        assertEquals(List.of("vs1", "vs3"), p.moves().stream().map(PlannedMove::server).collect(Collectors.toList()));
    }

    @Test
    void requestsNamingWrongThingsAreRefused() {
        WanTopology t = topology(2, c -> server(c, 1).put("dc", "dcB"));
        EvacuationPlanner planner = new EvacuationPlanner(t);
        WanmigException e = assertThrows(WanmigException.class, () -> planner.plan(Map.of(), EvacuationRequest.of("dcX")));
        assertEquals(WanmigException.Kind.NOT_FOUND, e.kind());
        e = assertThrows(WanmigException.class, () -> planner.plan(Map.of(),
                new EvacuationRequest("dcA", List.of("dcA"), List.of())));
        assertEquals("destinations", e.field());
        e = assertThrows(WanmigException.class, () -> planner.plan(Map.of(),
                new EvacuationRequest("dcA", List.of(), List.of("vs1"))));
        assertTrue(e.reason().contains("vs1 runs in dcB, not in dcA"), e.reason());
        e = assertThrows(WanmigException.class, () -> planner.plan(Map.of("vs0", "dcC"), EvacuationRequest.of("dcA")));
        assertTrue(e.reason().contains("no server runs in dcA"), e.reason());
    }

    // ---- order -----------------------------------------------------------------------------

    private static WanTopology tiers(String... order) {
        return topology(6, c -> {
            for (int i = 0; i < 6; i++) {
                server(c, i).put("group", i % 2 == 0 ? "web" : "database");
            }
            evacuation(c).put("maxConcurrentPerPair", 2).putArray("groupOrder").add(order[0]).add(order[1]);
        });
    }

    private static void assertGroupBefore(EvacuationPlan p, String first, String then) {
        Duration firstDone = p.moves().stream().filter(m -> m.group().equals(first)).map(PlannedMove::endOffset)
                .max(Duration::compareTo).orElseThrow();
        p.moves().stream().filter(m -> m.group().equals(then)).forEach(m ->
                assertTrue(m.startOffset().compareTo(firstDone) >= 0, m + " starts before " + first + " is done"));
        assertTrue(p.moves().stream().filter(m -> m.group().equals(then))
                .anyMatch(m -> m.startOffset().equals(firstDone)), "the next group starts as soon as it may");
    }

    @Test
    void databaseTierMovesBeforeTheWebTier() {
        assertGroupBefore(plan(tiers("database", "web"), toB()), "database", "web");
    }

    @Test
    void orReverse() {
        assertGroupBefore(plan(tiers("web", "database"), toB()), "web", "database");
    }

    @Test
    void higherPriorityStartsFirstAndUngroupedServersGoLast() {
        WanTopology t = topology(4, c -> {
            server(c, 0).put("priority", 1);
            server(c, 2).put("priority", 9);
            server(c, 3).put("group", "database");
            evacuation(c).put("maxConcurrentPerPair", 1).putArray("groupOrder").add("database");
        });
        EvacuationPlan p = plan(t, toB());
        assertEquals(List.of("vs3", "vs2", "vs0", "vs1"),
                p.schedule().stream().map(PlannedMove::server).collect(Collectors.toList()));
    }

    // ---- budget and ETA --------------------------------------------------------------------

    @Test
    void aPairRunsItsSlotsAtOnceEachWithAnEqualShareAndTheEtaFollows() {
        WanTopology t = topology(10, c -> {
            for (int i = 0; i < 10; i++) {
                server(c, i).put("memoryMiB", 1000);
            }
            evacuation(c).put("maxConcurrentPerPair", 4).put("overheadSeconds", 2);
            evacuation(c).putArray("bandwidth").addObject().put("mbps", 800).putArray("between").add("dcA").add("dcB");
        });
        EvacuationPlan p = plan(t, toB());
        // 1000 MiB at 200 Mbit/s (25 MB/s): 41.944 s of copy, plus 2 s; three waves: 4, 4, 2
        long each = 2000 + (long) Math.ceil(1000.0 * PreCopyModel.MIB / 25_000_000 * 1000);
        p.moves().forEach(m -> assertEquals(200.0, m.shareMbps()));
        p.moves().forEach(m -> assertEquals(each, m.estimatedDuration().toMillis()));
        assertEquals(4, peakConcurrency(p));
        assertEquals(Map.of("dcA<->dcB", 800.0), p.peakMbpsByPair());
        assertEquals(3 * each, p.estimatedDuration().toMillis());
        assertEquals(10 * 1000 * PreCopyModel.MIB, p.estimatedBytes());
        assertEquals(List.of(0L, 0L, 0L, 0L, each, each, each, each, 2 * each, 2 * each),
                p.schedule().stream().map(m -> m.startOffset().toMillis()).collect(Collectors.toList()));
    }

    @Test
    void eachPairHasItsOwnBudget() {
        WanTopology t = topology(8, c -> {
            evacuation(c).put("maxConcurrentPerPair", 2);
            evacuation(c).putArray("bandwidth").addObject().put("mbps", 100).putArray("between").add("dcA").add("dcC");
        });
        EvacuationPlan p = plan(t, EvacuationRequest.of("dcA"));
        Map<String, Double> peak = p.peakMbpsByPair();
        assertEquals(1000.0, peak.get("dcA<->dcB"));
        assertEquals(100.0, peak.get("dcA<->dcC"));
        p.moves().forEach(m -> assertEquals(m.destination().equals("dcB") ? 500.0 : 50.0, m.shareMbps(), m.toString()));
    }

    @Test
    void aBusyServerThatConvergesOnlyWithTheWholeBudgetRunsAlone() {
        // share 250 Mbit/s = 29.8 MiB/s; vs1 dirties 50 MiB/s: it converges only with the whole 119 MiB/s
        WanTopology t = topology(4, c -> server(c, 1).put("dirtyRateMiBps", 50).put("priority", 5));
        EvacuationPlan p = plan(t, toB());
        PlannedMove busy = p.move("vs1").orElseThrow();
        assertTrue(busy.exclusive());
        assertTrue(busy.converges());
        assertEquals(1000.0, busy.shareMbps());
        p.moves().stream().filter(m -> !m.equals(busy)).forEach(m -> assertTrue(
                m.endOffset().compareTo(busy.startOffset()) <= 0 || m.startOffset().compareTo(busy.endOffset()) >= 0,
                m + " overlaps the exclusive " + busy));
        assertTrue(p.nonConverging().isEmpty());
        assertEquals(Map.of("dcA<->dcB", 1000.0), p.peakMbpsByPair());
    }

    @Test
    void aServerDirtyingFasterThanTheWholeBudgetIsFlagged() {
        WanTopology t = topology(3, c -> server(c, 2).put("dirtyRateMiBps", 200));
        EvacuationPlan p = plan(t, toB());
        assertEquals(List.of("vs2"), p.nonConverging().stream().map(PlannedMove::server).collect(Collectors.toList()));
        PlannedMove flagged = p.nonConverging().get(0);
        assertEquals(30, flagged.rounds());
        assertTrue(flagged.estimatedStopCopy().toMillis() > 8000, "it pauses to send all its memory: " + flagged);
        assertFalse(p.move("vs0").orElseThrow().exclusive());
    }

    @Test
    void planningIsPure() {
        WanTopology t = topology(20, c -> server(c, 3).put("dirtyRateMiBps", 40));
        Map<String, String> placements = new HashMap<>(Map.of("vs19", "dcC"));
        assertEquals(new EvacuationPlanner(t).plan(placements, EvacuationRequest.of("dcA")),
                new EvacuationPlanner(t).plan(placements, EvacuationRequest.of("dcA")));
    }
}
