package org.wanmig.replication;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The NBD server as seen by independent clients: qemu-io, nbdinfo, nbdcopy. */
@Timeout(120)
class NbdClientsTest {
    @TempDir
    Path dir;

    @Test
    void qemuIoWritesAndReadsBack() throws Exception {
        try (AgentPair p = new AgentPair(dir, 8 << 20)) {
            String url = AgentPair.url(p.a);
            Tools.qemuIo(url, "write -P 0xab 0 1M", "write -P 0x5c 3M 64k", "write -z 4M 1M", "flush").ok();
            Tools.Result r = Tools.qemuIo(url, "read -P 0xab 0 1M", "read -P 0x5c 3M 64k", "read -P 0 4M 1M").ok();
            assertTrue(!r.output.contains("Pattern verification failed"), r.output);
            // and the bytes really are in the image file
            byte[] img = Files.readAllBytes(p.imageA());
            for (int i = 0; i < (1 << 20); i += 4099) {
                assertTrue(img[i] == (byte) 0xab, "byte " + i);
            }
            // a wrong pattern must be detected (the check above can fail)
            Tools.Result bad = Tools.qemuIo(url, "read -P 0xcd 0 4k");
            assertTrue(bad.output.contains("Pattern verification failed"), bad.output);
        }
    }

    @Test
    void nbdinfoSeesExportsAndFlags() throws Exception {
        try (AgentPair p = new AgentPair(dir, 16 << 20)) {
            Tools.Result info = Tools.run(Duration.ofSeconds(30), "nbdinfo", AgentPair.url(p.a)).ok();
            assertTrue(info.output.contains("16777216"), info.output);
            assertTrue(info.output.contains("can_flush: true"), info.output);
            assertTrue(info.output.contains("can_fua: true"), info.output);
            assertTrue(info.output.contains("can_zero: true"), info.output);
            assertTrue(info.output.contains("is_read_only: false"), info.output);
            Tools.Result list = Tools.run(Duration.ofSeconds(30), "nbdinfo", "--list",
                    "nbd://127.0.0.1:" + p.a.nbdPort()).ok();
            assertTrue(list.output.contains("vs1"), list.output);
            // the replica advertises a writable export (it answers writes with EPERM until promoted)
            Tools.Result rep = Tools.run(Duration.ofSeconds(30), "nbdinfo", AgentPair.url(p.b)).ok();
            assertTrue(rep.output.contains("is_read_only: false"), rep.output);
            // an unknown export is an error, not a crash
            Tools.Result unknown = Tools.run(Duration.ofSeconds(30), "nbdinfo",
                    "nbd://127.0.0.1:" + p.a.nbdPort() + "/nope");
            assertNotEquals(0, unknown.exit, unknown.output);
            Tools.run(Duration.ofSeconds(30), "nbdinfo", AgentPair.url(p.a)).ok();
        }
    }

    @Test
    void nbdcopyRoundTrip() throws Exception {
        try (AgentPair p = new AgentPair(dir, 8 << 20)) {
            Path src = dir.resolve("src.raw");
            byte[] data = new byte[8 << 20];
            new java.util.Random(42).nextBytes(data);
            Files.write(src, data);
            Tools.run(Duration.ofSeconds(60), "nbdcopy", src.toString(), AgentPair.url(p.a)).ok();
            Path back = dir.resolve("back.raw");
            Tools.run(Duration.ofSeconds(60), "nbdcopy", AgentPair.url(p.a), back.toString()).ok();
            assertArrayEquals(data, Files.readAllBytes(back));
            assertArrayEquals(data, Files.readAllBytes(p.imageA()));
        }
    }

    @Test
    void replicaRefusesWrites() throws Exception {
        try (AgentPair p = new AgentPair(dir, 4 << 20)) {
            Tools.Result r = Tools.qemuIo(AgentPair.url(p.b), "write -P 0x11 0 64k");
            assertTrue(r.exit != 0 || r.output.toLowerCase().contains("permission")
                    || r.output.toLowerCase().contains("read-only") || r.output.toLowerCase().contains("failed"),
                    r.output);
            byte[] img = Files.readAllBytes(p.imageB());
            for (int i = 0; i < 65536; i++) {
                if (img[i] != 0) {
                    throw new AssertionError("replica image modified at " + i);
                }
            }
        }
    }
}
