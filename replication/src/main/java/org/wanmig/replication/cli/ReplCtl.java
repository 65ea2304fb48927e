package org.wanmig.replication.cli;

import java.io.IOException;
import java.io.PrintStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * wanmig-replctl: command-line client of an agent's control API.
 * Exit codes: 0 ok, 1 error reply or connection failure, 2 usage, 3 wait-sync timeout (408),
 * 4 conflict (409).
 */
public final class ReplCtl {
    static final String USAGE = String.join("\n",
            "usage: wanmig-replctl --agent http[s]://HOST:PORT [--token TOKEN] [--cacert CA.pem] COMMAND",
            "  status [DISK]                 all disks, or one",
            "  mode DISK SYNC|ASYNC          switch replication mode",
            "  wait-sync DISK [TIMEOUT_MS]   wait until in sync (default 30000)",
            "  promote DISK [--force]        make this agent's copy PRIMARY",
            "  demote DISK                   make this agent's copy REPLICA",
            "  metrics                       Prometheus metrics",
            "token: --token, or the environment variable WANMIG_TOKEN",
            "--cacert: PEM CA bundle that signed an HTTPS agent's certificate (controlTls)");

    private ReplCtl() {
    }

    public static void main(String[] args) {
        System.exit(run(args, System.out, System.err));
    }

    /** An SSLContext that trusts the CA certificates in a PEM file. */
    static javax.net.ssl.SSLContext trusting(java.nio.file.Path pem) throws IOException {
        try (java.io.InputStream in = java.nio.file.Files.newInputStream(pem)) {
            java.security.KeyStore ts = java.security.KeyStore.getInstance("PKCS12");
            ts.load(null, null);
            int i = 0;
            for (java.security.cert.Certificate c
                    : java.security.cert.CertificateFactory.getInstance("X.509").generateCertificates(in)) {
                ts.setCertificateEntry("ca" + i++, c);
            }
            javax.net.ssl.TrustManagerFactory tmf = javax.net.ssl.TrustManagerFactory.getInstance(
                    javax.net.ssl.TrustManagerFactory.getDefaultAlgorithm());
            tmf.init(ts);
            javax.net.ssl.SSLContext ctx = javax.net.ssl.SSLContext.getInstance("TLSv1.3");
            ctx.init(null, tmf.getTrustManagers(), null);
            return ctx;
        } catch (java.security.GeneralSecurityException e) {
            throw new IOException("--cacert " + pem + ": " + e.getMessage(), e);
        }
    }

    static int run(String[] args, PrintStream out, PrintStream err) {
        String agent = null;
        String token = System.getenv("WANMIG_TOKEN");
        boolean force = false;
        String cacert = null;
        List<String> rest = new ArrayList<>();
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--agent":
                    agent = i + 1 < args.length ? args[++i] : null;
                    break;
                case "--token":
                    token = i + 1 < args.length ? args[++i] : null;
                    break;
                case "--cacert":
                    cacert = i + 1 < args.length ? args[++i] : null;
                    break;
                case "--force":
                    force = true;
                    break;
                case "-h":
                case "--help":
                    out.println(USAGE);
                    return 0;
                default:
                    rest.add(args[i]);
            }
        }
        if (agent == null || token == null || rest.isEmpty()) {
            err.println(USAGE);
            return 2;
        }
        String cmd = rest.get(0);
        String method = "POST";
        String path;
        String body = null;
        try {
            switch (cmd) {
                case "status":
                    method = "GET";
                    path = rest.size() > 1 ? "/v1/disks/" + rest.get(1) : "/v1/disks";
                    break;
                case "mode":
                    path = "/v1/disks/" + rest.get(1) + "/mode";
                    body = "{\"mode\":\"" + rest.get(2).toUpperCase(java.util.Locale.ROOT).replace("\"", "") + "\"}";
                    break;
                case "wait-sync":
                    long t = rest.size() > 2 ? Long.parseLong(rest.get(2)) : 30_000;
                    path = "/v1/disks/" + rest.get(1) + "/wait-sync";
                    body = "{\"timeoutMs\":" + t + "}";
                    break;
                case "promote":
                    path = "/v1/disks/" + rest.get(1) + "/promote";
                    body = force ? "{\"force\":true}" : "{}";
                    break;
                case "demote":
                    path = "/v1/disks/" + rest.get(1) + "/demote";
                    body = "{}";
                    break;
                case "metrics":
                    method = "GET";
                    path = "/metrics";
                    break;
                default:
                    err.println("unknown command " + cmd);
                    err.println(USAGE);
                    return 2;
            }
        } catch (IndexOutOfBoundsException | NumberFormatException e) {
            err.println("missing or bad argument for " + cmd);
            err.println(USAGE);
            return 2;
        }
        String base = agent.endsWith("/") ? agent.substring(0, agent.length() - 1) : agent;
        HttpRequest.Builder rb;
        try {
            rb = HttpRequest.newBuilder(URI.create(base + path));
        } catch (IllegalArgumentException e) {
            err.println("bad agent URL: " + agent);
            return 2;
        }
        rb.timeout(Duration.ofHours(1)).header("Authorization", "Bearer " + token);
        rb = body == null ? rb.GET() : rb.header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(body));
        try {
            HttpClient.Builder cb = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10));
            if (cacert != null) {
                cb.sslContext(trusting(java.nio.file.Path.of(cacert)));
            }
            HttpResponse<String> r = cb.build().send(rb.build(), HttpResponse.BodyHandlers.ofString());
            (r.statusCode() == 200 ? out : err).println(r.body());
            switch (r.statusCode()) {
                case 200: return 0;
                case 408: return 3;
                case 409: return 4;
                default: return 1;
            }
        } catch (IOException e) {
            err.println("cannot reach agent " + agent + ": " + e.getMessage());
            return 1;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return 1;
        }
    }
}
