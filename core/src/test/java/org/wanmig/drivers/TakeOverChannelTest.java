package org.wanmig.drivers;

import com.sun.net.httpserver.HttpServer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.wanmig.config.DataCenter;
import org.wanmig.config.VirtualServer;
import org.wanmig.config.WanTopology;
import org.wanmig.testing.Topologies;

import java.io.DataInputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The MMS's end of the take-over channel against a stand-in agent: its control API (HTTP) and its
 * channel (a socket speaking the frames). The agent's own end is tested in the replication module.
 */
class TakeOverChannelTest {
    private static final String TOKEN = "channel-test-token";
    private HttpServer http;
    private ServerSocket channel;
    private final List<String> httpCalls = new CopyOnWriteArrayList<>();
    private final List<String> frames = new CopyOnWriteArrayList<>();
    private final AtomicInteger connections = new AtomicInteger();
    /** What the stand-in channel does with a TAKEOVER frame: "took", "refuse", "drop". */
    private volatile String onTakeOver = "took";
    /** What it does with a CHECK frame: "ready", "refuse" (409), "unknown" (closes: an agent without CHECK). */
    private volatile String onCheck = "ready";
    private volatile boolean rejectToken;
    /** The stand-in channel's current connection (closed by a test: the agent restarted). */
    private volatile Socket current;
    private DataCenter a;
    private DataCenter b;
    private VirtualServer vs1;
    private final AgentReplicationClient client = new AgentReplicationClient();

    /** The stand-in's channel socket: plain TCP here, TLS in {@link TakeOverChannelTlsTest}. */
    ServerSocket newChannelSocket() throws IOException {
        return new ServerSocket(0, 8, java.net.InetAddress.getLoopbackAddress());
    }

    /** The stand-in's control API: HTTP here, HTTPS in {@link TakeOverChannelTlsTest}. */
    HttpServer newControlApi() throws IOException {
        return HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
    }

    String scheme() {
        return "http";
    }

    @BeforeEach
    void start() throws IOException {
        channel = newChannelSocket();
        Thread t = new Thread(this::serveChannel, "stand-in-channel");
        t.setDaemon(true);
        t.start();
        http = newControlApi();
        http.createContext("/", ex -> {
            String body = new String(ex.getRequestBody().readAllBytes(), StandardCharsets.UTF_8);
            httpCalls.add(ex.getRequestURI().getPath() + " " + body);
            String answer = body.contains("\"check\":true")
                    ? "{\"takeoverReady\":true,\"takeOverPort\":" + channel.getLocalPort() + "}"
                    : "{\"generation\":8}";
            byte[] out = answer.getBytes(StandardCharsets.UTF_8);
            ex.sendResponseHeaders(200, out.length);
            ex.getResponseBody().write(out);
            ex.close();
        });
        http.start();
        String base = scheme() + "://127.0.0.1:" + http.getAddress().getPort();
        WanTopology t2 = Topologies.topology(Topologies.TWO_DC, c -> {
            Topologies.entry(c, "dataCenters", 0).put("agent", base + "/a").put("agentToken", TOKEN);
            Topologies.entry(c, "dataCenters", 1).put("agent", base + "/b").put("agentToken", TOKEN);
        });
        a = t2.dataCenter("dcA").orElseThrow();
        b = t2.dataCenter("dcB").orElseThrow();
        vs1 = t2.server("vs1").orElseThrow();
    }

    @AfterEach
    void stop() throws IOException {
        http.stop(0);
        channel.close();
    }

    private void serveChannel() {
        while (!channel.isClosed()) {
            try (Socket s = channel.accept()) {
                s.setSoTimeout(10_000);   // a TLS client that never finishes its handshake
                current = s;
                connections.incrementAndGet();
                DataInputStream in = new DataInputStream(s.getInputStream());
                OutputStream out = s.getOutputStream();
                while (true) {
                    assertEquals(TakeOverChannel.MAGIC, in.readUnsignedByte());
                    int type = in.readUnsignedByte();
                    byte[] p = new byte[in.readUnsignedShort()];
                    in.readFully(p);
                    if (type == TakeOverChannel.AUTH) {
                        frames.add("AUTH " + new String(p, StandardCharsets.UTF_8));
                        if (rejectToken) {
                            answer(out, TakeOverChannel.REFUSED, refusal(401, "wrong token"));
                            break;
                        }
                        answer(out, TakeOverChannel.WELCOME, new byte[0]);
                    } else if (type == TakeOverChannel.CHECK) {
                        frames.add("CHECK " + new String(p, 1, p[0], StandardCharsets.US_ASCII));
                        if (onCheck.equals("unknown")) {
                            break;
                        }
                        if (onCheck.equals("refuse")) {
                            answer(out, TakeOverChannel.REFUSED, refusal(409, "a write in flight"));
                        } else {
                            answer(out, TakeOverChannel.READY, roleAt(6, "REPLICA"));
                        }
                    } else if (type == TakeOverChannel.TAKEOVER) {
                        int n = p[0];
                        String disk = new String(p, 1, n, StandardCharsets.US_ASCII);
                        String id = new String(p, 2 + n, p[1 + n], StandardCharsets.US_ASCII);
                        frames.add("TAKEOVER " + disk + " " + id);
                        if (onTakeOver.equals("drop")) {
                            break;
                        }
                        if (onTakeOver.equals("refuse")) {
                            answer(out, TakeOverChannel.REFUSED, refusal(409, "not in sync"));
                        } else {
                            answer(out, TakeOverChannel.TOOK_OVER, roleAt(7, "PRIMARY"));
                        }
                    }
                }
            } catch (IOException e) {
                // the client closed, or the test ended
            }
        }
    }

    /** READY's and TOOK_OVER's payload: the generation, then the role. */
    private static byte[] roleAt(long generation, String role) {
        byte[] r = role.getBytes(StandardCharsets.UTF_8);
        return ByteBuffer.allocate(8 + r.length).putLong(generation).put(r).array();
    }

    private static byte[] refusal(int status, String why) {
        byte[] w = why.getBytes(StandardCharsets.UTF_8);
        return ByteBuffer.allocate(2 + w.length).putShort((short) status).put(w).array();
    }

    private static void answer(OutputStream out, int type, byte[] payload) throws IOException {
        out.write(new byte[] {(byte) TakeOverChannel.MAGIC, (byte) type, (byte) (payload.length >> 8),
                (byte) payload.length});
        out.write(payload);
        out.flush();
    }

    private String check() throws Exception {
        return client.checkTakeOver(vs1, a, b).get(10, TimeUnit.SECONDS);
    }

    private String takeOver() throws Exception {
        return client.takeOver("migration-3", vs1, a, b).get(10, TimeUnit.SECONDS);
    }

    private boolean httpTakeOverAsked() {
        return httpCalls.stream().anyMatch(c -> c.contains("\"takeoverId\":\"migration-3\""));
    }

    @Test
    void afterTheCheckTheTakeOverGoesOverTheAuthenticatedChannel() throws Exception {
        String checked = check();
        assertTrue(checked.contains("take-over channel open"), httpCalls.toString());
        assertEquals(scheme().equals("https"), checked.contains(", TLS,"), checked);
        String how = takeOver();
        assertTrue(how.startsWith("dcB took over at generation 7 (channel call"), how);
        assertTrue(checked.contains("checked over it"), checked);
        assertEquals(List.of("AUTH " + TOKEN, "CHECK vs1", "TAKEOVER vs1 migration-3"), frames);
        assertFalse(httpTakeOverAsked(), "no HTTP take-over: " + httpCalls);
    }

    @Test
    void aLaterCheckChecksOverTheOpenChannelInsteadOfOpeningAnother() throws Exception {
        check();
        String again = check();
        assertFalse(again.contains("take-over channel"), again);
        assertEquals(List.of("AUTH " + TOKEN, "CHECK vs1", "CHECK vs1"), frames);
        assertEquals(1, connections.get());
    }

    @Test
    void aCheckRefusedOverTheChannelStillProvesItAndThePauseUsesIt() throws Exception {
        onCheck = "refuse";   // the check over HTTP passed; a write was in flight a moment later
        assertTrue(check().contains("take-over channel open"), frames.toString());
        assertTrue(takeOver().contains("(channel call"));
        assertFalse(httpTakeOverAsked());
    }

    @Test
    void anAgentWithoutCheckOnItsChannelLeavesNoChannelAndThePauseUsesHttp() throws Exception {
        onCheck = "unknown";
        String checked = check();
        assertTrue(checked.contains("no take-over channel"), checked);
        assertTrue(takeOver().startsWith("dcB took over at generation 8 (agent call"));
        assertTrue(httpTakeOverAsked());
        assertEquals(List.of("AUTH " + TOKEN, "CHECK vs1"), frames, "no TAKEOVER on the channel");
    }

    @Test
    void aChannelTheAgentDroppedBetweenTwoChecksIsOpenedAgainAndCarriesThePause() throws Exception {
        check();
        current.close();   // the agent restarted (or its idle deadline closed the connection)
        String again = check();
        assertTrue(again.contains("take-over channel open"), again);
        assertEquals(2, connections.get());
        assertTrue(takeOver().contains("(channel call"));
        assertFalse(httpTakeOverAsked());
    }

    @Test
    void aChannelThatBreaksFallsBackToHttpWithTheSameName() throws Exception {
        check();
        onTakeOver = "drop";
        String how = takeOver();
        assertTrue(how.startsWith("dcB took over at generation 8 (agent call") && how.contains("channel broke"), how);
        assertTrue(httpTakeOverAsked(), httpCalls.toString());
        assertEquals("TAKEOVER vs1 migration-3", frames.get(frames.size() - 1), "tried the channel first");
    }

    @Test
    void aRefusalOnTheChannelIsTheAgentsAnswerNotABrokenChannel() throws Exception {
        check();
        onTakeOver = "refuse";
        ExecutionException e = assertThrows(ExecutionException.class, this::takeOver);
        assertTrue(e.getCause() instanceof JsonHttp.Refused && ((JsonHttp.Refused) e.getCause()).status() == 409,
                String.valueOf(e.getCause()));
        assertFalse(httpTakeOverAsked(), "a refused take-over is not asked again over HTTP");
    }

    @Test
    void aRefusedTokenLeavesNoChannelAndThePauseUsesHttp() throws Exception {
        rejectToken = true;
        String checked = check();
        assertTrue(checked.contains("no take-over channel") && checked.contains("401"), checked);
        assertTrue(takeOver().startsWith("dcB took over at generation 8 (agent call"));
        assertTrue(httpTakeOverAsked());
    }

    @Test
    void withoutAnAdvertisedPortNothingIsOpened() throws Exception {
        channel.close();
        http.removeContext("/");
        http.createContext("/", ex -> {
            httpCalls.add(ex.getRequestURI().getPath());
            byte[] out = "{\"takeoverReady\":true,\"generation\":8}".getBytes(StandardCharsets.UTF_8);
            ex.sendResponseHeaders(200, out.length);
            ex.getResponseBody().write(out);
            ex.close();
        });
        assertFalse(check().contains("channel"));
        assertTrue(takeOver().contains("(agent call"));
        assertEquals(0, connections.get());
    }
}
