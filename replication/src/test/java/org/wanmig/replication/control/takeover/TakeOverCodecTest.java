package org.wanmig.replication.control.takeover;

import org.junit.jupiter.api.Test;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The decoder, the TAKEOVER payload's parser and the encoder, without sockets. */
class TakeOverCodecTest {
    private static List<TakeOverFrame> decodeAll(TakeOverDecoder d, byte[] bytes, int chunk) throws Exception {
        List<TakeOverFrame> out = new ArrayList<>();
        for (int off = 0; off < bytes.length; off += chunk) {
            ByteBuffer b = ByteBuffer.wrap(bytes, off, Math.min(chunk, bytes.length - off));
            TakeOverFrame f;
            while ((f = d.decode(b)) != null) {
                out.add(f);
            }
            assertFalse(b.hasRemaining(), "bytes left unconsumed");
        }
        return out;
    }

    @Test
    void framesComeOutWhateverTheChunks() throws Exception {
        byte[] stream = ByteBuffer.allocate(200).put(TakeOverEncoder.auth("token-123"))
                .put(TakeOverEncoder.takeOver(TakeOverRequest.of("vs1", "migration-7")))
                .put(TakeOverEncoder.ping()).flip().array();
        int len = TakeOverEncoder.auth("token-123").length + TakeOverEncoder.takeOver(TakeOverRequest.of("vs1",
                "migration-7")).length + 4;
        byte[] exact = java.util.Arrays.copyOf(stream, len);
        for (int chunk : new int[]{1, 2, 3, 5, 7, len}) {
            TakeOverDecoder d = TakeOverDecoder.ofClientFrames();
            List<TakeOverFrame> frames = decodeAll(d, exact, chunk);
            assertEquals(3, frames.size(), "chunk " + chunk);
            assertEquals(TakeOverFrame.AUTH, frames.get(0).type());
            assertArrayEquals("token-123".getBytes(StandardCharsets.UTF_8), frames.get(0).payload());
            assertEquals(TakeOverRequest.of("vs1", "migration-7"), TakeOverRequest.parse(frames.get(1).payload()));
            assertEquals(TakeOverFrame.of(TakeOverFrame.PING, new byte[0]), frames.get(2));
            assertFalse(d.inFrame());
            assertEquals(0, d.buffered());
        }
    }

    @Test
    void decoderTracksAFrameInProgress() throws Exception {
        TakeOverDecoder d = TakeOverDecoder.ofClientFrames();
        assertNull(d.decode(ByteBuffer.wrap(new byte[]{0x57})));
        assertTrue(d.inFrame(), "the first byte starts the frame");
        assertNull(d.decode(ByteBuffer.wrap(new byte[]{0x02, 0, 3, 1})));
        assertTrue(d.inFrame());
        assertEquals(5, d.buffered());
        TakeOverFrame f = d.decode(ByteBuffer.wrap(new byte[]{'x', 0}));
        assertEquals(TakeOverFrame.TAKEOVER, f.type());
        assertFalse(d.inFrame());
    }

    @Test
    void lengthAbove1024BadMagicAndUnknownTypesAreProtocolErrors() throws Exception {
        TakeOverDecoder ok = TakeOverDecoder.ofClientFrames();
        byte[] max = TakeOverEncoder.frame(TakeOverFrame.AUTH, new byte[1024]);
        assertEquals(1024, decodeAll(ok, max, 100).get(0).payloadLength());

        byte[][] bad = {
            {0x57, 0x01, 0x04, 0x01},          // 1025
            {0x57, 0x02, (byte) 0xff, (byte) 0xff},
            {0x56},                            // bad first byte, refused at once
            {0x57, 0x00},
            {0x57, 0x05},
            {0x57, (byte) 0x81},               // an answer's type from a client
        };
        for (byte[] b : bad) {
            TakeOverDecoder d = TakeOverDecoder.ofClientFrames();
            assertThrows(TakeOverProtocolException.class, () -> d.decode(ByteBuffer.wrap(b)), java.util.Arrays.toString(b));
            // failed for good: the stream cannot be resynchronised
            assertThrows(TakeOverProtocolException.class, () -> d.decode(ByteBuffer.wrap(TakeOverEncoder.ping())));
            assertEquals(0, d.buffered());
        }
        // the client's side accepts the answers and refuses the requests
        TakeOverDecoder client = TakeOverDecoder.ofAgentFrames();
        byte[] answers = ByteBuffer.allocate(4 + 4 + 19 + 8 + 19).put(TakeOverEncoder.welcome()).put(TakeOverEncoder.pong())
                .put(TakeOverEncoder.tookOver(3, "PRIMARY")).put(TakeOverEncoder.refused(409, "no"))
                .put(TakeOverEncoder.ready(2, "REPLICA")).array();
        assertEquals(List.of(TakeOverFrame.WELCOME, TakeOverFrame.PONG, TakeOverFrame.TOOK_OVER, TakeOverFrame.REFUSED,
                        TakeOverFrame.READY),
                decodeAll(client, answers, 3).stream().map(TakeOverFrame::type).collect(java.util.stream.Collectors.toList()));
        for (byte[] request : new byte[][] {TakeOverEncoder.ping(), TakeOverEncoder.check(TakeOverRequest.of("vs1", null))}) {
            assertThrows(TakeOverProtocolException.class, () -> TakeOverDecoder.ofAgentFrames().decode(ByteBuffer.wrap(request)));
        }
        // and the agent's side takes CHECK as it takes TAKEOVER, and refuses READY
        TakeOverFrame check = TakeOverDecoder.ofClientFrames().decode(ByteBuffer.wrap(
                TakeOverEncoder.check(TakeOverRequest.of("vs1", "migration-7"))));
        assertEquals(TakeOverFrame.CHECK, check.type());
        assertEquals(TakeOverRequest.of("vs1", "migration-7"), TakeOverRequest.parse(check.payload()));
        assertThrows(TakeOverProtocolException.class,
                () -> TakeOverDecoder.ofClientFrames().decode(ByteBuffer.wrap(TakeOverEncoder.ready(2, "REPLICA"))));
    }

    @Test
    void takeOverPayloadParsesOrIsMalformed() throws Exception {
        assertEquals(TakeOverRequest.of("vs1", null), TakeOverRequest.parse(new byte[]{3, 'v', 's', '1', 0}));
        String longDisk = "d" + "x".repeat(63);
        String longId = "m".repeat(128);
        TakeOverRequest r = TakeOverRequest.parse(TakeOverRequest.of(longDisk, longId).encode());
        assertEquals(longDisk, r.disk());
        assertEquals(longId, r.takeOverId());
        assertEquals("a.b_c-d", TakeOverRequest.parse(TakeOverRequest.of("a.b_c-d", "x:y@z.1-_").encode()).disk());

        byte[][] malformed = {
            {}, {0}, {0, 0}, {1, 'v'}, {2, 'v', '1'}, {1, '-', 0}, {1, 'v', 1}, {1, 'v', 0, 0},
            {1, 'v', 1, '/'}, {1, 'v', 1, (byte) 0xc3}, {1, (byte) 0x80, 0},
        };
        for (byte[] p : malformed) {
            assertThrows(MalformedTakeOverException.class, () -> TakeOverRequest.parse(p), java.util.Arrays.toString(p));
        }
        byte[] tooLongDisk = new byte[2 + 65];
        tooLongDisk[0] = 65;
        java.util.Arrays.fill(tooLongDisk, 1, 66, (byte) 'a');
        assertThrows(MalformedTakeOverException.class, () -> TakeOverRequest.parse(tooLongDisk));
        byte[] tooLongId = new byte[3 + 129];
        tooLongId[0] = 1;
        tooLongId[1] = 'v';
        tooLongId[2] = (byte) 129;
        java.util.Arrays.fill(tooLongId, 3, 132, (byte) 'a');
        assertThrows(MalformedTakeOverException.class, () -> TakeOverRequest.parse(tooLongId));
        assertThrows(IllegalArgumentException.class, () -> TakeOverRequest.of("../x", null));
    }

    @Test
    void answersEncodeAsSpecified() {
        assertArrayEquals(new byte[]{0x57, (byte) 0x84, 0, 0}, TakeOverEncoder.welcome());
        assertArrayEquals(new byte[]{0x57, (byte) 0x83, 0, 0}, TakeOverEncoder.pong());
        byte[] took = TakeOverEncoder.tookOver(0x0102030405060708L, "PRIMARY");
        assertArrayEquals(new byte[]{0x57, (byte) 0x81, 0, 15, 1, 2, 3, 4, 5, 6, 7, 8, 'P', 'R', 'I', 'M', 'A', 'R', 'Y'},
                took);
        byte[] refused = TakeOverEncoder.refused(409, "no");
        assertArrayEquals(new byte[]{0x57, (byte) 0x82, 0, 4, 0x01, (byte) 0x99, 'n', 'o'}, refused);
        // a long message is cut to 512 bytes, never inside a character (é is 2 bytes)
        byte[] cut = TakeOverEncoder.refused(500, "a" + "é".repeat(600));
        int len = ((cut[2] & 0xff) << 8) | (cut[3] & 0xff);
        assertTrue(len - 2 <= 512 && len - 2 >= 510, "message of " + (len - 2) + " bytes");
        String m = new String(cut, 6, len - 2, StandardCharsets.UTF_8);
        assertFalse(m.contains("\ufffd"), "cut inside a character");
        assertEquals(511, len - 2, "'a' and 255 two-byte characters");
        assertArrayEquals(new byte[]{0x57, 0x01, 0, 3, 'a', 'b', 'c'}, TakeOverEncoder.auth("abc"));
        assertArrayEquals(new byte[]{0x57, 0x02, 0, 7, 3, 'v', 's', '1', 2, 'm', '7'},
                TakeOverEncoder.takeOver(TakeOverRequest.of("vs1", "m7")));
    }
}
