package org.wanmig.cli;

import org.wanmig.api.Migration;
import org.wanmig.api.MigrationEvent;

import java.time.Instant;
import java.util.ArrayList;
import java.util.List;

/**
 * How migrations read on a terminal. Plain code, shared by the ONOS Karaf commands and the
 * embedded runtime's command-line client, so both print the same lines.
 */
public final class MigrationText {
    private MigrationText() {
    }

    /** One line: id, server, route, state, and the error if any. */
    public static String summary(Migration m) {
        return String.format("%-4s %-12s %s -> %-8s %-14s %s", m.id(), m.server(), m.source(), m.destination(),
                m.state(), m.error() == null ? "" : m.error());
    }

    /** The header of {@link #summary} lines. */
    public static String summaryHeader() {
        return String.format("%-4s %-12s %-16s %-14s %s", "id", "server", "route", "state", "error");
    }

    /** The whole record with its timeline, offsets counted from REQUESTED. */
    public static List<String> details(Migration m) {
        List<String> lines = new ArrayList<>();
        lines.add(String.format("migration %s: %s from %s to %s (port %d), %s", m.id(), m.server(), m.source(),
                m.destination(), m.destinationPort(), m.state()));
        lines.add("labels: " + m.labels());
        if (m.error() != null) {
            lines.add("error: " + m.error());
        }
        lines.add("timeline:");
        long t0 = m.timeline().get(0).epochMillis();
        for (MigrationEvent e : m.timeline()) {
            lines.add(event(e, t0));
        }
        return lines;
    }

    /** One timeline event, {@code t0} being when the migration was requested. */
    public static String event(MigrationEvent e, long t0) {
        return String.format("  %s  +%8.3f s  %-14s %s", Instant.ofEpochMilli(e.epochMillis()),
                (e.epochMillis() - t0) / 1000.0, e.state(), e.detail());
    }
}
