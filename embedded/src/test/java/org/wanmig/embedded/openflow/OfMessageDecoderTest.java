package org.wanmig.embedded.openflow;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.DecoderException;
import org.junit.jupiter.api.Test;
import org.projectfloodlight.openflow.protocol.OFEchoRequest;
import org.projectfloodlight.openflow.protocol.OFMessage;
import org.projectfloodlight.openflow.protocol.OFType;
import org.projectfloodlight.openflow.types.U32;

import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.wanmig.embedded.openflow.FlowRuleTranslator.OF13;

class OfMessageDecoderTest {

    private static List<OFMessage> sample() {
        return List.of(
                OF13.buildHello().setXid(1).setElements(List.of(OF13.helloElemVersionbitmap(List.of(U32.of(0x10)))))
                        .build(),
                OF13.buildEchoRequest().setXid(2).setData(new byte[]{1, 2, 3, 4, 5}).build(),
                OF13.buildFeaturesRequest().setXid(3).build(),
                OF13.buildBarrierRequest().setXid(4).build());
    }

    private static byte[] encode(List<OFMessage> messages) {
        EmbeddedChannel ch = new EmbeddedChannel(new OfMessageEncoder());
        ByteBuf all = Unpooled.buffer();
        for (OFMessage m : messages) {
            ch.writeOutbound(m);
            ByteBuf b = ch.readOutbound();
            all.writeBytes(b);
            b.release();
        }
        ch.finishAndReleaseAll();
        byte[] bytes = new byte[all.readableBytes()];
        all.readBytes(bytes);
        return bytes;
    }

    private static List<OFMessage> decode(byte[] bytes, int... cuts) {
        EmbeddedChannel ch = new EmbeddedChannel(new OfMessageDecoder());
        int from = 0;
        for (int cut : cuts) {
            ch.writeInbound(Unpooled.wrappedBuffer(bytes, from, cut - from));
            from = cut;
        }
        ch.writeInbound(Unpooled.wrappedBuffer(bytes, from, bytes.length - from));
        List<OFMessage> out = new ArrayList<>();
        for (Object o; (o = ch.readInbound()) != null; ) {
            out.add((OFMessage) o);
        }
        assertFalse(ch.finish());
        return out;
    }

    @Test
    void mergedMessagesInOneBuffer() {
        assertEquals(sample(), decode(encode(sample())));
    }

    @Test
    void messagesSplitAtEveryByte() {
        byte[] bytes = encode(sample());
        int[] everyByte = new int[bytes.length - 1];
        for (int i = 0; i < everyByte.length; i++) {
            everyByte[i] = i + 1;
        }
        assertEquals(sample(), decode(bytes, everyByte));
    }

    @Test
    void splitsInsideHeaderAndBody() {
        byte[] bytes = encode(sample());
        // 3: inside the first header; 13: inside the hello body; 20..: spanning echo and features
        assertEquals(sample(), decode(bytes, 3, 13, 20, 30));
    }

    @Test
    void partialMessageWaits() {
        byte[] bytes = encode(List.of(OF13.buildEchoRequest().setXid(7).setData(new byte[]{9, 9}).build()));
        EmbeddedChannel ch = new EmbeddedChannel(new OfMessageDecoder());
        ch.writeInbound(Unpooled.wrappedBuffer(bytes, 0, bytes.length - 1));
        assertNull(ch.readInbound());
        ch.writeInbound(Unpooled.wrappedBuffer(bytes, bytes.length - 1, 1));
        OFMessage m = ch.readInbound();
        assertEquals(OFType.ECHO_REQUEST, m.getType());
        assertArrayEquals(new byte[]{9, 9}, ((OFEchoRequest) m).getData());
        ch.finishAndReleaseAll();
    }

    @Test
    void unknownMessageIsSkippedNotFatal() {
        byte[] good = encode(List.of(OF13.buildBarrierRequest().setXid(5).build()));
        // version 4, type 250 (undefined), length 12, xid 6, 4 bytes of body
        byte[] unknown = {4, (byte) 250, 0, 12, 0, 0, 0, 6, 1, 2, 3, 4};
        byte[] both = new byte[unknown.length + good.length];
        System.arraycopy(unknown, 0, both, 0, unknown.length);
        System.arraycopy(good, 0, both, unknown.length, good.length);
        List<OFMessage> out = decode(both);
        assertEquals(1, out.size());
        assertEquals(5, out.get(0).getXid());
    }

    @Test
    void lengthShorterThanHeaderIsFatal() {
        EmbeddedChannel ch = new EmbeddedChannel(new OfMessageDecoder());
        assertThrows(DecoderException.class,
                () -> ch.writeInbound(Unpooled.wrappedBuffer(new byte[]{4, 2, 0, 4, 0, 0, 0, 1})));
        ch.finishAndReleaseAll();
    }
}
