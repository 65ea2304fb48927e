package org.wanmig.replication;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.InputStream;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The control API under hostile or slow clients: starvation, deep/trailing JSON, %2F, deadlines, limits. */
@Timeout(120)
class ControlApiHardeningTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path dir;

    private static Socket raw(int port, String text) throws IOException {
        Socket s = new Socket("127.0.0.1", port);
        s.setSoTimeout(20_000);
        s.getOutputStream().write(text.getBytes(StandardCharsets.US_ASCII));
        s.getOutputStream().flush();
        return s;
    }

    private static boolean closedByServer(Socket s) {
        try {
            InputStream in = s.getInputStream();
            byte[] b = new byte[1024];
            while (in.read(b) >= 0) {
                // an error response, discard
            }
            return true;
        } catch (SocketTimeoutException e) {
            return false;
        } catch (IOException e) {
            return true;
        }
    }

    @Test
    void slowClientsAndLongWaitsDoNotStarveStatus() throws Exception {
        try (AgentPair p = new AgentPair(dir, 4 << 20)) {
            int port = p.a.controlPort();
            String auth = "Authorization: Bearer " + AgentPair.TOKEN + "\r\n";
            p.ok(p.a, "POST", "/v1/disks/vs1/mode", "{\"mode\":\"SYNC\"}");
            p.ab.cut(); // wait-sync cannot succeed now
            AgentPair.await("link down", 10_000, () -> !p.a.disk("vs1").isLinkUp());
            int n = 16;
            List<Socket> slow = new ArrayList<>();
            for (int i = 0; i < n; i++) {
                // half a request line/header, and a complete header with half its body
                slow.add(raw(port, "POST /v1/disks/vs1/mode HTTP/1.1\r\nHost: x\r\nAuthoriz"));
                slow.add(raw(port, "POST /v1/disks/vs1/mode HTTP/1.1\r\nHost: x\r\n" + auth
                        + "Content-Type: application/json\r\nContent-Length: 40\r\n\r\n{\"mo"));
            }
            HttpClient c = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
            List<CompletableFuture<HttpResponse<String>>> waits = new ArrayList<>();
            for (int i = 0; i < n; i++) {
                waits.add(c.sendAsync(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port
                        + "/v1/disks/vs1/wait-sync")).header("Authorization", "Bearer " + AgentPair.TOKEN)
                        .timeout(Duration.ofSeconds(60))
                        .POST(HttpRequest.BodyPublishers.ofString("{\"timeoutMs\":15000}")).build(),
                        HttpResponse.BodyHandlers.ofString()));
            }
            AgentPair.await("wait-syncs in progress", 10_000, () -> Thread.getAllStackTraces().keySet().stream()
                    .filter(t -> t.getName().startsWith("control-wait")).count() >= n);
            String[] s = p.call(p.a, "GET", "/v1/disks/vs1", null);
            assertEquals("200", s[0], s[1]);
            String[] m = p.call(p.a, "GET", "/metrics", null);
            assertEquals("200", m[0]);
            for (CompletableFuture<HttpResponse<String>> w : waits) {
                assertFalse(w.isDone(), "status was answered only after a wait-sync ended");
            }
            for (Socket x : slow) {
                x.close();
            }
            p.ab.restore();
            for (CompletableFuture<HttpResponse<String>> w : waits) {
                int code = w.get().statusCode();
                assertTrue(code == 200 || code == 408, "wait-sync answered " + code);
            }
        }
    }

    @Test
    void nestedAndTrailingJsonAndOversizedBodies() throws Exception {
        try (AgentPair p = new AgentPair(dir, 4 << 20)) {
            String deep = "[".repeat(20_000);
            String[] r = p.call(p.a, "POST", "/v1/disks/vs1/mode", deep);
            assertEquals("400", r[0], r[1]);
            assertEquals("mode", JSON.readTree(r[1]).get("field").asText());
            r = p.call(p.a, "POST", "/v1/disks/vs1/promote", "{\"force\":" + "{\"a\":".repeat(20_000));
            assertEquals("400", r[0], r[1]);
            r = p.call(p.a, "POST", "/v1/disks/vs1/wait-sync", "{\"timeoutMs\":" + "[".repeat(10_000) + "1"
                    + "]".repeat(10_000) + "}");
            assertEquals("400", r[0], r[1]);
            for (String body : new String[]{"{\"mode\":\"SYNC\"}{\"mode\":\"ASYNC\"}", "{\"mode\":\"SYNC\"} x",
                "{\"mode\":\"SYNC\"}]", "{\"mode\":\"SYNC\"} 1"}) {
                r = p.call(p.a, "POST", "/v1/disks/vs1/mode", body);
                assertEquals("400", r[0], body + " -> " + r[1]);
                assertEquals("mode", JSON.readTree(r[1]).get("field").asText());
            }
            assertEquals("ASYNC", p.a.disk("vs1").mode().name(), "a body with trailing junk was acted on");
            r = p.call(p.a, "POST", "/v1/disks/vs1/mode", "{\"mode\":\"" + "x".repeat(70_000) + "\"}");
            assertEquals("400", r[0], r[1]);
            // whitespace after the object is fine; the agent still answers normally
            JsonNode ok = JSON.readTree(p.ok(p.a, "POST", "/v1/disks/vs1/mode", "{\"mode\":\"SYNC\"}\n "));
            assertEquals("SYNC", ok.get("mode").asText());
        }
    }

    @Test
    void aBodyTooLargeIsReadToItsEndBeforeTheAnswerSoTheClientGetsIt() throws Exception {
        try (AgentPair p = new AgentPair(dir, 4 << 20)) {
            int size = 200_000;
            try (Socket s = raw(p.a.controlPort(), "POST /v1/disks/vs1/mode HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "
                    + AgentPair.TOKEN + "\r\nContent-Type: application/json\r\nContent-Length: " + size + "\r\n\r\n")) {
                byte[] part = "x".repeat(size / 4).getBytes(StandardCharsets.US_ASCII);
                s.getOutputStream().write(part);
                s.getOutputStream().flush();
                // answered (and closed) now, the rest we send would reset the connection under the answer
                s.setSoTimeout(500);
                try {
                    int b = s.getInputStream().read();
                    throw new AssertionError("answered before the body was in (first byte " + b + ")");
                } catch (SocketTimeoutException expected) {
                    // still reading the body
                }
                for (int i = 1; i < 4; i++) {
                    s.getOutputStream().write(part);
                }
                s.getOutputStream().flush();
                s.setSoTimeout(20_000);
                StringBuilder answer = new StringBuilder();
                byte[] b = new byte[4096];
                for (int n; !answer.toString().endsWith("}") && (n = s.getInputStream().read(b)) > 0; ) {
                    answer.append(new String(b, 0, n, StandardCharsets.UTF_8));   // kept alive: read the one answer
                }
                assertTrue(answer.toString().startsWith("HTTP/1.1 400"), answer.toString());
                assertTrue(answer.toString().contains("request body too large"), answer.toString());
            }
            assertEquals("ASYNC", p.a.disk("vs1").mode().name());
            // over the drained size: answered at once, without waiting for a byte of the body
            try (Socket s = raw(p.a.controlPort(), "POST /v1/disks/vs1/mode HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "
                    + AgentPair.TOKEN + "\r\nContent-Type: application/json\r\nContent-Length: " + (2 << 20) + "\r\n\r\n")) {
                s.getOutputStream().write(new byte[1024]);   // Jetty dispatches once some of the body is in
                s.getOutputStream().flush();
                s.setSoTimeout(10_000);
                byte[] b = new byte[12];
                int n = s.getInputStream().readNBytes(b, 0, b.length);
                assertEquals("HTTP/1.1 400", new String(b, 0, n, StandardCharsets.US_ASCII));
            }
        }
    }

    @Test
    void encodedSlashIsNotAPathSeparator() throws Exception {
        try (AgentPair p = new AgentPair(dir, 4 << 20)) {
            for (String path : new String[]{"/v1/disks/vs1%2Fdemote", "/v1/disks/vs1%2fdemote", "/v1%2Fdisks/vs1/demote",
                "/v1/disks/vs1%5Cdemote", "/v1/disks/x%2F..%2Fvs1/demote"}) {
                String[] r = p.call(p.a, "POST", path, "{}");
                assertEquals("400", r[0], path + " -> " + r[1]);
                assertTrue(JSON.readTree(r[1]).has("error"), r[1]);
            }
            assertEquals("400", p.call(p.a, "GET", "/v1/disks/vs1%2F", null)[0]);
            assertEquals("PRIMARY", p.a.disk("vs1").role().name(), "an encoded path demoted the disk");
            assertEquals("200", p.call(p.a, "GET", "/v1/disks/vs1", null)[0]);
            assertEquals("200", p.call(p.a, "GET", "/v1/disks/vs%31", null)[0], "plain percent-encoding still decodes");
        }
    }

    @Test
    void headerDeadlineConnectionLimitAndWaitsLongerThanIdle() throws Exception {
        try (AgentPair p = new AgentPair(dir, 4 << 20, a -> {
            a.psk(AgentPair.PSK);
            a.transport.maxControlConnections(6).handshakeTimeoutMs(1000).frameTimeoutMs(1000).controlIdleTimeoutMs(1000);
        }, b -> b.psk(AgentPair.PSK))) {
            int port = p.a.controlPort();
            List<Socket> held = new ArrayList<>();
            for (int i = 0; i < 6; i++) {
                held.add(raw(port, "GET /v1/disks HTTP/1.1\r\nHo"));
            }
            // the connection limit is reached; the status call is served once the header deadline
            // has closed the incomplete requests
            String[] r = p.call(p.a, "GET", "/v1/disks/vs1", null);
            assertEquals("200", r[0], r[1]);
            for (Socket s : held) {
                assertTrue(closedByServer(s), "incomplete header not closed by the deadline");
                s.close();
            }
            // a body that never completes is answered 408 by the body deadline
            try (Socket s = raw(port, "POST /v1/disks/vs1/mode HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "
                    + AgentPair.TOKEN + "\r\nContent-Length: 30\r\n\r\n{\"mo")) {
                byte[] b = s.getInputStream().readNBytes(12);
                assertEquals("HTTP/1.1 408", new String(b, StandardCharsets.US_ASCII));
            }
            // a wait-sync longer than the idle timeout still gets its answer
            p.ok(p.a, "POST", "/v1/disks/vs1/mode", "{\"mode\":\"SYNC\"}");
            p.ab.cut();
            AgentPair.await("link down", 10_000, () -> !p.a.disk("vs1").isLinkUp());
            String[] t = p.call(p.a, "POST", "/v1/disks/vs1/wait-sync", "{\"timeoutMs\":2500}");
            assertEquals("408", t[0], t[1]);
            assertEquals("timeout", JSON.readTree(t[1]).get("error").asText());
        }
    }
}
