package org.wanmig.api;

import java.util.Objects;

/**
 * One server within an evacuation: its planned move (destination, group rank, estimates) and where
 * it stands. Immutable; each change makes a new value.
 */
public final class ServerEvacuation {

    /** Where one server of an evacuation stands. */
    public enum State {
        QUEUED,
        /** A migration runs for it: {@link #migrationId()}. */
        IN_FLIGHT,
        /** It runs at the destination. */
        DONE,
        /** Every attempt failed; it runs at the source. {@link #reason()} says why. */
        FAILED,
        /** The evacuation was aborted before it moved; it runs at the source. */
        CANCELLED;

        public boolean isTerminal() {
            return this == DONE || this == FAILED || this == CANCELLED;
        }
    }

    /**
     * How far a server of a failover got; each step is recorded before the next starts, so a new
     * runner goes on from the first step not done (and never promotes twice). Null in evacuations.
     */
    public enum FailoverStep {
        /** Nothing done yet: its replica is to be promoted. */
        PENDING,
        /** Its replica at the destination is primary with a new generation. */
        PROMOTED,
        /** Its hypervisor runs it at the destination. */
        RESTARTED,
        /** Its address is routed to the destination directly: it is done. */
        ROUTED
    }

    private final String server;
    private final String destination;
    private final String group;
    private final int rank;
    private final boolean exclusive;
    private final long estimatedBytes;
    private final long estimatedMillis;
    private final long plannedStartMillis;
    private final boolean converges;
    private final State state;
    private final MigrationId migrationId;
    private final int attempts;
    private final long startedMillis;
    private final String reason;
    private final FailoverStep step;
    private final Promotion promotion;

    public ServerEvacuation(String server, String destination, String group, int rank, boolean exclusive,
                            long estimatedBytes, long estimatedMillis, long plannedStartMillis, boolean converges,
                            State state, MigrationId migrationId, int attempts, long startedMillis,
                            String reason) {
        this(server, destination, group, rank, exclusive, estimatedBytes, estimatedMillis, plannedStartMillis,
                converges, state, migrationId, attempts, startedMillis, reason, null, null);
    }

    /** With the failover step reached and the promotion's report (both null in an evacuation). */
    public ServerEvacuation(String server, String destination, String group, int rank, boolean exclusive,
                            long estimatedBytes, long estimatedMillis, long plannedStartMillis, boolean converges,
                            State state, MigrationId migrationId, int attempts, long startedMillis,
                            String reason, FailoverStep step, Promotion promotion) {
        this.server = Objects.requireNonNull(server);
        this.destination = Objects.requireNonNull(destination);
        this.group = group;
        this.rank = rank;
        this.exclusive = exclusive;
        this.estimatedBytes = estimatedBytes;
        this.estimatedMillis = estimatedMillis;
        this.plannedStartMillis = plannedStartMillis;
        this.converges = converges;
        this.state = Objects.requireNonNull(state);
        if (state == State.IN_FLIGHT && migrationId == null) {
            throw new IllegalArgumentException(server + " in flight without a migration");
        }
        this.migrationId = migrationId;
        this.attempts = attempts;
        this.startedMillis = startedMillis;
        this.reason = reason;
        this.step = step;
        this.promotion = promotion;
    }

    /** A server of a failover, nothing done yet; {@code migrationId} is a migration given up for it, or null. */
    public static ServerEvacuation failover(String server, String destination, MigrationId migrationId) {
        return new ServerEvacuation(server, destination, null, 0, false, 0, 0, 0, true, State.QUEUED, migrationId,
                0, 0, null, FailoverStep.PENDING, null);
    }

    /** The failover step reached, or null in an evacuation. */
    public FailoverStep step() {
        return step;
    }

    /** What the promotion of its replica reported (the RPO lost), or null before it. */
    public Promotion promotion() {
        return promotion;
    }

    /** The next failover step done, with the promotion's report when it is that step. */
    public ServerEvacuation stepped(FailoverStep next, Promotion report, long now) {
        return new ServerEvacuation(server, destination, group, rank, exclusive, estimatedBytes, estimatedMillis,
                plannedStartMillis, converges, next == FailoverStep.ROUTED ? State.DONE : state, migrationId,
                attempts, startedMillis == 0 ? now : startedMillis, reason, next,
                report != null ? report : promotion);
    }

    public String server() {
        return server;
    }

    public String destination() {
        return destination;
    }

    /** The server's group, or null. */
    public String group() {
        return group;
    }

    /** Its group's position in the plan's order: a later rank waits for every earlier one. */
    public int rank() {
        return rank;
    }

    /** Whether it runs alone on its DC pair (it converges only with the whole budget). */
    public boolean exclusive() {
        return exclusive;
    }

    public long estimatedBytes() {
        return estimatedBytes;
    }

    public long estimatedMillis() {
        return estimatedMillis;
    }

    /** Its start in the plan, from the evacuation's start. */
    public long plannedStartMillis() {
        return plannedStartMillis;
    }

    public boolean converges() {
        return converges;
    }

    public State state() {
        return state;
    }

    /** The migration of the latest attempt, or null before the first. */
    public MigrationId migrationId() {
        return migrationId;
    }

    /** Migrations started for it so far. */
    public int attempts() {
        return attempts;
    }

    /** When the latest attempt started (epoch ms); 0 before the first. */
    public long startedMillis() {
        return startedMillis;
    }

    /** Why the latest attempt failed, or why it was cancelled; null otherwise. */
    public String reason() {
        return reason;
    }

    /** Its migration {@code id} started at {@code now}: one more attempt. */
    public ServerEvacuation inFlight(MigrationId id, long now) {
        return new ServerEvacuation(server, destination, group, rank, exclusive, estimatedBytes, estimatedMillis,
                plannedStartMillis, converges, State.IN_FLIGHT, id, attempts + 1, now, reason, step, promotion);
    }

    public ServerEvacuation done() {
        return with(State.DONE, migrationId, attempts, null);
    }

    /** An attempt the MMS refused to start: counted, and back in the queue (the runner decides if for good). */
    public ServerEvacuation refused(String why) {
        return with(State.QUEUED, migrationId, attempts + 1, why);
    }

    /** Back in the queue for another attempt, remembering why the last one failed. */
    public ServerEvacuation requeued(String why) {
        return with(State.QUEUED, migrationId, attempts, why);
    }

    public ServerEvacuation failed(String why) {
        return with(State.FAILED, migrationId, attempts, why);
    }

    public ServerEvacuation cancelled(String why) {
        return with(State.CANCELLED, migrationId, attempts, why);
    }

    private ServerEvacuation with(State s, MigrationId id, int tries, String why) {
        return new ServerEvacuation(server, destination, group, rank, exclusive, estimatedBytes, estimatedMillis,
                plannedStartMillis, converges, s, id, tries, startedMillis, why, step, promotion);
    }

    @Override
    public boolean equals(Object o) {
        if (!(o instanceof ServerEvacuation)) {
            return false;
        }
        ServerEvacuation s = (ServerEvacuation) o;
        return server.equals(s.server) && destination.equals(s.destination) && Objects.equals(group, s.group)
                && rank == s.rank && exclusive == s.exclusive && estimatedBytes == s.estimatedBytes
                && estimatedMillis == s.estimatedMillis && plannedStartMillis == s.plannedStartMillis
                && converges == s.converges && state == s.state && Objects.equals(migrationId, s.migrationId)
                && attempts == s.attempts && startedMillis == s.startedMillis && Objects.equals(reason, s.reason)
                && step == s.step && Objects.equals(promotion, s.promotion);
    }

    @Override
    public int hashCode() {
        return Objects.hash(server, destination, state, migrationId, attempts);
    }

    @Override
    public String toString() {
        return server + "->" + destination + " " + state + (migrationId == null ? "" : " m" + migrationId)
                + (step == null ? "" : " " + step) + (reason == null ? "" : " (" + reason + ")");
    }
}
