package org.wanmig.drivers.qemu;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.wanmig.testing.ChildProcesses;

import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The QMP client's handshake deadline, and both socket kinds against a real QEMU with two monitors. */
@Timeout(60)
class QmpClientTest {
    private Process qemu;
    private Path dir;

    @AfterEach
    void stop() throws Exception {
        if (qemu != null) {
            qemu.destroyForcibly().waitFor(5, TimeUnit.SECONDS);
        }
        if (dir != null) {
            try (var files = Files.walk(dir)) {
                files.sorted(java.util.Comparator.reverseOrder()).forEach(f -> f.toFile().delete());
            }
        }
    }

    @Test
    void aPeerThatAcceptsAndSaysNothingIsCutAtTheDeadline() throws Exception {
        try (ServerSocket silent = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            Thread accept = new Thread(() -> {
                try (Socket s = silent.accept()) {
                    Thread.sleep(30_000);
                } catch (IOException | InterruptedException e) {
                    // the test is over
                }
            });
            accept.setDaemon(true);
            accept.start();
            long t0 = System.nanoTime();
            IOException e = assertThrows(IOException.class, () -> QmpClient.connect(
                    "tcp:127.0.0.1:" + silent.getLocalPort(), Duration.ofMillis(500), x -> { }));
            assertTrue(e.getMessage().contains("no handshake within"), e.getMessage());
            assertTrue(System.nanoTime() - t0 < TimeUnit.SECONDS.toNanos(10), "cut by the deadline, not by the test");
            accept.interrupt();
        }
    }

    @Test
    void eventsLeftForAPreviousClientBeforeTheGreetingAreSkippedAndAnythingElseIsRefused() throws Exception {
        String stale = "{\"timestamp\":{\"seconds\":1,\"microseconds\":2},\"event\":\"MIGRATION_PASS\","
                + "\"data\":{\"pass\":2}}\n";
        String greeting = "{\"QMP\":{\"version\":{},\"capabilities\":[]}}\n";
        try (ServerSocket peer = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            serveOnce(peer, stale + stale + greeting);
            try (QmpClient c = QmpClient.connect("tcp:127.0.0.1:" + peer.getLocalPort(), Duration.ofSeconds(10),
                    x -> { })) {
                assertTrue(c != null);
            }
            serveOnce(peer, "{\"return\":{}}\n" + greeting);
            IOException e = assertThrows(IOException.class, () -> QmpClient.connect(
                    "tcp:127.0.0.1:" + peer.getLocalPort(), Duration.ofSeconds(10), x -> { }));
            assertTrue(e.getMessage().contains("no greeting"), e.getMessage());
        }
    }

    /** Accepts one connection, writes {@code lines}, then answers every line read with an empty return. */
    private static void serveOnce(ServerSocket peer, String lines) {
        Thread t = new Thread(() -> {
            try (Socket s = peer.accept()) {
                s.getOutputStream().write(lines.getBytes(java.nio.charset.StandardCharsets.UTF_8));
                java.io.BufferedReader in = new java.io.BufferedReader(new java.io.InputStreamReader(
                        s.getInputStream(), java.nio.charset.StandardCharsets.UTF_8));
                while (in.readLine() != null) {
                    s.getOutputStream().write("{\"return\":{}}\n".getBytes(java.nio.charset.StandardCharsets.UTF_8));
                }
            } catch (IOException e) {
                // the client went
            }
        });
        t.setDaemon(true);
        t.start();
    }

    @Test
    void bothMonitorsOfOneQemuAnswerAtOnceOverUnixSockets() throws Exception {
        dir = Files.createTempDirectory("wanmig-qmp");
        Path agent = dir.resolve("agent.qmp");
        Path mms = dir.resolve("mms.qmp");
        ChildProcesses.killAtExit();
        qemu = new ProcessBuilder(List.of("qemu-system-x86_64", "-accel", "tcg", "-machine", "pc", "-m", "32",
                "-nodefaults", "-display", "none", "-serial", "none",
                "-qmp", "unix:" + agent + ",server=on,wait=off", "-qmp", "unix:" + mms + ",server=on,wait=off"))
                .redirectErrorStream(true).redirectOutput(dir.resolve("qemu.log").toFile()).start();
        long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (!(Files.exists(agent) && Files.exists(mms))) {
            assertTrue(System.nanoTime() < end && qemu.isAlive(), "QEMU made its QMP sockets");
            Thread.sleep(50);
        }
        // as in the testbed: the hypervisor agent holds one monitor while the MMS uses the other.
        // The MMS's event handler runs a command (the qemu driver asks query-migrate on every pass):
        // its answer must arrive although the handler waits for it.
        CompletableFuture<String> statusSeenByHandler = new CompletableFuture<>();
        QmpClient[] holder = new QmpClient[1];
        try (QmpClient first = QmpClient.connect("unix:" + agent, Duration.ofSeconds(10), x -> { });
             QmpClient second = QmpClient.connect("unix:" + mms, Duration.ofSeconds(10), event -> {
                 if ("STOP".equals(event.path("event").asText())) {
                     try {
                         statusSeenByHandler.complete(holder[0].call("query-status", null, Duration.ofSeconds(20))
                                 .path("status").asText());
                     } catch (IOException e) {
                         statusSeenByHandler.completeExceptionally(e);
                     }
                 }
             })) {
            holder[0] = second;
            assertEquals("running", second.call("query-status", null, Duration.ofSeconds(10)).path("status").asText());
            first.call("stop", null, Duration.ofSeconds(10));
            assertEquals("paused", statusSeenByHandler.get(15, TimeUnit.SECONDS));
        }
    }
}
