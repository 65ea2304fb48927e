package org.wanmig.embedded.openflow;

import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.ByteToMessageDecoder;
import io.netty.handler.codec.CorruptedFrameException;
import org.projectfloodlight.openflow.exceptions.OFParseError;
import org.projectfloodlight.openflow.protocol.OFFactories;
import org.projectfloodlight.openflow.protocol.OFMessage;
import org.projectfloodlight.openflow.protocol.OFMessageReader;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.List;

/**
 * Cuts the TCP byte stream into OpenFlow messages using the length field of the common header
 * (version:1, type:1, length:2, xid:4) and parses each frame with openflowj's generic reader,
 * which picks the protocol version from the header.
 */
public final class OfMessageDecoder extends ByteToMessageDecoder {
    private static final Logger log = LoggerFactory.getLogger(OfMessageDecoder.class);
    static final int HEADER_LENGTH = 8;

    private final OFMessageReader<OFMessage> reader = OFFactories.getGenericReader();

    /**
     * Cuts at most one frame per call; ByteToMessageDecoder calls again while bytes remain. Framing and
     * parsing only: what a message read after the connection was closed means is the
     * {@link SwitchChannelHandler}'s business, which drops it.
     */
    @Override
    protected void decode(ChannelHandlerContext ctx, ByteBuf in, List<Object> out) {
        if (in.readableBytes() < HEADER_LENGTH) {
            return;
        }
        int start = in.readerIndex();
        int length = in.getUnsignedShort(start + 2);
        if (length < HEADER_LENGTH) {
            // The stream can no longer be framed; the connection has to go, and so do its bytes.
            in.skipBytes(in.readableBytes());
            throw new CorruptedFrameException("OpenFlow length " + length + " shorter than the header");
        }
        if (in.readableBytes() < length) {
            return; // wait for the rest of the frame
        }
        ByteBuf frame = in.retainedSlice(start, length);
        in.skipBytes(length);
        try {
            OFMessage msg = reader.readFrom(frame);
            if (msg != null) {
                out.add(msg);
            }
        } catch (OFParseError | RuntimeException e) {
            // One unparseable message (e.g. an experimenter message openflowj does not know)
            // must not kill the session: framing is intact, so skip just this frame.
            log.warn("Dropping unparseable OpenFlow message (version {}, type {}, {} bytes): {}",
                    in.getUnsignedByte(start), in.getUnsignedByte(start + 1), length, e.toString());
        } finally {
            frame.release();
        }
    }
}
