package org.wanmig.replication;

import org.junit.jupiter.api.Assertions;
import org.wanmig.replication.agent.Agent;
import org.wanmig.replication.agent.AgentConfig;
import org.wanmig.replication.bench.LinkProxy;
import org.wanmig.replication.core.Role;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.function.BooleanSupplier;

/**
 * Two agents on loopback (A primary, B replica of disk vs1), each reaching the other only through a
 * LinkProxy the test controls: ab carries A's stream to B, ba carries B's stream to A.
 */
final class AgentPair implements AutoCloseable {
    static final String TOKEN = "test-token-0123456789";
    static final String PSK = "pre-shared-key-for-tests-0123456789";
    static final String DISK = "vs1";

    final Path dir;
    final LinkProxy ab;
    final LinkProxy ba;
    Agent a;
    Agent b;
    private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

    AgentPair(Path dir, long size) throws IOException {
        this(dir, size, PSK, PSK);
    }

    AgentPair(Path dir, long size, String pskA, String pskB) throws IOException {
        this.dir = dir;
        ab = new LinkProxy(new InetSocketAddress("127.0.0.1", 0), null);
        ba = new LinkProxy(new InetSocketAddress("127.0.0.1", 0), null);
        Files.createDirectories(dir.resolve("a"));
        Files.createDirectories(dir.resolve("b"));
        a = new Agent(config(dir.resolve("a"), size, Role.PRIMARY, ab.port(), pskA));
        b = new Agent(config(dir.resolve("b"), size, Role.REPLICA, ba.port(), pskB));
        ab.target(new InetSocketAddress("127.0.0.1", b.peerPort()));
        ba.target(new InetSocketAddress("127.0.0.1", a.peerPort()));
    }

    /** Agents whose configuration the test adjusts (TLS, limits); psk is set by the customizer if wanted. */
    AgentPair(Path dir, long size, java.util.function.Consumer<AgentConfig.Builder> customA,
              java.util.function.Consumer<AgentConfig.Builder> customB) throws IOException {
        this.dir = dir;
        ab = new LinkProxy(new InetSocketAddress("127.0.0.1", 0), null);
        ba = new LinkProxy(new InetSocketAddress("127.0.0.1", 0), null);
        Files.createDirectories(dir.resolve("a"));
        Files.createDirectories(dir.resolve("b"));
        AgentConfig.Builder ca = builder(dir.resolve("a"), size, Role.PRIMARY, ab.port());
        customA.accept(ca);
        AgentConfig.Builder cb = builder(dir.resolve("b"), size, Role.REPLICA, ba.port());
        customB.accept(cb);
        a = new Agent(ca.build());
        b = new Agent(cb.build());
        ab.target(new InetSocketAddress("127.0.0.1", b.peerPort()));
        ba.target(new InetSocketAddress("127.0.0.1", a.peerPort()));
    }

    static AgentConfig.Builder builder(Path d, long size, Role role, int peerPort) {
        return new AgentConfig.Builder()
                .nbdListen("127.0.0.1:0").peerListen("127.0.0.1:0").controlListen("127.0.0.1:0")
                .peerAddress("127.0.0.1:" + peerPort).token(TOKEN)
                .disk(DISK, d.resolve("vs1.img"), size, role);
    }

    static AgentConfig config(Path d, long size, Role role, int peerPort, String psk) {
        return new AgentConfig.Builder()
                .nbdListen("127.0.0.1:0").peerListen("127.0.0.1:0").controlListen("127.0.0.1:0")
                .peerAddress("127.0.0.1:" + peerPort).token(TOKEN).psk(psk)
                .disk(DISK, d.resolve("vs1.img"), size, role).build();
    }

    Path imageA() { return dir.resolve("a/vs1.img"); }
    Path imageB() { return dir.resolve("b/vs1.img"); }

    static String url(Agent x) {
        return "nbd://127.0.0.1:" + x.nbdPort() + "/" + DISK;
    }

    /** (status code, body) of an authenticated control call. */
    String[] call(Agent x, String method, String path, String body) throws IOException, InterruptedException {
        HttpRequest.Builder rb = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + x.controlPort() + path))
                .timeout(Duration.ofSeconds(60)).header("Authorization", "Bearer " + TOKEN);
        rb = body == null ? rb.method(method, HttpRequest.BodyPublishers.noBody())
                : rb.method(method, HttpRequest.BodyPublishers.ofString(body));
        HttpResponse<String> r = http.send(rb.build(), HttpResponse.BodyHandlers.ofString());
        return new String[]{Integer.toString(r.statusCode()), r.body()};
    }

    String ok(Agent x, String method, String path, String body) throws IOException, InterruptedException {
        String[] r = call(x, method, path, body);
        Assertions.assertEquals("200", r[0], method + " " + path + " -> " + r[1]);
        return r[1];
    }

    /** SYNC + wait-sync at A: afterwards B must be byte-identical. */
    void syncUp(Agent primary) throws IOException, InterruptedException {
        ok(primary, "POST", "/v1/disks/vs1/mode", "{\"mode\":\"SYNC\"}");
        ok(primary, "POST", "/v1/disks/vs1/wait-sync", "{\"timeoutMs\":30000}");
    }

    static void await(String what, long timeoutMs, BooleanSupplier cond) throws InterruptedException {
        long deadline = System.currentTimeMillis() + timeoutMs;
        while (!cond.getAsBoolean()) {
            if (System.currentTimeMillis() > deadline) {
                Assertions.fail("timed out waiting for " + what);
            }
            Thread.sleep(20);
        }
    }

    static void assertSameBytes(Path x, Path y) throws IOException {
        byte[] bx = Files.readAllBytes(x);
        byte[] by = Files.readAllBytes(y);
        Assertions.assertEquals(bx.length, by.length, "image sizes differ");
        for (int i = 0; i < bx.length; i++) {
            if (bx[i] != by[i]) {
                Assertions.fail("images differ first at byte " + i + ": " + bx[i] + " vs " + by[i]);
            }
        }
    }

    @Override
    public void close() {
        if (a != null) {
            a.close();
        }
        if (b != null) {
            b.close();
        }
        ab.close();
        ba.close();
    }
}
