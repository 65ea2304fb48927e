package org.wanmig.replication.control.takeover;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The take-over channel over real sockets on loopback, against a fake agent. */
@Timeout(60)
class TakeOverChannelTest {
    static final String TOKEN = "channel-token-0123456789";
    private final FakeControl control = new FakeControl();
    private final List<AutoCloseable> open = new ArrayList<>();
    private TakeOverChannel channel;

    private TakeOverChannel start(int handshakeMs, int frameMs, int idleMs) throws IOException {
        channel = new TakeOverChannel(new InetSocketAddress("127.0.0.1", 0), TOKEN, control,
                new TakeOverChannel.Limits(handshakeMs, frameMs, idleMs));
        return channel;
    }

    private TakeOverChannel start() throws IOException {
        return start(10_000, 10_000, 30_000);
    }

    private TakeOverClient connect() throws IOException {
        TakeOverClient c = new TakeOverClient(channel.port());
        open.add(c);
        return c;
    }

    @AfterEach
    void tearDown() throws Exception {
        for (AutoCloseable c : open) {
            c.close();
        }
        if (channel != null) {
            channel.close();
        }
    }

    private static byte[] takeOver(String disk, String id) {
        return TakeOverEncoder.takeOver(TakeOverRequest.of(disk, id));
    }

    private static byte[] concat(byte[]... parts) {
        ByteBuffer b = ByteBuffer.allocate(java.util.Arrays.stream(parts).mapToInt(p -> p.length).sum());
        for (byte[] p : parts) {
            b.put(p);
        }
        return b.array();
    }

    // ---- authentication

    @Test
    void takeOverBeforeAuthIsRefused401AndClosed() throws Exception {
        start();
        TakeOverClient c = connect().send(takeOver("vs1", "migration-7"));
        assertEquals(401, TakeOverClient.status(c.read()));
        c.assertClosedWithin(2_000);
        assertTrue(control.calls.isEmpty(), "taken over without authentication");
        // a PING first is no better
        TakeOverClient p = connect().send(TakeOverEncoder.ping());
        assertEquals(401, TakeOverClient.status(p.read()));
        p.assertClosedWithin(2_000);
    }

    @Test
    void wrongTokenIsRefused401AndClosed() throws Exception {
        start();
        for (String wrong : new String[]{"channel-token-0123456788", "channel-token", TOKEN + "x", "", "Bearer " + TOKEN}) {
            TakeOverClient c = connect().send(TakeOverEncoder.auth(wrong));
            assertEquals(401, TakeOverClient.status(c.read()), wrong);
            c.assertClosedWithin(2_000);
        }
    }

    @Test
    void rightTokenIsWelcomed() throws Exception {
        start();
        TakeOverClient c = connect().send(TakeOverEncoder.auth(TOKEN));
        TakeOverFrame w = c.read();
        assertEquals(TakeOverFrame.WELCOME, w.type());
        assertEquals(0, w.payloadLength());
        c.assertPong();
        c.assertPong();
    }

    // ---- take-over

    @Test
    void takeOverIsAnsweredTookOverThenAnsweredCompletes() throws Exception {
        start();
        CountDownLatch clientHasAnswer = new CountDownLatch(1);
        AtomicBoolean completedAfterTheAnswer = new AtomicBoolean();
        CountDownLatch completed = new CountDownLatch(1);
        // Completion runs this on the channel's thread: had it completed before writing, the client
        // would still wait for the answer and this would see no answer for 3 s.
        control.onTakeOver = answered -> answered.whenComplete((v, e) -> {
            try {
                completedAfterTheAnswer.set(clientHasAnswer.await(3, TimeUnit.SECONDS));
            } catch (InterruptedException ie) {
                Thread.currentThread().interrupt();
            }
            completed.countDown();
        });
        TakeOverClient c = connect().authenticate(TOKEN);
        long start = System.nanoTime();
        TakeOverFrame f = c.send(takeOver("vs1", "migration-7")).read();
        long ms = (System.nanoTime() - start) / 1_000_000;
        clientHasAnswer.countDown();
        assertEquals(TakeOverFrame.TOOK_OVER, f.type(), f.toString());
        ByteBuffer p = ByteBuffer.wrap(f.payload());
        assertEquals(FakeControl.GENERATION, p.getLong());
        assertEquals("PRIMARY", StandardCharsets.UTF_8.decode(p).toString());
        assertTrue(ms < 2_000, "answered after " + ms + " ms");
        assertTrue(completed.await(10, TimeUnit.SECONDS), "answered never completed");
        assertTrue(completedAfterTheAnswer.get(), "answered completed before the answer was written");

        FakeControl.Call call = control.calls.get(0);
        assertEquals("vs1", call.disk);
        assertEquals("migration-7", call.takeOverId);
        assertFalse(call.answeredWhenCalled, "answered completed before the take-over ran");
        assertTrue(call.thread.startsWith("takeover-channel-"), "ran on " + call.thread);

        // unnamed (m = 0): null id; the connection serves the next take-over
        control.onTakeOver = a -> { };
        assertEquals(TakeOverFrame.TOOK_OVER, c.send(takeOver("vs1", null)).read().type());
        assertNull(control.calls.get(1).takeOverId);
        // completed right after the write, which the client may read first
        control.calls.get(1).answered.toCompletableFuture().get(5, TimeUnit.SECONDS);
    }

    @Test
    void refusalsMapTo404And409And500AndTheConnectionStaysOpen() throws Exception {
        start();
        TakeOverClient c = connect().authenticate(TOKEN);
        TakeOverFrame nf = c.send(takeOver("nope", null)).read();
        assertEquals(404, TakeOverClient.status(nf));
        assertEquals("no such disk: nope", TakeOverClient.message(nf));
        TakeOverFrame conflict = c.send(takeOver("busy", "migration-7")).read();
        assertEquals(409, TakeOverClient.status(conflict));
        assertTrue(TakeOverClient.message(conflict).contains("not in sync"), TakeOverClient.message(conflict));
        TakeOverFrame failed = c.send(takeOver("boom", null)).read();
        assertEquals(500, TakeOverClient.status(failed));
        assertTrue(TakeOverClient.message(failed).startsWith("internal error: java.lang.IllegalStateException"),
                TakeOverClient.message(failed));
        c.assertPong();
        assertEquals(3, control.calls.size());
        for (FakeControl.Call call : control.calls) {
            assertTrue(call.answered.toCompletableFuture().isDone(), call.disk + ": answered not completed");
        }
    }

    @Test
    void checkIsAnsweredReadyOrRefusedAsTheTakeOverWouldBeAndTakesNothingOver() throws Exception {
        start();
        TakeOverClient c = connect().authenticate(TOKEN);
        TakeOverFrame ready = c.send(TakeOverEncoder.check(TakeOverRequest.of("vs1", "migration-7"))).read();
        assertEquals(TakeOverFrame.READY, ready.type(), ready.toString());
        ByteBuffer p = ByteBuffer.wrap(ready.payload());
        assertEquals(FakeControl.GENERATION - 1, p.getLong());
        assertEquals("REPLICA", StandardCharsets.UTF_8.decode(p).toString());
        assertEquals(404, TakeOverClient.status(c.send(TakeOverEncoder.check(TakeOverRequest.of("nope", null))).read()));
        TakeOverFrame busy = c.send(TakeOverEncoder.check(TakeOverRequest.of("busy", null))).read();
        assertEquals(409, TakeOverClient.status(busy));
        assertTrue(TakeOverClient.message(busy).contains("not in sync"), TakeOverClient.message(busy));
        assertEquals(List.of("vs1", "nope", "busy"), control.checks);
        assertTrue(control.calls.isEmpty(), "a check took over");
        // malformed as a TAKEOVER would be: 400, and the connection serves on
        assertEquals(400, TakeOverClient.status(c.send(TakeOverEncoder.frame(TakeOverFrame.CHECK, new byte[] {3, 'v'})).read()));
        assertEquals(TakeOverFrame.TOOK_OVER, c.send(takeOver("vs1", "migration-7")).read().type());
    }

    @Test
    void malformedTakeOverIsRefused400AndTheConnectionServesOn() throws Exception {
        start();
        TakeOverClient c = connect().authenticate(TOKEN);
        byte[][] malformed = {
            {},                                        // empty
            {0, 0},                                    // no disk name
            {3, 'v', 's'},                             // ends inside the disk name
            {3, 'v', 's', '1'},                        // no id length
            {3, 'v', '/', '1', 0},                     // bad disk character
            {3, '.', 's', '1', 0},                     // disk starts with '.'
            {3, 'v', 's', '1', 2, 'a'},                // ends inside the id
            {3, 'v', 's', '1', 1, 'a', 'x'},           // bytes after the id
            {3, 'v', 's', '1', 2, 'a', ' '},           // bad id character
            {3, 'v', 's', (byte) 0xe9, 0},             // non-ASCII disk name
        };
        for (byte[] p : malformed) {
            TakeOverFrame f = c.send(TakeOverEncoder.frame(TakeOverFrame.TAKEOVER, p)).read();
            assertEquals(400, TakeOverClient.status(f), java.util.Arrays.toString(p));
            assertFalse(TakeOverClient.message(f).isEmpty());
        }
        // the longest payload allowed still frames correctly (and is malformed: trailing bytes)
        byte[] big = new byte[TakeOverFrame.MAX_PAYLOAD];
        big[0] = 3;
        big[1] = 'v';
        big[2] = 's';
        big[3] = '1';
        assertEquals(400, TakeOverClient.status(c.send(TakeOverEncoder.frame(TakeOverFrame.TAKEOVER, big)).read()));
        c.assertPong();
        assertTrue(control.calls.isEmpty(), "a malformed request reached the agent");
    }

    // ---- framing errors: closed without an answer

    private static byte[] header(int magic, int type, int length) {
        return new byte[]{(byte) magic, (byte) type, (byte) (length >> 8), (byte) length};
    }

    @Test
    void headerAbove1024BytesCloses() throws Exception {
        start();
        TakeOverClient c = connect().authenticate(TOKEN);
        c.send(header(0x57, 0x02, 1025));
        c.assertClosedWithin(2_000);
        TakeOverClient d = connect().authenticate(TOKEN);
        d.send(header(0x57, 0x03, 0xffff));
        d.assertClosedWithin(2_000);
        // before authentication as well
        connect().send(header(0x57, 0x01, 1025)).assertClosedWithin(2_000);
    }

    @Test
    void badMagicOrUnknownTypeCloses() throws Exception {
        start();
        connect().authenticate(TOKEN).send(header(0x58, 0x03, 0)).assertClosedWithin(2_000);
        connect().send(header(0x00, 0x01, 0)).assertClosedWithin(2_000);
        connect().authenticate(TOKEN).send(header(0x57, 0x05, 0)).assertClosedWithin(2_000);
        // an answer's type from a client is unknown too
        connect().authenticate(TOKEN).send(header(0x57, 0x83, 0)).assertClosedWithin(2_000);
        // AUTH again, PING with a payload: the protocol broken, closed
        connect().authenticate(TOKEN).send(TakeOverEncoder.auth(TOKEN)).assertClosedWithin(2_000);
        connect().authenticate(TOKEN).send(TakeOverEncoder.frame(TakeOverFrame.PING, new byte[]{1}))
                .assertClosedWithin(2_000);
    }

    // ---- deadlines

    @Test
    void silentClientIsClosedAtTheAuthDeadline() throws Exception {
        start(400, 30_000, 30_000); // only the handshake deadline can close it soon
        TakeOverClient c = connect();
        long ms = c.assertClosedWithin(3_000);
        assertTrue(ms >= 300, "closed after " + ms + " ms, before the deadline");
        // a trickled AUTH that is not complete in time is cut as well
        TakeOverClient t = connect();
        byte[] auth = TakeOverEncoder.auth(TOKEN);
        t.send(new byte[]{auth[0], auth[1], auth[2], auth[3], auth[4]});
        Thread.sleep(150);
        t.send(new byte[]{auth[5]});
        t.assertClosedWithin(3_000);
        // and a prompt AUTH is welcomed and outlives the deadline
        TakeOverClient ok = connect().authenticate(TOKEN);
        Thread.sleep(600);
        ok.assertPong();
    }

    @Test
    void connectionIdleAfterAuthIsClosedAndPingsKeepItOpen() throws Exception {
        start(10_000, 10_000, 500);
        TakeOverClient c = connect().authenticate(TOKEN);
        for (int i = 0; i < 8; i++) { // 1.6 s, three times the idle timeout
            Thread.sleep(200);
            c.assertPong();
        }
        long ms = c.assertClosedWithin(3_000);
        assertTrue(ms >= 400, "closed after " + ms + " ms of silence");
    }

    @Test
    void frameStartedButNotCompletedIsClosedAtTheFrameDeadline() throws Exception {
        start(10_000, 400, 30_000); // the idle timeout is far: only the frame deadline can act
        TakeOverClient c = connect().authenticate(TOKEN);
        c.send(new byte[]{0x57, 0x02, 0, 10, 3, 'v', 's'}); // header promises 10 bytes, 3 come
        long ms = c.assertClosedWithin(3_000);
        assertTrue(ms >= 300, "closed after " + ms + " ms");
        // trickling does not extend it: a byte every 100 ms
        TakeOverClient t = connect().authenticate(TOKEN);
        long start = System.nanoTime();
        t.send(new byte[]{0x57});
        AtomicReference<Exception> stopped = new AtomicReference<>();
        for (int i = 0; i < 30 && stopped.get() == null; i++) {
            Thread.sleep(100);
            try {
                t.send(new byte[]{i == 0 ? 0x02 : i == 1 ? 0 : i == 2 ? (byte) 100 : (byte) 'a'});
            } catch (IOException e) {
                stopped.set(e);
            }
        }
        t.assertClosedWithin(3_000);
        long total = (System.nanoTime() - start) / 1_000_000;
        assertTrue(total < 2_500, "a trickled frame held the connection " + total + " ms");
        assertTrue(control.calls.isEmpty());
    }

    // ---- limits and lifecycle

    @Test
    void ninthConnectionIsClosedAtOnce() throws Exception {
        start();
        List<TakeOverClient> eight = new ArrayList<>();
        for (int i = 0; i < TakeOverChannel.MAX_CONNECTIONS; i++) {
            eight.add(connect().authenticate(TOKEN));
        }
        assertEquals(8, TakeOverChannel.MAX_CONNECTIONS);
        long t0 = System.nanoTime();
        try {
            connect().assertClosedWithin(2_000);
        } catch (java.net.SocketException resetWhileConnecting) {
            // the reset came before the client's connect had finished: closed at once as well
        }
        long ms = (System.nanoTime() - t0) / 1_000_000;
        assertTrue(ms < 1_000, "the 9th waited " + ms + " ms");
        for (TakeOverClient c : eight) {
            c.assertPong();
        }
        // one leaves: a new one is served
        eight.get(0).close();
        long deadline = System.currentTimeMillis() + 5_000;
        while (true) {
            try {   // refused (reset) until the channel has seen the first one leave
                connect().authenticate(TOKEN);
                break;
            } catch (AssertionError | IOException e) {
                if (System.currentTimeMillis() > deadline) {
                    throw e;
                }
                Thread.sleep(50);
            }
        }
    }

    @Test
    void clientsWithoutTheTokenHoldHalfTheSlotsAtMostAndTheOldestIsEvicted() throws Exception {
        start();
        assertEquals(4, TakeOverChannel.MAX_UNAUTHENTICATED);
        List<TakeOverClient> silent = new ArrayList<>();
        for (int i = 0; i < TakeOverChannel.MAX_UNAUTHENTICATED; i++) {
            silent.add(connect());   // connected, no AUTH: each would wait for the handshake deadline
            awaitAwaitingAuth(i + 1);
        }
        // a fifth without AUTH: the oldest is closed at once, not the new one
        silent.add(connect());
        silent.get(0).assertClosedWithin(2_000);
        awaitAwaitingAuth(TakeOverChannel.MAX_UNAUTHENTICATED);
        // clients that authenticate still get in, up to the other half (and one evicts a silent one)
        for (int i = 0; i < TakeOverChannel.MAX_CONNECTIONS - TakeOverChannel.MAX_UNAUTHENTICATED; i++) {
            authenticatedWithin(5_000).assertPong();
        }
        assertTrue(channel.awaitingAuth() <= TakeOverChannel.MAX_UNAUTHENTICATED - 1, "an authenticated one left the count");
    }

    private void awaitAwaitingAuth(int n) throws InterruptedException {
        long deadline = System.currentTimeMillis() + 5_000;
        while (channel.awaitingAuth() != n) {   // counted once their threads run
            assertTrue(System.currentTimeMillis() < deadline, channel.awaitingAuth() + " awaiting AUTH, not " + n);
            Thread.sleep(10);
        }
    }

    /** A new authenticated connection, tried again while refused (a slot frees once its thread has ended). */
    private TakeOverClient authenticatedWithin(int ms) throws Exception {
        long deadline = System.currentTimeMillis() + ms;
        while (true) {
            try {
                return connect().authenticate(TOKEN);
            } catch (AssertionError | IOException e) {
                if (System.currentTimeMillis() > deadline) {
                    throw e;
                }
                Thread.sleep(50);
            }
        }
    }

    @Test
    void closeWithOpenConnectionsReturnsPromptly() throws Exception {
        start();
        TakeOverClient authed = connect().authenticate(TOKEN);
        TakeOverClient waiting = connect();
        TakeOverClient midFrame = connect().authenticate(TOKEN).send(new byte[]{0x57, 0x02, 0, 10});
        authed.assertPong();
        assertTrue(threadNamed("takeover-accept"), "no acceptor thread");
        for (Thread t : Thread.getAllStackTraces().keySet()) {
            if (t.getName().startsWith("takeover-")) {
                assertTrue(t.isDaemon(), t.getName() + " is not a daemon");
                assertTrue(t.getName().equals("takeover-accept") || t.getName().matches("takeover-channel-\\d+"),
                        t.getName());
            }
        }
        int port = channel.port();
        long start = System.nanoTime();
        channel.close();
        long ms = (System.nanoTime() - start) / 1_000_000;
        assertTrue(ms < 1_000, "close took " + ms + " ms");
        authed.assertClosedWithin(2_000);
        waiting.assertClosedWithin(2_000);
        midFrame.assertClosedWithin(2_000);
        // refused, or reset when the SYN reached the listener's queue just before it closed; the
        // JDK releases a listening socket that its acceptor thread is blocked on once that thread
        // has been woken, an instant after close() returns
        long until = System.currentTimeMillis() + 2_000;
        while (true) {
            try {
                new Socket("127.0.0.1", port).close();
            } catch (java.net.SocketException stopped) {
                break;
            }
            assertTrue(System.currentTimeMillis() < until, "still accepting 2 s after close()");
            Thread.sleep(20);
        }
        long deadline = System.currentTimeMillis() + 5_000;
        while (threadNamed("takeover-") && System.currentTimeMillis() < deadline) {
            Thread.sleep(20);
        }
        assertFalse(threadNamed("takeover-"), "a channel thread outlived close()");
        channel = null;
    }

    private static boolean threadNamed(String prefix) {
        return Thread.getAllStackTraces().keySet().stream().anyMatch(t -> t.isAlive() && t.getName().startsWith(prefix));
    }

    @Test
    void requestsPipelinedInOneWriteAreAnsweredInOrder() throws Exception {
        start();
        TakeOverClient c = connect();
        c.send(concat(TakeOverEncoder.auth(TOKEN), TakeOverEncoder.ping(), takeOver("vs1", "m-1"),
                takeOver("nope", null), TakeOverEncoder.ping()));
        assertEquals(TakeOverFrame.WELCOME, c.read().type());
        assertEquals(TakeOverFrame.PONG, c.read().type());
        assertEquals(TakeOverFrame.TOOK_OVER, c.read().type());
        assertEquals(404, TakeOverClient.status(c.read()));
        assertEquals(TakeOverFrame.PONG, c.read().type());
        assertArrayEquals(new String[]{"vs1", "nope"}, control.calls.stream().map(x -> x.disk).toArray());
    }
}
