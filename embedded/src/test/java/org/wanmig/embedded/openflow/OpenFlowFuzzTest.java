package org.wanmig.embedded.openflow;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.buffer.AbstractByteBufAllocator;
import io.netty.buffer.UnpooledDirectByteBuf;
import io.netty.buffer.UnpooledHeapByteBuf;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.CorruptedFrameException;
import io.netty.handler.codec.DecoderException;
import io.netty.util.ReferenceCountUtil;
import org.onosproject.net.PortNumber;
import org.projectfloodlight.openflow.protocol.OFFlowMod;
import org.projectfloodlight.openflow.protocol.OFMessage;
import org.projectfloodlight.openflow.protocol.OFPortState;
import org.projectfloodlight.openflow.types.DatapathId;
import org.projectfloodlight.openflow.types.MacAddress;
import org.projectfloodlight.openflow.types.OFPort;
import org.projectfloodlight.openflow.types.U32;
import org.projectfloodlight.openflow.types.U64;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;
import static org.wanmig.embedded.openflow.FlowRuleTranslator.OF13;

/**
 * The OpenFlow southbound under arbitrary bytes from a switch: framing and parsing
 * ({@link OfMessageDecoder}) and the connection's state machine ({@link SwitchChannelHandler},
 * {@link OpenFlowSwitch}, {@link PortInfo}, {@link ErrorMessages}) may end a connection with a clean
 * protocol error and a close, never with any other exception, and never allocate more than the bytes
 * received plus one maximal frame. Seeds: OpenFlowFuzzTestInputs/&lt;method&gt;/.
 */
class OpenFlowFuzzTest {
    /** The OpenFlow header's 16-bit length bounds any frame. */
    private static final int MAX_FRAME = 0xffff;

    /** Raw bytes into the decoder alone, cut into chunks as TCP might deliver them. */
    @FuzzTest
    void decodeFrames(byte[] input) throws Exception {
        CountingAllocator alloc = new CountingAllocator();
        EmbeddedChannel ch = new EmbeddedChannel(false, false);
        ch.config().setAllocator(alloc);
        ch.pipeline().addLast(new OfMessageDecoder());
        ch.register();
        int chunk = input.length == 0 ? 1 : (input[0] & 0x3f) + 1;
        try {
            for (int from = 0; from < input.length; from += chunk) {
                ch.writeInbound(Unpooled.wrappedBuffer(input, from, Math.min(chunk, input.length - from)));
            }
        } catch (DecoderException e) {
            if (!isProtocolError(e)) {
                throw e;
            }
        } finally {
            for (Object o; (o = ch.readInbound()) != null; ) {
                assertTrue(o instanceof OFMessage, "decoder emits OpenFlow messages only: " + o);
                ReferenceCountUtil.release(o);
            }
            ch.finishAndReleaseAll();
        }
        alloc.assertBounded(input.length);
    }

    /**
     * A switch connection fed arbitrary bytes, optionally after a valid handshake so that the bytes
     * reach the connected switch (barrier, error, stats replies matched against pending requests,
     * packet-in, port status).
     */
    @FuzzTest
    void switchConnection(FuzzedDataProvider data) throws Exception {
        CountingAllocator alloc = new CountingAllocator();
        Guard guard = new Guard(new SwitchChannelHandler(new Agent(), Duration.ofSeconds(5), Duration.ofSeconds(10)));
        EmbeddedChannel ch = new EmbeddedChannel(false, false);
        ch.config().setAllocator(alloc);
        ch.pipeline().addLast(new OfMessageDecoder(), new OfMessageEncoder(), guard);
        ch.register();
        boolean handshake = data.consumeBoolean();
        int chunk = data.consumeInt(1, 256);
        byte[] stream = data.consumeRemainingAsBytes();
        int total = stream.length;
        try {
            if (handshake) {
                for (OFMessage m : handshake()) {
                    byte[] bytes = encode(m);
                    total += bytes.length;
                    ch.writeInbound(Unpooled.wrappedBuffer(bytes));
                }
                assertTrue(guard.handler.state() == SwitchChannelHandler.State.ACTIVE, "handshake completes");
            }
            for (int from = 0; from < stream.length && ch.isOpen(); from += chunk) {
                ch.writeInbound(Unpooled.wrappedBuffer(stream, from, Math.min(chunk, stream.length - from)));
                ch.runPendingTasks();
            }
            ch.checkException();
        } finally {
            ch.finishAndReleaseAll();
        }
        if (guard.unexpected != null) {
            fail("the connection failed with something else than a protocol error", guard.unexpected);
        }
        if (guard.protocolError) {
            assertFalse(ch.isOpen(), "a protocol error closes the connection");
        }
        alloc.assertBounded(total);
    }

    /** The decoder's one error: a frame that cannot be cut (CorruptedFrameException, maybe wrapped). */
    private static boolean isProtocolError(Throwable e) {
        return e instanceof CorruptedFrameException
                || (e instanceof DecoderException && e.getCause() instanceof CorruptedFrameException);
    }

    private static List<OFMessage> handshake() {
        return List.of(
                OF13.buildHello().setXid(100).setElements(
                        List.of(OF13.helloElemVersionbitmap(List.of(U32.of(0x10))))).build(),
                OF13.buildFeaturesReply().setXid(2).setDatapathId(DatapathId.of(0xa1)).setNTables((short) 4).build(),
                OF13.buildPortDescStatsReply().setXid(4).setEntries(List.of(
                        OF13.buildPortDesc().setPortNo(OFPort.of(1)).setName("p1")
                                .setHwAddr(MacAddress.of(0x020000000001L)).setState(Set.of(OFPortState.LIVE))
                                .build())).build());
    }

    private static byte[] encode(OFMessage m) {
        ByteBuf buf = Unpooled.buffer();
        m.writeTo(buf);
        byte[] bytes = new byte[buf.readableBytes()];
        buf.readBytes(bytes);
        buf.release();
        return bytes;
    }

    /**
     * Runs the real handler inside a wrapper that tells a protocol error (a frame that cannot be cut,
     * reported by the decoder) from any other exception, which the handler alone would log and close on.
     */
    private static final class Guard extends ChannelInboundHandlerAdapter {
        final SwitchChannelHandler handler;
        Throwable unexpected;
        boolean protocolError;

        Guard(SwitchChannelHandler handler) {
            this.handler = handler;
        }

        @Override
        public void channelActive(ChannelHandlerContext ctx) {
            handler.channelActive(ctx);
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            try {
                handler.channelRead0(ctx, (OFMessage) msg);
            } catch (RuntimeException e) {
                unexpected = e;
                ctx.close();
            } finally {
                ReferenceCountUtil.release(msg);
            }
        }

        @Override
        public void channelInactive(ChannelHandlerContext ctx) {
            handler.channelInactive(ctx);
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            if (isProtocolError(cause)) {
                protocolError = true;
            } else if (unexpected == null) {
                unexpected = cause;
            }
            handler.exceptionCaught(ctx, cause);
        }
    }

    /** Once connected, asks the switch for its flows and sends it a flow-mod, so replies have someone waiting. */
    private static final class Agent implements SwitchAgent {
        @Override
        public void switchConnected(OpenFlowSwitch sw) {
            sw.flowStats();
            OFFlowMod add = OF13.buildFlowAdd().setCookie(U64.of(0x77)).setPriority(10).build();
            sw.sendFlowMods(List.of(add));
        }

        @Override
        public void switchDisconnected(OpenFlowSwitch sw) {
        }

        @Override
        public void packetIn(OpenFlowSwitch sw, PortNumber inPort, byte[] frame) {
        }

        @Override
        public void portChanged(OpenFlowSwitch sw, PortInfo port, SwitchListener.PortChange change) {
        }
    }

    /** Records the largest buffer asked for: nothing may allocate from a length the peer claims. */
    private static final class CountingAllocator extends AbstractByteBufAllocator {
        private final List<Integer> sizes = new ArrayList<>();

        CountingAllocator() {
            super(false);
        }

        @Override
        protected ByteBuf newHeapBuffer(int initialCapacity, int maxCapacity) {
            sizes.add(initialCapacity);
            return new UnpooledHeapByteBuf(this, initialCapacity, maxCapacity);
        }

        @Override
        protected ByteBuf newDirectBuffer(int initialCapacity, int maxCapacity) {
            sizes.add(initialCapacity);
            return new UnpooledDirectByteBuf(this, initialCapacity, maxCapacity);
        }

        @Override
        public boolean isDirectBufferPooled() {
            return false;
        }

        void assertBounded(int received) {
            int largest = sizes.stream().mapToInt(Integer::intValue).max().orElse(0);
            assertTrue(largest <= received + MAX_FRAME,
                    "allocated " + largest + " bytes at once after receiving " + received);
        }
    }
}
