package org.wanmig.replication.net;

import java.io.Closeable;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;
import java.util.function.LongFunction;
import java.util.logging.Logger;

/**
 * A listening socket that hands each accepted connection to a handler on a thread of its own
 * (blocking I/O keeps the protocol code linear; agents see few connections) and closes every
 * open connection when closed. The handler owns its socket and closes it when done.
 */
public final class ConnectionAcceptor implements Closeable {
    private static final Logger LOG = Logger.getLogger(ConnectionAcceptor.class.getName());

    private final String name;
    private final ServerSocket server;
    private final Consumer<Socket> handler;
    private final Set<Socket> open = ConcurrentHashMap.newKeySet();
    private final int maxConnections;
    private final LongFunction<String> connectionThreadName; // null: name and the client's address
    private final AtomicLong accepted = new AtomicLong();
    private volatile boolean closed;
    private long lastRefusalLog;
    private long refused;

    /** maxConnections: connections beyond it are accepted and closed at once (logged, rate-limited). */
    public ConnectionAcceptor(String name, InetSocketAddress bind, int backlog, int maxConnections,
                              Consumer<Socket> handler) throws IOException {
        this(name, bind, backlog, maxConnections, handler, null, null);
    }

    /**
     * As above, the threads named acceptThreadName and connectionThreadName(n) for the n-th accepted
     * connection (1, 2, ...); null for either keeps the default names.
     */
    public ConnectionAcceptor(String name, InetSocketAddress bind, int backlog, int maxConnections,
                              Consumer<Socket> handler, String acceptThreadName,
                              LongFunction<String> connectionThreadName) throws IOException {
        this.name = name;
        this.handler = handler;
        this.maxConnections = maxConnections;
        this.connectionThreadName = connectionThreadName;
        server = new ServerSocket();
        server.setReuseAddress(true);
        server.bind(bind, backlog);
        Thread t = new Thread(this::acceptLoop, acceptThreadName != null ? acceptThreadName
                : name + "-accept-" + port());
        t.setDaemon(true);
        t.start();
        LOG.info(name + " listening on " + server.getLocalSocketAddress());
    }

    public int port() {
        return server.getLocalPort();
    }

    private void acceptLoop() {
        while (!closed) {
            try {
                Socket s = server.accept();
                if (open.size() >= maxConnections) {
                    refuse(s);
                    continue;
                }
                open.add(s);
                if (closed) { // close() ran between accept and add: it did not see this one
                    open.remove(s);
                    s.close();
                    continue;
                }
                long n = accepted.incrementAndGet();
                Thread t = new Thread(() -> {
                    try {
                        handler.accept(s);
                    } finally {
                        open.remove(s);
                    }
                }, connectionThreadName != null ? connectionThreadName.apply(n)
                        : name + "-" + s.getRemoteSocketAddress());
                t.setDaemon(true);
                t.start();
            } catch (IOException e) {
                if (!closed) {
                    LOG.warning(name + " accept failed: " + e);
                }
            }
        }
    }

    /** Open connections right now. */
    public int openConnections() {
        return open.size();
    }

    private void refuse(Socket s) {
        refused++;
        long now = System.nanoTime();
        if (lastRefusalLog == 0 || now - lastRefusalLog > 10_000_000_000L) {
            LOG.warning(name + ": connection limit " + maxConnections + " reached, refusing "
                    + s.getRemoteSocketAddress() + " (" + refused + " refused so far)");
            lastRefusalLog = now;
        }
        try {
            s.setSoLinger(true, 0); // reset: frees the slot and tells the client at once
            s.close();
        } catch (IOException ignored) {
            // gone anyway
        }
    }

    @Override
    public void close() throws IOException {
        closed = true;
        server.close();
        for (Socket s : open) {
            try {
                s.close();
            } catch (IOException ignored) {
                // closing anyway
            }
        }
    }
}
