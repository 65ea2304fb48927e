package org.wanmig.cli;

import org.onosproject.codec.CodecContext;
import org.onosproject.net.PortNumber;
import org.wanmig.api.Migration;
import org.wanmig.api.MigrationId;
import org.wanmig.api.MigrationService;
import org.wanmig.api.WanmigException;
import org.wanmig.config.DataCenter;
import org.wanmig.config.VirtualServer;
import org.wanmig.planner.MigrationPlan;
import org.wanmig.planner.NetworkPlanner;
import org.wanmig.planner.RuleFormatter;
import org.wanmig.rest.WanmigApi;

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

    /** A header, then one line per migration (the embedded runtime's client prints the same). */
    public static List<String> migrations(MigrationService service) {
        List<String> lines = new ArrayList<>();
        lines.add(MigrationText.summaryHeader());
        service.migrations().forEach(m -> lines.add(MigrationText.summary(m)));
        return lines;
    }

    /** One migration with its timeline (offsets since REQUESTED); optionally its planned rules. */
    public static List<String> migration(MigrationService service, Supplier<NetworkPlanner> planner, String id,
                                         boolean withRules) {
        Migration m = find(service, id);
        List<String> lines = new ArrayList<>(MigrationText.details(m));
        if (withRules) {
            MigrationPlan plan = planner.get().migration(m);
            lines.add("rules:");
            lines.add("  tunnel:");
            plan.tunnel().forEach(r -> lines.add("    " + RuleFormatter.format(r)));
            lines.add("  reverse ingress:");
            plan.reverseIngress().forEach(r -> lines.add("    " + RuleFormatter.format(r)));
            lines.add("  redirect:");
            plan.redirects().forEach(r -> lines.add("    " + RuleFormatter.format(r)));
        }
        return lines;
    }

    public static List<String> start(MigrationService service, String server, String destination) {
        return MigrationText.details(service.startMigration(server, destination));
    }

    public static List<String> abort(MigrationService service, String id) {
        return MigrationText.details(service.abort(parseId(id)));
    }

    /** The hypervisor's report by hand: completed, or failed when a reason is given. */
    public static List<String> hypervisorReport(MigrationService service, String id, String failedReason) {
        MigrationId mid = parseId(id);
        Migration m = failedReason == null ? service.hypervisorCompleted(mid, "reported by operator (CLI)")
                : service.hypervisorFailed(mid, failedReason);
        return MigrationText.details(m);
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
