package org.wanmig.replication;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * Issue 9 item 3: the replica's export is writable, so a destination hypervisor can open it
 * read-write before the move. Writes get EPERM until the replica is promoted, reads work, and the
 * same open connection writes once the roles have flipped. A demoted primary still answers FLUSH.
 */
@Timeout(120)
class WritableReplicaTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path dir;

    /** An interactive qemu-io with the image open read-write, fed commands on stdin. */
    private static final class QemuIo implements AutoCloseable {
        final Process p;
        final OutputStream in;
        final ByteArrayOutputStream out = new ByteArrayOutputStream();

        QemuIo(String url) throws IOException {
            Tools.require("qemu-io");
            ProcessBuilder pb = new ProcessBuilder("qemu-io", "-f", "raw", url).redirectErrorStream(true);
            pb.environment().put("LANG", "C");
            p = pb.start();
            in = p.getOutputStream();
            Thread t = new Thread(() -> {
                try (InputStream s = p.getInputStream()) {
                    byte[] buf = new byte[4096];
                    for (int n; (n = s.read(buf)) >= 0; ) {
                        synchronized (out) {
                            out.write(buf, 0, n);
                        }
                    }
                } catch (IOException ignored) {
                    // process gone
                }
            });
            t.setDaemon(true);
            t.start();
        }

        String output() {
            synchronized (out) {
                return out.toString(StandardCharsets.UTF_8);
            }
        }

        /** Sends one command and waits until the output grows by a line matching one of the answers. */
        String command(String cmd, String... answers) throws IOException, InterruptedException {
            int from = output().length();
            in.write((cmd + "\n").getBytes(StandardCharsets.UTF_8));
            in.flush();
            long deadline = System.currentTimeMillis() + 20_000;
            while (System.currentTimeMillis() < deadline) {
                String o = output().substring(from);
                for (String a : answers) {
                    if (o.contains(a)) {
                        return o;
                    }
                }
                if (!p.isAlive()) {
                    fail("qemu-io exited: " + output());
                }
                Thread.sleep(20);
            }
            fail("no answer to '" + cmd + "': " + output());
            return null;
        }

        @Override
        public void close() throws Exception {
            try {
                in.write("quit\n".getBytes(StandardCharsets.UTF_8));
                in.flush();
            } catch (IOException ignored) {
                // already gone
            }
            if (!p.waitFor(10, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                p.waitFor(5, TimeUnit.SECONDS);
            }
        }
    }

    @Test
    void replicaOpensWritableRefusesWritesUntilPromoted() throws Exception {
        try (AgentPair p = new AgentPair(dir, 8 << 20)) {
            Tools.qemuIo(AgentPair.url(p.a), "write -P 0x61 0 1M").ok();
            p.syncUp(p.a);
            // the destination opens B read-write before the move: succeeds (no READ_ONLY flag)
            try (QemuIo dst = new QemuIo(AgentPair.url(p.b))) {
                String w = dst.command("write -P 0x62 64k 64k", "wrote", "failed");
                assertTrue(w.contains("write failed: Operation not permitted"), w);
                String r = dst.command("read -P 0x61 0 64k", "read ", "failed", "Pattern verification");
                assertTrue(r.contains("read 65536/65536"), r);
                assertFalse(r.contains("Pattern verification failed"), r);
                String f = dst.command("flush", "qemu-io>", "failed");
                assertFalse(f.contains("failed"), f);
                assertEquals((byte) 0x61, Files.readAllBytes(p.imageB())[(64 << 10) + 1], "refused write landed");

                // switchover: A demoted (handover), B promoted; the open connection now writes to a primary
                JsonNode d = JSON.readTree(p.ok(p.a, "POST", "/v1/disks/vs1/demote", null));
                assertEquals("REPLICA", d.get("role").asText());
                JsonNode pr = JSON.readTree(p.ok(p.b, "POST", "/v1/disks/vs1/promote", null));
                assertEquals("PRIMARY", pr.get("role").asText());
                w = dst.command("write -P 0x62 64k 64k", "wrote", "failed");
                assertTrue(w.contains("wrote 65536/65536"), w);
                f = dst.command("flush", "qemu-io>", "failed");
                assertFalse(f.contains("failed"), f);
            }
            // the demoted primary: writable export, writes EPERM, FLUSH succeeds
            try (QemuIo src = new QemuIo(AgentPair.url(p.a))) {
                String f = src.command("flush", "qemu-io>", "failed");
                assertFalse(f.contains("failed"), f);
                String w = src.command("write -P 0x63 0 4k", "wrote", "failed");
                assertTrue(w.contains("Operation not permitted"), w);
            }
            p.syncUp(p.b);
            AgentPair.assertSameBytes(p.imageA(), p.imageB());
            assertEquals((byte) 0x62, Files.readAllBytes(p.imageA())[(64 << 10) + 1]);
        }
    }
}
