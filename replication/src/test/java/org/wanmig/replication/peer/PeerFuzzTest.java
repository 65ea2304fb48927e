package org.wanmig.replication.peer;

import com.code_intelligence.jazzer.junit.FuzzTest;
import org.wanmig.replication.net.SafeJson;

import java.io.ByteArrayInputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;

/**
 * Jazzer targets for the peer protocol: the frame codec under pre- and post-authentication limits,
 * both sides of the authenticator, and the OPEN message. IOException is the expected rejection;
 * anything else is a finding. Inputs: src/test/resources/org/wanmig/replication/peer/PeerFuzzTestInputs/.
 */
class PeerFuzzTest {
    static final byte[] KEY = "fuzz-pre-shared-key-0123456789".getBytes(StandardCharsets.UTF_8);

    private static PeerCodec codec(byte[] input, int from, int limit) {
        return new PeerCodec(new DataInputStream(new ByteArrayInputStream(input, from, Math.max(0, input.length - from))),
                new DataOutputStream(OutputStream.nullOutputStream()), org.wanmig.replication.net.FrameTimer.NONE, limit);
    }

    @FuzzTest(maxDuration = "30s")
    void codec(byte[] input) {
        if (input.length == 0) {
            return;
        }
        int limit = (input[0] & 1) == 0 ? PeerCodec.PRE_AUTH_MAX_PAYLOAD : PeerAuthenticator.MIN_LIMIT;
        PeerCodec c = codec(input, 1, limit);
        try {
            for (int i = 0; i < 64; i++) {
                PeerFrame f = c.read();
                if (f.payload().length > PeerCodec.limitFor(f.type(), limit)) {
                    throw new AssertionError("payload over the limit accepted");
                }
            }
        } catch (IOException expected) {
            // malformed or truncated
        }
    }

    @FuzzTest(maxDuration = "30s")
    void authenticatorServer(byte[] input) {
        try {
            new PeerAuthenticator(KEY).authenticateAsServer(codec(input, 0, PeerCodec.PRE_AUTH_MAX_PAYLOAD));
            throw new AssertionError("authenticated without knowing the key");
        } catch (IOException expected) {
            // refused
        }
    }

    /** This side's announcement in the TLS-mode target: below the maximum, so both outcomes of the minimum occur. */
    static final int OWN_LIMIT = 8 << 20;

    @FuzzTest(maxDuration = "30s")
    void authenticatorServerTls(byte[] input) {
        try {
            PeerCodec c = codec(input, 0, PeerCodec.PRE_AUTH_MAX_PAYLOAD);
            new PeerAuthenticator(null, OWN_LIMIT).authenticateAsServer(c);
            // the HELLO's limit_c is the 4 bytes after the nonce: the negotiated limit is the smaller announcement
            long announced = java.nio.ByteBuffer.wrap(input, PeerCodec.HEADER + PeerAuthenticator.NONCE, 4).getInt();
            if (announced < PeerAuthenticator.MIN_LIMIT || announced > PeerCodec.MAX_PAYLOAD) {
                throw new AssertionError("limit out of range accepted: " + announced);
            }
            if (c.limit() != Math.min(OWN_LIMIT, announced)) {
                throw new AssertionError("negotiated " + c.limit() + ", not the minimum of " + OWN_LIMIT + " and " + announced);
            }
        } catch (IOException expected) {
            // refused
        }
    }

    @FuzzTest(maxDuration = "30s")
    void authenticatorClient(byte[] input) {
        try {
            new PeerAuthenticator(KEY).authenticateAsClient(codec(input, 0, PeerCodec.PRE_AUTH_MAX_PAYLOAD));
            throw new AssertionError("client accepted a server that does not know the key");
        } catch (IOException expected) {
            // refused
        }
    }

    @FuzzTest(maxDuration = "30s")
    void openMessage(byte[] input) {
        try {
            OpenMessage m = SafeJson.MAPPER.readValue(input, OpenMessage.class);
            if (m != null) {
                m.syncId().length();
            }
        } catch (IOException expected) {
            // not a valid OPEN
        }
    }
}
