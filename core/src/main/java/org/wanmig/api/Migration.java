package org.wanmig.api;

import org.wanmig.planner.MigrationPlan;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Objects;

/**
 * The record of one migration of a virtual server from one data center to another.
 * Immutable: every transition makes a new record with one more event on its timeline.
 */
public final class Migration {
    private final MigrationId id;
    private final String server;
    private final String source;
    private final String destination;
    private final long destinationPort;
    private final TunnelLabels labels;
    private final List<MigrationEvent> timeline;
    private final String error;
    private final MigrationPlan plan;
    private final boolean hypervisorReported;
    private final boolean switchedInPause;
    private final boolean switchoverUnknown;
    private final long predecessorsGoneBy;

    public Migration(MigrationId id, String server, String source, String destination,
                     long destinationPort, TunnelLabels labels, List<MigrationEvent> timeline,
                     String error) {
        this(id, server, source, destination, destinationPort, labels, timeline, error, null, false, false, false, 0);
    }

    /**
     * @param plan               the rules of the migration as planned (null only before planning)
     * @param hypervisorReported whether the hypervisor reported the server running at the destination
     * @param switchedInPause    whether the cutover ran inside the hypervisor's pause, before the
     *                           server resumed anywhere
     * @param switchoverUnknown  whether it may have, unheard: an instance resumed after a restart
     *                           could not learn it from the destination
     * @param predecessorsGoneBy with that doubt, when the instance that has it took over (epoch
     *                           ms): whatever an earlier one sent the hypervisor, it sent before;
     *                           0 if not known
     */
    public Migration(MigrationId id, String server, String source, String destination,
                     long destinationPort, TunnelLabels labels, List<MigrationEvent> timeline,
                     String error, MigrationPlan plan, boolean hypervisorReported, boolean switchedInPause,
                     boolean switchoverUnknown, long predecessorsGoneBy) {
        this.plan = plan;
        this.predecessorsGoneBy = switchoverUnknown ? predecessorsGoneBy : 0;
        this.hypervisorReported = hypervisorReported;
        this.switchedInPause = switchedInPause;
        this.switchoverUnknown = switchoverUnknown;
        this.id = Objects.requireNonNull(id);
        this.server = Objects.requireNonNull(server);
        this.source = Objects.requireNonNull(source);
        this.destination = Objects.requireNonNull(destination);
        this.destinationPort = destinationPort;
        this.labels = Objects.requireNonNull(labels);
        if (timeline.isEmpty()) {
            throw new IllegalArgumentException("a migration's timeline starts with REQUESTED");
        }
        this.timeline = Collections.unmodifiableList(new ArrayList<>(timeline));
        this.error = error;
    }

    /** A new migration in state REQUESTED. */
    public static Migration requested(MigrationId id, String server, String source, String destination,
                                      long destinationPort, TunnelLabels labels, long now) {
        return new Migration(id, server, source, destination, destinationPort, labels,
                List.of(new MigrationEvent(MigrationState.REQUESTED, now,
                        server + " from " + source + " to " + destination)), null);
    }

    public MigrationId id() {
        return id;
    }

    public String server() {
        return server;
    }

    public String source() {
        return source;
    }

    public String destination() {
        return destination;
    }

    /** Port of the destination PE where the server attaches once it runs there. */
    public long destinationPort() {
        return destinationPort;
    }

    public TunnelLabels labels() {
        return labels;
    }

    public List<MigrationEvent> timeline() {
        return timeline;
    }

    public MigrationState state() {
        return timeline.get(timeline.size() - 1).state();
    }

    /** When the current state was entered (notes within a state do not move it). */
    public long stateSince() {
        int i = timeline.size() - 1;
        while (i > 0 && timeline.get(i - 1).state() == timeline.get(i).state()) {
            i--;
        }
        return timeline.get(i).epochMillis();
    }

    /** Why the migration failed or was rolled back; null otherwise. */
    public String error() {
        return error;
    }

    public boolean isActive() {
        return !state().isTerminal();
    }

    /** The stored plan: what resume, rollback and teardown act on. Null before planning. */
    public MigrationPlan plan() {
        return plan;
    }

    /**
     * Whether the hypervisor reported the server running at the destination. Stored before the
     * redirect is installed, so a rollback after it tells the hypervisor the truth.
     */
    public boolean hypervisorReported() {
        return hypervisorReported;
    }

    /**
     * The cutover ran inside the hypervisor's pause (pre-switchover): storage roles flipped and the
     * redirect went in while the server was stopped; it resumes at the destination only when the
     * hypervisor goes on, which its report confirms.
     */
    public boolean switchedInPause() {
        return switchedInPause;
    }

    /** See {@link #withSwitchoverUnknown(long)}. */
    public boolean switchoverUnknown() {
        return switchoverUnknown;
    }

    /**
     * With {@link #switchoverUnknown()}: when the instance that has the doubt took over (epoch ms),
     * so any migrate-continue of an earlier instance came before it; 0 if not known.
     */
    public long predecessorsGoneBy() {
        return predecessorsGoneBy;
    }

    /** The cutover ran inside the pause, or may have unheard: the destination may have taken over. */
    public boolean mayHaveSwitchedInPause() {
        return switchedInPause || switchoverUnknown;
    }

    /**
     * Whether the server runs at the destination now: the hypervisor reported it, or the migration
     * is past its cutover (triggered by the report or the server's own announce), except a cutover
     * inside the pause, after which only the report says the server resumed there.
     */
    public boolean serverMoved() {
        return hypervisorReported || (state().serverMoved() && !switchedInPause);
    }

    /** This record after entering {@code next}. */
    public Migration transition(MigrationState next, long now, String detail) {
        List<MigrationEvent> events = new ArrayList<>(timeline);
        events.add(new MigrationEvent(next, now, detail));
        return new Migration(id, server, source, destination, destinationPort, labels, events, error, plan,
                hypervisorReported, switchedInPause, switchoverUnknown, predecessorsGoneBy);
    }

    /** This record with an event on its timeline that does not change the state (a re-plan, a pre-copy pass). */
    public Migration noted(long now, String detail) {
        return transition(state(), now, detail);
    }

    /** This record with an error recorded (kept through the rollback that follows). */
    public Migration withError(String reason) {
        return new Migration(id, server, source, destination, destinationPort, labels, timeline, reason, plan,
                hypervisorReported, switchedInPause, switchoverUnknown, predecessorsGoneBy);
    }

    /** This record with a (new revision of its) plan and the labels that plan uses. */
    public Migration withPlan(MigrationPlan next, TunnelLabels nextLabels) {
        return new Migration(id, server, source, destination, destinationPort, nextLabels, timeline, error, next,
                hypervisorReported, switchedInPause, switchoverUnknown, predecessorsGoneBy);
    }

    /** This record once the hypervisor reported the server running at the destination. */
    public Migration withHypervisorReported() {
        return new Migration(id, server, source, destination, destinationPort, labels, timeline, error, plan, true,
                switchedInPause, switchoverUnknown, predecessorsGoneBy);
    }

    /** This record once the cutover ran inside the hypervisor's pause. */
    public Migration withSwitchedInPause() {
        return new Migration(id, server, source, destination, destinationPort, labels, timeline, error, plan,
                hypervisorReported, true, switchoverUnknown, predecessorsGoneBy);
    }

    /**
     * This record once a resumed instance could not learn whether the cutover ran inside the
     * pause before the restart (the destination's agent silent): everything that follows acts
     * as if it may have. {@code tookOverAt}: when that instance took over (epoch ms, 0 if not
     * known); every instance before it was gone by then.
     */
    public Migration withSwitchoverUnknown(long tookOverAt) {
        return new Migration(id, server, source, destination, destinationPort, labels, timeline, error, plan,
                hypervisorReported, switchedInPause, true, tookOverAt);
    }

    /** Whether {@code state} was entered at some point. */
    public boolean reached(MigrationState state) {
        return timeline.stream().anyMatch(e -> e.state() == state);
    }

    @Override
    public boolean equals(Object o) {
        if (!(o instanceof Migration)) {
            return false;
        }
        Migration m = (Migration) o;
        return id.equals(m.id) && server.equals(m.server) && source.equals(m.source)
                && destination.equals(m.destination) && destinationPort == m.destinationPort
                && labels.equals(m.labels) && timeline.equals(m.timeline) && Objects.equals(error, m.error)
                && Objects.equals(plan, m.plan) && hypervisorReported == m.hypervisorReported
                && switchedInPause == m.switchedInPause && switchoverUnknown == m.switchoverUnknown
                && predecessorsGoneBy == m.predecessorsGoneBy;
    }

    @Override
    public int hashCode() {
        return Objects.hash(id, server, source, destination, destinationPort, labels, timeline, error);
    }

    @Override
    public String toString() {
        return "Migration{" + id + " " + server + " " + source + "->" + destination + " " + state() + "}";
    }
}
