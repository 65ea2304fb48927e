package org.wanmig.replication;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.wanmig.replication.control.takeover.TakeOverDecoder;
import org.wanmig.replication.control.takeover.TakeOverEncoder;
import org.wanmig.replication.control.takeover.TakeOverFrame;
import org.wanmig.replication.control.takeover.TakeOverRequest;
import org.wanmig.replication.core.Role;

import java.io.IOException;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The take-over channel of a real agent: advertised by the check, taking over a live synchronous replica. */
@Timeout(120)
class TakeOverChannelAgentTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path dir;

    /** Sends one frame and reads one answer. */
    private static TakeOverFrame call(Socket s, TakeOverDecoder d, ByteBuffer pending, byte[] frame) throws IOException {
        s.getOutputStream().write(frame);
        InputStream in = s.getInputStream();
        while (true) {
            TakeOverFrame f = d.decode(pending);
            if (f != null) {
                return f;
            }
            pending.clear();
            int n = in.read(pending.array());
            assertTrue(n > 0, "closed");
            pending.limit(n);
        }
    }

    @Test
    void checkAdvertisesThePortAndTheChannelTakesOver() throws Exception {
        try (AgentPair p = new AgentPair(dir, 4 << 20)) {
            p.syncUp(p.a);
            JsonNode check = JSON.readTree(p.ok(p.b, "POST", "/v1/disks/vs1/promote", "{\"takeover\":true,\"check\":true}"));
            assertNotNull(p.b.takeOverPort());
            assertEquals((int) p.b.takeOverPort(), check.path("takeOverPort").asInt(-1), check.toString());
            try (Socket s = new Socket()) {
                s.connect(new InetSocketAddress("127.0.0.1", check.get("takeOverPort").asInt()), 5_000);
                s.setSoTimeout(10_000);
                TakeOverDecoder d = TakeOverDecoder.ofAgentFrames();
                ByteBuffer pending = ByteBuffer.allocate(2048).flip();
                assertEquals(TakeOverFrame.WELCOME, call(s, d, pending, TakeOverEncoder.auth(AgentPair.TOKEN)).type());
                TakeOverFrame took = call(s, d, pending, TakeOverEncoder.takeOver(TakeOverRequest.of("vs1", "migration-7")));
                assertEquals(TakeOverFrame.TOOK_OVER, took.type(), took.toString());
                ByteBuffer b = ByteBuffer.wrap(took.payload());
                assertEquals(1, b.getLong());
                assertEquals("PRIMARY", StandardCharsets.UTF_8.decode(b).toString());
                assertEquals(Role.PRIMARY, p.b.disk("vs1").role());
                AgentPair.await("A fenced", 10_000, () -> p.a.disk("vs1").role() == Role.REPLICA);
                JsonNode status = JSON.readTree(p.ok(p.b, "GET", "/v1/disks/vs1", null));
                assertEquals("migration-7", status.get("lastPromote").get("takeOverId").asText(), status.toString());
                // asked again under the same name: done; under another: 409
                assertEquals(TakeOverFrame.TOOK_OVER, call(s, d, pending,
                        TakeOverEncoder.takeOver(TakeOverRequest.of("vs1", "migration-7"))).type());
                TakeOverFrame other = call(s, d, pending, TakeOverEncoder.takeOver(TakeOverRequest.of("vs1", "migration-8")));
                assertEquals(TakeOverFrame.REFUSED, other.type());
                assertEquals(409, ByteBuffer.wrap(other.payload()).getShort());
            }
        }
    }

    @Test
    void takeOverListenOffStartsNoChannelAndTheCheckSaysNothing() throws Exception {
        try (AgentPair p = new AgentPair(dir, 4 << 20, a -> a.psk(AgentPair.PSK),
                b -> b.psk(AgentPair.PSK).takeOverListen("off"))) {
            assertNotNull(p.a.takeOverPort(), "on by default");
            assertNull(p.b.takeOverPort());
            p.syncUp(p.a);
            JsonNode check = JSON.readTree(p.ok(p.b, "POST", "/v1/disks/vs1/promote", "{\"takeover\":true,\"check\":true}"));
            assertTrue(check.get("takeoverReady").asBoolean());
            assertFalse(check.has("takeOverPort"), check.toString());
        }
    }
}
