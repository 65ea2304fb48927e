package org.wanmig.replication.bench;

import java.io.Closeable;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A TCP proxy that stands in for the WAN between two agents in tests and benchmarks: it can cut
 * and restore the link, counts the bytes it carries, and optionally shapes traffic (token-bucket
 * rate limit per direction and a fixed one-way delay), since netem is not available here.
 */
public final class LinkProxy implements Closeable {
    private final ServerSocket server;
    private final Set<Socket> sockets = ConcurrentHashMap.newKeySet();
    private final AtomicLong forward = new AtomicLong();
    private final AtomicLong backward = new AtomicLong();
    private volatile InetSocketAddress target;
    private volatile boolean cut;
    private volatile boolean closed;
    private volatile long rateBytesPerSec; // 0 = unlimited
    private volatile long delayNanos;
    private volatile boolean blackhole;

    public LinkProxy(InetSocketAddress listen, InetSocketAddress target) throws IOException {
        this.target = target;
        server = new ServerSocket();
        server.setReuseAddress(true);
        server.bind(listen);
        Thread t = new Thread(this::acceptLoop, "proxy-" + port());
        t.setDaemon(true);
        t.start();
    }

    public int port() { return server.getLocalPort(); }
    public void target(InetSocketAddress t) { target = t; }
    public long forwardBytes() { return forward.get(); }
    public long backwardBytes() { return backward.get(); }
    public void resetCounters() { forward.set(0); backward.set(0); }
    public void rateLimit(long bytesPerSec) { rateBytesPerSec = bytesPerSec; }
    public void delayMs(double ms) { delayNanos = (long) (ms * 1e6); }

    /** Drops every connection and refuses new ones until restore(). */
    public void cut() {
        cut = true;
        for (Socket s : sockets) {
            closeQuietly(s);
        }
    }

    public void restore() {
        cut = false;
        blackhole = false;
    }

    /**
     * Bytes sent from now on are dropped, in both directions, and nothing is closed: a WAN link
     * that went down, which neither end notices from TCP for minutes. restore() ends it (what was
     * dropped stays lost; the connections carry on or are closed by their ends).
     */
    public void blackhole() {
        blackhole = true;
    }

    private void acceptLoop() {
        while (!closed) {
            try {
                Socket in = server.accept();
                if (cut || target == null) {
                    closeQuietly(in);
                    continue;
                }
                Socket out = new Socket();
                try {
                    out.connect(target, 5000);
                } catch (IOException e) {
                    closeQuietly(in);
                    continue;
                }
                in.setTcpNoDelay(true);
                out.setTcpNoDelay(true);
                sockets.add(in);
                sockets.add(out);
                pump(in, out, forward);
                pump(out, in, backward);
            } catch (IOException e) {
                if (!closed) {
                    try {
                        Thread.sleep(10);
                    } catch (InterruptedException ie) {
                        return;
                    }
                }
            }
        }
    }

    /** One direction. With a delay configured, chunks are released only when their time has come. */
    private void pump(Socket from, Socket to, AtomicLong counter) {
        LinkedBlockingQueue<Object[]> q = new LinkedBlockingQueue<>();
        CountDownLatch readerDone = new CountDownLatch(1);
        Thread writer = new Thread(() -> {
            try (OutputStream os = to.getOutputStream()) {
                while (true) {
                    Object[] item = q.take();
                    if (item.length == 0) {
                        break;
                    }
                    long due = (Long) item[0];
                    // parkNanos is far more precise than Thread.sleep's millisecond rounding
                    for (long wait = due - System.nanoTime(); wait > 0; wait = due - System.nanoTime()) {
                        java.util.concurrent.locks.LockSupport.parkNanos(wait);
                    }
                    byte[] b = (byte[]) item[1];
                    os.write(b);
                    counter.addAndGet(b.length);
                }
            } catch (IOException | InterruptedException e) {
                // link cut or peer closed
            } finally {
                closeQuietly(from);
                closeQuietly(to);
                sockets.remove(from);
                sockets.remove(to);
            }
        }, "proxy-w");
        Thread reader = new Thread(() -> {
            byte[] buf = new byte[64 * 1024];
            long bucketTime = System.nanoTime();
            double tokens = 0;
            try (InputStream is = from.getInputStream()) {
                while (true) {
                    long rate = rateBytesPerSec;
                    int want = buf.length;
                    if (rate > 0) {
                        want = (int) Math.max(1024, Math.min(buf.length, rate / 100));
                    }
                    int n = is.read(buf, 0, want);
                    if (n < 0) {
                        break;
                    }
                    if (rate > 0) {
                        // token bucket: spend n bytes, sleep while in debt
                        long now = System.nanoTime();
                        tokens = Math.min(rate / 20.0, tokens + (now - bucketTime) * rate / 1e9);
                        bucketTime = now;
                        tokens -= n;
                        if (tokens < 0) {
                            long until = now + (long) (-tokens * 1e9 / rate);
                            for (long w = until - System.nanoTime(); w > 0; w = until - System.nanoTime()) {
                                java.util.concurrent.locks.LockSupport.parkNanos(w);
                            }
                        }
                    }
                    if (blackhole) {
                        continue;
                    }
                    byte[] copy = java.util.Arrays.copyOf(buf, n);
                    q.put(new Object[]{System.nanoTime() + delayNanos, copy});
                }
            } catch (IOException | InterruptedException e) {
                // closed
            } finally {
                q.offer(new Object[0]);
                readerDone.countDown();
            }
        }, "proxy-r");
        writer.setDaemon(true);
        reader.setDaemon(true);
        writer.start();
        reader.start();
    }

    private static void closeQuietly(Socket s) {
        try {
            s.close();
        } catch (IOException ignored) {
            // closing anyway
        }
    }

    @Override
    public void close() {
        closed = true;
        closeQuietly(sockets.isEmpty() ? new Socket() : sockets.iterator().next());
        try {
            server.close();
        } catch (IOException ignored) {
            // closing anyway
        }
        cut();
    }

    /** Standalone use (benchmark): --listen H:P --target H:P [--rate-mbit N] [--delay-ms D] */
    public static void main(String[] args) throws Exception {
        String listen = "127.0.0.1:0";
        String tgt = null;
        double mbit = 0;
        double delay = 0;
        for (int i = 0; i + 1 < args.length; i += 2) {
            switch (args[i]) {
                case "--listen": listen = args[i + 1]; break;
                case "--target": tgt = args[i + 1]; break;
                case "--rate-mbit": mbit = Double.parseDouble(args[i + 1]); break;
                case "--delay-ms": delay = Double.parseDouble(args[i + 1]); break;
                default: throw new IllegalArgumentException(args[i]);
            }
        }
        if (tgt == null) {
            throw new IllegalArgumentException("--target required");
        }
        LinkProxy p = new LinkProxy(parse(listen), parse(tgt));
        p.rateLimit((long) (mbit * 1e6 / 8));
        p.delayMs(delay);
        System.out.println("proxy listening on " + p.port());
        System.out.flush();
        Thread.currentThread().join();
    }

    private static InetSocketAddress parse(String s) {
        int i = s.lastIndexOf(':');
        return new InetSocketAddress(s.substring(0, i), Integer.parseInt(s.substring(i + 1)));
    }
}
