package org.wanmig.replication.peer;

import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.security.SecureRandom;

/**
 * Mutual HMAC-SHA256 challenge-response over a pre-shared key. Each side sends a fresh random nonce
 * and proves the key by MACing both nonces with a role label, so a recorded exchange cannot be
 * replayed and a reflected proof does not verify. The key itself never crosses the wire.
 */
public final class PeerAuthenticator {
    public static final int NONCE = 32;
    private static final byte[] SERVER_LABEL = "wanmig-peer-server-v1".getBytes(StandardCharsets.US_ASCII);
    private static final byte[] CLIENT_LABEL = "wanmig-peer-client-v1".getBytes(StandardCharsets.US_ASCII);
    private static final SecureRandom RANDOM = new SecureRandom();

    private final byte[] key;

    public PeerAuthenticator(byte[] key) {
        this.key = key.clone();
    }

    /** Failed authentication. */
    public static final class AuthException extends PeerProtocolException {
        public AuthException(String msg) {
            super(msg);
        }
    }

    private byte[] mac(byte[] label, byte[] a, byte[] b) {
        try {
            Mac m = Mac.getInstance("HmacSHA256");
            m.init(new SecretKeySpec(key, "HmacSHA256"));
            m.update(label);
            m.update(a);
            m.update(b);
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

    /** Connecting side. */
    public void authenticateAsClient(PeerCodec c) throws IOException {
        byte[] nc = nonce();
        c.write(new PeerFrame(PeerFrame.HELLO, 0, 0, 0, nc));
        c.flush();
        PeerFrame ch = c.read();
        if (ch.type() == PeerFrame.ERROR) {
            throw new AuthException("peer refused: " + new String(ch.payload(), StandardCharsets.UTF_8));
        }
        if (ch.type() != PeerFrame.CHALLENGE || ch.payload().length != 2 * NONCE) {
            throw new AuthException("expected CHALLENGE, got type " + ch.type());
        }
        byte[] ns = java.util.Arrays.copyOfRange(ch.payload(), 0, NONCE);
        byte[] serverProof = java.util.Arrays.copyOfRange(ch.payload(), NONCE, 2 * NONCE);
        if (!MessageDigest.isEqual(serverProof, mac(SERVER_LABEL, nc, ns))) {
            throw new AuthException("peer does not know the pre-shared key");
        }
        c.write(new PeerFrame(PeerFrame.PROOF, 0, 0, 0, mac(CLIENT_LABEL, ns, nc)));
        c.flush();
        PeerFrame ok = c.read();
        if (ok.type() != PeerFrame.AUTH_OK) {
            throw new AuthException("peer rejected our proof");
        }
    }

    /** Accepting side; on failure an ERROR frame is sent before the exception. */
    public void authenticateAsServer(PeerCodec c) throws IOException {
        PeerFrame hello = c.read();
        if (hello.type() != PeerFrame.HELLO || hello.payload().length != NONCE) {
            fail(c, "expected HELLO");
        }
        byte[] nc = hello.payload();
        byte[] ns = nonce();
        byte[] challenge = new byte[2 * NONCE];
        System.arraycopy(ns, 0, challenge, 0, NONCE);
        System.arraycopy(mac(SERVER_LABEL, nc, ns), 0, challenge, NONCE, NONCE);
        c.write(new PeerFrame(PeerFrame.CHALLENGE, 0, 0, 0, challenge));
        c.flush();
        PeerFrame proof = c.read();
        if (proof.type() != PeerFrame.PROOF || !MessageDigest.isEqual(proof.payload(), mac(CLIENT_LABEL, ns, nc))) {
            fail(c, "authentication failed");
        }
        c.write(new PeerFrame(PeerFrame.AUTH_OK, 0, 0, 0, null));
        c.flush();
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
