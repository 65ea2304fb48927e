package org.wanmig.cli;

import org.wanmig.api.Evacuation;
import org.wanmig.api.EvacuationEvent;
import org.wanmig.api.EvacuationId;
import org.wanmig.api.EvacuationService;
import org.wanmig.api.ServerEvacuation;
import org.wanmig.api.WanmigException;
import org.wanmig.evacuation.EvacuationProgress;

import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Collectors;

/**
 * How evacuations read on a terminal, and what the evacuation commands do, free of Karaf: shared
 * by the ONOS Karaf commands and the embedded runtime's client, so both print the same lines.
 */
public final class EvacuationText {
    private EvacuationText() {
    }

    public static String summaryHeader() {
        return String.format("%-4s %-8s %-12s %-24s %s", "id", "source", "to", "state", "progress");
    }

    /** One line: id, source, destinations, state, progress. */
    public static String summary(Evacuation e, long now) {
        return String.format("%-4s %-8s %-12s %-24s %s", e.id(), e.source(), String.join(",", e.destinations()),
                e.state(), progress(e, now));
    }

    /** done, in flight, queued, failed, cancelled, bytes and ETA in one line. */
    public static String progress(Evacuation e, long now) {
        long end = EvacuationProgress.projectedEndMillis(e, now);
        return String.format("done %d/%d, in flight %d, queued %d, failed %d, cancelled %d, %s of %s, %s %s",
                e.count(ServerEvacuation.State.DONE), e.servers().size(), e.count(ServerEvacuation.State.IN_FLIGHT),
                e.count(ServerEvacuation.State.QUEUED), e.count(ServerEvacuation.State.FAILED),
                e.count(ServerEvacuation.State.CANCELLED), mib(e.bytesDone()), mib(e.totalBytes()),
                e.isActive() ? "ETA" : "ended", e.isActive() ? Instant.ofEpochMilli(end) + " (in "
                        + seconds(Math.max(0, end - now)) + ")" : Instant.ofEpochMilli(end).toString());
    }

    /** The record: progress, every server with its planned move, and the timeline. */
    public static List<String> details(Evacuation e, long now) {
        List<String> lines = new ArrayList<>();
        if (e.isFailover()) {
            lines.add(String.format("failover %s: %s declared lost %s, servers to %s, %s", e.id(), e.source(),
                    e.trigger() == Evacuation.Trigger.DETECTION ? "by detection (automatic)" : "by the operator",
                    String.join(",", e.destinations()), e.state()));
        } else {
            lines.add(String.format("evacuation %s: %s to %s, %s; planned %s, plan ETA %s", e.id(), e.source(),
                    String.join(",", e.destinations()), e.state(), seconds(e.plannedMillis()),
                    Instant.ofEpochMilli(e.etaMillis())));
        }
        lines.add("progress: " + progress(e, now));
        lines.add("servers:");
        for (ServerEvacuation s : e.servers()) {
            lines.add(server(s));
        }
        lines.add("timeline:");
        for (EvacuationEvent ev : e.timeline()) {
            lines.add(event(ev, e.startedMillis()));
        }
        return lines;
    }

    public static String server(ServerEvacuation s) {
        if (s.step() != null) {
            return String.format("  %-12s -> %-8s %-10s step=%s%s%s%s", s.server(), s.destination(), s.state(),
                    s.step(), s.migrationId() == null ? "" : " gave up migration=" + s.migrationId(),
                    s.promotion() == null ? "" : " " + s.promotion(), s.reason() == null ? "" : " (" + s.reason() + ")");
        }
        return String.format("  %-12s -> %-8s %-10s attempts=%d%s group=%s est=%s %s%s", s.server(), s.destination(),
                s.state(), s.attempts(), s.migrationId() == null ? "" : " migration=" + s.migrationId(),
                s.group() == null ? "-" : s.group(), seconds(s.estimatedMillis()), mib(s.estimatedBytes()),
                s.reason() == null ? "" : " (" + s.reason() + ")");
    }

    /** One timeline event, offsets counted from the evacuation's start. */
    public static String event(EvacuationEvent ev, long t0) {
        return String.format("  %s  +%8.3f s  %s%s", Instant.ofEpochMilli(ev.epochMillis()),
                (ev.epochMillis() - t0) / 1000.0, ev.server() == null ? "" : ev.server() + ": ", ev.detail());
    }

    // ---- the commands -----------------------------------------------------------------------

    public static List<String> evacuations(EvacuationService service, long now) {
        List<String> lines = new ArrayList<>();
        lines.add(summaryHeader());
        service.evacuations().forEach(e -> lines.add(summary(e, now)));
        return lines;
    }

    public static List<String> evacuation(EvacuationService service, String id, long now) {
        return details(find(service, id), now);
    }

    public static List<String> start(EvacuationService service, String source, List<String> to, List<String> servers,
                                     long now) {
        return details(service.evacuate(source, to, servers), now);
    }

    public static List<String> failover(EvacuationService service, String lost, String to, long now) {
        return details(service.failover(lost, to), now);
    }

    public static List<String> abort(EvacuationService service, String id, long now) {
        return details(service.abort(parseId(id)), now);
    }

    /** Ids of every evacuation, active ones first. */
    public static List<String> ids(EvacuationService service) {
        return service.evacuations().stream().sorted((a, b) -> Boolean.compare(b.isActive(), a.isActive()))
                .map(e -> e.id().toString()).collect(Collectors.toList());
    }

    /** "dcB,dcC" (or null / blank) as a list. */
    public static List<String> list(String commaSeparated) {
        List<String> names = new ArrayList<>();
        if (commaSeparated != null) {
            for (String n : commaSeparated.split(",")) {
                if (!n.isBlank()) {
                    names.add(n.trim());
                }
            }
        }
        return names;
    }

    public static Evacuation find(EvacuationService service, String id) {
        EvacuationId eid = parseId(id);
        return service.evacuation(eid).orElseThrow(() -> WanmigException.notFound("id", "unknown evacuation " + eid));
    }

    public static EvacuationId parseId(String id) {
        try {
            return EvacuationId.parse(id);
        } catch (RuntimeException e) {
            throw WanmigException.badRequest("id", "not an evacuation id: '" + id + "'");
        }
    }

    private static String mib(long bytes) {
        return String.format("%.0f MiB", bytes / (1024.0 * 1024.0));
    }

    private static String seconds(long millis) {
        return String.format("%.1f s", millis / 1000.0);
    }
}
