package org.wanmig.embedded.http;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.onosproject.codec.CodecService;
import org.onosproject.net.DeviceId;
import org.wanmig.api.MigrationService;
import org.wanmig.codec.WanmigCodecs;
import org.wanmig.lifecycle.MigrationManager;
import org.wanmig.planner.PlannerService;
import org.wanmig.store.InMemoryMigrationStore;
import org.wanmig.testing.WanmigFixtures;
import org.wanmig.testing.WanmigFixtures.RecordingNetwork;

import javax.ws.rs.GET;
import javax.ws.rs.Path;
import javax.ws.rs.Produces;
import javax.ws.rs.core.MediaType;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLongArray;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.wanmig.testing.WanmigFixtures.MAPPER;

/**
 * The embedded REST server over real HTTP on loopback: the ONOS resource class through Jersey on
 * Jetty (paths, codecs, errors, auth) on a real MigrationManager whose network confirms at once,
 * and the limits that keep slow or abusive clients from starving it.
 */
class RestServerTest {
    private static final String BASIC = "Basic " + Base64.getEncoder()
            .encodeToString("onos:rocks".getBytes(StandardCharsets.UTF_8));
    private static final String TOKEN = "t0ken-0123";

    private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
    private final List<Socket> sockets = new CopyOnWriteArrayList<>();
    private final ExecutorService pool = Executors.newCachedThreadPool(r -> {
        Thread t = new Thread(r, "rest-test-client");
        t.setDaemon(true);
        return t;
    });
    private RecordingNetwork network;
    private MigrationManager manager;
    private RestServer server;

    private void start(RestLimits limits, Object... extra) throws IOException {
        network = new RecordingNetwork();
        manager = WanmigFixtures.drivingManager(WanmigFixtures.restDriverTopology(), network,
                new InMemoryMigrationStore());
        network.clear();
        server = new RestServer("127.0.0.1", 0, limits, "onos", "rocks", TOKEN,
                new EmbeddedServiceDirectory(Map.of(MigrationService.class, manager,
                        PlannerService.class, (PlannerService) manager::planner,
                        CodecService.class, EmbeddedCodecService.of(WanmigCodecs.all()))),
                extra);
        server.start();
    }

    @AfterEach
    void stop() {
        sockets.forEach(s -> {
            try {
                s.close();
            } catch (IOException e) {
                // already closed
            }
        });
        pool.shutdownNow();
        if (server != null) {
            server.close();
        }
        if (manager != null) {
            manager.shutdown();
        }
    }

    // ---- helpers -------------------------------------------------------------------------------

    private URI uri(String path) {
        return URI.create("http://127.0.0.1:" + server.port() + "/onos/wanmig/" + path);
    }

    private static final class Reply {
        final int status;
        final JsonNode body;

        Reply(HttpResponse<String> r) throws IOException {
            status = r.statusCode();
            body = r.body().isEmpty() ? MAPPER.nullNode() : MAPPER.readTree(r.body());
        }
    }

    private Reply send(HttpRequest.Builder request, String auth) throws Exception {
        if (auth != null) {
            request.header("Authorization", auth);
        }
        return new Reply(http.send(request.timeout(Duration.ofSeconds(30)).build(),
                HttpResponse.BodyHandlers.ofString()));
    }

    private Reply get(String path) throws Exception {
        return send(HttpRequest.newBuilder(uri(path)), BASIC);
    }

    private Reply post(String path, String json) throws Exception {
        return send(HttpRequest.newBuilder(uri(path)).header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(json)), BASIC);
    }

    private static void assertError(Reply r, int status, String field) {
        assertEquals(status, r.status, r.body.toString());
        assertFalse(r.body.path("error").asText().isBlank(), r.body.toString());
        if (field == null) {
            assertTrue(r.body.path("field").isNull(), r.body.toString());
        } else {
            assertEquals(field, r.body.path("field").asText(), r.body.toString());
        }
    }

    private Socket connect() throws IOException {
        Socket s = new Socket("127.0.0.1", server.port());
        sockets.add(s);
        return s;
    }

    /** Sends raw bytes and reads the whole answer (the server closes or the timeout passes). */
    private String raw(String request, byte[] tail) throws IOException {
        try (Socket s = connect()) {
            s.setSoTimeout(15_000);
            OutputStream out = s.getOutputStream();
            out.write(request.getBytes(StandardCharsets.ISO_8859_1));
            if (tail != null) {
                try {
                    out.write(tail);
                } catch (IOException e) {
                    // the server may answer and close before taking the whole tail
                }
            }
            out.flush();
            return readAnswer(s.getInputStream());
        }
    }

    private static String readAnswer(InputStream in) throws IOException {
        ByteArrayOutputStream answer = new ByteArrayOutputStream();
        byte[] buffer = new byte[8192];
        try {
            for (int n; (n = in.read(buffer)) >= 0; ) {
                answer.write(buffer, 0, n);
                String text = answer.toString(StandardCharsets.ISO_8859_1);
                int headerEnd = text.indexOf("\r\n\r\n");
                int length = contentLength(text);
                if (headerEnd >= 0 && length >= 0 && answer.size() >= headerEnd + 4 + length) {
                    break;
                }
            }
        } catch (IOException e) {
            if (answer.size() == 0) {
                throw e;
            }
        }
        return answer.toString(StandardCharsets.ISO_8859_1);
    }

    private static int contentLength(String head) {
        for (String line : head.split("\r\n")) {
            if (line.toLowerCase().startsWith("content-length:")) {
                return Integer.parseInt(line.substring(15).trim());
            }
        }
        return -1;
    }

    private static int status(String answer) {
        assertTrue(answer.startsWith("HTTP/1.1 "), "an HTTP answer: " + answer);
        return Integer.parseInt(answer.substring(9, 12));
    }

    private static JsonNode body(String answer) throws IOException {
        return MAPPER.readTree(answer.substring(answer.indexOf("\r\n\r\n") + 4));
    }

    /** True once the server has closed this socket (reads EOF or reset within the wait). */
    private static boolean closedByServer(Socket s, Duration wait) {
        try {
            s.setSoTimeout((int) wait.toMillis());
            InputStream in = s.getInputStream();
            while (in.read() >= 0) {
                // an error answer may come before the close
            }
            return true;
        } catch (SocketTimeoutException e) {
            return false;
        } catch (IOException e) {
            return true;
        }
    }

    // ---- the ONOS resource: paths, codecs and errors ----------------------------------------------

    @Test
    void servesTheOnosPathsThroughTheSameResource() throws Exception {
        start(RestLimits.DEFAULTS);
        Reply dcs = get("datacenters");
        assertEquals(200, dcs.status);
        assertEquals("of:000000000000000a", dcs.body.path("dataCenters").get(0).path("pe").asText());
        Reply servers = get("servers");
        assertEquals("dcA", servers.body.path("servers").get(0).path("location").asText());
        assertEquals(0, get("migrations").body.path("migrations").size());

        Reply started = post("migrations", "{\"server\":\"vs1\",\"destination\":\"dcB\"}");
        assertEquals(201, started.status, started.body.toString());
        long id = started.body.path("id").asLong();
        assertEquals("dcB", started.body.path("destination").asText());
        assertEquals(id, get("migrations/" + id).body.path("id").asLong());
        Reply rules = get("migrations/" + id + "/rules");
        assertEquals(200, rules.status, rules.body.toString());
        assertTrue(rules.body.path("tunnel").size() > 0, rules.body.toString());
        assertEquals(id, get("servers").body.path("servers").get(0).path("migration").asLong());

        Reply aborted = post("migrations/" + id + "/abort", "");
        assertEquals(200, aborted.status, aborted.body.toString());
        assertEquals("ROLLED_BACK", aborted.body.path("state").asText());
    }

    @Test
    void errorsNameTheFieldAsOnOnos() throws Exception {
        start(RestLimits.DEFAULTS);
        assertError(post("migrations", "{\"server\":\"vs1\"}"), 400, "destination");
        assertError(post("migrations", "{\"server\":\"vs1\",\"destination\":\"dcB\",\"speed\":9}"), 400, "speed");
        assertError(post("migrations", "{\"server\":"), 400, "body");
        assertError(get("migrations/abc"), 400, "id");
        assertError(get("migrations/42"), 404, "id");
        assertError(post("migrations", "{\"server\":\"nope\",\"destination\":\"dcB\"}"), 404, "server");
        assertError(get("no-such-thing"), 404, "path");
        HttpResponse<String> put = http.send(HttpRequest.newBuilder(uri("migrations")).header("Authorization", BASIC)
                .PUT(HttpRequest.BodyPublishers.ofString("{}")).build(), HttpResponse.BodyHandlers.ofString());
        assertEquals(405, put.statusCode(), put.body());
        assertTrue(put.headers().firstValue("Allow").orElse("").contains("POST"), put.headers().toString());
        assertFalse(MAPPER.readTree(put.body()).path("error").asText().isBlank(), put.body());

        assertEquals(201, post("migrations", "{\"server\":\"vs1\",\"destination\":\"dcB\"}").status);
        assertError(post("migrations", "{\"server\":\"vs1\",\"destination\":\"dcB\"}"), 409, "server");
        assertError(post("migrations/1/hypervisor", "{\"status\":\"done\"}"), 400, "status");
    }

    @Test
    void disconnectedPeIs503() throws Exception {
        start(RestLimits.DEFAULTS);
        network.down.add(DeviceId.deviceId("of:000000000000000b"));
        assertError(post("migrations", "{\"server\":\"vs1\",\"destination\":\"dcB\"}"), 503, null);
    }

    @Test
    void servesTheRuntimesOwnResourcesBeside() throws Exception {
        start(RestLimits.DEFAULTS, new EmbeddedWebResource(
                () -> MAPPER.createObjectNode().put("devices", "d"), () -> MAPPER.createObjectNode().put("flows", "f")));
        assertEquals("d", get("devices").body.path("devices").asText());
        assertEquals("f", get("flows").body.path("flows").asText());
        assertEquals(200, get("migrations").status, "the ONOS resource still answers beside it");
    }

    // ---- auth ----------------------------------------------------------------------------------

    @Test
    void refusesWithoutValidCredentialsAndAcceptsBasicOrBearer() throws Exception {
        start(RestLimits.DEFAULTS);
        HttpRequest.Builder servers = HttpRequest.newBuilder(uri("servers"));
        Reply none = send(servers, null);
        assertError(none, 401, null);
        HttpResponse<String> raw = http.send(HttpRequest.newBuilder(uri("servers")).build(),
                HttpResponse.BodyHandlers.ofString());
        assertTrue(raw.headers().firstValue("WWW-Authenticate").orElse("").startsWith("Basic"));
        String wrongPassword = "Basic " + Base64.getEncoder().encodeToString("onos:rock".getBytes(StandardCharsets.UTF_8));
        assertError(send(HttpRequest.newBuilder(uri("servers")), wrongPassword), 401, null);
        assertError(send(HttpRequest.newBuilder(uri("servers")), "Bearer " + TOKEN + "x"), 401, null);
        assertError(send(HttpRequest.newBuilder(uri("servers")), "Basic !!!not-base64"), 401, null);
        assertError(send(HttpRequest.newBuilder(uri("servers")), TOKEN), 401, null);

        assertEquals(200, send(HttpRequest.newBuilder(uri("servers")), BASIC).status);
        assertEquals(200, send(HttpRequest.newBuilder(uri("servers")), "Bearer " + TOKEN).status);
        assertEquals(200, send(HttpRequest.newBuilder(uri("servers")), "bearer " + TOKEN).status, "schemes ignore case");

        // refused before anything runs: an unauthenticated POST starts nothing
        assertError(send(HttpRequest.newBuilder(uri("migrations")).header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString("{\"server\":\"vs1\",\"destination\":\"dcB\"}")), null), 401, null);
        assertTrue(manager.migrations().isEmpty());
        assertError(send(HttpRequest.newBuilder(uri("no-such-thing")), null), 401, null);
    }

    @Test
    void withoutATokenOnlyBasicAuthIsAccepted() {
        CredentialsFilter basicOnly = new CredentialsFilter("onos", "rocks", null);
        assertTrue(basicOnly.accepts(BASIC));
        assertFalse(basicOnly.accepts("Bearer "));
        assertFalse(basicOnly.accepts("Bearer null"));
        assertFalse(basicOnly.accepts(null));
        assertFalse(basicOnly.accepts("Basic"));
    }

    // ---- limits --------------------------------------------------------------------------------

    @Test
    void oversizedHeaderIs431() throws Exception {
        start(RestLimits.DEFAULTS.withSizes(4096, 1024));
        String answer = raw("GET /onos/wanmig/servers HTTP/1.1\r\nHost: x\r\nAuthorization: " + BASIC
                + "\r\nX-Pad: " + "a".repeat(8000) + "\r\n\r\n", null);
        assertEquals(431, status(answer), answer);
        assertEquals("header", body(answer).path("field").asText(), answer);
        assertEquals(200, get("servers").status, "the server goes on");
    }

    @Test
    void oversizedBodyIs413WithContentLengthOrChunked() throws Exception {
        start(RestLimits.DEFAULTS.withSizes(8192, 1024));
        // refused on the announced length, before the body is read (Jetty dispatches on its first bytes)
        String declared = raw("POST /onos/wanmig/migrations HTTP/1.1\r\nHost: x\r\nAuthorization: " + BASIC
                + "\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n",
                "{".repeat(1000).getBytes(StandardCharsets.ISO_8859_1));
        assertEquals(413, status(declared), declared);
        assertEquals("body", body(declared).path("field").asText());
        String expecting = raw("POST /onos/wanmig/migrations HTTP/1.1\r\nHost: x\r\nAuthorization: " + BASIC
                + "\r\nContent-Type: application/json\r\nContent-Length: 100000\r\nExpect: 100-continue\r\n\r\n",
                null);
        assertEquals(413, status(expecting), "no body sent at all: " + expecting);

        StringBuilder chunked = new StringBuilder();
        String json = "{\"server\":\"vs1\",\"destination\":\"dcB\",\"pad\":\"" + "a".repeat(2000) + "\"}";
        chunked.append(Integer.toHexString(json.length())).append("\r\n").append(json).append("\r\n0\r\n\r\n");
        String streamed = raw("POST /onos/wanmig/migrations HTTP/1.1\r\nHost: x\r\nAuthorization: " + BASIC
                + "\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n" + chunked, null);
        assertEquals(413, status(streamed), streamed);
        assertEquals("body", body(streamed).path("field").asText());
        assertTrue(manager.migrations().isEmpty(), "nothing started from a cut body");
        assertEquals(201, post("migrations", "{\"server\":\"vs1\",\"destination\":\"dcB\"}").status,
                "a body within the limit is served");
    }

    @Test
    void ambiguousPathsAreRefusedNotDecoded() throws Exception {
        start(RestLimits.DEFAULTS);
        for (String path : List.of("/onos/wanmig/migrations/..%2Fservers", "/onos/wanmig/migrations%2F1",
                "/onos/wanmig/servers/../migrations", "/onos/wanmig//servers", "/onos/wanmig/servers;x=1",
                "/onos/wanmig/%73ervers")) {
            String answer = raw("GET " + path + " HTTP/1.1\r\nHost: x\r\nAuthorization: " + BASIC
                    + "\r\nConnection: close\r\n\r\n", null);
            assertEquals(400, status(answer), path + " -> " + answer);
        }
        assertEquals(200, get("servers").status);
    }

    @Test
    void aConnectionThatNeverCompletesItsHeaderIsClosed() throws Exception {
        start(RestLimits.DEFAULTS.withTimeouts(Duration.ofSeconds(1), Duration.ofSeconds(1), Duration.ofSeconds(30)));
        Socket slow = connect();
        OutputStream out = slow.getOutputStream();
        AtomicBoolean closed = new AtomicBoolean();
        // one byte every 100 ms keeps Jetty's idle timeout (30 s) from ever firing
        CompletableFuture<Integer> sent = CompletableFuture.supplyAsync(() -> {
            int n = 0;
            try {
                byte[] header = ("GET /onos/wanmig/servers HTTP/1.1\r\nX-Slow: " + "a".repeat(600))
                        .getBytes(StandardCharsets.ISO_8859_1);
                for (; n < header.length && !closed.get(); n++) {
                    out.write(header[n]);
                    out.flush();
                    Thread.sleep(100);
                }
            } catch (IOException | InterruptedException e) {
                // the server closed the connection
            }
            return n;
        }, pool);
        assertTrue(closedByServer(slow, Duration.ofSeconds(30)), "the slow header's connection is closed");
        closed.set(true);
        int bytesSent = sent.get(30, TimeUnit.SECONDS);
        assertTrue(bytesSent < 600, "closed before the header was complete: " + bytesSent);

        Socket slowBody = connect();
        slowBody.getOutputStream().write(("POST /onos/wanmig/migrations HTTP/1.1\r\nHost: x\r\nAuthorization: "
                + BASIC + "\r\nContent-Type: application/json\r\nContent-Length: 500\r\n\r\n{").getBytes(
                StandardCharsets.ISO_8859_1));
        assertTrue(closedByServer(slowBody, Duration.ofSeconds(30)), "a body that never arrives ends its connection");
        assertTrue(manager.migrations().isEmpty());
        assertEquals(200, get("servers").status);
    }

    /**
     * 50 connections send half a request byte by byte, 5 more pipeline requests and never read the
     * answers (until the server's writes to them block): a normal request is still answered while
     * they all hold their connections.
     */
    @Test
    void slowClientFloodDoesNotStopANormalRequest() throws Exception {
        // header deadline past the test's length: the flood must still be on when the normal request runs
        start(RestLimits.DEFAULTS.withTimeouts(Duration.ofSeconds(60), Duration.ofSeconds(30), Duration.ofSeconds(30)));
        AtomicBoolean flooding = new AtomicBoolean(true);
        AtomicInteger slowOpen = new AtomicInteger();
        CountDownLatch allConnected = new CountDownLatch(55);
        byte[] half = ("POST /onos/wanmig/migrations HTTP/1.1\r\nHost: x\r\nAuthorization: " + BASIC
                + "\r\nX-Slow: " + "b".repeat(400)).getBytes(StandardCharsets.ISO_8859_1);
        List<Socket> slow = new ArrayList<>();
        for (int i = 0; i < 50; i++) {
            Socket s = connect();
            slow.add(s);
            pool.execute(() -> {
                try {
                    OutputStream out = s.getOutputStream();
                    slowOpen.incrementAndGet();
                    allConnected.countDown();
                    for (int n = 0; n < half.length && flooding.get(); n++) {
                        out.write(half[n]);
                        out.flush();
                        Thread.sleep(100); // ~50 s for the half request: longer than this test
                    }
                } catch (IOException | InterruptedException e) {
                    // closed by the server or by the test
                } finally {
                    slowOpen.decrementAndGet();
                }
            });
        }
        byte[] pipelined = ("GET /onos/wanmig/datacenters HTTP/1.1\r\nHost: x\r\nAuthorization: " + BASIC
                + "\r\n\r\n").repeat(200).getBytes(StandardCharsets.ISO_8859_1);
        AtomicLongArray lastProgress = new AtomicLongArray(5);
        for (int i = 0; i < 5; i++) {
            Socket s = new Socket();
            s.setReceiveBufferSize(2048); // answers pile up on the server's side
            s.connect(new java.net.InetSocketAddress("127.0.0.1", server.port()));
            sockets.add(s);
            int index = i;
            lastProgress.set(index, System.nanoTime());
            pool.execute(() -> {
                allConnected.countDown();
                try {
                    OutputStream out = s.getOutputStream();
                    while (flooding.get()) {
                        out.write(pipelined); // blocks once the server stops reading (its answers unread)
                        lastProgress.set(index, System.nanoTime());
                    }
                } catch (IOException e) {
                    // closed
                }
            });
        }
        assertTrue(allConnected.await(10, TimeUnit.SECONDS));
        // the flood is under way: a non-reader stalls once the server's writes to it block
        long stallNanos = TimeUnit.SECONDS.toNanos(1);
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
        boolean stalled = false;
        while (!stalled && System.nanoTime() < deadline) {
            Thread.sleep(100);
            for (int i = 0; i < 5; i++) {
                stalled |= System.nanoTime() - lastProgress.get(i) > stallNanos;
            }
        }
        assertTrue(stalled, "a client that never reads makes the server stop reading it");

        Reply normal = get("servers");
        assertEquals(200, normal.status);
        assertEquals("vs1", normal.body.path("servers").get(0).path("name").asText());
        Reply started = post("migrations", "{\"server\":\"vs1\",\"destination\":\"dcB\"}");
        assertEquals(201, started.status, started.body.toString());

        // ... and the flood was still going on when they were answered
        assertTrue(slowOpen.get() >= 45, "slow senders still sending: " + slowOpen.get());
        assertTrue(slow.stream().filter(s -> !closedByServer(s, Duration.ofMillis(1))).count() >= 45,
                "slow connections still open");
        flooding.set(false);
    }

    @Test
    void connectionLimitWithHeaderDeadlineLetsANormalRequestThrough() throws Exception {
        start(RestLimits.DEFAULTS.withMaxConnections(20)
                .withTimeouts(Duration.ofSeconds(1), Duration.ofSeconds(1), Duration.ofSeconds(30)));
        List<Socket> idle = new ArrayList<>();
        for (int i = 0; i < 20; i++) {
            Socket s = connect();
            s.getOutputStream().write('G'); // started, never finished
            idle.add(s);
        }
        Thread.sleep(200);
        Reply normal = get("servers"); // waits in the accept queue until deadlines free a slot
        assertEquals(200, normal.status);
        assertTrue(closedByServer(idle.get(0), Duration.ofSeconds(10)), "idle header connections are closed");
    }

    /** A resource that holds its thread until released, to fill the request share of the pool. */
    @Path("")
    public static final class Blocking {
        final CountDownLatch entered = new CountDownLatch(4);
        final CountDownLatch release = new CountDownLatch(1);

        @GET
        @Path("block")
        @Produces(MediaType.APPLICATION_JSON)
        public String block() throws InterruptedException {
            entered.countDown();
            release.await(30, TimeUnit.SECONDS);
            return "{}";
        }
    }

    @Test
    void requestsBeyondTheirShareOfThePoolGet503AtOnceAndTheServerStaysUp() throws Exception {
        Blocking blocking = new Blocking();
        start(RestLimits.DEFAULTS.withThreads(8, 2), blocking); // 8 - 2 I/O - 2 reserved = 4 for requests
        assertEquals(4, RestLimits.DEFAULTS.withThreads(8, 2).maxConcurrentRequests());
        List<CompletableFuture<HttpResponse<String>>> held = new ArrayList<>();
        for (int i = 0; i < 4; i++) {
            held.add(http.sendAsync(HttpRequest.newBuilder(uri("block")).header("Authorization", BASIC)
                    .timeout(Duration.ofSeconds(30)).build(), HttpResponse.BodyHandlers.ofString()));
        }
        assertTrue(blocking.entered.await(10, TimeUnit.SECONDS), "4 requests hold their threads");

        Reply busy = get("servers");
        assertError(busy, 503, null);
        blocking.release.countDown();
        for (CompletableFuture<HttpResponse<String>> h : held) {
            assertEquals(200, h.get(30, TimeUnit.SECONDS).statusCode());
        }
        assertEquals(200, get("servers").status, "served again once the share is free");
    }
}
