package org.wanmig.embedded.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.wanmig.api.Migration;
import org.wanmig.cli.MigrationText;
import org.wanmig.codec.MigrationCodec;
import org.wanmig.codec.WanmigCodecContext;

import java.io.IOException;
import java.io.PrintStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Base64;
import java.util.List;
import java.util.Map;

/**
 * Command-line client of the embedded runtime (or of ONOS: same REST paths), with the commands
 * of the ONOS CLI. {@code wanmig-migrate} follows the migration and prints each phase as it
 * happens. Base URL and credentials from WANMIG_URL, WANMIG_USER, WANMIG_PASSWORD.
 */
public final class WanmigCli {
    static final String USAGE = String.join("\n",
            "usage: wanmig COMMAND [ARGS]",
            "  wanmig-dcs                          list data centers",
            "  wanmig-servers                      list virtual servers and where they run",
            "  wanmig-migrate SERVER DC [--no-wait] start a migration and follow it to its end",
            "  wanmig-migrations                   list migrations",
            "  wanmig-migration ID [--rules]       one migration with its timeline (and its rules)",
            "  wanmig-abort ID                     give up a migration; everything returns to the source",
            "  wanmig-hypervisor-done ID [--failed REASON]  report the hypervisor's outcome by hand",
            "  devices | flows                     switches and the rules the runtime keeps on them",
            "env: WANMIG_URL (http://127.0.0.1:8181/onos/wanmig), WANMIG_USER (onos), WANMIG_PASSWORD (rocks)");

    private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
    private final ObjectMapper mapper = new ObjectMapper();
    private final WanmigCodecContext codecs = new WanmigCodecContext(Map.of());
    private final String base;
    private final String auth;
    private final PrintStream out;

    WanmigCli(String base, String user, String password, PrintStream out) {
        this.base = base.replaceAll("/+$", "");
        this.auth = "Basic " + Base64.getEncoder().encodeToString((user + ":" + password).getBytes(StandardCharsets.UTF_8));
        this.out = out;
    }

    /** Runs one command; returns the process exit code. */
    int run(List<String> args) throws IOException, InterruptedException {
        if (args.isEmpty()) {
            return usage();
        }
        String cmd = args.get(0).replaceFirst("^wanmig-", "");
        List<String> rest = args.subList(1, args.size());
        switch (cmd) {
            case "dcs":
                return print(call("GET", "/datacenters", null), r -> r.path("dataCenters").forEach(dc ->
                        out.printf("%-8s pe=%s wanPorts=%s serverPorts=%s agent=%s%n", dc.path("name").asText(),
                                dc.path("pe").asText(), dc.path("wanPorts"), dc.path("serverPorts"),
                                dc.path("agent").asText("none"))));
            case "servers":
                return print(call("GET", "/servers", null), r -> r.path("servers").forEach(v ->
                        out.printf("%-10s %-15s %s at %-6s %s%n", v.path("name").asText(), v.path("ip").asText(),
                                v.path("mac").asText(), v.path("location").asText(),
                                v.path("migration").isNull() ? "" : "migrating (" + v.path("migration").asText() + ")")));
            case "migrate":
                if (rest.size() < 2) {
                    return usage();
                }
                return migrate(rest.get(0), rest.get(1), !rest.contains("--no-wait"));
            case "migrations":
                return print(call("GET", "/migrations", null), r -> {
                    out.println(MigrationText.summaryHeader());
                    r.path("migrations").forEach(m -> out.println(MigrationText.summary(decode(m))));
                });
            case "migration":
                if (rest.isEmpty()) {
                    return usage();
                }
                int rc = print(call("GET", "/migrations/" + rest.get(0), null),
                        r -> MigrationText.details(decode(r)).forEach(out::println));
                if (rc == 0 && rest.contains("--rules")) {
                    rc = print(call("GET", "/migrations/" + rest.get(0) + "/rules", null), r -> r.fields()
                            .forEachRemaining(e -> {
                                out.println(e.getKey() + ":");
                                e.getValue().forEach(rule -> out.println("  " + rule.asText()));
                            }));
                }
                return rc;
            case "abort":
                if (rest.isEmpty()) {
                    return usage();
                }
                return print(call("POST", "/migrations/" + rest.get(0) + "/abort", "{}"),
                        r -> MigrationText.details(decode(r)).forEach(out::println));
            case "hypervisor-done": {
                if (rest.isEmpty()) {
                    return usage();
                }
                int failed = rest.indexOf("--failed");
                ObjectNode body = mapper.createObjectNode().put("status", failed < 0 ? "completed" : "failed")
                        .put("detail", failed >= 0 && failed + 1 < rest.size() ? rest.get(failed + 1) : "reported by hand");
                return print(call("POST", "/migrations/" + rest.get(0) + "/hypervisor", body.toString()),
                        r -> MigrationText.details(decode(r)).forEach(out::println));
            }
            case "devices":
                return print(call("GET", "/devices", null), r -> r.path("devices").forEach(d ->
                        out.printf("%s %s rules=%d%n", d.path("id").asText(),
                                d.path("available").asBoolean() ? "connected" : "DISCONNECTED", d.path("rules").asInt())));
            case "flows":
                return print(call("GET", "/flows", null), r -> r.path("flows").fields().forEachRemaining(e -> {
                    out.println(e.getKey() + ":");
                    e.getValue().forEach(rule -> out.println("  " + rule.asText()));
                }));
            default:
                return usage();
        }
    }

    /** Starts a migration and prints each new timeline event until it ends. */
    private int migrate(String server, String dc, boolean follow) throws IOException, InterruptedException {
        ObjectNode body = mapper.createObjectNode().put("server", server).put("destination", dc);
        Reply started = call("POST", "/migrations", body.toString());
        if (started.status != 201 || !follow) {
            return print(started, r -> MigrationText.details(decode(r)).forEach(out::println));
        }
        Migration m = decode(started.body);
        long t0 = m.timeline().get(0).epochMillis();
        out.println("migration " + m.id() + ": " + server + " from " + m.source() + " to " + dc);
        int shown = 0;
        while (true) {
            for (; shown < m.timeline().size(); shown++) {
                out.println(MigrationText.event(m.timeline().get(shown), t0));
            }
            if (!m.isActive()) {
                if (m.error() != null) {
                    out.println("error: " + m.error());
                }
                return m.state() == org.wanmig.api.MigrationState.COMPLETED ? 0 : 1;
            }
            Thread.sleep(100);
            Reply now = call("GET", "/migrations/" + m.id(), null);
            if (now.status != 200) {
                return print(now, r -> { });
            }
            m = decode(now.body);
        }
    }

    private Migration decode(JsonNode node) {
        return new MigrationCodec().decode((ObjectNode) node, codecs);
    }

    private static final class Reply {
        final int status;
        final JsonNode body;

        Reply(int status, JsonNode body) {
            this.status = status;
            this.body = body;
        }
    }

    private Reply call(String method, String path, String body) throws IOException, InterruptedException {
        HttpRequest.Builder req = HttpRequest.newBuilder(URI.create(base + path)).timeout(Duration.ofSeconds(30))
                .header("Authorization", auth).header("Content-Type", "application/json");
        req.method(method, body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(body));
        HttpResponse<String> resp = http.send(req.build(), HttpResponse.BodyHandlers.ofString());
        JsonNode json = resp.body().isBlank() ? mapper.createObjectNode() : mapper.readTree(resp.body());
        return new Reply(resp.statusCode(), json);
    }

    private int print(Reply reply, java.util.function.Consumer<JsonNode> ok) {
        if (reply.status / 100 == 2) {
            ok.accept(reply.body);
            return 0;
        }
        String field = reply.body.path("field").isNull() ? "" : " (" + reply.body.path("field").asText() + ")";
        System.err.println("error " + reply.status + field + ": " + reply.body.path("error").asText(reply.body.toString()));
        return 1;
    }

    private int usage() {
        System.err.println(USAGE);
        return 2;
    }

    public static void main(String[] args) throws Exception {
        String env = System.getenv().getOrDefault("WANMIG_URL", "http://127.0.0.1:8181/onos/wanmig");
        WanmigCli cli = new WanmigCli(env, System.getenv().getOrDefault("WANMIG_USER", "onos"),
                System.getenv().getOrDefault("WANMIG_PASSWORD", "rocks"), System.out);
        try {
            System.exit(cli.run(List.of(args)));
        } catch (java.net.ConnectException e) {
            System.err.println("error: cannot reach " + env + " (is the runtime running?)");
            System.exit(1);
        }
    }
}
