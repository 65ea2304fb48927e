package org.wanmig.api;

import java.util.Objects;

/** One transition of a migration: the state entered, when, and why. */
public final class MigrationEvent {
    private final MigrationState state;
    private final long epochMillis;
    private final String detail;

    public MigrationEvent(MigrationState state, long epochMillis, String detail) {
        this.state = Objects.requireNonNull(state);
        this.epochMillis = epochMillis;
        this.detail = detail == null ? "" : detail;
    }

    public MigrationState state() {
        return state;
    }

    public long epochMillis() {
        return epochMillis;
    }

    public String detail() {
        return detail;
    }

    @Override
    public boolean equals(Object o) {
        if (!(o instanceof MigrationEvent)) {
            return false;
        }
        MigrationEvent e = (MigrationEvent) o;
        return state == e.state && epochMillis == e.epochMillis && detail.equals(e.detail);
    }

    @Override
    public int hashCode() {
        return Objects.hash(state, epochMillis, detail);
    }

    @Override
    public String toString() {
        return state + "@" + epochMillis + (detail.isEmpty() ? "" : " (" + detail + ")");
    }
}
