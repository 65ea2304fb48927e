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
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * NBD server: one thread per client connection (blocking I/O keeps the protocol code linear;
 * hypervisors open few connections). Any protocol violation closes only that connection.
 */
public final class NbdServer implements Closeable {
    private static final Logger LOG = Logger.getLogger(NbdServer.class.getName());

    private final Exports exports;
    private final ConnectionAcceptor acceptor;

    public NbdServer(InetSocketAddress bind, Exports exports) throws IOException {
        this.exports = exports;
        this.acceptor = new ConnectionAcceptor("nbd", bind, 64, this::serve);
    }

    public int port() {
        return acceptor.port();
    }

    private void serve(Socket s) {
        try (s) {
            s.setTcpNoDelay(true);
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
        }
    }

    @Override
    public void close() throws IOException {
        acceptor.close();
    }
}
