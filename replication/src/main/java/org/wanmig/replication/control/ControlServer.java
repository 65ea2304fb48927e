package org.wanmig.replication.control;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import org.wanmig.replication.core.DiskStatus;
import org.wanmig.replication.core.Mode;

import java.io.Closeable;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.logging.Level;
import java.util.logging.Logger;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * HTTP/JSON control API (the contract the MMS client calls). Every request needs
 * "Authorization: Bearer &lt;token&gt;". Routing and validation live here; the operations are
 * delegated to {@link ReplicationControl}.
 */
public final class ControlServer implements Closeable {
    private static final Logger LOG = Logger.getLogger(ControlServer.class.getName());
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Pattern DISK = Pattern.compile("^/v1/disks/([^/]+)$");
    private static final Pattern ACTION = Pattern.compile("^/v1/disks/([^/]+)/(mode|wait-sync|promote|demote)$");
    private static final int MAX_BODY = 64 * 1024;
    private static final long MAX_WAIT_MS = 3_600_000;

    private final HttpServer server;
    private final ExecutorService pool;
    private final ReplicationControl control;
    private final byte[] token;

    public ControlServer(InetSocketAddress bind, String token, ReplicationControl control) throws IOException {
        this.control = control;
        this.token = ("Bearer " + token).getBytes(StandardCharsets.UTF_8);
        server = HttpServer.create(bind, 32);
        // wait-sync blocks a worker; keep enough of them that status calls still get through.
        pool = Executors.newFixedThreadPool(8, r -> {
            Thread t = new Thread(r, "control-http");
            t.setDaemon(true);
            return t;
        });
        server.setExecutor(pool);
        server.createContext("/", this::handle);
        server.start();
        LOG.info("control API listening on " + server.getAddress());
    }

    public int port() {
        return server.getAddress().getPort();
    }

    private void handle(HttpExchange ex) throws IOException {
        try {
            String auth = ex.getRequestHeaders().getFirst("Authorization");
            if (auth == null || !MessageDigest.isEqual(auth.getBytes(StandardCharsets.UTF_8), token)) {
                ex.getResponseHeaders().add("WWW-Authenticate", "Bearer");
                error(ex, 401, "unauthorized", null);
                return;
            }
            route(ex);
        } catch (ReplicationControl.NoSuchDiskException e) {
            error(ex, 404, e.getMessage(), null);
        } catch (ReplicationControl.ConflictException e) {
            error(ex, 409, e.getMessage(), null);
        } catch (MethodNotAllowed e) {
            ex.getResponseHeaders().set("Allow", e.getMessage());
            error(ex, 405, "method not allowed", null);
        } catch (BadRequest e) {
            error(ex, 400, e.getMessage(), e.field);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            error(ex, 503, "interrupted", null);
        } catch (RuntimeException e) {
            LOG.log(Level.WARNING, "control request failed", e);
            error(ex, 500, "internal error: " + e, null);
        } finally {
            ex.close();
        }
    }

    private void route(HttpExchange ex) throws IOException, InterruptedException {
        String path = ex.getRequestURI().getPath();
        String method = ex.getRequestMethod();
        if (path.equals("/metrics")) {
            requireMethod(ex, "GET");
            byte[] body = Metrics.render(control.counters()).getBytes(StandardCharsets.UTF_8);
            ex.getResponseHeaders().set("Content-Type", "text/plain; version=0.0.4; charset=utf-8");
            ex.sendResponseHeaders(200, body.length);
            try (OutputStream os = ex.getResponseBody()) {
                os.write(body);
            }
            return;
        }
        if (path.equals("/v1/disks")) {
            requireMethod(ex, "GET");
            json(ex, 200, JSON.valueToTree(control.list()));
            return;
        }
        Matcher m = DISK.matcher(path);
        if (m.matches()) {
            requireMethod(ex, "GET");
            json(ex, 200, JSON.valueToTree(control.status(m.group(1))));
            return;
        }
        m = ACTION.matcher(path);
        if (!m.matches()) {
            error(ex, 404, "no such resource: " + path, null);
            return;
        }
        requireMethod(ex, "POST");
        String disk = m.group(1);
        control.status(disk); // 404 before looking at the body
        JsonNode body = readBody(ex, m.group(2).equals("mode") ? "mode" : null);
        switch (m.group(2)) {
            case "mode": {
                JsonNode mv = body.get("mode");
                Mode mode = mv != null && mv.isTextual() ? Mode.parse(mv.asText()) : null;
                if (mode == null) {
                    throw new BadRequest("mode must be \"SYNC\" or \"ASYNC\"", "mode");
                }
                json(ex, 200, JSON.valueToTree(control.setMode(disk, mode)));
                return;
            }
            case "wait-sync": {
                long timeout = 30_000;
                JsonNode t = body.get("timeoutMs");
                if (t != null) {
                    if (!t.canConvertToLong() || !t.isIntegralNumber() || t.asLong() < 0 || t.asLong() > MAX_WAIT_MS) {
                        throw new BadRequest("timeoutMs must be an integer between 0 and " + MAX_WAIT_MS, "timeoutMs");
                    }
                    timeout = t.asLong();
                }
                DiskStatus s = control.waitSync(disk, timeout);
                if (s.inSync()) {
                    json(ex, 200, JSON.valueToTree(s));
                } else {
                    ObjectNode o = JSON.createObjectNode();
                    o.put("error", "timeout");
                    o.setAll((ObjectNode) JSON.valueToTree(s));
                    json(ex, 408, o);
                }
                return;
            }
            case "promote": {
                JsonNode f = body.get("force");
                if (f != null && !f.isBoolean()) {
                    throw new BadRequest("force must be a boolean", "force");
                }
                json(ex, 200, JSON.valueToTree(control.promote(disk, f != null && f.asBoolean())));
                return;
            }
            default: {
                // the MMS sends its demote budget; without one the agent's own default applies
                JsonNode t = body.get("timeoutMs");
                if (t != null && (!t.canConvertToLong() || t.asLong() <= 0)) {
                    throw new BadRequest("timeoutMs must be a positive number of milliseconds", "timeoutMs");
                }
                json(ex, 200, JSON.valueToTree(t == null ? control.demote(disk) : control.demote(disk, t.asLong())));
            }
        }
    }

    private static final class BadRequest extends RuntimeException {
        final String field;

        BadRequest(String msg, String field) {
            super(msg);
            this.field = field;
        }
    }

    private static final class MethodNotAllowed extends RuntimeException {
        MethodNotAllowed(String msg) {
            super(msg);
        }
    }

    private static void requireMethod(HttpExchange ex, String m) {
        if (!ex.getRequestMethod().equals(m)) {
            throw new MethodNotAllowed(m);
        }
    }

    /** Empty body means {}; anything else must be a JSON object. */
    private static JsonNode readBody(HttpExchange ex, String field) throws IOException {
        byte[] raw;
        try (InputStream in = ex.getRequestBody()) {
            raw = in.readNBytes(MAX_BODY + 1);
        }
        if (raw.length > MAX_BODY) {
            throw new BadRequest("request body too large", field);
        }
        if (raw.length == 0 || new String(raw, StandardCharsets.UTF_8).isBlank()) {
            return JSON.createObjectNode();
        }
        JsonNode n;
        try {
            n = JSON.readTree(raw);
        } catch (IOException e) {
            throw new BadRequest("body is not valid JSON", field);
        }
        if (n == null || !n.isObject()) {
            throw new BadRequest("body must be a JSON object", field);
        }
        return n;
    }

    private static void json(HttpExchange ex, int code, JsonNode body) throws IOException {
        byte[] b = JSON.writeValueAsBytes(body);
        ex.getResponseHeaders().set("Content-Type", "application/json");
        ex.sendResponseHeaders(code, b.length);
        try (OutputStream os = ex.getResponseBody()) {
            os.write(b);
        }
    }

    private static void error(HttpExchange ex, int code, String msg, String field) throws IOException {
        ObjectNode o = JSON.createObjectNode();
        o.put("error", msg);
        if (field != null) {
            o.put("field", field);
        }
        json(ex, code, o);
    }

    @Override
    public void close() {
        server.stop(0);
        pool.shutdownNow();
    }
}
