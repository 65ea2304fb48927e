package org.wanmig.replication.peer;

import org.wanmig.replication.net.LogSafe;

import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.security.SecureRandom;
import java.util.Arrays;

/**
 * The first exchange on a peer connection: authentication (PSK mode) and the payload limits.
 *
 * <p>PSK mode: mutual HMAC-SHA256 challenge-response over a pre-shared key. Each side sends a fresh
 * random nonce and proves the key by MACing both nonces and both announced limits with a role label,
 * so a recorded exchange cannot be replayed, a reflected proof does not verify, and the limits cannot
 * be altered in transit. The key itself never crosses the wire.
 * HELLO(nonce_c | limit_c) → CHALLENGE(nonce_s | HMAC(server-label, nonce_c, nonce_s, limits) | limit_s)
 * → PROOF(HMAC(client-label, nonce_s, nonce_c, limits)) → AUTH_OK.
 *
 * <p>Without a key (the connection is TLS with mutual certificate authentication, which already proved
 * both identities): HELLO(nonce_c | limit_c) → AUTH_OK(limit_s).
 *
 * <p>limit_x is the largest frame payload side x accepts (configured; by default
 * {@link PeerCodec#MAX_PAYLOAD}). Both sides then use the smaller of the two, for reads and writes:
 * a frame over it is a protocol error and a close. A limit outside {@link #MIN_LIMIT} ..
 * {@link PeerCodec#MAX_PAYLOAD} (zero, negative, absurdly large) is refused. Until this exchange is
 * over, payloads are capped at {@link PeerCodec#PRE_AUTH_MAX_PAYLOAD}.
 */
public final class PeerAuthenticator {
    public static final int NONCE = 32;
    /** Smallest limit a peer may announce: the resync's 1 MiB runs plus headroom. */
    public static final int MIN_LIMIT = (1 << 20) + 4096;
    private static final byte[] SERVER_LABEL = "wanmig-peer-server-v2".getBytes(StandardCharsets.US_ASCII);
    private static final byte[] CLIENT_LABEL = "wanmig-peer-client-v2".getBytes(StandardCharsets.US_ASCII);
    private static final SecureRandom RANDOM = new SecureRandom();

    private final byte[] key; // null: the channel is mutually authenticated TLS
    private final int limit;

    /** PSK mode with the default limit. */
    public PeerAuthenticator(byte[] key) {
        this(key, PeerCodec.MAX_PAYLOAD);
    }

    /** key null: no PSK (TLS mode). limit: the largest payload this side accepts. */
    public PeerAuthenticator(byte[] key, int limit) {
        checkLimit(limit);
        this.key = key == null ? null : key.clone();
        this.limit = limit;
    }

    public boolean usesKey() {
        return key != null;
    }

    /** Failed authentication. */
    public static final class AuthException extends PeerProtocolException {
        public AuthException(String msg) {
            super(msg);
        }
    }

    private byte[] mac(byte[] label, byte[] a, byte[] b, int limitC, int limitS) {
        try {
            Mac m = Mac.getInstance("HmacSHA256");
            m.init(new SecretKeySpec(key, "HmacSHA256"));
            m.update(label);
            m.update(a);
            m.update(b);
            m.update(ByteBuffer.allocate(8).putInt(limitC).putInt(limitS).array());
            return m.doFinal();
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("HmacSHA256 unavailable", e);
        }
    }

    private static byte[] nonce() {
        byte[] n = new byte[NONCE];
        RANDOM.nextBytes(n);
        return n;
    }

    private static boolean validLimit(int l) {
        return l >= MIN_LIMIT && l <= PeerCodec.MAX_PAYLOAD;
    }

    /** A limit this side may announce; IllegalArgumentException otherwise. */
    static void checkLimit(int l) {
        if (!validLimit(l)) {
            throw new IllegalArgumentException("payload limit " + l + " outside " + MIN_LIMIT + ".." + PeerCodec.MAX_PAYLOAD);
        }
    }

    private static int checkedLimit(int l) throws AuthException {
        if (!validLimit(l)) {
            throw new AuthException("peer announced payload limit " + l + " outside " + MIN_LIMIT + ".."
                    + PeerCodec.MAX_PAYLOAD);
        }
        return l;
    }

    /** Both sides use the smaller announcement, in both directions. */
    private void negotiated(PeerCodec c, int peerLimit) {
        c.setLimit(Math.min(limit, peerLimit));
    }

    /** Connecting side. */
    public void authenticateAsClient(PeerCodec c) throws IOException {
        byte[] nc = nonce();
        c.write(new PeerFrame(PeerFrame.HELLO, 0, 0, 0, ByteBuffer.allocate(NONCE + 4).put(nc).putInt(limit).array()));
        c.flush();
        PeerFrame ch = c.read();
        if (ch.type() == PeerFrame.ERROR) {
            throw new AuthException("peer refused: " + LogSafe.escape(ch.payload()));
        }
        int serverLimit;
        if (key == null) {
            if (ch.type() == PeerFrame.CHALLENGE) {
                throw new AuthException("peer expects a pre-shared key (psk) but none is configured here");
            }
            if (ch.type() != PeerFrame.AUTH_OK || ch.payload().length != 4) {
                throw new AuthException("expected AUTH_OK, got type " + ch.type());
            }
            serverLimit = checkedLimit(ByteBuffer.wrap(ch.payload()).getInt());
        } else {
            if (ch.type() == PeerFrame.AUTH_OK) {
                throw new AuthException("peer does not use a pre-shared key but one is configured here");
            }
            if (ch.type() != PeerFrame.CHALLENGE || ch.payload().length != 2 * NONCE + 4) {
                throw new AuthException("expected CHALLENGE, got type " + ch.type());
            }
            byte[] ns = Arrays.copyOfRange(ch.payload(), 0, NONCE);
            byte[] serverProof = Arrays.copyOfRange(ch.payload(), NONCE, 2 * NONCE);
            int announced = ByteBuffer.wrap(ch.payload(), 2 * NONCE, 4).getInt();
            if (!MessageDigest.isEqual(serverProof, mac(SERVER_LABEL, nc, ns, limit, announced))) {
                throw new AuthException("peer does not know the pre-shared key");
            }
            serverLimit = checkedLimit(announced);
            c.write(new PeerFrame(PeerFrame.PROOF, 0, 0, 0, mac(CLIENT_LABEL, ns, nc, limit, serverLimit)));
            c.flush();
            PeerFrame ok = c.read();
            if (ok.type() != PeerFrame.AUTH_OK) {
                throw new AuthException("peer rejected our proof");
            }
        }
        negotiated(c, serverLimit);
    }

    /** Accepting side; on failure an ERROR frame is sent before the exception. */
    public void authenticateAsServer(PeerCodec c) throws IOException {
        PeerFrame hello = c.read();
        if (hello.type() != PeerFrame.HELLO || hello.payload().length != NONCE + 4) {
            fail(c, "expected HELLO");
        }
        byte[] nc = Arrays.copyOfRange(hello.payload(), 0, NONCE);
        int announced = ByteBuffer.wrap(hello.payload(), NONCE, 4).getInt();
        if (key == null) {
            int clientLimit = announcedOrFail(c, announced);
            c.write(new PeerFrame(PeerFrame.AUTH_OK, 0, 0, 0, ByteBuffer.allocate(4).putInt(limit).array()));
            c.flush();
            negotiated(c, clientLimit);
            return;
        }
        byte[] ns = nonce();
        ByteBuffer challenge = ByteBuffer.allocate(2 * NONCE + 4);
        challenge.put(ns).put(mac(SERVER_LABEL, nc, ns, announced, limit)).putInt(limit);
        c.write(new PeerFrame(PeerFrame.CHALLENGE, 0, 0, 0, challenge.array()));
        c.flush();
        PeerFrame proof = c.read();
        if (proof.type() != PeerFrame.PROOF
                || !MessageDigest.isEqual(proof.payload(), mac(CLIENT_LABEL, ns, nc, announced, limit))) {
            fail(c, "authentication failed");
        }
        int clientLimit = announcedOrFail(c, announced); // only now: the MAC covered it
        c.write(new PeerFrame(PeerFrame.AUTH_OK, 0, 0, 0, null));
        c.flush();
        negotiated(c, clientLimit);
    }

    private static int announcedOrFail(PeerCodec c, int announced) throws IOException {
        try {
            return checkedLimit(announced);
        } catch (AuthException e) {
            fail(c, e.getMessage());
            throw e;
        }
    }

    private static void fail(PeerCodec c, String why) throws IOException {
        try {
            c.write(new PeerFrame(PeerFrame.ERROR, 0, 0, 0, why.getBytes(StandardCharsets.UTF_8)));
            c.flush();
        } catch (IOException ignored) {
            // the peer may already be gone; the rejection stands either way
        }
        throw new AuthException(why);
    }
}
