package org.wanmig.drivers;

import com.sun.net.httpserver.HttpServer;
import com.sun.net.httpserver.HttpsConfigurator;
import com.sun.net.httpserver.HttpsServer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyStore;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.HostnameVerifier;
import javax.net.ssl.HttpsURLConnection;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLHandshakeException;
import javax.net.ssl.SSLServerSocket;
import javax.net.ssl.SSLSocketFactory;
import javax.net.ssl.TrustManagerFactory;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Every case of {@link TakeOverChannelTest} again with an agent whose control API is HTTPS: the
 * channel is then TLS, trusted as the MMS's HTTPS calls are (HttpsURLConnection's default, set
 * here to trust the test CA of scripts/gen-test-pki). Plus: a channel whose certificate names
 * another host, or that the MMS does not trust, is not opened.
 */
class TakeOverChannelTlsTest extends TakeOverChannelTest {
    @TempDir
    static Path pki;
    private static SSLContext server;
    private static SSLContext trusting;
    private SSLSocketFactory defaultSockets;
    private HostnameVerifier defaultVerifier;

    /** scripts/gen-test-pki (openssl, keytool): a CA and agent-b's certificate for 127.0.0.1 and localhost. */
    @BeforeAll
    static void generate() throws Exception {
        Path script = Path.of("").toAbsolutePath().resolveSibling("scripts").resolve("gen-test-pki");
        if (!Files.exists(script)) {
            script = Path.of("scripts/gen-test-pki").toAbsolutePath();
        }
        Process p = new ProcessBuilder(script.toString(), pki.toString(), "agent-b").redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes());
        assertTrue(p.waitFor(120, TimeUnit.SECONDS) && p.exitValue() == 0, out);
        char[] pw = Files.readString(pki.resolve("password")).trim().toCharArray();
        KeyStore ks = KeyStore.getInstance("PKCS12");
        try (InputStream in = Files.newInputStream(pki.resolve("agent-b.p12"))) {
            ks.load(in, pw);
        }
        KeyManagerFactory kmf = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
        kmf.init(ks, pw);
        server = SSLContext.getInstance("TLSv1.3");
        server.init(kmf.getKeyManagers(), null, null);
        KeyStore ts = KeyStore.getInstance("PKCS12");
        try (InputStream in = Files.newInputStream(pki.resolve("truststore.p12"))) {
            ts.load(in, pw);
        }
        TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
        tmf.init(ts);
        trusting = SSLContext.getInstance("TLSv1.3");
        trusting.init(null, tmf.getTrustManagers(), null);
    }

    @BeforeEach
    void trustTheTestCa() {
        defaultSockets = HttpsURLConnection.getDefaultSSLSocketFactory();
        defaultVerifier = HttpsURLConnection.getDefaultHostnameVerifier();
        HttpsURLConnection.setDefaultSSLSocketFactory(trusting.getSocketFactory());
    }

    @AfterEach
    void restoreTrust() {
        HttpsURLConnection.setDefaultSSLSocketFactory(defaultSockets);
        HttpsURLConnection.setDefaultHostnameVerifier(defaultVerifier);
    }

    @Override
    ServerSocket newChannelSocket() throws IOException {
        return newChannelSocket(java.net.InetAddress.getLoopbackAddress());
    }

    private static ServerSocket newChannelSocket(java.net.InetAddress bind) throws IOException {
        SSLServerSocket s = (SSLServerSocket) server.getServerSocketFactory().createServerSocket(0, 8, bind);
        s.setNeedClientAuth(false);
        return s;
    }

    @Override
    HttpServer newControlApi() throws IOException {
        HttpsServer s = HttpsServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
        s.setHttpsConfigurator(new HttpsConfigurator(server));
        return s;
    }

    @Override
    String scheme() {
        return "https";
    }

    @Test
    void aChannelWhoseCertificateDoesNotNameTheAgentIsNotOpened() throws Exception {
        // the certificate names 127.0.0.1 and localhost, not 127.0.0.2 (the same loopback interface)
        assertHandshakeRefused("127.0.0.2", trusting.getSocketFactory());
    }

    @Test
    void aChannelTheMmsDoesNotTrustIsNotOpened() throws Exception {
        SSLContext untrusting = SSLContext.getInstance("TLSv1.3");
        untrusting.init(null, null, null);   // the JVM's CAs, not the test CA
        assertHandshakeRefused("127.0.0.1", untrusting.getSocketFactory());
    }

    private void assertHandshakeRefused(String host, SSLSocketFactory client) throws Exception {
        int port = newChannelPort(java.net.InetAddress.getByName(host));
        IOException e = assertThrows(IOException.class, () -> TakeOverChannel.open(host, port, "t",
                Duration.ofSeconds(5), client));
        assertTrue(e instanceof SSLHandshakeException, e.toString());
    }

    @Test
    void aPlainClientGetsNoWelcomeFromTheTlsChannel() throws Exception {
        int port = newChannelPort(java.net.InetAddress.getLoopbackAddress());
        assertThrows(IOException.class, () -> TakeOverChannel.open("127.0.0.1", port, "t", Duration.ofSeconds(5), null));
    }

    /** A TLS channel socket of its own that accepts in the background (the handshake runs on the first read). */
    private int newChannelPort(java.net.InetAddress bind) throws IOException {
        ServerSocket s = newChannelSocket(bind);
        Thread t = new Thread(() -> {
            try (s; var c = s.accept()) {
                c.setSoTimeout(5_000);
                c.getInputStream().read();
            } catch (IOException ignored) {
                // the handshake failed: what the tests expect
            }
        }, "tls-stand-in");
        t.setDaemon(true);
        t.start();
        return s.getLocalPort();
    }
}
