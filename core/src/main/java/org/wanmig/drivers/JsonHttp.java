package org.wanmig.drivers;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;

/** Small asynchronous JSON-over-HTTP client shared by the drivers; non-2xx answers fail the future. */
final class JsonHttp {
    private static final ObjectMapper MAPPER = new ObjectMapper();
    /**
     * One client for every call: a client owns a selector thread and its connection pool, and a new
     * one per call (the replication client's way until now) set up a thread and a TCP connection
     * inside the guest's pause, on every storage role flip.
     */
    private static final HttpClient CLIENT = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
    private final String authorization;

    /** @param authorization value of the Authorization header, or null */
    JsonHttp(String authorization) {
        this.authorization = authorization;
    }

    static ObjectMapper mapper() {
        return MAPPER;
    }

    CompletableFuture<JsonNode> post(URI uri, JsonNode body, Duration timeout) {
        HttpRequest.Builder req = HttpRequest.newBuilder(uri).timeout(timeout)
                .header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(body == null ? "{}" : body.toString()));
        return send(req);
    }

    CompletableFuture<JsonNode> get(URI uri, Duration timeout) {
        return send(HttpRequest.newBuilder(uri).timeout(timeout).GET());
    }

    CompletableFuture<JsonNode> delete(URI uri, Duration timeout) {
        return send(HttpRequest.newBuilder(uri).timeout(timeout).DELETE());
    }

    private CompletableFuture<JsonNode> send(HttpRequest.Builder req) {
        if (authorization != null) {
            req.header("Authorization", authorization);
        }
        HttpRequest request = req.build();
        return CLIENT.sendAsync(request, HttpResponse.BodyHandlers.ofString()).thenApply(resp -> {
            JsonNode body = parse(resp.body());
            if (resp.statusCode() / 100 != 2) {
                String why = body.path("error").asText(resp.body());
                throw new Refused(resp.statusCode(), request.method() + " " + request.uri() + " answered "
                        + resp.statusCode() + ": " + why);
            }
            return body;
        });
    }

    /** A non-2xx answer: the call arrived and was refused with {@link #status()}. */
    static final class Refused extends IllegalStateException {
        private static final long serialVersionUID = 1L;
        private final int status;

        Refused(int status, String message) {
            super(message);
            this.status = status;
        }

        int status() {
            return status;
        }
    }

    private static JsonNode parse(String text) {
        try {
            return text == null || text.isBlank() ? MAPPER.createObjectNode() : MAPPER.readTree(text);
        } catch (java.io.IOException e) {
            return MAPPER.createObjectNode().put("error", text);
        }
    }
}
