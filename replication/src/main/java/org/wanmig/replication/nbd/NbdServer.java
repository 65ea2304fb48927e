package org.wanmig.replication.nbd;

import java.io.BufferedOutputStream;
import java.io.Closeable;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketException;
import org.wanmig.replication.net.ConnectionAcceptor;
import org.wanmig.replication.net.DeadlineInputStream;
import org.wanmig.replication.net.LogSafe;
import org.wanmig.replication.net.Watchdog;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * NBD server: one thread per client connection (blocking I/O keeps the protocol code linear;
 * hypervisors open few connections). Any protocol violation closes only that connection.
 * Connections are capped; the handshake must be over within a deadline, and once a request's first
 * byte has arrived the request (header, then payload) must arrive within the request timeout; an
 * idle client between requests may wait forever.
 */
public final class NbdServer implements Closeable {
    private static final Logger LOG = Logger.getLogger(NbdServer.class.getName());
    public static final int DEFAULT_MAX_CONNECTIONS = 32;

    private final Exports exports;
    private final ConnectionAcceptor acceptor;
    private final int handshakeTimeoutMs;
    private final int requestTimeoutMs;

    public NbdServer(InetSocketAddress bind, Exports exports) throws IOException {
        this(bind, exports, DEFAULT_MAX_CONNECTIONS, 10_000, 30_000);
    }

    public NbdServer(InetSocketAddress bind, Exports exports, int maxConnections, int handshakeTimeoutMs,
                     int requestTimeoutMs) throws IOException {
        this.exports = exports;
        this.handshakeTimeoutMs = handshakeTimeoutMs;
        this.requestTimeoutMs = requestTimeoutMs;
        this.acceptor = new ConnectionAcceptor("nbd", bind, 64, maxConnections, this::serve);
    }

    public int port() {
        return acceptor.port();
    }

    private void serve(Socket s) {
        try (s) {
            s.setTcpNoDelay(true);
            DeadlineInputStream timed = new DeadlineInputStream(s, s.getInputStream(), 0, requestTimeoutMs);
            // Small buffers until an export is chosen; the large ones only for a client that got that far.
            HandshakeInput small = new HandshakeInput(timed, 4096);
            BufferedOutputStream smallOut = new BufferedOutputStream(s.getOutputStream(), 4096);
            Watchdog.Deadline deadline = Watchdog.closeAfter("nbd " + s.getRemoteSocketAddress(), s, handshakeTimeoutMs);
            BlockDevice dev;
            try {
                dev = new NbdHandshake(new HandshakeCodec(new DataInputStream(small), new DataOutputStream(smallOut)),
                        exports).negotiate();
            } finally {
                deadline.cancel();
            }
            if (deadline.fired()) {
                throw new NbdProtocolException("handshake not done within " + handshakeTimeoutMs + " ms");
            }
            if (dev != null) {
                smallOut.flush();
                BufferedSocketInput buffered = new BufferedSocketInput(small.handOver(), 256 * 1024);
                DataInputStream in = new DataInputStream(buffered);
                DataOutputStream out = new DataOutputStream(new BufferedOutputStream(s.getOutputStream(), 256 * 1024));
                new NbdSession(new CommandCodec(in, out, buffered, timed), dev).run();
            }
        } catch (NbdProtocolException e) {
            LOG.warning("NBD protocol error from " + s.getRemoteSocketAddress() + ": " + LogSafe.escape(e.getMessage()));
        } catch (EOFException | SocketException e) {
            LOG.fine("NBD client went away: " + LogSafe.escape(e.toString()));
        } catch (IOException | RuntimeException e) {
            // Never let one client's problem take the agent down.
            LOG.log(Level.WARNING, "NBD connection failed", e);
        }
    }

    @Override
    public void close() throws IOException {
        acceptor.close();
    }
}
