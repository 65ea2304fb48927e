package org.wanmig.evacuation;

import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.wanmig.evacuation.Admission.Phase.FINISHED;
import static org.wanmig.evacuation.Admission.Phase.QUEUED;
import static org.wanmig.evacuation.Admission.Phase.RUNNING;

class AdmissionTest {
    private static final String AB = "dcA<->dcB";
    private static final String AC = "dcA<->dcC";

    private static Admission.Item item(String pair, int rank, boolean exclusive, Admission.Phase phase) {
        return new Admission.Item(pair, rank, exclusive, phase);
    }

    @Test
    void aPairFillsItsSlotsInOrder() {
        List<Admission.Item> items = List.of(item(AB, 0, false, RUNNING), item(AB, 0, false, QUEUED),
                item(AB, 0, false, QUEUED), item(AB, 0, false, QUEUED));
        assertEquals(List.of(1, 2), Admission.startable(items, Map.of(AB, 3)));
    }

    @Test
    void pairsAreIndependent() {
        List<Admission.Item> items = List.of(item(AB, 0, false, RUNNING), item(AB, 0, false, QUEUED),
                item(AC, 0, false, QUEUED));
        assertEquals(List.of(2), Admission.startable(items, Map.of(AB, 1, AC, 1)));
    }

    @Test
    void aLaterGroupWaitsUntilEveryEarlierServerIsFinished() {
        List<Admission.Item> items = List.of(item(AB, 0, false, FINISHED), item(AC, 0, false, RUNNING),
                item(AB, 1, false, QUEUED));
        assertEquals(List.of(), Admission.startable(items, Map.of(AB, 4, AC, 4)));
        List<Admission.Item> after = List.of(item(AB, 0, false, FINISHED), item(AC, 0, false, FINISHED),
                item(AB, 1, false, QUEUED));
        assertEquals(List.of(2), Admission.startable(after, Map.of(AB, 4, AC, 4)));
    }

    @Test
    void anExclusiveServerWaitsForAnEmptyPairAndHoldsBackThoseAfterIt() {
        List<Admission.Item> items = List.of(item(AB, 0, false, RUNNING), item(AB, 0, true, QUEUED),
                item(AB, 0, false, QUEUED), item(AC, 0, false, QUEUED));
        assertEquals(List.of(3), Admission.startable(items, Map.of(AB, 4, AC, 4)));
    }

    @Test
    void aRunningExclusiveServerTakesEverySlot() {
        List<Admission.Item> items = List.of(item(AB, 0, true, RUNNING), item(AB, 0, false, QUEUED));
        assertEquals(List.of(), Admission.startable(items, Map.of(AB, 4)));
        List<Admission.Item> empty = List.of(item(AB, 0, true, QUEUED), item(AB, 0, false, QUEUED));
        assertEquals(List.of(0), Admission.startable(empty, Map.of(AB, 4)));
    }
}
