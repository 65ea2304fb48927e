package org.wanmig.replication.control.takeover;

import com.code_intelligence.jazzer.junit.FuzzTest;

import java.nio.ByteBuffer;

/**
 * Jazzer target for the take-over channel's decoder and TAKEOVER parser: any byte stream, cut into
 * chunks the input chooses, either yields frames (and TAKEOVER payloads parse to a request or
 * MalformedTakeOverException) or ends in TakeOverProtocolException; never another exception, and
 * the decoder never holds more than a header and one maximal payload.
 */
class TakeOverFuzzTest {
    @FuzzTest(maxDuration = "30s")
    void frames(byte[] input) {
        if (input.length == 0) {
            return;
        }
        int chunk = 1 + (input[0] & 0x3f); // chunk sizes 1..64: headers and payloads split anywhere
        TakeOverDecoder d = TakeOverDecoder.ofClientFrames();
        try {
            for (int off = 1; off < input.length; off += chunk) {
                ByteBuffer b = ByteBuffer.wrap(input, off, Math.min(chunk, input.length - off));
                TakeOverFrame f;
                while ((f = d.decode(b)) != null) {
                    check(f);
                }
                if (b.hasRemaining()) {
                    throw new AssertionError("decoder left bytes unconsumed");
                }
                if (d.buffered() > TakeOverFrame.HEADER_BYTES + TakeOverFrame.MAX_PAYLOAD) {
                    throw new AssertionError("decoder holds " + d.buffered() + " bytes");
                }
            }
        } catch (TakeOverProtocolException expected) {
            // the connection would be closed
        }
    }

    private static void check(TakeOverFrame f) {
        if (f.payloadLength() > TakeOverFrame.MAX_PAYLOAD) {
            throw new AssertionError("frame of " + f.payloadLength() + " bytes");
        }
        if (f.type() != TakeOverFrame.AUTH && f.type() != TakeOverFrame.TAKEOVER && f.type() != TakeOverFrame.PING) {
            throw new AssertionError("unknown type passed: " + f);
        }
        if (f.type() != TakeOverFrame.TAKEOVER) {
            return;
        }
        try {
            TakeOverRequest r = TakeOverRequest.parse(f.payload());
            // what parses re-encodes to the same bytes
            if (!java.util.Arrays.equals(r.encode(), f.payload())
                    || !TakeOverRequest.of(r.disk(), r.takeOverId()).equals(r)) {
                throw new AssertionError("round trip of " + r);
            }
        } catch (MalformedTakeOverException expected) {
            // 400, the connection serves on
        }
    }
}
