package org.wanmig.api;

import java.util.Objects;

/** One line of an evacuation's timeline: when, about which server (null for the whole), what. */
public final class EvacuationEvent {
    private final long epochMillis;
    private final String server;
    private final String detail;

    public EvacuationEvent(long epochMillis, String server, String detail) {
        this.epochMillis = epochMillis;
        this.server = server;
        this.detail = Objects.requireNonNull(detail);
    }

    public long epochMillis() {
        return epochMillis;
    }

    /** The server concerned, or null for an event of the whole evacuation. */
    public String server() {
        return server;
    }

    public String detail() {
        return detail;
    }

    @Override
    public boolean equals(Object o) {
        if (!(o instanceof EvacuationEvent)) {
            return false;
        }
        EvacuationEvent e = (EvacuationEvent) o;
        return epochMillis == e.epochMillis && Objects.equals(server, e.server) && detail.equals(e.detail);
    }

    @Override
    public int hashCode() {
        return Objects.hash(epochMillis, server, detail);
    }

    @Override
    public String toString() {
        return epochMillis + (server == null ? "" : " " + server) + ": " + detail;
    }
}
