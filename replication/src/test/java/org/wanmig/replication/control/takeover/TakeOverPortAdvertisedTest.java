package org.wanmig.replication.control.takeover;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.wanmig.replication.control.ControlServer;

import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The take-over check answers the channel's port while it runs: that is how the MMS learns it. */
@Timeout(60)
class TakeOverPortAdvertisedTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    private static JsonNode check(ControlServer s) throws Exception {
        HttpResponse<String> r = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build().send(
                HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + s.port() + "/v1/disks/vs1/promote"))
                        .header("Authorization", "Bearer " + TakeOverChannelTest.TOKEN)
                        .POST(HttpRequest.BodyPublishers.ofString("{\"takeover\":true,\"check\":true}"))
                        .timeout(Duration.ofSeconds(20)).build(), HttpResponse.BodyHandlers.ofString());
        assertEquals(200, r.statusCode(), r.body());
        JsonNode n = JSON.readTree(r.body());
        assertTrue(n.get("takeoverReady").asBoolean(), r.body());
        return n;
    }

    @Test
    void checkAnswerCarriesTheChannelPortWhenOnAndNotWhenOff() throws Exception {
        FakeControl control = new FakeControl();
        InetSocketAddress local = new InetSocketAddress("127.0.0.1", 0);
        try (TakeOverChannel channel = new TakeOverChannel(local, TakeOverChannelTest.TOKEN, control,
                new TakeOverChannel.Limits(10_000, 10_000, 30_000))) {
            ControlServer on = new ControlServer(local, TakeOverChannelTest.TOKEN, control,
                    ControlServer.Options.defaults(), channel::port);
            try {
                JsonNode n = check(on);
                assertEquals(channel.port(), n.get("takeOverPort").asInt(), n.toString());
                // and the advertised port is the channel
                try (TakeOverClient c = new TakeOverClient(n.get("takeOverPort").asInt())) {
                    c.authenticate(TakeOverChannelTest.TOKEN).assertPong();
                }
            } finally {
                on.close();
            }
        }
        ControlServer off = new ControlServer(local, TakeOverChannelTest.TOKEN, control, ControlServer.Options.defaults(),
                () -> null);
        try {
            JsonNode n = check(off);
            assertFalse(n.has("takeOverPort"), n.toString());
        } finally {
            off.close();
        }
    }
}
