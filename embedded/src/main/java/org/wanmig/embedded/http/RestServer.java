package org.wanmig.embedded.http;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.wanmig.rest.ApiResponse;
import org.wanmig.rest.WanmigApi;

import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.Base64;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.function.Supplier;

/**
 * The ONOS REST paths of wanmig (/onos/wanmig/...) served by the JDK's HTTP server, answered by
 * the same {@link WanmigApi} the ONOS resource uses. Every request needs HTTP basic auth (ONOS's
 * default onos/rocks unless configured) or a bearer token.
 */
public final class RestServer implements AutoCloseable {
    public static final String BASE = "/onos/wanmig";
    private static final Logger log = LoggerFactory.getLogger(RestServer.class);

    private final HttpServer server;
    private final ExecutorService workers = Executors.newFixedThreadPool(8);
    private final byte[] basic;
    private final byte[] bearer;
    private final Map<String, Supplier<JsonNode>> extras;
    private final ObjectMapper mapper = new ObjectMapper();

    /**
     * @param extras read-only resources of the embedded runtime beyond the ONOS ones (devices, flows)
     */
    public RestServer(String bindAddress, int port, String user, String password, String token,
                      WanmigApi api, Map<String, Supplier<JsonNode>> extras) throws IOException {
        this.basic = ("Basic " + Base64.getEncoder().encodeToString((user + ":" + password)
                .getBytes(StandardCharsets.UTF_8))).getBytes(StandardCharsets.UTF_8);
        this.bearer = token == null ? null : ("Bearer " + token).getBytes(StandardCharsets.UTF_8);
        this.extras = Map.copyOf(extras);
        this.server = HttpServer.create(new InetSocketAddress(bindAddress, port), 64);
        server.createContext(BASE, exchange -> handle(exchange, api));
        server.setExecutor(workers);
    }

    public void start() {
        server.start();
        log.info("REST API on http://{}:{}{}", server.getAddress().getHostString(), port(), BASE);
    }

    public int port() {
        return server.getAddress().getPort();
    }

    private void handle(HttpExchange ex, WanmigApi api) throws IOException {
        try {
            if (!authorized(ex.getRequestHeaders().getFirst("Authorization"))) {
                ex.getResponseHeaders().add("WWW-Authenticate", "Basic realm=\"wanmig\"");
                send(ex, new ApiResponse(401, mapper.createObjectNode().put("error", "authentication required")
                        .putNull("field")));
                return;
            }
            String path = ex.getRequestURI().getPath().substring(BASE.length());
            String method = ex.getRequestMethod();
            String body = new String(ex.getRequestBody().readAllBytes(), StandardCharsets.UTF_8);
            Supplier<JsonNode> extra = extras.get(path.replaceAll("^/+|/+$", ""));
            ApiResponse response = "GET".equals(method) && extra != null ? new ApiResponse(200, extra.get())
                    : api.route(method, path, body);
            send(ex, response);
        } catch (RuntimeException e) {
            log.error("REST request {} {} failed", ex.getRequestMethod(), ex.getRequestURI(), e);
            send(ex, new ApiResponse(500, mapper.createObjectNode().put("error", String.valueOf(e)).putNull("field")));
        } finally {
            ex.close(); // Java 11's HttpExchange is not AutoCloseable
        }
    }

    private boolean authorized(String header) {
        if (header == null) {
            return false;
        }
        byte[] given = header.getBytes(StandardCharsets.UTF_8);
        return MessageDigest.isEqual(given, basic) || (bearer != null && MessageDigest.isEqual(given, bearer));
    }

    private void send(HttpExchange ex, ApiResponse response) throws IOException {
        byte[] bytes = mapper.writerWithDefaultPrettyPrinter().writeValueAsBytes(response.body());
        ex.getResponseHeaders().set("Content-Type", "application/json");
        ex.sendResponseHeaders(response.status(), bytes.length);
        try (OutputStream out = ex.getResponseBody()) {
            out.write(bytes);
        }
    }

    @Override
    public void close() {
        server.stop(0);
        workers.shutdownNow();
    }
}
