package org.wanmig.replication.control.takeover;

import org.wanmig.replication.control.ReplicationControl;
import org.wanmig.replication.core.DiskStatus;
import org.wanmig.replication.net.ConnectionAcceptor;
import org.wanmig.replication.net.DeadlineInputStream;
import org.wanmig.replication.net.LogSafe;
import org.wanmig.replication.net.Tls;
import org.wanmig.replication.net.Watchdog;

import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLException;

import java.io.Closeable;
import java.io.EOFException;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketException;
import java.net.SocketTimeoutException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayDeque;
import java.util.concurrent.CompletableFuture;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * The take-over channel: a framed TCP port for the one call made inside a guest's pause, the
 * take-over, without HTTP or JSON on its path (Jetty's request and response cost more than the
 * take-over itself on a busy host). One thread per connection, blocked in read; the take-over runs
 * on it, as the HTTP branch runs it on the request thread.
 *
 * <p>A connection is "awaiting AUTH" until its first frame, AUTH with the control API's token, is
 * accepted (within the handshake timeout of accept); anything else first is refused 401 and closed.
 * At most {@link #MAX_UNAUTHENTICATED} connections await AUTH at once; a new one evicts the oldest.
 * Then it is "authenticated" and serves TAKEOVER, CHECK and PING until the client leaves, no frame
 * arrives for the idle timeout, a started frame is not complete within the frame timeout, or the
 * framing breaks (closed without an answer). With a TLS context (the agent's control API runs
 * HTTPS) every connection is TLS 1.3 with the control API's certificate, server-authenticated like
 * HTTPS, and its handshake counts in the handshake timeout; the token never travels in clear.
 */
public final class TakeOverChannel implements Closeable {
    private static final Logger LOG = Logger.getLogger(TakeOverChannel.class.getName());
    /** The MMS keeps one or two connections per agent; more is someone else. */
    public static final int MAX_CONNECTIONS = 8;
    /**
     * Connections awaiting AUTH, at most; one more evicts the oldest of them. A client without
     * the token that keeps connecting cannot hold the other half, nor keep a new connection of the
     * MMS's out: that one sends AUTH at once and would have to be evicted within its first moments.
     */
    public static final int MAX_UNAUTHENTICATED = MAX_CONNECTIONS / 2;
    private static final int READ_BUFFER = 2048;

    private final ReplicationControl control;
    private final byte[] token;
    private final Limits limits;
    private final SSLContext tls; // null: plain TCP
    /** Connections awaiting AUTH, oldest first; guarded by itself. */
    private final ArrayDeque<Socket> awaitingAuth = new ArrayDeque<>();
    private final ConnectionAcceptor acceptor;

    /** Deadlines of a connection, in milliseconds. */
    public static final class Limits {
        final int handshakeTimeoutMs;
        final int frameTimeoutMs;
        final int idleTimeoutMs;

        /**
         * handshakeTimeoutMs: from accept to a complete AUTH frame; frameTimeoutMs: from a frame's
         * first byte to its last; idleTimeoutMs: with no frame in progress, after authentication.
         */
        public Limits(int handshakeTimeoutMs, int frameTimeoutMs, int idleTimeoutMs) {
            if (handshakeTimeoutMs <= 0 || frameTimeoutMs <= 0 || idleTimeoutMs <= 0) {
                throw new IllegalArgumentException("timeouts must be positive");
            }
            this.handshakeTimeoutMs = handshakeTimeoutMs;
            this.frameTimeoutMs = frameTimeoutMs;
            this.idleTimeoutMs = idleTimeoutMs;
        }

        /** The control API's deadlines from the agent's transport settings. */
        public static Limits of(org.wanmig.replication.agent.TransportConfig t) {
            return new Limits(t.handshakeTimeoutMs(), t.frameTimeoutMs(), t.controlIdleTimeoutMs());
        }
    }

    /** A plain TCP channel. */
    public TakeOverChannel(InetSocketAddress bind, String token, ReplicationControl control, Limits limits)
            throws IOException {
        this(bind, token, control, limits, null);
    }

    /** tls: the control API's context, so that the channel is TLS as the control API is HTTPS; null for plain TCP. */
    public TakeOverChannel(InetSocketAddress bind, String token, ReplicationControl control, Limits limits,
                           SSLContext tls) throws IOException {
        this.control = control;
        this.token = token.getBytes(StandardCharsets.UTF_8);
        this.limits = limits;
        this.tls = tls;
        this.acceptor = new ConnectionAcceptor("take-over channel", bind, 16, MAX_CONNECTIONS, this::serve,
                "takeover-accept", n -> "takeover-channel-" + n);
    }

    public int port() {
        return acceptor.port();
    }

    /** Connections that have not authenticated yet (tests). */
    int awaitingAuth() {
        synchronized (awaitingAuth) {
            return awaitingAuth.size();
        }
    }

    /** Counts a new connection as awaiting AUTH, evicting the oldest such one beyond the limit. */
    private void admit(Socket raw, String from) {
        Socket evicted = null;
        synchronized (awaitingAuth) {
            if (awaitingAuth.size() >= MAX_UNAUTHENTICATED) {
                evicted = awaitingAuth.pollFirst();
            }
            awaitingAuth.addLast(raw);
        }
        if (evicted != null) {
            LOG.warning("take-over channel: " + MAX_UNAUTHENTICATED + " connections awaiting AUTH; closing the oldest, "
                    + evicted.getRemoteSocketAddress() + ", for " + from);
            try {
                evicted.close();   // its thread ends in its read
            } catch (IOException ignored) {
                // closing a connection we evict
            }
        }
    }

    private void authenticatedOrGone(Socket raw) {
        synchronized (awaitingAuth) {
            awaitingAuth.remove(raw);
        }
    }

    private enum State { AWAITING_AUTH, AUTHENTICATED }

    /** Why a connection ends after its answer (if any) is written. */
    private static final class CloseConnection extends Exception {
        CloseConnection(String why) {
            super(why, null, false, false);
        }
    }

    private void serve(Socket raw) {
        String from = String.valueOf(raw.getRemoteSocketAddress());
        admit(raw, from);
        try (raw) {
            raw.setTcpNoDelay(true); // answers are single small writes: no Nagle delay inside the pause
            // the watchdog ends a connection that has not authenticated in time (TLS handshake included)
            Watchdog.Deadline auth = Watchdog.closeAfter("take-over channel " + from, raw, limits.handshakeTimeoutMs);
            try {
                Socket s = raw;
                if (tls != null) {
                    javax.net.ssl.SSLSocket ssl = Tls.serverAuthOnly(tls, raw);
                    raw.setSoTimeout(limits.handshakeTimeoutMs);
                    ssl.startHandshake();
                    s = ssl;
                }
                // idle between frames, the frame deadline once a frame's first byte is in
                DeadlineInputStream in = new DeadlineInputStream(s, s.getInputStream(), limits.idleTimeoutMs,
                        limits.frameTimeoutMs);
                new Connection(s.getOutputStream(), in, auth, () -> authenticatedOrGone(raw)).run();
            } finally {
                auth.cancel();
            }
        } catch (CloseConnection e) {
            LOG.fine("take-over channel " + from + ": " + e.getMessage());
        } catch (TakeOverProtocolException e) {
            LOG.warning("take-over channel protocol error from " + from + ": " + LogSafe.escape(e.getMessage()));
        } catch (SocketTimeoutException e) {
            LOG.fine("take-over channel " + from + ": timed out: " + e.getMessage());
        } catch (SSLException e) {
            LOG.info("take-over channel " + from + ": TLS failed: " + LogSafe.escape(e.getMessage()));
        } catch (EOFException | SocketException e) {
            LOG.fine("take-over channel " + from + " went away: " + LogSafe.escape(e.toString()));
        } catch (IOException | RuntimeException e) {
            LOG.log(Level.WARNING, "take-over channel connection from " + from + " failed: "
                    + LogSafe.escape(e.toString()));
        } finally {
            authenticatedOrGone(raw);
        }
    }

    /** One connection's reading loop and state; confined to its thread. */
    private final class Connection {
        private final OutputStream out;
        private final DeadlineInputStream in;
        private final Watchdog.Deadline authDeadline;
        private final TakeOverDecoder decoder = TakeOverDecoder.ofClientFrames();
        private State state = State.AWAITING_AUTH;

        private final Runnable onAuthenticated;

        Connection(OutputStream out, DeadlineInputStream in, Watchdog.Deadline authDeadline, Runnable onAuthenticated) {
            this.out = out;
            this.in = in;
            this.authDeadline = authDeadline;
            this.onAuthenticated = onAuthenticated;
        }

        void run() throws IOException, CloseConnection {
            byte[] buf = new byte[READ_BUFFER];
            boolean timing = false; // the frame deadline runs
            while (true) {
                int n = in.read(buf);
                if (n < 0) {
                    return; // the client closed
                }
                ByteBuffer chunk = ByteBuffer.wrap(buf, 0, n);
                TakeOverFrame f;
                while ((f = decoder.decode(chunk)) != null) {
                    if (timing) {
                        in.frameDone();
                        timing = false;
                    }
                    handle(f);
                }
                if (decoder.inFrame() && !timing) {
                    in.frameStarted();
                    timing = true;
                }
            }
        }

        private void handle(TakeOverFrame f) throws IOException, CloseConnection {
            if (state == State.AWAITING_AUTH) {
                // the token compared in constant time; the untrusted length first, as isEqual's time depends on it
                if (f.type() != TakeOverFrame.AUTH || !java.security.MessageDigest.isEqual(f.payloadView(), token)) {
                    out.write(TakeOverEncoder.refused(401, "unauthorized"));
                    throw new CloseConnection(f.type() == TakeOverFrame.AUTH ? "wrong token" : "not authenticated");
                }
                authDeadline.cancel();
                if (authDeadline.fired()) {
                    throw new CloseConnection("authenticated too late");
                }
                state = State.AUTHENTICATED;
                onAuthenticated.run();   // no longer evictable
                out.write(TakeOverEncoder.welcome());
                return;
            }
            switch (f.type()) {
                case TakeOverFrame.PING:
                    if (f.payloadLength() != 0) {
                        throw new TakeOverProtocolException("PING with a payload");
                    }
                    out.write(TakeOverEncoder.pong());
                    return;
                case TakeOverFrame.TAKEOVER:
                case TakeOverFrame.CHECK:
                    takeOver(f, f.type() == TakeOverFrame.CHECK);
                    return;
                default: // AUTH again
                    throw new TakeOverProtocolException("AUTH after authentication");
            }
        }

        /** TAKEOVER, or CHECK ({@code check}): the same path, but a check changes nothing. */
        private void takeOver(TakeOverFrame f, boolean check) throws IOException {
            long arrived = System.nanoTime();
            TakeOverRequest r;
            try {
                r = TakeOverRequest.parse(f.payloadView());
            } catch (MalformedTakeOverException e) {
                out.write(TakeOverEncoder.refused(400, e.getMessage()));
                return;
            }
            CompletableFuture<Void> answered = new CompletableFuture<>();
            long done = 0;
            long written;
            try {
                byte[] answer;
                try {
                    DiskStatus took = check ? control.checkTakeOver(r.disk())
                            : control.takeOver(r.disk(), r.takeOverId(), answered);
                    done = System.nanoTime();
                    answer = check ? TakeOverEncoder.ready(took.generation(), took.role().name())
                            : TakeOverEncoder.tookOver(took.generation(), took.role().name());
                } catch (ReplicationControl.NoSuchDiskException e) {
                    answer = TakeOverEncoder.refused(404, e.getMessage());
                } catch (ReplicationControl.ConflictException e) {
                    answer = TakeOverEncoder.refused(409, e.getMessage());
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    answer = TakeOverEncoder.refused(503, "interrupted");
                } catch (RuntimeException e) {
                    LOG.log(Level.WARNING, "take-over over the channel failed: " + LogSafe.escape(e.toString()));
                    answer = TakeOverEncoder.refused(500, "internal error: " + e);
                }
                out.write(answer);
                written = System.nanoTime();   // before the follow-up: it starts threads
            } finally {
                answered.complete(null); // written, or failed: the follow-up runs either way
            }
            if (done != 0 && !check) {   // checks come every 2 s while a guest's memory is copied
                LOG.info(String.format("%s: take-over answered on the channel %.1f ms after its frame arrived"
                        + " (taken over after %.1f ms)", r.disk(), (written - arrived) / 1e6, (done - arrived) / 1e6));
            }
        }
    }

    /** Stops accepting and closes every connection; does not wait for their threads. */
    @Override
    public void close() {
        try {
            acceptor.close();
        } catch (IOException e) {
            LOG.fine("take-over channel close: " + e);
        }
    }
}
