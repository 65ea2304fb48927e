package org.wanmig.api;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.TreeMap;

/**
 * The record of one evacuation: the servers of a data center moving to others under a plan.
 * Immutable, like {@link Migration}: every change makes a new record, most with one more event on
 * its timeline. It carries what a runner needs to go on from the store alone (each server's
 * planned move, the slots of each DC pair, the attempts allowed), so a new leader resumes it
 * without planning again.
 */
public final class Evacuation {

    /**
     * What the record is: a planned evacuation (live migrations under a plan), or the unplanned
     * failover of a lost data center (each server's replica promoted and the server restarted at
     * its destination; nothing is asked of the source, which is gone).
     */
    public enum Kind {
        EVACUATION,
        FAILOVER
    }

    /**
     * Who started it: an operator (REST, CLI; every planned evacuation), or the MMS's own loss
     * detection declaring a data center lost (failover.detection).
     */
    public enum Trigger {
        OPERATOR,
        DETECTION
    }

    private final Kind kind;
    private final Trigger trigger;
    private final EvacuationId id;
    private final String source;
    private final List<String> destinations;
    private final EvacuationState state;
    private final List<ServerEvacuation> servers;
    private final Map<String, Integer> slotsByPair;
    private final int maxAttempts;
    private final long startedMillis;
    private final long plannedMillis;
    private final List<EvacuationEvent> timeline;

    public Evacuation(EvacuationId id, String source, List<String> destinations, EvacuationState state,
                      List<ServerEvacuation> servers, Map<String, Integer> slotsByPair, int maxAttempts,
                      long startedMillis, long plannedMillis, List<EvacuationEvent> timeline) {
        this(Kind.EVACUATION, id, source, destinations, state, servers, slotsByPair, maxAttempts, startedMillis,
                plannedMillis, timeline);
    }

    public Evacuation(Kind kind, EvacuationId id, String source, List<String> destinations, EvacuationState state,
                      List<ServerEvacuation> servers, Map<String, Integer> slotsByPair, int maxAttempts,
                      long startedMillis, long plannedMillis, List<EvacuationEvent> timeline) {
        this(kind, Trigger.OPERATOR, id, source, destinations, state, servers, slotsByPair, maxAttempts, startedMillis,
                plannedMillis, timeline);
    }

    public Evacuation(Kind kind, Trigger trigger, EvacuationId id, String source, List<String> destinations,
                      EvacuationState state, List<ServerEvacuation> servers, Map<String, Integer> slotsByPair,
                      int maxAttempts, long startedMillis, long plannedMillis, List<EvacuationEvent> timeline) {
        this.kind = Objects.requireNonNull(kind);
        this.trigger = Objects.requireNonNull(trigger);
        this.id = Objects.requireNonNull(id);
        this.source = Objects.requireNonNull(source);
        this.destinations = List.copyOf(destinations);
        this.state = Objects.requireNonNull(state);
        this.servers = List.copyOf(servers);
        this.slotsByPair = Collections.unmodifiableMap(new TreeMap<>(slotsByPair));
        if (maxAttempts < 1) {
            throw new IllegalArgumentException("at least one attempt per server");
        }
        this.maxAttempts = maxAttempts;
        this.startedMillis = startedMillis;
        this.plannedMillis = plannedMillis;
        this.timeline = Collections.unmodifiableList(new ArrayList<>(timeline));
    }

    public Kind kind() {
        return kind;
    }

    public Trigger trigger() {
        return trigger;
    }

    public boolean isFailover() {
        return kind == Kind.FAILOVER;
    }

    public EvacuationId id() {
        return id;
    }

    public String source() {
        return source;
    }

    public List<String> destinations() {
        return destinations;
    }

    public EvacuationState state() {
        return state;
    }

    public boolean isActive() {
        return !state.isTerminal();
    }

    /** Every server, in the plan's admission order. */
    public List<ServerEvacuation> servers() {
        return servers;
    }

    public Optional<ServerEvacuation> server(String name) {
        return servers.stream().filter(s -> s.server().equals(name)).findFirst();
    }

    /** Migrations each DC pair ({@code a<->b}) may run at once. */
    public Map<String, Integer> slotsByPair() {
        return slotsByPair;
    }

    /** Migrations started per server at most: the first try plus the retries. */
    public int maxAttempts() {
        return maxAttempts;
    }

    public long startedMillis() {
        return startedMillis;
    }

    /** The plan's estimate from start to the last completion. */
    public long plannedMillis() {
        return plannedMillis;
    }

    /** When the plan expects the evacuation to end. */
    public long etaMillis() {
        return startedMillis + plannedMillis;
    }

    public List<EvacuationEvent> timeline() {
        return timeline;
    }

    public long count(ServerEvacuation.State s) {
        return servers.stream().filter(x -> x.state() == s).count();
    }

    /** Estimated bytes of every server. */
    public long totalBytes() {
        return servers.stream().mapToLong(ServerEvacuation::estimatedBytes).sum();
    }

    /** Estimated bytes of the servers that are done: progress in the plan's terms. */
    public long bytesDone() {
        return servers.stream().filter(s -> s.state() == ServerEvacuation.State.DONE)
                .mapToLong(ServerEvacuation::estimatedBytes).sum();
    }

    /** This record with server {@code index} replaced, and an event about it. */
    public Evacuation withServer(int index, ServerEvacuation s, long now, String detail) {
        List<ServerEvacuation> updated = new ArrayList<>(servers);
        updated.set(index, s);
        List<EvacuationEvent> events = new ArrayList<>(timeline);
        events.add(new EvacuationEvent(now, s.server(), detail));
        return new Evacuation(kind, trigger, id, source, destinations, state, updated, slotsByPair, maxAttempts, startedMillis,
                plannedMillis, events);
    }

    /** This record in {@code next}, with an event about the whole. */
    public Evacuation transition(EvacuationState next, long now, String detail) {
        List<EvacuationEvent> events = new ArrayList<>(timeline);
        events.add(new EvacuationEvent(now, null, detail));
        return new Evacuation(kind, trigger, id, source, destinations, next, servers, slotsByPair, maxAttempts, startedMillis,
                plannedMillis, events);
    }

    @Override
    public boolean equals(Object o) {
        if (!(o instanceof Evacuation)) {
            return false;
        }
        Evacuation e = (Evacuation) o;
        return kind == e.kind && trigger == e.trigger && id.equals(e.id) && source.equals(e.source) && destinations.equals(e.destinations) && state == e.state
                && servers.equals(e.servers) && slotsByPair.equals(e.slotsByPair) && maxAttempts == e.maxAttempts
                && startedMillis == e.startedMillis && plannedMillis == e.plannedMillis && timeline.equals(e.timeline);
    }

    @Override
    public int hashCode() {
        return Objects.hash(id, state, servers, timeline.size());
    }

    @Override
    public String toString() {
        return (isFailover() ? "Failover{" : "Evacuation{") + id + " " + source + "->" + destinations + " " + state + " done "
                + count(ServerEvacuation.State.DONE) + "/" + servers.size() + "}";
    }
}
