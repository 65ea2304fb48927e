package org.wanmig.drivers;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.HttpURLConnection;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.SynchronousQueue;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;

/** Small asynchronous JSON-over-HTTP client shared by the drivers; non-2xx answers fail the future. */
final class JsonHttp {
    private static final ObjectMapper MAPPER = new ObjectMapper();
    /**
     * One client for every call: a client owns a selector thread and its connection pool, and a new
     * one per call (the replication client's way until now) set up a thread and a TCP connection
     * inside the guest's pause, on every storage role flip.
     */
    private static final HttpClient CLIENT = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
    /**
     * Threads for calls made inside a guest's pause ({@link #postDirect}); two stay started so that
     * such a call never waits for a thread to be made.
     */
    private static final ThreadPoolExecutor DIRECT = new ThreadPoolExecutor(2, 16, 60, TimeUnit.SECONDS,
            new SynchronousQueue<>(), r -> {
                Thread t = new Thread(r, "wanmig-direct-http");
                t.setDaemon(true);
                return t;
            });

    static {
        DIRECT.prestartAllCoreThreads();
    }

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

    /**
     * {@link #post} with blocking I/O on one thread that sends, waits and parses: the asynchronous
     * client hands each call between its executor and selector threads, which cost milliseconds
     * each on a busy host (measured: p50 9.3 against 1.8 ms for the same call on a loaded 2-core
     * machine). For calls inside a guest's pause. The connection is kept for the next call to the
     * same agent (HTTP keep-alive, a few seconds). Notes, in System.nanoTime, when the call's
     * thread took it up ({@code stamps[0]}), when the request was written ({@code [1]}) and
     * when the answer's status arrived ({@code [2]}).
     */
    CompletableFuture<JsonNode> postDirect(URI uri, JsonNode body, Duration timeout, long[] stamps) {
        return onDirectThread("POST " + uri, () -> {
            stamps[0] = System.nanoTime();
            return postBlocking(uri, body, timeout, stamps);
        });
    }

    /** Blocking I/O of its own. */
    interface IoCall<T> {
        T call() throws IOException;
    }

    /**
     * Runs {@code call} on one of the threads kept for calls inside a guest's pause (see
     * {@link #postDirect}); an IOException fails the future as an UncheckedIOException named {@code what}.
     */
    static <T> CompletableFuture<T> onDirectThread(String what, IoCall<T> call) {
        try {
            return CompletableFuture.supplyAsync(() -> {
                try {
                    return call.call();
                } catch (IOException e) {
                    throw new UncheckedIOException(what + ": " + e.getMessage(), e);
                }
            }, DIRECT);
        } catch (RejectedExecutionException e) {
            return CompletableFuture.failedFuture(new IllegalStateException(what + ": "
                    + DIRECT.getMaximumPoolSize() + " direct calls already in progress"));
        }
    }

    private JsonNode postBlocking(URI uri, JsonNode body, Duration timeout, long[] stamps) throws IOException {
        HttpURLConnection c = (HttpURLConnection) uri.toURL().openConnection();
        c.setConnectTimeout((int) Math.min(timeout.toMillis(), 5_000));
        c.setReadTimeout((int) Math.max(1, timeout.toMillis()));
        c.setUseCaches(false);
        c.setRequestMethod("POST");
        c.setDoOutput(true);
        c.setRequestProperty("Content-Type", "application/json");
        if (authorization != null) {
            c.setRequestProperty("Authorization", authorization);
        }
        byte[] out = (body == null ? "{}" : body.toString()).getBytes(StandardCharsets.UTF_8);
        // buffered (no streaming mode): the headers and the small body leave in one segment, where
        // a body sent on its own could wait for the ACK of the headers (Nagle)
        try (OutputStream o = c.getOutputStream()) {
            o.write(out);
        }
        stamps[1] = System.nanoTime();
        int status = c.getResponseCode();
        stamps[2] = System.nanoTime();
        String text;
        // read to the end and close: the connection then goes back to the keep-alive cache
        try (InputStream in = status / 100 == 2 ? c.getInputStream() : c.getErrorStream()) {
            text = in == null ? "" : new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
        JsonNode answer = parse(text);
        if (status / 100 != 2) {
            throw new Refused(status, "POST " + uri + " answered " + status + ": " + answer.path("error").asText(text));
        }
        return answer;
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
