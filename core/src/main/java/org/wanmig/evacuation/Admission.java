package org.wanmig.evacuation;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Which queued servers of an evacuation may start now. The same rules drive the planner's
 * simulation (which turns them into start offsets) and the runner (which starts real
 * migrations), so the schedule the operator sees is the one that runs, only with real durations:
 * <ul>
 *   <li>groups move in order: nothing of a later group starts while an earlier one has a server
 *       queued or in flight;</li>
 *   <li>a DC pair runs at most its slot count of migrations at once, each using an equal share of
 *       the pair's budget; an exclusive server (one that only converges with the whole budget)
 *       runs alone on its pair;</li>
 *   <li>within a pair, servers start in plan order: one that waits holds back those after it, so an
 *       exclusive server is not starved by smaller ones.</li>
 * </ul>
 */
public final class Admission {
    private Admission() {
    }

    /** Where one server of the evacuation stands, for admission. */
    public enum Phase { QUEUED, RUNNING, FINISHED }

    /** One server as admission sees it. */
    public static final class Item {
        private final String pair;
        private final int rank;
        private final boolean exclusive;
        private final Phase phase;

        public Item(String pair, int rank, boolean exclusive, Phase phase) {
            this.pair = pair;
            this.rank = rank;
            this.exclusive = exclusive;
            this.phase = phase;
        }
    }

    /**
     * Indexes (into {@code items}, which is in plan order) of the queued servers that may start now.
     * Pairs missing from {@code slotsByPair} get one slot.
     */
    public static List<Integer> startable(List<Item> items, Map<String, Integer> slotsByPair) {
        int barrier = Integer.MAX_VALUE;
        Map<String, Integer> used = new HashMap<>();
        for (Item i : items) {
            if (i.phase != Phase.FINISHED) {
                barrier = Math.min(barrier, i.rank);
            }
            if (i.phase == Phase.RUNNING) {
                int slots = slotsByPair.getOrDefault(i.pair, 1);
                used.merge(i.pair, i.exclusive ? slots : 1, Integer::sum);
            }
        }
        List<Integer> start = new ArrayList<>();
        Set<String> blocked = new HashSet<>();
        for (int n = 0; n < items.size(); n++) {
            Item i = items.get(n);
            if (i.phase != Phase.QUEUED || i.rank != barrier || blocked.contains(i.pair)) {
                continue;
            }
            int slots = slotsByPair.getOrDefault(i.pair, 1);
            int busy = used.getOrDefault(i.pair, 0);
            boolean fits = i.exclusive ? busy == 0 : busy < slots;
            if (fits) {
                start.add(n);
                used.put(i.pair, busy + (i.exclusive ? slots : 1));
            } else {
                blocked.add(i.pair);
            }
        }
        return start;
    }

    /**
     * Runs admission forward in time over estimated durations: the schedule if every estimate holds.
     * Items are in plan order and never FINISHED-then-restarted.
     *
     * @param items  every server with its phase now
     * @param times  for a RUNNING item the time it is expected to end; for a QUEUED one its duration;
     *               ignored for FINISHED ones
     * @param now    the time the simulation starts at
     * @return {@code [start[], end[]]}: when each QUEUED item starts and ends, when each RUNNING item
     *         ends (its start stays -1: it started before {@code now}); -1 for both of FINISHED items
     */
    public static long[][] simulate(List<Item> items, long[] times, Map<String, Integer> slotsByPair, long now) {
        int n = items.size();
        Phase[] phase = new Phase[n];
        long[] start = new long[n];
        long[] end = new long[n];
        java.util.Arrays.fill(start, -1);
        java.util.Arrays.fill(end, -1);
        java.util.PriorityQueue<Integer> running = new java.util.PriorityQueue<>(
                java.util.Comparator.comparingLong((Integer i) -> end[i]).thenComparing(i -> i));
        int left = 0;
        for (int i = 0; i < n; i++) {
            phase[i] = items.get(i).phase;
            if (phase[i] == Phase.RUNNING) {
                end[i] = Math.max(now, times[i]);
                running.add(i);
            }
            if (phase[i] != Phase.FINISHED) {
                left++;
            }
        }
        long clock = now;
        while (left > 0) {
            List<Item> view = new ArrayList<>(n);
            for (int i = 0; i < n; i++) {
                Item it = items.get(i);
                view.add(it.phase == phase[i] ? it : new Item(it.pair, it.rank, it.exclusive, phase[i]));
            }
            for (int i : startable(view, slotsByPair)) {
                phase[i] = Phase.RUNNING;
                start[i] = clock;
                end[i] = clock + times[i];
                running.add(i);
            }
            if (running.isEmpty()) {
                throw new IllegalStateException("admission admits nothing with nothing running");
            }
            // finish everything that ends at the earliest end
            clock = end[running.peek()];
            while (!running.isEmpty() && end[running.peek()] <= clock) {
                phase[running.poll()] = Phase.FINISHED;
                left--;
            }
        }
        return new long[][] {start, end};
    }
}
