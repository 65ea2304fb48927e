package org.wanmig.replication.net;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.io.ByteArrayInputStream;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketException;
import java.net.SocketTimeoutException;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

@Timeout(30)
class DeadlineInputStreamTest {
    /** Records every timeout set on it; never connected. */
    private static final class RecordingSocket extends Socket {
        final List<Integer> timeouts = new ArrayList<>();

        @Override
        public synchronized void setSoTimeout(int timeout) throws SocketException {
            timeouts.add(timeout);
        }
    }

    private static void frames(DeadlineInputStream in, int frames, int readsPerFrame) throws Exception {
        for (int f = 0; f < frames; f++) {
            in.read(); // idle wait for the first byte
            in.frameStarted();
            for (int r = 0; r < readsPerFrame; r++) {
                in.read(new byte[3], 0, 3);
            }
            in.frameDone();
        }
    }

    @Test
    void theTimeoutIsSetWhenItChangesNotBeforeEveryRead() throws Exception {
        // NBD shape: wait forever between requests, a deadline within one: two changes per frame
        RecordingSocket nbd = new RecordingSocket();
        frames(new DeadlineInputStream(nbd, new ByteArrayInputStream(new byte[10_000]), 0, 30_000), 50, 20);
        assertEquals(100, nbd.timeouts.size(), "set " + nbd.timeouts.size() + " times for 50 frames of 21 reads");
        for (int i = 0; i < nbd.timeouts.size(); i += 2) {
            assertEquals(0, nbd.timeouts.get(i));
            int t = nbd.timeouts.get(i + 1);
            assertTrue(t > 29_000 && t <= 30_000, "frame timeout armed as " + t);
        }
        // peer shape: idle and frame timeout equal: set once at all
        RecordingSocket peer = new RecordingSocket();
        frames(new DeadlineInputStream(peer, new ByteArrayInputStream(new byte[10_000]), 30_000, 30_000), 50, 20);
        assertEquals(List.of(30_000), peer.timeouts);
    }

    @Test
    void aFrameThatTricklesIsCutAtItsDeadlineButIdleTimeIsNot() throws Exception {
        try (ServerSocket ss = new ServerSocket(0, 1, InetAddress.getLoopbackAddress());
             Socket client = new Socket(InetAddress.getLoopbackAddress(), ss.getLocalPort());
             Socket server = ss.accept()) {
            DeadlineInputStream in = new DeadlineInputStream(server, server.getInputStream(), 0, 800);
            OutputStream out = client.getOutputStream();
            Thread sender = new Thread(() -> {
                try {
                    Thread.sleep(1200); // idle longer than the frame timeout: allowed
                    for (int i = 0; i < 100; i++) {
                        out.write(i);
                        out.flush();
                        Thread.sleep(100); // each read returns well within the timeout
                    }
                } catch (Exception e) {
                    // the reader gave up and the test closed the socket
                }
            });
            sender.setDaemon(true);
            sender.start();
            assertEquals(0, in.read());
            in.frameStarted();
            long t0 = System.nanoTime();
            InputStream timed = in;
            SocketTimeoutException e = assertThrows(SocketTimeoutException.class, () -> {
                while (true) {
                    timed.read();
                }
            });
            long ms = (System.nanoTime() - t0) / 1_000_000;
            assertTrue(ms >= 700, "cut after " + ms + " ms, before the 800 ms deadline: " + e);
            assertTrue(ms < 5_000, "not cut by the frame deadline: " + ms + " ms");
        }
    }
}
