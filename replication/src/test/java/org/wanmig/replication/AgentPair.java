package org.wanmig.replication;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.junit.jupiter.api.Assertions;
import org.onosproject.core.DefaultApplicationId;
import org.onosproject.net.DeviceId;
import org.onosproject.net.flow.FlowRule;
import org.wanmig.config.WanTopology;
import org.wanmig.config.WanTopologyParser;
import org.wanmig.drivers.AgentReplicationClient;
import org.wanmig.drivers.HypervisorDrivers;
import org.wanmig.lifecycle.MigrationManager;
import org.wanmig.replication.agent.Agent;
import org.wanmig.replication.agent.AgentConfig;
import org.wanmig.replication.bench.LinkProxy;
import org.wanmig.replication.core.Role;
import org.wanmig.spi.Leadership;
import org.wanmig.spi.NetworkProgrammer;
import org.wanmig.store.InMemoryMigrationStore;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.Arrays;
import java.util.Collection;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.function.BooleanSupplier;

/**
 * Two agents on loopback (A primary, B replica of disk vs1), each reaching the other only through a
 * LinkProxy the test controls: ab carries A's stream to B, ba carries B's stream to A. Also the
 * steps several tests share: bring the pair in sync and then partition it, and the MMS's view of
 * the pair (a topology with A in dcA and B in dcB, a MigrationManager steering both agents).
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

    static byte[] pattern(int b, int len) {
        byte[] d = new byte[len];
        Arrays.fill(d, (byte) b);
        return d;
    }

    /**
     * The start of every failover story: A writes 1 MiB of 0x11, B gets it (SYNC + wait-sync), A
     * returns to ASYNC, then A's data center drops off the WAN (both directions cut) and both
     * agents have noticed.
     */
    void syncedThenPartitioned() throws IOException, InterruptedException {
        try (NbdTestClient c = new NbdTestClient(a.nbdPort(), DISK)) {
            Assertions.assertEquals(0, c.write(0, pattern(0x11, 1 << 20)));
        }
        syncUp(a);
        ok(a, "POST", "/v1/disks/vs1/mode", "{\"mode\":\"ASYNC\"}");
        ab.cut();
        ba.cut();
        await("A's link down", 10_000, () -> !a.disk(DISK).isLinkUp());
        await("B's session down", 10_000, () -> !b.disk(DISK).sessionUp());
    }

    /** The MMS's topology: server vs1 in dcA, whose agent is A; dcB's agent is B. */
    WanTopology topology(int prepareTimeoutSeconds) throws IOException {
        ObjectNode cfg = (ObjectNode) new ObjectMapper().readTree(String.join("\n",
                "{ \"dataCenters\": [",
                "  { \"name\": \"dcA\", \"pe\": \"of:000000000000000a\", \"wanPorts\": [1], \"serverPorts\": [2],",
                "    \"agent\": \"http://127.0.0.1:" + a.controlPort() + "\", \"agentToken\": \"" + TOKEN + "\" },",
                "  { \"name\": \"dcB\", \"pe\": \"of:000000000000000b\", \"wanPorts\": [1], \"serverPorts\": [2],",
                "    \"agent\": \"http://127.0.0.1:" + b.controlPort() + "\", \"agentToken\": \"" + TOKEN + "\" } ],",
                "  \"wanSwitches\": [\"of:0000000000000001\"],",
                "  \"links\": [ { \"one\": \"of:0000000000000001/2\", \"two\": \"of:000000000000000a/1\" },",
                "             { \"one\": \"of:0000000000000001/3\", \"two\": \"of:000000000000000b/1\" } ],",
                "  \"clientSites\": [ { \"name\": \"site1\", \"switch\": \"of:0000000000000001\", \"port\": 1,",
                "    \"prefixes\": [\"10.0.1.0/24\"], \"gateway\": \"10.0.1.254\", \"mac\": \"00:00:00:00:01:01\" } ],",
                "  \"servers\": [ { \"name\": \"vs1\", \"ip\": \"10.2.0.10\", \"mac\": \"00:00:00:00:02:10\",",
                "    \"gateway\": \"10.2.0.254\", \"dc\": \"dcA\", \"port\": 2 } ],",
                "  \"migration\": { \"drainSeconds\": 0.1, \"prepareTimeoutSeconds\": " + prepareTimeoutSeconds + " } }"));
        return WanTopologyParser.parse(cfg);
    }

    /** Switches that confirm every rule at once: these tests are about storage. */
    private static final NetworkProgrammer SWITCHES = new NetworkProgrammer() {
        @Override
        public CompletableFuture<Void> install(Collection<FlowRule> rules) {
            return CompletableFuture.completedFuture(null);
        }

        @Override
        public CompletableFuture<Void> remove(Collection<FlowRule> rules) {
            return CompletableFuture.completedFuture(null);
        }

        @Override
        public CompletableFuture<List<FlowRule>> read(DeviceId device) {
            return CompletableFuture.completedFuture(List.of());
        }

        @Override
        public boolean isAvailable(DeviceId device) {
            return true;
        }
    };

    /** A standalone MMS over the topology, steering both agents through its replication client; not yet leading. */
    static MigrationManager migrationManager(WanTopology t) {
        return new MigrationManager(t, new DefaultApplicationId(1, "org.wanmig.app"), SWITCHES,
                new HypervisorDrivers(URI.create("http://127.0.0.1/unused")), new AgentReplicationClient(),
                new InMemoryMigrationStore(), Leadership.STANDALONE, Clock.systemUTC());
    }

    /** The same with {@code hypervisor} for every server. */
    static MigrationManager migrationManager(WanTopology t, org.wanmig.spi.HypervisorDriver hypervisor) {
        return new MigrationManager(t, new DefaultApplicationId(1, "org.wanmig.app"), SWITCHES,
                x -> hypervisor, new AgentReplicationClient(),
                new InMemoryMigrationStore(), Leadership.STANDALONE, Clock.systemUTC());
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
