package org.wanmig.replication.peer;

import com.fasterxml.jackson.databind.ObjectMapper;
import org.wanmig.replication.core.ReplicatedDisk;
import org.wanmig.replication.core.Role;

import java.io.BufferedInputStream;
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
import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Function;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * Accepts replication streams from the peer agent. Authentication comes first; only then is a
 * disk opened, and only if it is a replica here of the same size. One stream per disk: a new one
 * replaces a stale one (the primary reconnected).
 */
public final class PeerServer implements Closeable {
    private static final Logger LOG = Logger.getLogger(PeerServer.class.getName());
    private static final ObjectMapper JSON = new ObjectMapper();

    private final ServerSocket server;
    private final PeerAuthenticator auth;
    private final Function<String, ReplicatedDisk> disks;
    private final Map<String, Socket> sessions = new ConcurrentHashMap<>();
    private final Set<Socket> all = ConcurrentHashMap.newKeySet();
    private volatile boolean closed;

    public PeerServer(InetSocketAddress bind, byte[] psk, Function<String, ReplicatedDisk> disks) throws IOException {
        this.auth = new PeerAuthenticator(psk);
        this.disks = disks;
        server = new ServerSocket();
        server.setReuseAddress(true);
        server.bind(bind, 16);
        Thread t = new Thread(this::acceptLoop, "peer-accept-" + port());
        t.setDaemon(true);
        t.start();
        LOG.info("peer server listening on " + server.getLocalSocketAddress());
    }

    public int port() {
        return server.getLocalPort();
    }

    private void acceptLoop() {
        while (!closed) {
            try {
                Socket s = server.accept();
                all.add(s);
                Thread t = new Thread(() -> serve(s), "peer-in-" + s.getRemoteSocketAddress());
                t.setDaemon(true);
                t.start();
            } catch (IOException e) {
                if (!closed) {
                    LOG.warning("peer accept failed: " + e);
                }
            }
        }
    }

    private void serve(Socket s) {
        String diskName = null;
        ReplicatedDisk disk = null;
        try (s) {
            s.setTcpNoDelay(true);
            s.setSoTimeout(10_000);
            s.setReceiveBufferSize(4 << 20);
            PeerCodec c = new PeerCodec(new DataInputStream(new BufferedInputStream(s.getInputStream(), 1 << 20)),
                    new DataOutputStream(new BufferedOutputStream(s.getOutputStream(), 64 * 1024)));
            auth.authenticateAsServer(c);
            PeerFrame open = c.read();
            if (open.type() != PeerFrame.OPEN) {
                throw new PeerProtocolException("expected OPEN, got " + open.type());
            }
            OpenMessage req = JSON.readValue(open.payload(), OpenMessage.class);
            disk = disks.apply(req.disk());
            String refusal = disk == null ? "unknown disk " + req.disk()
                    : disk.role() != Role.REPLICA ? "disk " + req.disk() + " is PRIMARY here"
                    : disk.size() != req.sizeBytes() ? "size mismatch: local " + disk.size() + " vs " + req.sizeBytes()
                    : null;
            if (refusal != null) {
                c.write(new PeerFrame(PeerFrame.ERROR, 0, 0, 0, refusal.getBytes(StandardCharsets.UTF_8)));
                c.flush();
                LOG.warning("refused stream: " + refusal);
                return;
            }
            diskName = disk.name();
            Socket old = sessions.put(diskName, s);
            if (old != null) {
                old.close();
            }
            s.setSoTimeout(30_000);
            c.write(new PeerFrame(PeerFrame.OPEN_OK, 0, 0, 0,
                    JSON.writeValueAsBytes(new OpenMessage(disk.name(), disk.size(), disk.syncId()))));
            c.flush();
            disk.sessionUp(true);
            LOG.info(diskName + ": replicating from " + s.getRemoteSocketAddress());
            new ReplicaSession(c, disk).run();
        } catch (PeerAuthenticator.AuthException e) {
            LOG.warning("peer " + s.getRemoteSocketAddress() + " rejected: " + e.getMessage());
        } catch (EOFException | SocketException e) {
            LOG.info("peer stream " + (diskName == null ? "" : diskName + " ") + "closed: " + e);
        } catch (IOException | RuntimeException e) {
            // Malformed input or a local error: drop this stream, never the agent.
            LOG.log(Level.WARNING, "peer stream " + (diskName == null ? "" : diskName + " ") + "failed: " + e);
        } finally {
            all.remove(s);
            if (diskName != null) {
                boolean wasCurrent = sessions.remove(diskName, s);
                if (wasCurrent || !sessions.containsKey(diskName)) {
                    disk.sessionUp(false);
                }
            }
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
        closed = true;
        server.close();
        for (Socket s : all) {
            try {
                s.close();
            } catch (IOException ignored) {
                // closing anyway
            }
        }
    }
}
