package org.wanmig.replication.agent;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.wanmig.replication.core.Role;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

@Timeout(30)
class AgentConfigTest {
    @TempDir
    Path dir;

    @Test
    void defaultsAndParsing() throws Exception {
        Path f = dir.resolve("a.json");
        Files.writeString(f, "{\"token\":\"abcdefghij\",\"psk\":\"0123456789abcdef\","
                + "\"disks\":[{\"name\":\"vs1\",\"image\":\"img/vs1.img\",\"size\":\"2G\",\"role\":\"primary\"}]}");
        AgentConfig c = AgentConfig.fromJson(f).build();
        assertEquals(10809, c.nbdListen().getPort());
        assertEquals(10900, c.peerListen().getPort());
        assertEquals(7070, c.controlListen().getPort());
        assertNull(c.peerAddress());
        assertEquals(64 << 20, c.maxBacklogBytes());
        assertEquals(2L << 30, c.disks().get(0).sizeBytes());
        assertEquals(Role.PRIMARY, c.disks().get(0).role());
        assertEquals(dir.resolve("img/vs1.img"), c.disks().get(0).image());
        assertEquals(1536, AgentConfig.parseSize("1.5K".replace("1.5K", "1536"), "x"));
        assertEquals(1L << 40, AgentConfig.parseSize("1TiB", "x"));
        assertEquals(32 * 1024 * 1024 + 4096, c.transport().maxFramePayload());
        Files.writeString(f, "{\"token\":\"abcdefghij\",\"psk\":\"0123456789abcdef\",\"maxFramePayload\":\"8M\","
                + "\"disks\":[{\"name\":\"vs1\",\"image\":\"img/vs1.img\",\"size\":\"2G\"}]}");
        assertEquals(8 << 20, AgentConfig.fromJson(f).build().transport().maxFramePayload());
    }

    @Test
    void takeOverListen() throws Exception {
        Path f = dir.resolve("t.json");
        String rest = "\"token\":\"abcdefghij\",\"psk\":\"0123456789abcdef\",\"controlListen\":\"127.0.0.1:7070\","
                + "\"disks\":[{\"name\":\"v\",\"image\":\"v\"}]";
        // absent: the control API's host, a port the system picks
        Files.writeString(f, "{" + rest + "}");
        AgentConfig c = AgentConfig.fromJson(f).build();
        assertEquals(c.controlListen().getAddress(), c.takeOverListen().getAddress());
        assertEquals(0, c.takeOverListen().getPort());
        Files.writeString(f, "{" + rest + ",\"takeOverListen\":\"127.0.0.1:7171\"}");
        c = AgentConfig.fromJson(f).build();
        assertEquals(7171, c.takeOverListen().getPort());
        assertEquals("127.0.0.1", c.takeOverListen().getAddress().getHostAddress());
        Files.writeString(f, "{" + rest + ",\"takeOverListen\":\"0.0.0.0:7171\"}");
        assertTrue(AgentConfig.fromJson(f).build().takeOverListen().getAddress().isAnyLocalAddress());
        Files.writeString(f, "{" + rest + ",\"takeOverListen\":\"off\"}");
        assertNull(AgentConfig.fromJson(f).build().takeOverListen());
        for (String bad : new String[]{"\"127.0.0.1:99999\"", "\"127.0.0.1:x\"", "\"\"", "7171", "true",
            "\"10.9.8.7:7171\""}) {
            Files.writeString(f, "{" + rest + ",\"takeOverListen\":" + bad + "}");
            AgentConfig.ConfigException e = assertThrows(AgentConfig.ConfigException.class,
                    () -> AgentConfig.fromJson(f).build(), bad);
            assertTrue(e.getMessage().startsWith("takeOverListen: "), bad + " -> " + e.getMessage());
        }
        // the builder (flags, tests) the same way
        assertNull(new AgentConfig.Builder().token("abcdefghij").psk("0123456789abcdef").takeOverListen("off")
                .disk("v", Path.of("v"), 0, Role.REPLICA).build().takeOverListen());
        // the command line's --take-over-listen, over the config file's value too
        String[] base = {"--token", "abcdefghij", "--psk", "0123456789abcdef", "--control", "127.0.0.1:7070",
            "--disk", "name=v,image=" + dir.resolve("v")};
        assertNull(AgentMain.parse(with(base, "--take-over-listen", "off")).takeOverListen());
        assertEquals(7272, AgentMain.parse(with(base, "--take-over-listen", "127.0.0.1:7272")).takeOverListen().getPort());
        Files.writeString(f, "{" + rest + ",\"takeOverListen\":\"127.0.0.1:7171\"}");
        assertNull(AgentMain.parse(new String[]{"--config", f.toString(), "--take-over-listen", "off"}).takeOverListen());
        AgentConfig.ConfigException e = assertThrows(AgentConfig.ConfigException.class,
                () -> AgentMain.parse(with(base, "--take-over-listen", "10.9.8.7:7171")));
        assertTrue(e.getMessage().startsWith("takeOverListen: "), e.getMessage());
    }

    private static String[] with(String[] base, String... more) {
        String[] all = java.util.Arrays.copyOf(base, base.length + more.length);
        System.arraycopy(more, 0, all, base.length, more.length);
        return all;
    }

    @Test
    void errorsNameTheKey() throws Exception {
        Path f = dir.resolve("b.json");
        String[][] cases = {
            {"{\"psk\":\"0123456789abcdef\",\"disks\":[{\"name\":\"v\",\"image\":\"v\",\"size\":\"1M\"}]}", "token"},
            {"{\"token\":\"abcdefghij\",\"disks\":[{\"name\":\"v\",\"image\":\"v\"}]}", "psk"},
            {"{\"token\":\"abcdefghij\",\"psk\":\"short\",\"disks\":[{\"name\":\"v\",\"image\":\"v\"}]}", "psk"},
            {"{\"token\":\"abcdefghij\",\"psk\":\"0123456789abcdef\",\"disks\":[]}", "disks"},
            {"{\"token\":\"abcdefghij\",\"psk\":\"0123456789abcdef\",\"disks\":[{\"name\":\"v\",\"image\":\"v\","
                + "\"size\":\"lots\"}]}", "size"},
            {"{\"token\":\"abcdefghij\",\"psk\":\"0123456789abcdef\",\"disks\":[{\"name\":\"v\",\"image\":\"v\","
                + "\"role\":\"boss\"}]}", "role"},
            {"{\"token\":\"abcdefghij\",\"psk\":\"0123456789abcdef\",\"nbdListen\":\"h:99999\","
                + "\"disks\":[{\"name\":\"v\",\"image\":\"v\"}]}", "nbdListen"},
            {"{\"token\":\"abcdefghij\",\"psk\":\"0123456789abcdef\",\"disks\":[{\"name\":\"../x\",\"image\":\"v\"}]}",
                "name"},
            {"{\"token\":\"abcdefghij\",\"psk\":\"0123456789abcdef\",\"maxFramePayload\":0,"
                + "\"disks\":[{\"name\":\"v\",\"image\":\"v\"}]}", "maxFramePayload: must be between"},
            {"{\"token\":\"abcdefghij\",\"psk\":\"0123456789abcdef\",\"maxFramePayload\":\"1G\","
                + "\"disks\":[{\"name\":\"v\",\"image\":\"v\"}]}", "maxFramePayload: must be between"},
            {"{\"token\":\"abcdefghij\",\"psk\":\"0123456789abcdef\",\"peerAckTimeoutMs\":1000,"
                + "\"disks\":[{\"name\":\"v\",\"image\":\"v\"}]}", "peerAckTimeoutMs: must be between 2000"},
            {"[1,2]", "object"},
        };
        for (String[] c : cases) {
            Files.writeString(f, c[0]);
            AgentConfig.ConfigException e = assertThrows(AgentConfig.ConfigException.class,
                    () -> AgentConfig.fromJson(f).build(), c[0]);
            assertTrue(e.getMessage().contains(c[1]), e.getMessage() + " should mention " + c[1]);
        }
    }
}
