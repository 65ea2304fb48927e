package org.wanmig.cli;

import org.onosproject.codec.CodecContext;
import org.onosproject.net.PortNumber;
import org.wanmig.api.Migration;
import org.wanmig.api.MigrationEvent;
import org.wanmig.api.MigrationId;
import org.wanmig.api.MigrationService;
import org.wanmig.api.WanmigException;
import org.wanmig.config.DataCenter;
import org.wanmig.config.VirtualServer;
import org.wanmig.planner.MigrationPlan;
import org.wanmig.planner.NetworkPlanner;
import org.wanmig.planner.RuleFormatter;
import org.wanmig.rest.WanmigApi;

import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Supplier;
import java.util.stream.Collectors;

/**
 * What the wanmig commands do, free of Karaf and OSGi: each method takes the services and
 * returns the lines to print (or, for --json, the same JSON the REST API answers), so it can be
 * tested on a plain MigrationManager. Refusals surface as {@link WanmigException}.
 */
public final class WanmigCli {
    private WanmigCli() {
    }

    // ---- text ----------------------------------------------------------------------------------

    public static List<String> dataCenters(MigrationService service) {
        List<String> lines = new ArrayList<>();
        for (DataCenter dc : service.dataCenters()) {
            String here = service.servers().stream().map(VirtualServer::name)
                    .filter(v -> dc.name().equals(service.location(v))).collect(Collectors.joining(","));
            lines.add(String.format("name=%s pe=%s wanPorts=%s serverPorts=%s agent=%s servers=%s", dc.name(),
                    dc.pe(), ports(dc.wanPorts()), ports(dc.serverPorts()),
                    dc.agent() == null ? "none" : dc.agent(), here.isEmpty() ? "none" : here));
        }
        return lines;
    }

    public static List<String> servers(MigrationService service) {
        List<String> lines = new ArrayList<>();
        for (VirtualServer v : service.servers()) {
            String migration = service.activeMigration(v.name())
                    .map(m -> m.id() + " (" + m.state() + " to " + m.destination() + ")").orElse("none");
            lines.add(String.format("name=%s ip=%s mac=%s location=%s configured=%s migration=%s", v.name(), v.ip(),
                    v.mac(), service.location(v.name()), v.dc(), migration));
        }
        return lines;
    }

    public static List<String> migrations(MigrationService service) {
        return service.migrations().stream().map(WanmigCli::summary).collect(Collectors.toList());
    }

    /** One migration: its summary, then its timeline with offsets since REQUESTED; optionally its rules. */
    public static List<String> migration(MigrationService service, Supplier<NetworkPlanner> planner, String id,
                                         boolean withRules) {
        Migration m = find(service, id);
        List<String> lines = new ArrayList<>();
        lines.add(summary(m));
        lines.add(String.format("  labels: %s; destination port %d", m.labels(), m.destinationPort()));
        long t0 = m.timeline().get(0).epochMillis();
        for (MigrationEvent e : m.timeline()) {
            lines.add(String.format("  %+9.3fs  %-14s %s", (e.epochMillis() - t0) / 1000.0, e.state(), e.detail()));
        }
        if (withRules) {
            MigrationPlan plan = planner.get().migration(m);
            lines.add("  tunnel:");
            plan.tunnel().forEach(r -> lines.add("    " + RuleFormatter.format(r)));
            lines.add("  reverse ingress:");
            plan.reverseIngress().forEach(r -> lines.add("    " + RuleFormatter.format(r)));
            lines.add("  redirect:");
            plan.redirects().forEach(r -> lines.add("    " + RuleFormatter.format(r)));
        }
        return lines;
    }

    public static String start(MigrationService service, String server, String destination) {
        return summary(service.startMigration(server, destination));
    }

    public static String abort(MigrationService service, String id) {
        return summary(service.abort(parseId(id)));
    }

    /** The hypervisor's report by hand: completed, or failed when a reason is given. */
    public static String hypervisorReport(MigrationService service, String id, String failedReason) {
        MigrationId mid = parseId(id);
        Migration m = failedReason == null ? service.hypervisorCompleted(mid, "reported by operator (CLI)")
                : service.hypervisorFailed(mid, failedReason);
        return summary(m);
    }

    static String summary(Migration m) {
        return String.format("id=%s server=%s %s->%s state=%s since=%s%s", m.id(), m.server(), m.source(),
                m.destination(), m.state(), Instant.ofEpochMilli(m.stateSince()),
                m.error() == null ? "" : " error=" + m.error());
    }

    // ---- --json: the REST API's answers ---------------------------------------------------------

    /** The REST operations, for --json output identical to what the REST API answers. */
    public static WanmigApi api(MigrationService service, CodecContext context, Supplier<NetworkPlanner> planner) {
        return new WanmigApi(service, context, planner);
    }

    // ---- completion ----------------------------------------------------------------------------

    public static List<String> serverNames(MigrationService service) {
        return service.servers().stream().map(VirtualServer::name).sorted().collect(Collectors.toList());
    }

    public static List<String> dataCenterNames(MigrationService service) {
        return service.dataCenters().stream().map(DataCenter::name).sorted().collect(Collectors.toList());
    }

    /** Ids of every migration, active ones first (those an abort or a hypervisor report can act on). */
    public static List<String> migrationIds(MigrationService service) {
        return service.migrations().stream().sorted((a, b) -> Boolean.compare(b.isActive(), a.isActive()))
                .map(m -> m.id().toString()).collect(Collectors.toList());
    }

    // ---- helpers -------------------------------------------------------------------------------

    private static Migration find(MigrationService service, String id) {
        MigrationId mid = parseId(id);
        return service.migration(mid).orElseThrow(() -> WanmigException.notFound("id", "unknown migration " + mid));
    }

    private static MigrationId parseId(String id) {
        try {
            return MigrationId.parse(id);
        } catch (IllegalArgumentException e) {
            throw WanmigException.badRequest("id", "not a migration id: '" + id + "'");
        }
    }

    private static String ports(List<PortNumber> ports) {
        return ports.stream().map(p -> Long.toString(p.toLong())).collect(Collectors.joining(",", "[", "]"));
    }
}
