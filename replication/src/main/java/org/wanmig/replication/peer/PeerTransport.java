package org.wanmig.replication.peer;

import org.wanmig.replication.net.BufferedInput;
import org.wanmig.replication.net.DeadlineInputStream;
import org.wanmig.replication.net.Tls;
import org.wanmig.replication.net.Watchdog;

import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLSocket;
import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;

/**
 * How peer connections are secured and bounded, for both directions: optional TLS 1.3 with mutual
 * certificate authentication, then the {@link PeerAuthenticator} exchange (HMAC proof of the PSK if
 * one is configured; the payload limit always). Before authentication a connection holds only small
 * fixed buffers (a few KiB) and payloads of at most {@link PeerCodec#PRE_AUTH_MAX_PAYLOAD} bytes;
 * a deadline covers the whole handshake (TLS, authentication and the first request), another each
 * frame after it; only an authenticated connection gets its large buffers.
 */
public final class PeerTransport {
    /** Buffer sizes while unauthenticated: enough for every handshake frame. */
    static final int HANDSHAKE_BUFFER = 4096;

    private final byte[] psk; // may be null when TLS is on
    private final SSLContext tls; // may be null: plain TCP + PSK
    private final boolean verifyHostname;
    private final Limits limits;

    /** Deadlines and timeouts (milliseconds), and the largest frame payload this side announces. */
    public static final class Limits {
        /** A write waiting this long for its acknowledgement, with nothing from the peer meanwhile: link dead. */
        public static final int DEFAULT_ACK_TIMEOUT_MS = 5_000;
        public static final Limits DEFAULT = new Limits(10_000, 30_000, 30_000);
        final int handshakeTimeoutMs;
        final int frameTimeoutMs;
        final int idleTimeoutMs;
        final int maxFramePayload;
        final int ackTimeoutMs;

        public Limits(int handshakeTimeoutMs, int frameTimeoutMs, int idleTimeoutMs) {
            this(handshakeTimeoutMs, frameTimeoutMs, idleTimeoutMs, PeerCodec.MAX_PAYLOAD, DEFAULT_ACK_TIMEOUT_MS);
        }

        /**
         * maxFramePayload: between {@link PeerAuthenticator#MIN_LIMIT} and {@link PeerCodec#MAX_PAYLOAD}.
         * ackTimeoutMs: how long the primary's oldest unacknowledged write may wait with the peer
         * silent before the link is declared dead (see ReplicationLink).
         */
        public Limits(int handshakeTimeoutMs, int frameTimeoutMs, int idleTimeoutMs, int maxFramePayload,
                      int ackTimeoutMs) {
            PeerAuthenticator.checkLimit(maxFramePayload);
            this.handshakeTimeoutMs = handshakeTimeoutMs;
            this.frameTimeoutMs = frameTimeoutMs;
            this.idleTimeoutMs = idleTimeoutMs;
            this.maxFramePayload = maxFramePayload;
            this.ackTimeoutMs = ackTimeoutMs;
        }

        public int handshakeTimeoutMs() { return handshakeTimeoutMs; }
        public int frameTimeoutMs() { return frameTimeoutMs; }
        public int idleTimeoutMs() { return idleTimeoutMs; }
        public int maxFramePayload() { return maxFramePayload; }
        public int ackTimeoutMs() { return ackTimeoutMs; }
    }

    public PeerTransport(byte[] psk, SSLContext tls, boolean verifyHostname, Limits limits) {
        if (psk == null && tls == null) {
            throw new IllegalArgumentException("the peer link needs a pre-shared key, TLS, or both");
        }
        this.psk = psk == null ? null : psk.clone();
        this.tls = tls;
        this.verifyHostname = verifyHostname;
        this.limits = limits;
    }

    /** PSK only (labs, tests). */
    public static PeerTransport psk(byte[] psk) {
        return new PeerTransport(psk, null, false, Limits.DEFAULT);
    }

    public boolean tls() {
        return tls != null;
    }

    public Limits limits() {
        return limits;
    }

    /** An authenticated peer connection. */
    public static final class Connection {
        private final Socket socket; // the TLS socket if any
        private final DeadlineInputStream timed;
        private final InputStream smallIn;
        private final OutputStream smallOut;
        private final String peerName;
        private PeerCodec codec;
        private Watchdog.Deadline handshake;

        private Connection(Socket socket, DeadlineInputStream timed, InputStream smallIn, OutputStream smallOut,
                           PeerCodec codec, String peerName, Watchdog.Deadline handshake) {
            this.socket = socket;
            this.timed = timed;
            this.smallIn = smallIn;
            this.smallOut = smallOut;
            this.codec = codec;
            this.peerName = peerName;
            this.handshake = handshake;
        }

        public PeerCodec codec() {
            return codec;
        }

        public Socket socket() {
            return socket;
        }

        /** Certificate subject of the peer (TLS) or "psk". */
        public String peerName() {
            return peerName;
        }

        /**
         * The handshake (including the first request after authentication) is over: stops its
         * deadline and gives the connection its working buffers. Returns the codec to use from now on.
         */
        public PeerCodec established(int inBuffer, int outBuffer) throws IOException {
            Watchdog.Deadline h = handshake;
            handshake = null;
            if (h != null) {
                h.cancel();
                if (h.fired()) {
                    throw new IOException("handshake deadline passed");
                }
            }
            PeerCodec small = codec;
            // Stacked buffers: bytes the small one already holds are read first; large reads pass through it.
            BufferedInput bigIn = new BufferedInput(smallIn, inBuffer);
            PeerCodec big = new PeerCodec(new DataInputStream(bigIn),
                    new DataOutputStream(new BufferedOutputStream(smallOut, outBuffer)), timed, small.limit(), bigIn);
            small.flush();
            codec = big;
            return big;
        }
    }

    /** Server side: TLS (if on) and authentication on an accepted socket, under the handshake deadline. */
    public Connection accept(Socket raw) throws IOException {
        return open(raw, null, false);
    }

    /** Client side: connects raw (created by the caller, so it can close it) to the peer and authenticates. */
    public Connection connect(Socket raw, InetSocketAddress peer, int connectTimeoutMs) throws IOException {
        raw.connect(peer, connectTimeoutMs);
        return open(raw, peer.getHostString(), true);
    }

    private Connection open(Socket raw, String host, boolean client) throws IOException {
        Watchdog.Deadline deadline = Watchdog.closeAfter("peer " + raw.getRemoteSocketAddress(), raw,
                limits.handshakeTimeoutMs);
        boolean ok = false;
        try {
            raw.setTcpNoDelay(true);
            raw.setSoTimeout(limits.handshakeTimeoutMs);
            Socket s = raw;
            String peerName = "psk";
            if (tls != null) {
                SSLSocket ssl = client ? Tls.client(tls, raw, host, verifyHostname) : Tls.server(tls, raw);
                ssl.setSoTimeout(limits.handshakeTimeoutMs);
                ssl.startHandshake();
                peerName = Tls.peerName(ssl);
                s = ssl;
            }
            DeadlineInputStream timed = new DeadlineInputStream(s, s.getInputStream(), limits.idleTimeoutMs,
                    limits.frameTimeoutMs);
            OutputStream out = s.getOutputStream();
            InputStream smallIn = new BufferedInputStream(timed, HANDSHAKE_BUFFER);
            OutputStream smallOut = new BufferedOutputStream(out, HANDSHAKE_BUFFER);
            PeerCodec c = new PeerCodec(new DataInputStream(smallIn), new DataOutputStream(smallOut), timed,
                    PeerCodec.PRE_AUTH_MAX_PAYLOAD);
            PeerAuthenticator auth = new PeerAuthenticator(psk, limits.maxFramePayload);
            if (client) {
                auth.authenticateAsClient(c);
            } else {
                auth.authenticateAsServer(c);
            }
            ok = true;
            return new Connection(s, timed, smallIn, smallOut, c, peerName, deadline);
        } catch (IOException e) {
            if (deadline.fired()) {
                throw new PeerProtocolException("handshake deadline of " + limits.handshakeTimeoutMs + " ms passed");
            }
            throw e;
        } finally {
            if (!ok) {
                deadline.cancel();
            }
        }
    }
}
