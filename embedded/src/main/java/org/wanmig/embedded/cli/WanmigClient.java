package org.wanmig.embedded.cli;

import com.fasterxml.jackson.databind.JsonNode;
import org.wanmig.api.Evacuation;
import org.wanmig.api.Migration;
import org.wanmig.api.MigrationId;
import org.wanmig.api.MigrationState;
import org.wanmig.api.WanmigException;
import org.wanmig.cli.EvacuationText;
import org.wanmig.cli.MigrationText;
import org.wanmig.cli.WanmigCli;

import java.io.PrintStream;
import java.util.List;

/**
 * Command-line client of the embedded runtime (or of ONOS: same REST paths) with the commands of
 * the ONOS CLI, run by the same {@link WanmigCli} methods over a {@link RestMigrationService}.
 * {@code wanmig-migrate} follows the migration and prints each phase as it happens.
 */
public final class WanmigClient {
    static final String USAGE = String.join("\n",
            "usage: wanmig COMMAND [ARGS]",
            "  wanmig-dcs                             list data centers",
            "  wanmig-servers                         list virtual servers and where they run",
            "  wanmig-migrate SERVER DC [--no-wait]   start a migration and follow it to its end",
            "  wanmig-migrations                      list migrations",
            "  wanmig-migration ID [--rules]          one migration with its timeline (and its rules)",
            "  wanmig-abort ID                        give up a migration; everything returns to the source",
            "  wanmig-hypervisor-done ID [--failed REASON]  report the hypervisor's outcome by hand",
            "  wanmig-evacuate SOURCE [--to DC,...] [--servers VS,...] [--no-wait]",
            "                                         evacuate a data center and follow its progress to the end",
            "  wanmig-evacuations [ID] [--follow]     list evacuations with progress, or one with its servers",
            "  wanmig-evacuation-abort ID             abort: queued never start, in flight roll back, done stay",
            "  wanmig-failover DC [--to DC] [--no-wait]  declare DC lost: promote each server's replica, restart",
            "                                         it at its destination, route it there; follow to the end",
            "  devices | flows                        switches and the rules the embedded runtime keeps on them",
            "env: WANMIG_URL (http://127.0.0.1:8181/onos/wanmig), WANMIG_USER (onos), WANMIG_PASSWORD (rocks)");

    private final RestMigrationService service;
    private final PrintStream out;

    WanmigClient(RestMigrationService service, PrintStream out) {
        this.service = service;
        this.out = out;
    }

    /** Runs one command; returns the process exit code. */
    int run(List<String> args) throws InterruptedException {
        if (args.isEmpty()) {
            return usage();
        }
        String cmd = args.get(0).replaceFirst("^wanmig-", "");
        List<String> rest = args.subList(1, args.size());
        try {
            switch (cmd) {
                case "dcs":
                    return print(WanmigCli.dataCenters(service));
                case "servers":
                    return print(WanmigCli.servers(service));
                case "migrations":
                    return print(WanmigCli.migrations(service));
                case "migration":
                    if (rest.isEmpty()) {
                        return usage();
                    }
                    print(WanmigCli.migration(service, null, rest.get(0), false));
                    return rest.contains("--rules") ? rules(rest.get(0)) : 0;
                case "migrate":
                    if (rest.size() < 2) {
                        return usage();
                    }
                    return rest.contains("--no-wait") ? print(WanmigCli.start(service, rest.get(0), rest.get(1)))
                            : follow(service.startMigration(rest.get(0), rest.get(1)));
                case "abort":
                    return rest.isEmpty() ? usage() : print(WanmigCli.abort(service, rest.get(0)));
                case "hypervisor-done": {
                    if (rest.isEmpty()) {
                        return usage();
                    }
                    int failed = rest.indexOf("--failed");
                    String reason = failed < 0 ? null
                            : failed + 1 < rest.size() ? rest.get(failed + 1) : "reported by operator";
                    return print(WanmigCli.hypervisorReport(service, rest.get(0), reason));
                }
                case "evacuate": {
                    if (rest.isEmpty() || rest.get(0).startsWith("--")) {
                        return usage();
                    }
                    Evacuation e = service.evacuate(rest.get(0), EvacuationText.list(option(rest, "--to")),
                            EvacuationText.list(option(rest, "--servers")));
                    return rest.contains("--no-wait") ? print(EvacuationText.details(e, System.currentTimeMillis()))
                            : followEvacuation(e);
                }
                case "failover": {
                    if (rest.isEmpty() || rest.get(0).startsWith("--")) {
                        return usage();
                    }
                    Evacuation e = service.failover(rest.get(0), option(rest, "--to"));
                    return rest.contains("--no-wait") ? print(EvacuationText.details(e, System.currentTimeMillis()))
                            : followEvacuation(e);
                }
                case "evacuations":
                    if (rest.isEmpty() || rest.get(0).startsWith("--")) {
                        return print(EvacuationText.evacuations(service, System.currentTimeMillis()));
                    }
                    return rest.contains("--follow") ? followEvacuation(EvacuationText.find(service, rest.get(0)))
                            : print(EvacuationText.evacuation(service, rest.get(0), System.currentTimeMillis()));
                case "evacuation-abort":
                    return rest.isEmpty() ? usage()
                            : print(EvacuationText.abort(service, rest.get(0), System.currentTimeMillis()));
                case "devices":
                    service.get("/devices").path("devices").forEach(d -> out.printf("%s %s rules=%d%n",
                            d.path("id").asText(), d.path("available").asBoolean() ? "connected" : "DISCONNECTED",
                            d.path("rules").asInt()));
                    return 0;
                case "flows":
                    printGroups(service.get("/flows").path("flows"));
                    return 0;
                default:
                    return usage();
            }
        } catch (WanmigException e) {
            System.err.println("error" + (e.field() == null ? "" : " (" + e.field() + ")") + ": " + e.reason());
            return 1;
        }
    }

    /** The migration's rules as the MMS planned them (the server holds the topology). */
    private int rules(String id) {
        out.println("rules:");
        printGroups(service.get("/migrations/" + MigrationId.parse(id) + "/rules"));
        return 0;
    }

    private void printGroups(JsonNode groups) {
        groups.fields().forEachRemaining(e -> {
            out.println("  " + e.getKey() + ":");
            e.getValue().forEach(rule -> out.println("    " + rule.asText()));
        });
    }

    /** Prints each new timeline event until the migration ends; exit 0 only for COMPLETED. */
    private int follow(Migration m) throws InterruptedException {
        long t0 = m.timeline().get(0).epochMillis();
        out.println("migration " + m.id() + ": " + m.server() + " from " + m.source() + " to " + m.destination());
        int shown = 0;
        while (true) {
            for (; shown < m.timeline().size(); shown++) {
                out.println(MigrationText.event(m.timeline().get(shown), t0));
            }
            if (!m.isActive()) {
                if (m.error() != null) {
                    out.println("error: " + m.error());
                }
                return m.state() == MigrationState.COMPLETED ? 0 : 1;
            }
            Thread.sleep(100);
            m = service.migration(m.id()).orElseThrow();
        }
    }

    /** The value after {@code name} in {@code args}, or null. */
    private static String option(List<String> args, String name) {
        int i = args.indexOf(name);
        if (i >= 0 && i + 1 >= args.size()) {
            throw WanmigException.badRequest(name, "needs a value");
        }
        return i < 0 ? null : args.get(i + 1);
    }

    /**
     * Live progress of an evacuation: each new timeline event as it happens, and a progress line
     * (done, in flight, queued, failed, bytes, ETA) whenever the counts change, until it ends.
     * Exit 0 only for COMPLETED.
     */
    private int followEvacuation(Evacuation e) throws InterruptedException {
        if (e.isFailover()) {
            out.println("failover " + e.id() + ": " + e.source() + " declared lost, " + e.servers().size()
                    + " servers to " + String.join(",", e.destinations()));
        } else {
            out.println("evacuation " + e.id() + ": " + e.servers().size() + " servers from " + e.source() + " to "
                    + String.join(",", e.destinations()) + ", planned " + e.plannedMillis() / 1000.0 + " s");
        }
        e.servers().forEach(s -> out.println(EvacuationText.server(s)));
        int shown = 0;
        String lastProgress = "";
        while (true) {
            for (; shown < e.timeline().size(); shown++) {
                out.println(EvacuationText.event(e.timeline().get(shown), e.startedMillis()));
            }
            String counts = e.count(org.wanmig.api.ServerEvacuation.State.DONE) + "/"
                    + e.count(org.wanmig.api.ServerEvacuation.State.IN_FLIGHT) + "/"
                    + e.count(org.wanmig.api.ServerEvacuation.State.QUEUED) + "/" + e.state();
            if (!counts.equals(lastProgress)) {
                out.println("progress: " + EvacuationText.progress(e, System.currentTimeMillis()));
                lastProgress = counts;
            }
            if (!e.isActive()) {
                out.println((e.isFailover() ? "failover " : "evacuation ") + e.id() + " " + e.state());
                return e.state() == org.wanmig.api.EvacuationState.COMPLETED ? 0 : 1;
            }
            Thread.sleep(200);
            e = service.evacuation(e.id()).orElseThrow();
        }
    }

    private int print(List<String> lines) {
        lines.forEach(out::println);
        return 0;
    }

    private int usage() {
        System.err.println(USAGE);
        return 2;
    }

    public static void main(String[] args) throws Exception {
        String url = System.getenv().getOrDefault("WANMIG_URL", "http://127.0.0.1:8181/onos/wanmig");
        RestMigrationService service = new RestMigrationService(url,
                System.getenv().getOrDefault("WANMIG_USER", "onos"),
                System.getenv().getOrDefault("WANMIG_PASSWORD", "rocks"));
        System.exit(new WanmigClient(service, System.out).run(List.of(args)));
    }
}
