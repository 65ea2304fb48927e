package org.wanmig.replication.nbd;

import java.io.BufferedOutputStream;
import java.io.Closeable;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketException;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * NBD server: one thread per client connection (blocking I/O keeps the protocol code linear;
 * hypervisors open few connections). Any protocol violation closes only that connection.
 */
public final class NbdServer implements Closeable {
    private static final Logger LOG = Logger.getLogger(NbdServer.class.getName());

    private final ServerSocket server;
    private final Exports exports;
    private final Set<Socket> clients = ConcurrentHashMap.newKeySet();
    private final Thread acceptor;
    private volatile boolean closed;

    public NbdServer(InetSocketAddress bind, Exports exports) throws IOException {
        this.exports = exports;
        this.server = new ServerSocket();
        server.setReuseAddress(true);
        server.bind(bind, 64);
        acceptor = new Thread(this::acceptLoop, "nbd-accept-" + port());
        acceptor.setDaemon(true);
        acceptor.start();
        LOG.info("NBD server listening on " + server.getLocalSocketAddress());
    }

    public int port() {
        return server.getLocalPort();
    }

    private void acceptLoop() {
        while (!closed) {
            try {
                Socket s = server.accept();
                s.setTcpNoDelay(true);
                clients.add(s);
                Thread t = new Thread(() -> serve(s), "nbd-client-" + s.getRemoteSocketAddress());
                t.setDaemon(true);
                t.start();
            } catch (IOException e) {
                if (!closed) {
                    LOG.warning("NBD accept failed: " + e);
                }
            }
        }
    }

    private void serve(Socket s) {
        try (s) {
            BufferedSocketInput buffered = new BufferedSocketInput(s.getInputStream(), 256 * 1024);
            DataInputStream in = new DataInputStream(buffered);
            DataOutputStream out = new DataOutputStream(new BufferedOutputStream(s.getOutputStream(), 256 * 1024));
            BlockDevice dev = new NbdHandshake(new HandshakeCodec(in, out), exports).negotiate();
            if (dev != null) {
                new NbdSession(new CommandCodec(in, out, buffered), dev).run();
            }
        } catch (NbdProtocolException e) {
            LOG.warning("NBD protocol error from " + s.getRemoteSocketAddress() + ": " + e.getMessage());
        } catch (EOFException | SocketException e) {
            LOG.fine("NBD client went away: " + e);
        } catch (IOException | RuntimeException e) {
            // Never let one client's problem take the agent down.
            LOG.log(Level.WARNING, "NBD connection failed", e);
        } finally {
            clients.remove(s);
        }
    }

    @Override
    public void close() throws IOException {
        closed = true;
        server.close();
        for (Socket s : clients) {
            try {
                s.close();
            } catch (IOException ignored) {
                // closing anyway
            }
        }
    }
}
