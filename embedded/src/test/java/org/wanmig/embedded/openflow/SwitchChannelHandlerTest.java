package org.wanmig.embedded.openflow;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.timeout.IdleStateEvent;
import org.junit.jupiter.api.Test;
import org.onosproject.net.DeviceId;
import org.onosproject.net.PortNumber;
import org.projectfloodlight.openflow.protocol.OFBadActionCode;
import org.projectfloodlight.openflow.protocol.OFBadRequestCode;
import org.projectfloodlight.openflow.protocol.OFBarrierRequest;
import org.projectfloodlight.openflow.protocol.OFEchoReply;
import org.projectfloodlight.openflow.protocol.OFFactories;
import org.projectfloodlight.openflow.protocol.OFFlowMod;
import org.projectfloodlight.openflow.protocol.OFFlowStatsEntry;
import org.projectfloodlight.openflow.protocol.OFFlowStatsRequest;
import org.projectfloodlight.openflow.protocol.errormsg.OFHelloFailedErrorMsg;
import org.projectfloodlight.openflow.protocol.OFMessage;
import org.projectfloodlight.openflow.protocol.OFPacketInReason;
import org.projectfloodlight.openflow.protocol.OFPacketOut;
import org.projectfloodlight.openflow.protocol.OFPortDesc;
import org.projectfloodlight.openflow.protocol.OFPortReason;
import org.projectfloodlight.openflow.protocol.OFPortState;
import org.projectfloodlight.openflow.protocol.OFSetConfig;
import org.projectfloodlight.openflow.protocol.OFStatsReplyFlags;
import org.projectfloodlight.openflow.protocol.OFType;
import org.projectfloodlight.openflow.protocol.OFVersion;
import org.projectfloodlight.openflow.protocol.action.OFActionOutput;
import org.projectfloodlight.openflow.protocol.match.MatchField;
import org.projectfloodlight.openflow.types.DatapathId;
import org.projectfloodlight.openflow.types.MacAddress;
import org.projectfloodlight.openflow.types.OFBufferId;
import org.projectfloodlight.openflow.types.OFErrorCauseData;
import org.projectfloodlight.openflow.types.OFPort;
import org.projectfloodlight.openflow.types.TableId;
import org.projectfloodlight.openflow.types.U32;
import org.projectfloodlight.openflow.types.U64;
import org.wanmig.spi.SwitchException;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.wanmig.embedded.openflow.FlowRuleTranslator.OF13;

/** The handshake state machine, keepalive and request/reply matching, against a scripted switch. */
class SwitchChannelHandlerTest {
    private static final long DPID = 0xa1;

    private final Recorder agent = new Recorder();
    private SwitchChannelHandler handler;
    private EmbeddedChannel ch;

    private EmbeddedChannel channel(Duration confirm, Duration handshake) {
        handler = new SwitchChannelHandler(agent, confirm, handshake);
        ch = new EmbeddedChannel(handler); // registers and activates: the HELLO goes out
        return ch;
    }

    private <T extends OFMessage> T out(Class<T> type) {
        ch.runPendingTasks();
        Object o = ch.readOutbound();
        assertNotNull(o, "nothing sent, expected " + type.getSimpleName());
        return assertInstanceOf(type, o);
    }

    private static OFPortDesc port(int number, boolean linkUp) {
        return OF13.buildPortDesc().setPortNo(OFPort.of(number)).setName("p" + number)
                .setHwAddr(MacAddress.of(0x020000000000L + number))
                .setState(linkUp ? Set.of(OFPortState.LIVE) : Set.of(OFPortState.LINK_DOWN)).build();
    }

    /** Runs the whole handshake and returns the connected switch. */
    private OpenFlowSwitch handshake(Duration confirm) {
        channel(confirm, Duration.ofSeconds(10));
        out(org.projectfloodlight.openflow.protocol.OFHello.class);
        ch.writeInbound(OF13.buildHello().setXid(100).setElements(
                List.of(OF13.helloElemVersionbitmap(List.of(U32.of(0x12))))).build()); // 1.0 and 1.3
        out(org.projectfloodlight.openflow.protocol.OFFeaturesRequest.class);
        assertEquals(SwitchChannelHandler.State.WAIT_FEATURES, handler.state());
        ch.writeInbound(OF13.buildFeaturesReply().setXid(101).setDatapathId(DatapathId.of(DPID))
                .setNTables((short) 254).build());
        assertEquals(0xffff, out(OFSetConfig.class).getMissSendLen());
        out(org.projectfloodlight.openflow.protocol.OFPortDescStatsRequest.class);
        ch.writeInbound(OF13.buildPortDescStatsReply().setXid(102).setFlags(Set.of(OFStatsReplyFlags.REPLY_MORE))
                .setEntries(List.of(port(1, true))).build());
        assertEquals(SwitchChannelHandler.State.WAIT_PORT_DESC, handler.state(), "more parts announced");
        assertTrue(agent.connected.isEmpty());
        ch.writeInbound(OF13.buildPortDescStatsReply().setXid(102).setEntries(List.of(port(2, false))).build());
        assertEquals(SwitchChannelHandler.State.ACTIVE, handler.state());
        assertEquals(1, agent.connected.size());
        return agent.connected.get(0);
    }

    @Test
    void handshakeCollectsDatapathAndAllPortParts() {
        OpenFlowSwitch sw = handshake(Duration.ofSeconds(5));
        assertEquals(DeviceId.deviceId("of:00000000000000a1"), sw.deviceId());
        SwitchInfo info = sw.info();
        assertEquals(254, info.tables());
        assertEquals(2, info.ports().size());
        assertTrue(info.ports().get(0).enabled());
        assertFalse(info.ports().get(1).linkUp());
        assertEquals("p2", info.ports().get(1).name());
    }

    @Test
    void switchWithoutOpenFlow13IsRefused() {
        channel(Duration.ofSeconds(5), Duration.ofSeconds(10));
        out(org.projectfloodlight.openflow.protocol.OFHello.class);
        ch.writeInbound(OFFactories.getFactory(OFVersion.OF_10).buildHello().setXid(5).build());
        out(OFHelloFailedErrorMsg.class);
        assertFalse(ch.isActive());
        assertTrue(agent.connected.isEmpty());
    }

    @Test
    void versionBitmapDecides() {
        // A 1.4 switch that also speaks 1.3 negotiates 1.3 ...
        channel(Duration.ofSeconds(5), Duration.ofSeconds(10));
        out(org.projectfloodlight.openflow.protocol.OFHello.class);
        ch.writeInbound(OFFactories.getFactory(OFVersion.OF_14).buildHello().setXid(5).setElements(List.of(
                OFFactories.getFactory(OFVersion.OF_14).helloElemVersionbitmap(List.of(U32.of(0x30))))).build());
        out(org.projectfloodlight.openflow.protocol.OFFeaturesRequest.class);

        // ... one that speaks only 1.4 and 1.5 does not.
        channel(Duration.ofSeconds(5), Duration.ofSeconds(10));
        out(org.projectfloodlight.openflow.protocol.OFHello.class);
        ch.writeInbound(OFFactories.getFactory(OFVersion.OF_14).buildHello().setXid(5).setElements(List.of(
                OFFactories.getFactory(OFVersion.OF_14).helloElemVersionbitmap(List.of(U32.of(0x60))))).build());
        out(OFHelloFailedErrorMsg.class);
        assertFalse(ch.isActive());
    }

    @Test
    void messagesReadAfterTheConnectionClosedAreDropped() {
        // One TCP read carries the switch's whole handshake, with an error after its hello: the error
        // closes the connection, and the decoder still cuts the rest of the read before channelInactive.
        handler = new SwitchChannelHandler(agent, Duration.ofSeconds(5), Duration.ofSeconds(10));
        ch = new EmbeddedChannel(new OfMessageDecoder(), new OfMessageEncoder(), handler);
        ByteBuf read = Unpooled.buffer();
        OF13.buildHello().setXid(100).setElements(List.of(OF13.helloElemVersionbitmap(List.of(U32.of(0x10)))))
                .build().writeTo(read);
        OF13.errorMsgs().buildBadRequestErrorMsg().setXid(2).setCode(OFBadRequestCode.BAD_TYPE)
                .setData(OFErrorCauseData.NONE).build().writeTo(read);
        OF13.buildFeaturesReply().setXid(2).setDatapathId(DatapathId.of(DPID)).setNTables((short) 4).build()
                .writeTo(read);
        OF13.buildPortDescStatsReply().setXid(4).setEntries(List.of(port(1, true))).build().writeTo(read);

        ch.writeInbound(read);

        assertFalse(ch.isOpen());
        assertEquals(SwitchChannelHandler.State.CLOSED, handler.state());
        assertTrue(agent.connected.isEmpty(), "a refused switch is never reported connected");
        assertTrue(agent.disconnected.isEmpty());
    }

    @Test
    void handshakeTimesOut() throws Exception {
        channel(Duration.ofSeconds(5), Duration.ofMillis(50));
        Thread.sleep(120);
        ch.runScheduledPendingTasks();
        assertFalse(ch.isActive());
        assertTrue(agent.connected.isEmpty());
    }

    @Test
    void echoBothWays() {
        handshake(Duration.ofSeconds(5));
        ch.writeInbound(OF13.buildEchoRequest().setXid(77).setData(new byte[]{1, 2}).build());
        OFEchoReply reply = out(OFEchoReply.class);
        assertEquals(77, reply.getXid());
        assertArrayEquals(new byte[]{1, 2}, reply.getData());

        // Idle: we ask; an answer (any message) keeps the connection.
        ch.pipeline().fireUserEventTriggered(IdleStateEvent.FIRST_READER_IDLE_STATE_EVENT);
        out(org.projectfloodlight.openflow.protocol.OFEchoRequest.class);
        ch.writeInbound(OF13.buildEchoReply().setXid(1).setData(new byte[0]).build());
        ch.pipeline().fireUserEventTriggered(IdleStateEvent.READER_IDLE_STATE_EVENT);
        out(org.projectfloodlight.openflow.protocol.OFEchoRequest.class);
        assertTrue(ch.isActive());

        // No answer by the next idle period: disconnect.
        ch.pipeline().fireUserEventTriggered(IdleStateEvent.READER_IDLE_STATE_EVENT);
        assertFalse(ch.isActive());
        assertEquals(List.of(DeviceId.deviceId("of:00000000000000a1")), agent.disconnected);
    }

    private static List<OFFlowMod> mods(OpenFlowSwitch sw, int n) {
        List<OFFlowMod> mods = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            mods.add(OF13.buildFlowAdd().setXid(sw.nextXid()).setCookie(U64.of(0x57A9_0000_0000_0010L + i))
                    .setPriority(100 + i).setMatch(OF13.buildMatch().setExact(MatchField.IN_PORT, OFPort.of(i + 1))
                            .build()).build());
        }
        return mods;
    }

    @Test
    void barrierConfirmsAndErrorsAreMatchedToTheirFlowMod() throws Exception {
        OpenFlowSwitch sw = handshake(Duration.ofSeconds(5));
        List<OFFlowMod> mods = mods(sw, 3);
        CompletableFuture<List<FlowModFailure>> f = sw.sendFlowMods(mods);
        for (OFFlowMod m : mods) {
            assertEquals(m, out(OFFlowMod.class));
        }
        OFBarrierRequest barrier = out(OFBarrierRequest.class);
        assertFalse(f.isDone());

        ch.writeInbound(OF13.errorMsgs().buildBadActionErrorMsg().setXid(mods.get(1).getXid())
                .setCode(OFBadActionCode.BAD_OUT_PORT).setData(OFErrorCauseData.NONE).build());
        assertFalse(f.isDone(), "an error alone does not end the batch: the barrier does");
        ch.writeInbound(OF13.buildBarrierReply().setXid(barrier.getXid()).build());

        List<FlowModFailure> failures = f.get();
        assertEquals(1, failures.size());
        assertEquals(0x57A9_0000_0000_0011L, failures.get(0).cookie());
        assertEquals("BAD_ACTION/BAD_OUT_PORT", failures.get(0).describe());
    }

    @Test
    void missingBarrierReplyTimesOut() throws Exception {
        OpenFlowSwitch sw = handshake(Duration.ofMillis(50));
        CompletableFuture<List<FlowModFailure>> f = sw.sendFlowMods(mods(sw, 1));
        ch.runPendingTasks();
        Thread.sleep(120);
        ch.runScheduledPendingTasks();
        ExecutionException e = assertThrows(ExecutionException.class, f::get);
        assertInstanceOf(SwitchException.class, e.getCause());
        assertTrue(e.getCause().getMessage().contains("no barrier reply"), e.getCause().getMessage());
    }

    @Test
    void disconnectFailsWhatIsPending() {
        OpenFlowSwitch sw = handshake(Duration.ofSeconds(5));
        CompletableFuture<List<FlowModFailure>> batch = sw.sendFlowMods(mods(sw, 1));
        CompletableFuture<List<OFFlowStatsEntry>> stats = sw.flowStats();
        ch.runPendingTasks();
        ch.close();
        assertTrue(batch.isCompletedExceptionally());
        assertTrue(stats.isCompletedExceptionally());
        assertEquals(1, agent.disconnected.size());
    }

    @Test
    void flowStatsCollectsEveryPart() throws Exception {
        OpenFlowSwitch sw = handshake(Duration.ofSeconds(5));
        CompletableFuture<List<OFFlowStatsEntry>> f = sw.flowStats();
        OFFlowStatsRequest req = out(OFFlowStatsRequest.class);
        assertEquals(TableId.ALL, req.getTableId());
        OFFlowStatsEntry e1 = OF13.buildFlowStatsEntry().setCookie(U64.of(1)).setPriority(1).build();
        OFFlowStatsEntry e2 = OF13.buildFlowStatsEntry().setCookie(U64.of(2)).setPriority(2).build();
        ch.writeInbound(OF13.buildFlowStatsReply().setXid(req.getXid()).setFlags(Set.of(OFStatsReplyFlags.REPLY_MORE))
                .setEntries(List.of(e1)).build());
        assertFalse(f.isDone());
        ch.writeInbound(OF13.buildFlowStatsReply().setXid(req.getXid()).setEntries(List.of(e2)).build());
        assertEquals(List.of(e1, e2), f.get());
    }

    @Test
    void packetInPortStatusAndPacketOut() {
        OpenFlowSwitch sw = handshake(Duration.ofSeconds(5));
        byte[] frame = {1, 2, 3};
        ch.writeInbound(OF13.buildPacketIn().setXid(9).setBufferId(OFBufferId.NO_BUFFER)
                .setReason(OFPacketInReason.ACTION).setTableId(TableId.of(0))
                .setMatch(OF13.buildMatch().setExact(MatchField.IN_PORT, OFPort.of(4)).build())
                .setData(frame).build());
        assertEquals(List.of(PortNumber.portNumber(4)), agent.packetInPorts);

        ch.writeInbound(OF13.buildPortStatus().setReason(OFPortReason.ADD).setDesc(port(3, true)).build());
        ch.writeInbound(OF13.buildPortStatus().setReason(OFPortReason.MODIFY).setDesc(port(3, false)).build());
        ch.writeInbound(OF13.buildPortStatus().setReason(OFPortReason.DELETE).setDesc(port(1, true)).build());
        assertEquals(List.of(SwitchListener.PortChange.ADDED, SwitchListener.PortChange.MODIFIED,
                SwitchListener.PortChange.REMOVED), agent.portChanges);
        assertEquals(List.of(2L, 3L), sw.info().ports().stream().map(p -> p.number().toLong())
                .collect(java.util.stream.Collectors.toList()));

        sw.sendPacket(PortNumber.portNumber(4), frame);
        OFPacketOut po = out(OFPacketOut.class);
        assertEquals(OFBufferId.NO_BUFFER, po.getBufferId());
        assertEquals(OFPort.CONTROLLER, po.getInPort());
        assertEquals(OFPort.of(4), ((OFActionOutput) po.getActions().get(0)).getPort());
        assertArrayEquals(frame, po.getData());
        assertNull(ch.readOutbound());
        assertEquals(OFType.PACKET_OUT, po.getType());
    }

    /** Records what the connection reports; EmbeddedChannel runs everything on the test thread. */
    private static final class Recorder implements SwitchAgent {
        final List<OpenFlowSwitch> connected = new ArrayList<>();
        final List<DeviceId> disconnected = new ArrayList<>();
        final List<PortNumber> packetInPorts = new ArrayList<>();
        final List<SwitchListener.PortChange> portChanges = new ArrayList<>();

        @Override
        public void switchConnected(OpenFlowSwitch sw) {
            connected.add(sw);
        }

        @Override
        public void switchDisconnected(OpenFlowSwitch sw) {
            disconnected.add(sw.deviceId());
        }

        @Override
        public void packetIn(OpenFlowSwitch sw, PortNumber inPort, byte[] frame) {
            packetInPorts.add(inPort);
        }

        @Override
        public void portChanged(OpenFlowSwitch sw, PortInfo port, SwitchListener.PortChange change) {
            portChanges.add(change);
        }
    }
}
