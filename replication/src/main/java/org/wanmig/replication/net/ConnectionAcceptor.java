package org.wanmig.replication.net;

import java.io.Closeable;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Consumer;
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
    private volatile boolean closed;

    public ConnectionAcceptor(String name, InetSocketAddress bind, int backlog, Consumer<Socket> handler)
            throws IOException {
        this.name = name;
        this.handler = handler;
        server = new ServerSocket();
        server.setReuseAddress(true);
        server.bind(bind, backlog);
        Thread t = new Thread(this::acceptLoop, name + "-accept-" + port());
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
                open.add(s);
                Thread t = new Thread(() -> {
                    try {
                        handler.accept(s);
                    } finally {
                        open.remove(s);
                    }
                }, name + "-" + s.getRemoteSocketAddress());
                t.setDaemon(true);
                t.start();
            } catch (IOException e) {
                if (!closed) {
                    LOG.warning(name + " accept failed: " + e);
                }
            }
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
