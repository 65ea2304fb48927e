package org.wanmig.replication;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.wanmig.replication.peer.PeerAuthenticator;
import org.wanmig.replication.peer.PeerCodec;
import org.wanmig.replication.peer.PeerFrame;

import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * JSON a peer sends (STATUS to a replica, the OPEN_OK reply to a primary) is parsed with the
 * strict network mapper: a message with anything after its value is malformed and ends the
 * stream, where a lenient mapper would read the first value and go on.
 */
@Timeout(60)
class PeerJsonTest {
    private static final String STATUS = "{\"mode\":\"ASYNC\",\"inSync\":true,\"lagBytes\":0,\"rpoSeconds\":0.0,"
            + "\"resyncRemainingBytes\":0}";
    private static final long SIZE = 4 << 20;

    @TempDir
    Path dir;

    private static PeerCodec codec(Socket s) throws IOException {
        return new PeerCodec(new DataInputStream(s.getInputStream()), new DataOutputStream(s.getOutputStream()));
    }

    private static PeerAuthenticator auth() {
        return new PeerAuthenticator(AgentPair.PSK.getBytes(StandardCharsets.UTF_8));
    }

    /** The next frame's type, or -1 once the other side has closed the stream. */
    private static int nextFrameOrClosed(PeerCodec c) throws IOException {
        try {
            while (true) {
                PeerFrame f = c.read();
                if (f.type() != PeerFrame.ERROR) {
                    return f.type();
                }
            }
        } catch (EOFException | SocketException e) {
            return -1; // a SocketTimeoutException (still open, silent) is not caught: the test fails
        }
    }

    @Test
    void replicaEndsTheStreamOnAStatusWithTrailingTokens() throws Exception {
        try (AgentPair p = new AgentPair(dir, SIZE)) {
            p.ab.cut(); // keep the real primary away; we play the primary
            for (boolean trailing : new boolean[]{false, true}) {
                try (Socket s = new Socket("127.0.0.1", p.b.peerPort())) {
                    s.setSoTimeout(10_000);
                    PeerCodec c = codec(s);
                    auth().authenticateAsClient(c);
                    c.write(new PeerFrame(PeerFrame.OPEN, 0, 0, 0,
                            ("{\"disk\":\"vs1\",\"sizeBytes\":" + SIZE + ",\"syncId\":\"x\"}").getBytes()));
                    c.flush();
                    assertEquals(PeerFrame.OPEN_OK, c.read().type());
                    String status = trailing ? STATUS + " {\"mode\":\"SYNC\"}" : STATUS;
                    c.write(new PeerFrame(PeerFrame.STATUS, 0, 0, 0, status.getBytes(StandardCharsets.UTF_8)));
                    c.flush();
                    int reply = nextFrameOrClosed(c);
                    if (trailing) {
                        assertEquals(-1, reply, "replica answered a STATUS with trailing tokens");
                    } else {
                        assertEquals(PeerFrame.ACK, reply, "a well-formed STATUS is answered with an ACK");
                    }
                }
            }
        }
    }

    @Test
    void primaryDropsAnOpenOkWithTrailingTokens() throws Exception {
        try (AgentPair p = new AgentPair(dir, SIZE);
             ServerSocket fake = new ServerSocket(0, 4, InetAddress.getLoopbackAddress())) {
            p.ab.target(new InetSocketAddress("127.0.0.1", fake.getLocalPort())); // A reaches us, not B
            fake.setSoTimeout(30_000);
            for (boolean trailing : new boolean[]{false, true}) {
                try (Socket s = fake.accept()) {
                    s.setSoTimeout(10_000);
                    PeerCodec c = codec(s);
                    auth().authenticateAsServer(c);
                    assertEquals(PeerFrame.OPEN, c.read().type());
                    String open = "{\"disk\":\"vs1\",\"sizeBytes\":" + SIZE + ",\"syncId\":\"other\",\"generation\":0}";
                    c.write(new PeerFrame(PeerFrame.OPEN_OK, 0, 0, 0,
                            (trailing ? open + " []" : open).getBytes(StandardCharsets.UTF_8)));
                    c.flush();
                    int next = nextFrameOrClosed(c);
                    if (trailing) {
                        assertEquals(-1, next, "primary went on after an OPEN_OK with trailing tokens");
                    } else {
                        // a replica of unknown content: the primary starts comparing or sending
                        assertNotEquals(-1, next, "primary dropped a well-formed OPEN_OK");
                        assertTrue(next == PeerFrame.HASH_REQ || next == PeerFrame.WRITE || next == PeerFrame.ZERO
                                || next == PeerFrame.FLUSH, "first frame after OPEN_OK: " + next);
                    }
                }
            }
        }
    }
}
