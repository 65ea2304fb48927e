package org.wanmig.embedded.openflow;

import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.MessageToByteEncoder;
import org.projectfloodlight.openflow.protocol.OFMessage;

/** Serialises OpenFlow messages; openflowj writes the header, including the length, itself. */
public final class OfMessageEncoder extends MessageToByteEncoder<OFMessage> {
    @Override
    protected void encode(ChannelHandlerContext ctx, OFMessage msg, ByteBuf out) {
        msg.writeTo(out);
    }
}
