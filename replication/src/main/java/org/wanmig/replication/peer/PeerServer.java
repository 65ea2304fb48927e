package org.wanmig.replication.peer;

import org.wanmig.replication.net.ConnectionAcceptor;
import org.wanmig.replication.net.LogSafe;

import com.fasterxml.jackson.databind.ObjectMapper;
import org.wanmig.replication.core.ReplicatedDisk;
import org.wanmig.replication.core.Role;

import java.io.Closeable;
import java.io.EOFException;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketException;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Semaphore;
import java.util.function.Function;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * Accepts replication streams from the peer agent. Authentication comes first; only then is a
 * disk opened, and only if it is a replica here of the same size. One stream per disk: a new one
 * replaces a stale one (the primary reconnected). Connections are capped per port, and fewer of them
 * may be in their (unauthenticated) handshake at once; see {@link PeerTransport} for the deadlines
 * and the memory bound before authentication.
 */
public final class PeerServer implements Closeable {
    private static final Logger LOG = Logger.getLogger(PeerServer.class.getName());
    private static final ObjectMapper JSON = org.wanmig.replication.net.SafeJson.MAPPER;

    public static final int DEFAULT_MAX_CONNECTIONS = 32;

    private final ConnectionAcceptor acceptor;
    private final PeerTransport transport;
    private final Function<String, ReplicatedDisk> disks;
    private final Map<String, Socket> sessions = new ConcurrentHashMap<>();
    private final Semaphore handshakes;

    /** PSK only, default limits (tests). */
    public PeerServer(InetSocketAddress bind, byte[] psk, Function<String, ReplicatedDisk> disks) throws IOException {
        this(bind, PeerTransport.psk(psk), DEFAULT_MAX_CONNECTIONS, disks);
    }

    /** maxConnections: open connections on this port; at most half of them (at least 2) unauthenticated. */
    public PeerServer(InetSocketAddress bind, PeerTransport transport, int maxConnections,
                      Function<String, ReplicatedDisk> disks) throws IOException {
        this.transport = transport;
        this.disks = disks;
        this.handshakes = new Semaphore(Math.max(2, maxConnections / 2));
        this.acceptor = new ConnectionAcceptor("peer", bind, 16, maxConnections, this::serve);
    }

    public int port() {
        return acceptor.port();
    }

    private void serve(Socket s) {
        String diskName = null;
        ReplicatedDisk disk = null;
        if (!handshakes.tryAcquire()) {
            LOG.warning("peer " + s.getRemoteSocketAddress() + ": too many connections in their handshake, closing");
            closeQuietly(s);
            return;
        }
        boolean inHandshake = true;
        try (s) {
            s.setReceiveBufferSize(4 << 20);
            PeerTransport.Connection conn = transport.accept(s);
            PeerCodec c = conn.codec();
            PeerFrame open = c.read();
            if (open.type() != PeerFrame.OPEN) {
                throw new PeerProtocolException("expected OPEN, got " + open.type());
            }
            OpenMessage req = JSON.readValue(open.payload(), OpenMessage.class);
            disk = disks.apply(req.disk());
            long newer = -1; // our generation, if the sender is an old primary
            if (disk != null && disk.size() == req.sizeBytes()) {
                if (disk.role() == Role.PRIMARY && req.generation() > disk.generation()) {
                    // We are the old primary: the peer was promoted while we were cut off.
                    disk.fenceByGeneration(req.generation());
                } else if (disk.role() == Role.PRIMARY && req.generation() < disk.generation()) {
                    newer = disk.generation();
                }
                if (disk.role() == Role.REPLICA) {
                    newer = disk.acceptGeneration(req.generation());
                }
            }
            if (newer >= 0) {
                disk.awaitMetaDurable(); // our generation leaves only once durable (a take-over persists it after answering)
                c.write(new PeerFrame(PeerFrame.FENCED, 0, 0, 0,
                        JSON.writeValueAsBytes(new OpenMessage(disk.name(), disk.size(), "", newer))));
                c.flush();
                LOG.warning(disk.name() + ": refused a stream of generation " + req.generation()
                        + " (ours is " + newer + "): the sender is a fenced old primary");
                return;
            }
            String refusal = disk == null ? "unknown disk " + LogSafe.escape(req.disk())
                    : disk.role() != Role.REPLICA ? "disk " + req.disk() + " is PRIMARY here"
                    : disk.size() != req.sizeBytes() ? "size mismatch: local " + disk.size() + " vs " + req.sizeBytes()
                    : null;
            if (refusal != null) {
                c.write(new PeerFrame(PeerFrame.ERROR, 0, 0, 0, refusal.getBytes(StandardCharsets.UTF_8)));
                c.flush();
                LOG.warning("refused stream: " + refusal);
                return;
            }
            c = conn.established(1 << 20, 64 * 1024);
            handshakes.release();
            inHandshake = false;
            diskName = disk.name();
            Socket old = sessions.put(diskName, s);
            if (old != null) {
                old.close();
            }
            c.write(new PeerFrame(PeerFrame.OPEN_OK, 0, 0, 0,
                    JSON.writeValueAsBytes(new OpenMessage(disk.name(), disk.size(), disk.syncId(), disk.generation()))));
            c.flush();
            disk.sessionUp(true);
            LOG.info(diskName + ": replicating from " + s.getRemoteSocketAddress()
                    + (transport.tls() ? " (TLS, " + LogSafe.escape(conn.peerName()) + ")" : ""));
            new ReplicaSession(c, disk, req.generation()).run();
        } catch (PeerAuthenticator.AuthException e) {
            LOG.warning("peer " + s.getRemoteSocketAddress() + " rejected: " + LogSafe.escape(e.getMessage()));
        } catch (EOFException | SocketException e) {
            LOG.info("peer stream " + (diskName == null ? "" : diskName + " ") + "closed: " + LogSafe.escape(e.toString()));
        } catch (IOException | RuntimeException e) {
            // Malformed input or a local error: drop this stream, never the agent.
            LOG.log(Level.WARNING, "peer stream " + (diskName == null ? s.getRemoteSocketAddress() + " " : diskName + " ")
                    + "failed: " + LogSafe.escape(e.toString()));
        } finally {
            if (inHandshake) {
                handshakes.release();
            }
            if (diskName != null) {
                boolean wasCurrent = sessions.remove(diskName, s);
                if (wasCurrent || !sessions.containsKey(diskName)) {
                    disk.sessionUp(false);
                }
            }
        }
    }

    private static void closeQuietly(Socket s) {
        try {
            s.close();
        } catch (IOException ignored) {
            // closing anyway
        }
    }

    /** Drops the inbound stream of a disk (it is being promoted). */
    public void closeSession(String disk) {
        Socket s = sessions.remove(disk);
        if (s != null) {
            try {
                s.close();
            } catch (IOException ignored) {
                // closing anyway
            }
        }
    }

    @Override
    public void close() throws IOException {
        acceptor.close();
    }
}
