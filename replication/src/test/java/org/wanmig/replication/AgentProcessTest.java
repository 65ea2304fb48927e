package org.wanmig.replication;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.io.BufferedReader;
import java.io.ByteArrayOutputStream;
import java.io.File;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The agent as a separate process with a JSON config, driven by the wanmig-replctl client. */
@Timeout(90)
class AgentProcessTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path dir;

    private Process start(Path config) throws Exception {
        String java = System.getProperty("java.home") + File.separator + "bin" + File.separator + "java";
        return new ProcessBuilder(java, "-cp", System.getProperty("java.class.path"),
                "org.wanmig.replication.agent.AgentMain", "--config", config.toString())
                .redirectErrorStream(true).start();
    }

    private static int ctl(ByteArrayOutputStream out, String... args) {
        return org.wanmig.replication.cli.ReplCtlAccess.run(args, new PrintStream(out, true), new PrintStream(out, true));
    }

    @Test
    void agentProcessWithJsonConfigAndCli() throws Exception {
        Files.writeString(dir.resolve("psk"), "0123456789abcdef0123456789abcdef\n");
        Path cfg = dir.resolve("agent.json");
        Files.writeString(cfg, "{\n"
                + "  \"nbdListen\": \"127.0.0.1:0\", \"peerListen\": \"127.0.0.1:0\", \"controlListen\": \"127.0.0.1:0\",\n"
                + "  \"peerAddress\": \"127.0.0.1:1\", \"token\": \"cli-token-123456\", \"pskFile\": \"psk\",\n"
                + "  \"disks\": [{\"name\": \"vs1\", \"image\": \"vs1.img\", \"size\": \"8M\", \"role\": \"PRIMARY\"}]\n"
                + "}\n");
        Process p = start(cfg);
        try {
            BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8));
            Pattern up = Pattern.compile("agent up: nbd=(\\d+) peer=(\\d+) control=(\\d+)");
            Matcher m = null;
            for (String line; (line = r.readLine()) != null; ) {
                Matcher x = up.matcher(line);
                if (x.find()) {
                    m = x;
                    break;
                }
            }
            assertTrue(m != null, "agent did not start");
            Thread drain = new Thread(() -> {
                try {
                    r.transferTo(java.io.Writer.nullWriter());
                } catch (java.io.IOException ignored) {
                    // process ended
                }
            });
            drain.setDaemon(true);
            drain.start();
            String agent = "http://127.0.0.1:" + m.group(3);
            assertEquals(8 << 20, Files.size(dir.resolve("vs1.img")));
            Tools.qemuIo("nbd://127.0.0.1:" + m.group(1) + "/vs1", "write -P 0x12 0 64k").ok();

            ByteArrayOutputStream out = new ByteArrayOutputStream();
            assertEquals(0, ctl(out, "--agent", agent, "--token", "cli-token-123456", "status", "vs1"), out.toString());
            JsonNode s = JSON.readTree(out.toString());
            assertEquals("PRIMARY", s.get("role").asText());
            assertEquals(false, s.get("peerConnected").asBoolean());
            out.reset();
            assertEquals(0, ctl(out, "--agent", agent, "--token", "cli-token-123456", "mode", "vs1", "sync"));
            assertEquals("SYNC", JSON.readTree(out.toString()).get("mode").asText());
            out.reset();
            assertEquals(3, ctl(out, "--agent", agent, "--token", "cli-token-123456", "wait-sync", "vs1", "200"),
                    "no peer: wait-sync must time out");
            out.reset();
            assertEquals(1, ctl(out, "--agent", agent, "--token", "wrong-token", "status"));
            out.reset();
            assertEquals(2, ctl(out, "--agent", agent, "--token", "cli-token-123456", "frobnicate"));
            out.reset();
            assertEquals(0, ctl(out, "--agent", agent, "--token", "cli-token-123456", "metrics"));
            assertTrue(out.toString().contains("wanmig_replication_writes_total{disk=\"vs1\""), out.toString());
        } finally {
            p.destroy(); // SIGTERM: shutdown hook closes cleanly
            assertTrue(p.waitFor(20, TimeUnit.SECONDS));
        }
        JsonNode meta = JSON.readTree(dir.resolve("vs1.img.wanmig.json").toFile());
        assertTrue(meta.get("cleanShutdown").asBoolean(), meta.toString());
        assertEquals("SYNC", meta.get("mode").asText(), "mode survives a restart");
    }

    @Test
    void badConfigIsReportedClearly() throws Exception {
        Path cfg = dir.resolve("bad.json");
        Files.writeString(cfg, "{\"psk\": \"0123456789abcdef0123\", \"disks\": [{\"name\": \"vs1\", \"image\": \"x.img\","
                + " \"size\": \"1M\", \"role\": \"PRIMARY\"}]}");
        Process p = start(cfg);
        assertTrue(p.waitFor(30, TimeUnit.SECONDS));
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertEquals(2, p.exitValue(), out);
        assertTrue(out.contains("token"), out);

        Files.writeString(cfg, "{\"token\": \"abcdefghijk\", \"psk\": \"0123456789abcdef0123\", \"colour\": 1,"
                + " \"disks\": []}");
        p = start(cfg);
        assertTrue(p.waitFor(30, TimeUnit.SECONDS));
        out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertEquals(2, p.exitValue(), out);
        assertTrue(out.contains("unknown key 'colour'"), out);
    }
}
