package org.wanmig.evacuation;

import java.time.Duration;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.TreeMap;
import java.util.stream.Collectors;

/**
 * An evacuation decided: every server's destination, the order they are admitted in, the slots of
 * each DC pair, and the estimated schedule. Immutable; built by {@link EvacuationPlanner}.
 */
public final class EvacuationPlan {
    private final EvacuationRequest request;
    private final List<String> destinations;
    private final List<PlannedMove> moves;
    private final Map<String, Integer> slotsByPair;
    private final Map<String, Double> budgetMbpsByPair;
    private final int maxAttempts;

    EvacuationPlan(EvacuationRequest request, List<String> destinations, List<PlannedMove> moves,
                   Map<String, Integer> slotsByPair, Map<String, Double> budgetMbpsByPair, int maxAttempts) {
        this.request = Objects.requireNonNull(request);
        this.destinations = List.copyOf(destinations);
        this.moves = List.copyOf(moves);
        this.slotsByPair = Map.copyOf(new TreeMap<>(slotsByPair));
        this.budgetMbpsByPair = Map.copyOf(new TreeMap<>(budgetMbpsByPair));
        this.maxAttempts = maxAttempts;
    }

    /** Migrations started per server at most: 1 + migration.evacuation.retries. */
    public int maxAttempts() {
        return maxAttempts;
    }

    public EvacuationRequest request() {
        return request;
    }

    public String source() {
        return request.source();
    }

    /** The data centers the servers may go to (some may receive none). */
    public List<String> destinations() {
        return destinations;
    }

    /** Every server, in admission order: group, then priority (higher first), then name. */
    public List<PlannedMove> moves() {
        return moves;
    }

    public Optional<PlannedMove> move(String server) {
        return moves.stream().filter(m -> m.server().equals(server)).findFirst();
    }

    /** The moves by estimated start, then admission order. */
    public List<PlannedMove> schedule() {
        return moves.stream().sorted(Comparator.comparing(PlannedMove::startOffset)).collect(Collectors.toList());
    }

    /** Migrations each DC pair (key {@code a<->b}) runs at once. */
    public Map<String, Integer> slotsByPair() {
        return slotsByPair;
    }

    /** The WAN budget of each DC pair the plan uses, Mbit/s. */
    public Map<String, Double> budgetMbpsByPair() {
        return budgetMbpsByPair;
    }

    /** From the first start to the last completion, if every estimate holds: the ETA. */
    public Duration estimatedDuration() {
        return moves.stream().map(PlannedMove::endOffset).max(Comparator.naturalOrder()).orElse(Duration.ZERO);
    }

    public long estimatedBytes() {
        return moves.stream().mapToLong(PlannedMove::estimatedBytes).sum();
    }

    /** Servers whose pre-copy is not expected to converge: they will pause for long. */
    public List<PlannedMove> nonConverging() {
        return moves.stream().filter(m -> !m.converges()).collect(Collectors.toList());
    }

    /**
     * The highest planned WAN use of each pair at any instant, Mbit/s: at most the pair's budget.
     * Computed from the schedule, so it checks the plan rather than restating it.
     */
    public Map<String, Double> peakMbpsByPair() {
        Map<String, Double> peak = new TreeMap<>();
        for (PlannedMove m : moves) {
            double atStart = moves.stream().filter(o -> o.pair().equals(m.pair())
                            && o.startOffset().compareTo(m.startOffset()) <= 0
                            && o.endOffset().compareTo(m.startOffset()) > 0)
                    .mapToDouble(PlannedMove::shareMbps).sum();
            peak.merge(m.pair(), atStart, Math::max);
        }
        return peak;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof EvacuationPlan && ((EvacuationPlan) o).request.equals(request)
                && ((EvacuationPlan) o).moves.equals(moves) && ((EvacuationPlan) o).slotsByPair.equals(slotsByPair)
                && ((EvacuationPlan) o).budgetMbpsByPair.equals(budgetMbpsByPair)
                && ((EvacuationPlan) o).maxAttempts == maxAttempts;
    }

    @Override
    public int hashCode() {
        return Objects.hash(request, moves);
    }
}
