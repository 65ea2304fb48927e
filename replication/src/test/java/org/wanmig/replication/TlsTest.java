package org.wanmig.replication;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.wanmig.replication.agent.AgentConfig;
import org.wanmig.replication.net.Tls;

import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.TrustManagerFactory;
import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyStore;
import java.time.Duration;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The peer link over TLS 1.3 with mutual certificate authentication (PEM on one side, keystores on
 * the other), refusals for a certificate from another CA and for no client certificate, and the
 * control API over HTTPS. Certificates come from scripts/gen-test-pki.
 */
@Timeout(180)
class TlsTest {
    @TempDir
    static Path pki;

    static Path ca1;
    static Path ca2;

    /** Runs scripts/gen-test-pki (openssl + keytool) twice: two unrelated CAs. */
    @BeforeAll
    static void generate() throws Exception {
        Tools.require("openssl");
        ca1 = pki.resolve("ca1");
        ca2 = pki.resolve("ca2");
        for (Path d : new Path[]{ca1, ca2}) {
            Process p = new ProcessBuilder(script().toString(), d.toString(), "agent-a", "agent-b", "intruder")
                    .redirectErrorStream(true).start();
            String out = new String(p.getInputStream().readAllBytes());
            assertTrue(p.waitFor(60, TimeUnit.SECONDS));
            assertEquals(0, p.exitValue(), out);
        }
    }

    static Path script() {
        Path s = Path.of("").toAbsolutePath().resolveSibling("scripts").resolve("gen-test-pki");
        if (!Files.isExecutable(s)) {
            s = Path.of("scripts/gen-test-pki").toAbsolutePath();
        }
        return s;
    }

    static void pem(AgentConfig.Builder b, Path ca, String name) {
        b.transport.tlsPem(ca.resolve(name + ".pem"), ca.resolve(name + ".key"), ca.resolve("ca.pem"));
    }

    static String password(Path ca) throws IOException {
        return Files.readString(ca.resolve("password")).trim();
    }

    @TempDir
    Path dir;

    @Test
    void replicationOverMutualTlsWithPemAndKeystores() throws Exception {
        String pw = password(ca1);
        try (AgentPair p = new AgentPair(dir, 8 << 20, a -> pem(a, ca1, "agent-a"),
                b -> b.transport.tlsKeystores(ca1.resolve("agent-b.p12"), pw, ca1.resolve("truststore.p12"), pw))) {
            Tools.qemuIo(AgentPair.url(p.a), "write -P 0x5a 0 1M", "write -P 0x11 3M 64k").ok();
            p.syncUp(p.a);
            AgentPair.assertSameBytes(p.imageA(), p.imageB());
            assertTrue(p.a.disk("vs1").isLinkUp());
        }
    }

    @Test
    void pskAndTlsTogether() throws Exception {
        try (AgentPair p = new AgentPair(dir, 4 << 20, a -> { pem(a, ca1, "agent-a"); a.psk(AgentPair.PSK); },
                b -> { pem(b, ca1, "agent-b"); b.psk(AgentPair.PSK); })) {
            Tools.qemuIo(AgentPair.url(p.a), "write -P 0x21 0 256k").ok();
            p.syncUp(p.a);
            AgentPair.assertSameBytes(p.imageA(), p.imageB());
        }
    }

    @Test
    void certificateFromAnotherCaOrNoCertificateIsRefused() throws Exception {
        try (AgentPair p = new AgentPair(dir, 4 << 20, a -> pem(a, ca2, "agent-a"), b -> pem(b, ca1, "agent-b"))) {
            // A's certificate is signed by another CA: no link ever comes up, B's image stays untouched
            Tools.qemuIo(AgentPair.url(p.a), "write -P 0x77 0 64k").ok();
            Thread.sleep(1500);
            assertFalse(p.a.disk("vs1").isLinkUp(), "link up with a certificate from an unknown CA");
            assertFalse(p.b.disk("vs1").sessionUp());

            int port = p.b.peerPort();
            // intruder with a valid certificate of the wrong CA
            SSLContext wrongCa = Tls.fromPem(ca2.resolve("intruder.pem"), ca2.resolve("intruder.key"),
                    ca1.resolve("ca.pem"));
            assertRefused(wrongCa, port);
            // a client that trusts the server but has no certificate at all
            assertRefused(trustingClient(ca1), port);
            // plain TCP (the PSK protocol) on a TLS port: no HELLO is ever understood
            try (Socket s = new Socket("127.0.0.1", port)) {
                s.setSoTimeout(10_000);
                s.getOutputStream().write(new byte[64]);
                assertTrue(closedByServer(s));
            }
            byte[] img = Files.readAllBytes(p.imageB());
            for (byte x : img) {
                assertEquals(0, x, "replica changed");
            }
        }
    }

    /** A TLS 1.3 client context that trusts {@code ca}'s truststore and has no certificate of its own. */
    private static SSLContext trustingClient(Path ca) throws Exception {
        KeyStore ts = KeyStore.getInstance("PKCS12");
        try (InputStream in = Files.newInputStream(ca.resolve("truststore.p12"))) {
            ts.load(in, password(ca).toCharArray());
        }
        TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
        tmf.init(ts);
        SSLContext ctx = SSLContext.getInstance("TLSv1.3");
        ctx.init(null, tmf.getTrustManagers(), null);
        return ctx;
    }

    private static void assertRefused(SSLContext ctx, int port) throws Exception {
        try (Socket raw = new Socket("127.0.0.1", port)) {
            raw.setSoTimeout(10_000);
            SSLSocket s = Tls.client(ctx, raw, "127.0.0.1", false);
            // TLS 1.3: the client finishes its side before the server checks the client certificate,
            // so the refusal may only show on the first read.
            assertThrows(IOException.class, () -> {
                s.startHandshake();
                s.getOutputStream().write(new byte[40]);
                s.getOutputStream().flush();
                if (s.getInputStream().read() < 0) {
                    throw new IOException("closed by server");
                }
            });
        }
    }

    private static String hex(byte[] b) {
        StringBuilder sb = new StringBuilder();
        for (byte x : b) {
            sb.append(String.format("%02x", x & 0xff));
        }
        return sb.toString();
    }

    private static boolean closedByServer(Socket s) {
        try {
            byte[] b = new byte[256];
            while (s.getInputStream().read(b) >= 0) {
                // discard
            }
            return true;
        } catch (IOException e) {
            return !(e instanceof java.net.SocketTimeoutException);
        }
    }

    @Test
    void controlApiOverHttps() throws Exception {
        try (AgentPair p = new AgentPair(dir, 4 << 20, a -> { pem(a, ca1, "agent-a"); a.transport.controlTls(true); },
                b -> pem(b, ca1, "agent-b"))) {
            SSLContext ctx = trustingClient(ca1);
            HttpClient c = HttpClient.newBuilder().sslContext(ctx).connectTimeout(Duration.ofSeconds(5)).build();
            HttpResponse<String> r = c.send(HttpRequest.newBuilder(
                    URI.create("https://127.0.0.1:" + p.a.controlPort() + "/v1/disks/vs1"))
                    .header("Authorization", "Bearer " + AgentPair.TOKEN).timeout(Duration.ofSeconds(20)).build(),
                    HttpResponse.BodyHandlers.ofString());
            assertEquals(200, r.statusCode(), r.body());
            assertTrue(r.body().contains("\"role\":\"PRIMARY\""), r.body());
            // beside an HTTPS control API the take-over channel is TLS: a client trusting the CA is
            // welcomed after AUTH and answered; the same AUTH in clear is not (no token in clear)
            Integer channel = p.a.takeOverPort();
            org.junit.jupiter.api.Assertions.assertNotNull(channel);
            byte[] token = AgentPair.TOKEN.getBytes(java.nio.charset.StandardCharsets.UTF_8);
            byte[] auth = java.nio.ByteBuffer.allocate(4 + token.length).put((byte) 0x57).put((byte) 0x01)
                    .putShort((short) token.length).put(token).array();
            try (Socket raw = new Socket("127.0.0.1", channel)) {
                raw.setSoTimeout(10_000);
                SSLSocket s = (SSLSocket) ctx.getSocketFactory().createSocket(raw, "127.0.0.1", channel, true);
                s.startHandshake();
                s.getOutputStream().write(auth);
                s.getOutputStream().write(new byte[]{0x57, 0x03, 0, 0});   // PING
                s.getOutputStream().flush();
                byte[] answers = s.getInputStream().readNBytes(8);
                assertEquals("5784000057830000", hex(answers), "WELCOME, then PONG");
            }
            try (Socket plain = new Socket("127.0.0.1", channel)) {
                plain.setSoTimeout(10_000);
                plain.getOutputStream().write(auth);
                plain.getOutputStream().flush();
                byte[] got;
                try {
                    got = plain.getInputStream().readAllBytes();   // a TLS alert at most, then closed
                } catch (IOException e) {
                    got = new byte[0];   // reset: closed as well
                }
                assertTrue(got.length == 0 || (got[0] & 0xff) != 0x57, "a plain client is not welcomed: "
                        + hex(got));
            }
            org.junit.jupiter.api.Assertions.assertNotNull(p.b.takeOverPort());
            // the CLI with the CA that signed the agent's certificate
            java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream();
            java.io.PrintStream ps = new java.io.PrintStream(out, true);
            assertEquals(0, org.wanmig.replication.cli.ReplCtlAccess.run(new String[]{"--agent",
                "https://127.0.0.1:" + p.a.controlPort(), "--token", AgentPair.TOKEN, "--cacert",
                ca1.resolve("ca.pem").toString(), "status", "vs1"}, ps, ps), out.toString());
            assertTrue(out.toString().contains("PRIMARY"), out.toString());
            // plain HTTP to the HTTPS port gets no API answer
            HttpClient plain = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
            try {
                HttpResponse<String> x = plain.send(HttpRequest.newBuilder(
                        URI.create("http://127.0.0.1:" + p.a.controlPort() + "/v1/disks/vs1"))
                        .header("Authorization", "Bearer " + AgentPair.TOKEN).timeout(Duration.ofSeconds(10)).build(),
                        HttpResponse.BodyHandlers.ofString());
                assertTrue(x.statusCode() >= 400, "plain HTTP answered " + x.statusCode());
            } catch (IOException expected) {
                // connection closed: fine
            }
        }
    }

    @Test
    void aTakeOverClientStuckInItsTlsHandshakeIsClosedAtTheDeadlineAndTheChannelServesOn() throws Exception {
        try (AgentPair p = new AgentPair(dir, 4 << 20, a -> {
            pem(a, ca1, "agent-a");
            a.transport.controlTls(true).handshakeTimeoutMs(500);
        }, b -> pem(b, ca1, "agent-b"))) {
            int channel = p.a.takeOverPort();
            // connected, then silent: no ClientHello (or half a handshake) ever comes
            for (int i = 0; i < 5; i++) {   // more than the 4 that may await AUTH
                try (Socket silent = new Socket("127.0.0.1", channel)) {
                    silent.setSoTimeout(5_000);
                    long t0 = System.nanoTime();
                    assertTrue(closedByServer(silent), "a silent TLS client is closed");
                    long ms = (System.nanoTime() - t0) / 1_000_000;
                    assertTrue(ms < 3_000, "closed after " + ms + " ms, the deadline is 500");
                }
            }
            // a client that finishes its handshake is still welcomed
            SSLContext ctx = trustingClient(ca1);
            byte[] token = AgentPair.TOKEN.getBytes(java.nio.charset.StandardCharsets.UTF_8);
            try (Socket raw = new Socket("127.0.0.1", channel)) {
                raw.setSoTimeout(10_000);
                SSLSocket s = (SSLSocket) ctx.getSocketFactory().createSocket(raw, "127.0.0.1", channel, true);
                s.startHandshake();
                s.getOutputStream().write(java.nio.ByteBuffer.allocate(4 + token.length).put((byte) 0x57)
                        .put((byte) 0x01).putShort((short) token.length).put(token).array());
                s.getOutputStream().flush();
                assertEquals("57840000", hex(s.getInputStream().readNBytes(4)), "WELCOME");
            }
        }
    }

    @Test
    void badTlsConfigNamesTheKey() throws Exception {
        Path f = dir.resolve("c.json");
        Files.writeString(f, "{\"token\":\"abcdefghij\",\"tlsCert\":\"" + ca1.resolve("agent-a.pem") + "\","
                + "\"tlsKey\":\"" + ca1.resolve("agent-b.key") + "\",\"tlsCa\":\"" + ca1.resolve("ca.pem") + "\","
                + "\"disks\":[{\"name\":\"v\",\"image\":\"v\"}]}");
        // agent-b's key with agent-a's certificate: caught with the configuration, not at the first handshake
        AgentConfig.ConfigException e = assertThrows(AgentConfig.ConfigException.class,
                () -> AgentConfig.fromJson(f).build());
        assertTrue(e.getMessage().contains("tlsCert"), e.getMessage());
        Files.writeString(f, "{\"token\":\"abcdefghij\",\"tlsCert\":\"" + ca1.resolve("agent-a.pem") + "\","
                + "\"disks\":[{\"name\":\"v\",\"image\":\"v\"}]}");
        e = assertThrows(AgentConfig.ConfigException.class, () -> AgentConfig.fromJson(f).build());
        assertTrue(e.getMessage().contains("tlsKey"), e.getMessage());
        Files.writeString(f, "{\"token\":\"abcdefghij\",\"psk\":\"0123456789abcdef\",\"controlTls\":true,"
                + "\"disks\":[{\"name\":\"v\",\"image\":\"v\"}]}");
        e = assertThrows(AgentConfig.ConfigException.class, () -> AgentConfig.fromJson(f).build());
        assertTrue(e.getMessage().contains("controlTls"), e.getMessage());
        Files.writeString(f, "{\"token\":\"abcdefghij\",\"psk\":\"0123456789abcdef\",\"frameTimeoutMs\":5,"
                + "\"disks\":[{\"name\":\"v\",\"image\":\"v\"}]}");
        e = assertThrows(AgentConfig.ConfigException.class, () -> AgentConfig.fromJson(f).build());
        assertTrue(e.getMessage().contains("frameTimeoutMs"), e.getMessage());
        assertTrue(new File(ca1.resolve("ca.pem").toString()).exists());
    }
}
