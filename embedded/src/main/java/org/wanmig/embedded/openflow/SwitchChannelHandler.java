package org.wanmig.embedded.openflow;

import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.handler.timeout.IdleState;
import io.netty.handler.timeout.IdleStateEvent;
import org.projectfloodlight.openflow.protocol.OFEchoRequest;
import org.projectfloodlight.openflow.protocol.OFErrorMsg;
import org.projectfloodlight.openflow.protocol.OFFeaturesReply;
import org.projectfloodlight.openflow.protocol.OFHello;
import org.projectfloodlight.openflow.protocol.OFHelloElem;
import org.projectfloodlight.openflow.protocol.OFHelloElemVersionbitmap;
import org.projectfloodlight.openflow.protocol.OFHelloFailedCode;
import org.projectfloodlight.openflow.protocol.OFMessage;
import org.projectfloodlight.openflow.protocol.OFPortDesc;
import org.projectfloodlight.openflow.protocol.OFPortDescStatsReply;
import org.projectfloodlight.openflow.protocol.OFStatsReplyFlags;
import org.projectfloodlight.openflow.protocol.OFType;
import org.projectfloodlight.openflow.protocol.OFVersion;
import org.projectfloodlight.openflow.types.U32;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;

import static org.wanmig.embedded.openflow.FlowRuleTranslator.OF13;

/**
 * The logic end of one switch connection: the OpenFlow 1.3 handshake as an explicit state machine,
 * echo keepalive both ways, then hands every message to the {@link OpenFlowSwitch}. Runs on the
 * channel's event loop only, so its fields need no locking.
 *
 * <pre>
 * WAIT_HELLO --HELLO(1.3)--> WAIT_FEATURES --FEATURES_REPLY--> WAIT_PORT_DESC --last PORT_DESC part--> ACTIVE
 *      any state --close / echo timeout / handshake timeout / incompatible version--> CLOSED
 * </pre>
 */
final class SwitchChannelHandler extends SimpleChannelInboundHandler<OFMessage> {
    private static final Logger log = LoggerFactory.getLogger(SwitchChannelHandler.class);

    /** OFPCML_NO_BUFFER: table-miss packet-ins carry the whole frame. */
    private static final int MISS_SEND_LEN = 0xffff;
    private static final int FIRST_XID = 1;

    enum State { WAIT_HELLO, WAIT_FEATURES, WAIT_PORT_DESC, ACTIVE, CLOSED }

    private final SwitchAgent agent;
    private final Duration confirmTimeout;
    private final Duration handshakeTimeout;

    private State state = State.WAIT_HELLO;
    private long dpid;
    private int tables;
    private final List<PortInfo> ports = new ArrayList<>();
    private OpenFlowSwitch sw;
    private boolean echoOutstanding;
    private ScheduledFuture<?> handshakeTimer;
    private int handshakeXid = FIRST_XID;

    SwitchChannelHandler(SwitchAgent agent, Duration confirmTimeout, Duration handshakeTimeout) {
        this.agent = agent;
        this.confirmTimeout = confirmTimeout;
        this.handshakeTimeout = handshakeTimeout;
    }

    State state() {
        return state;
    }

    @Override
    public void channelActive(ChannelHandlerContext ctx) {
        log.debug("OpenFlow connection from {}", ctx.channel().remoteAddress());
        // Advertise exactly OpenFlow 1.3 (bit 4 of the version bitmap).
        ctx.writeAndFlush(OF13.buildHello().setXid(handshakeXid++)
                .setElements(List.of(OF13.helloElemVersionbitmap(List.of(U32.of(1 << OFVersion.OF_13.getWireVersion())))))
                .build());
        handshakeTimer = ctx.executor().schedule(() -> {
            if (state != State.ACTIVE && state != State.CLOSED) {
                log.warn("{}: handshake not complete after {} ms (state {}), closing",
                        ctx.channel().remoteAddress(), handshakeTimeout.toMillis(), state);
                ctx.close();
            }
        }, handshakeTimeout.toMillis(), TimeUnit.MILLISECONDS);
    }

    @Override
    protected void channelRead0(ChannelHandlerContext ctx, OFMessage msg) {
        if (!ctx.channel().isOpen()) {
            // The decoder goes on cutting the rest of a read after this handler closed the channel, and
            // channelInactive comes later: a refused switch must not go on with its handshake.
            log.debug("{}: dropping {} read after the connection was closed", ctx.channel().remoteAddress(),
                    msg.getType());
            return;
        }
        echoOutstanding = false; // any message proves the switch is alive
        if (state != State.WAIT_HELLO && msg.getVersion() != OFVersion.OF_13) {
            // After the hello exchange the connection speaks 1.3 only; openflowj parses other versions
            // into objects whose 1.3 accessors throw, so such a message is dropped, not handled.
            log.warn("{}: dropping {} message of version {} on an OpenFlow 1.3 connection",
                    ctx.channel().remoteAddress(), msg.getType(), msg.getVersion());
            return;
        }
        if (msg.getType() == OFType.ECHO_REQUEST) {
            ctx.writeAndFlush(OF13.buildEchoReply().setXid(msg.getXid())
                    .setData(((OFEchoRequest) msg).getData()).build());
            return;
        }
        if (msg.getType() == OFType.ECHO_REPLY) {
            return;
        }
        switch (state) {
            case WAIT_HELLO:
                onHello(ctx, msg);
                break;
            case WAIT_FEATURES:
                onFeatures(ctx, msg);
                break;
            case WAIT_PORT_DESC:
                onPortDesc(ctx, msg);
                break;
            case ACTIVE:
                sw.handle(msg);
                break;
            default:
                break;
        }
    }

    private void onHello(ChannelHandlerContext ctx, OFMessage msg) {
        if (msg.getType() != OFType.HELLO) {
            unexpected(ctx, msg);
            return;
        }
        if (!speaksOf13((OFHello) msg)) {
            log.warn("{}: switch does not speak OpenFlow 1.3 (hello {}), closing", ctx.channel().remoteAddress(), msg);
            ctx.writeAndFlush(OF13.errorMsgs().buildHelloFailedErrorMsg().setXid(msg.getXid())
                    .setCode(OFHelloFailedCode.INCOMPATIBLE).build());
            close(ctx);
            return;
        }
        state = State.WAIT_FEATURES;
        ctx.writeAndFlush(OF13.buildFeaturesRequest().setXid(handshakeXid++).build());
    }

    // Version negotiation (OF 1.3.5 §6.3.1): with version bitmaps on both sides the common highest
    // version wins; without, the lower of the two header versions.
    private static boolean speaksOf13(OFHello hello) {
        if (hello.getVersion().compareTo(OFVersion.OF_13) < 0) {
            // Hellos before 1.3 carry no bitmap: the peer's highest version is below ours.
            return false;
        }
        for (OFHelloElem elem : hello.getElements()) {
            if (elem instanceof OFHelloElemVersionbitmap) {
                List<U32> bitmaps = ((OFHelloElemVersionbitmap) elem).getBitmaps();
                int bit = OFVersion.OF_13.getWireVersion();
                return !bitmaps.isEmpty() && (bitmaps.get(0).getValue() & (1L << bit)) != 0;
            }
        }
        return true;
    }

    private void onFeatures(ChannelHandlerContext ctx, OFMessage msg) {
        if (msg.getType() != OFType.FEATURES_REPLY) {
            unexpected(ctx, msg);
            return;
        }
        OFFeaturesReply features = (OFFeaturesReply) msg;
        dpid = features.getDatapathId().getLong();
        tables = features.getNTables() & 0xff;
        ctx.write(OF13.buildSetConfig().setXid(handshakeXid++).setMissSendLen(MISS_SEND_LEN).build());
        ctx.writeAndFlush(OF13.buildPortDescStatsRequest().setXid(handshakeXid++).build());
        state = State.WAIT_PORT_DESC;
    }

    private void onPortDesc(ChannelHandlerContext ctx, OFMessage msg) {
        if (!(msg instanceof OFPortDescStatsReply)) {
            unexpected(ctx, msg);
            return;
        }
        OFPortDescStatsReply reply = (OFPortDescStatsReply) msg;
        for (OFPortDesc desc : reply.getEntries()) {
            ports.add(PortInfo.of(desc));
        }
        if (reply.getFlags().contains(OFStatsReplyFlags.REPLY_MORE)) {
            return; // more parts follow
        }
        handshakeTimer.cancel(false);
        sw = new OpenFlowSwitch(ctx.channel(), dpid, tables, ports, confirmTimeout, agent, handshakeXid);
        state = State.ACTIVE;
        log.info("Switch {} connected from {} ({} tables, {} ports)", sw.deviceId(),
                ctx.channel().remoteAddress(), tables, ports.size());
        agent.switchConnected(sw);
    }

    private void unexpected(ChannelHandlerContext ctx, OFMessage msg) {
        if (msg.getType() == OFType.ERROR) {
            log.warn("{}: error during handshake (state {}): {}, closing", ctx.channel().remoteAddress(), state,
                    ErrorMessages.describe((OFErrorMsg) msg));
            close(ctx);
            return;
        }
        // Asynchronous messages (port status, packet-in) may overtake the handshake; they carry
        // nothing the handshake needs, and the port list is read completely once it ends.
        log.debug("{}: ignoring {} in state {}", ctx.channel().remoteAddress(), msg.getType(), state);
    }

    @Override
    public void userEventTriggered(ChannelHandlerContext ctx, Object evt) throws Exception {
        if (evt instanceof IdleStateEvent && ((IdleStateEvent) evt).state() == IdleState.READER_IDLE) {
            if (echoOutstanding) {
                log.warn("{}: no answer to ECHO_REQUEST, disconnecting", ctx.channel().remoteAddress());
                close(ctx);
            } else {
                echoOutstanding = true;
                ctx.writeAndFlush(OF13.buildEchoRequest().setXid(sw != null ? sw.nextXid() : handshakeXid++).setData(new byte[0]).build());
            }
            return;
        }
        super.userEventTriggered(ctx, evt);
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        boolean wasActive = state == State.ACTIVE;
        state = State.CLOSED;
        if (handshakeTimer != null) {
            handshakeTimer.cancel(false);
        }
        if (wasActive) {
            log.info("Switch {} disconnected", sw.deviceId());
            sw.disconnected();
            agent.switchDisconnected(sw);
        }
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        if (!ctx.channel().isOpen()) {
            log.debug("{}: {} after the connection was closed", ctx.channel().remoteAddress(), cause.toString());
            return;
        }
        log.warn("{}: {}, closing", ctx.channel().remoteAddress(), cause.toString());
        close(ctx);
    }

    private void close(ChannelHandlerContext ctx) {
        ctx.close(); // channelInactive does the bookkeeping
    }
}
