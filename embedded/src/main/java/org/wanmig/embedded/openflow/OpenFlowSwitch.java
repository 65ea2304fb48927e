package org.wanmig.embedded.openflow;

import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import org.onosproject.net.DeviceId;
import org.onosproject.net.PortNumber;
import org.projectfloodlight.openflow.protocol.OFBarrierReply;
import org.projectfloodlight.openflow.protocol.OFErrorMsg;
import org.projectfloodlight.openflow.protocol.OFFlowMod;
import org.projectfloodlight.openflow.protocol.OFFlowStatsEntry;
import org.projectfloodlight.openflow.protocol.OFFlowStatsReply;
import org.projectfloodlight.openflow.protocol.OFMessage;
import org.projectfloodlight.openflow.protocol.OFPacketIn;
import org.projectfloodlight.openflow.protocol.OFPortReason;
import org.projectfloodlight.openflow.protocol.OFPortStatus;
import org.projectfloodlight.openflow.protocol.OFStatsReplyFlags;
import org.projectfloodlight.openflow.protocol.match.MatchField;
import org.projectfloodlight.openflow.types.OFBufferId;
import org.projectfloodlight.openflow.types.OFGroup;
import org.projectfloodlight.openflow.types.OFPort;
import org.projectfloodlight.openflow.types.TableId;
import org.projectfloodlight.openflow.types.U64;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.wanmig.spi.SwitchException;

import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import static org.wanmig.embedded.openflow.FlowRuleTranslator.OF13;

/**
 * One switch that has completed the handshake: sends messages on its channel, numbers them, and
 * matches replies (barrier, flow stats, errors) to the requests waiting for them.
 * <p>
 * Threading: requests are registered by the calling thread before anything is written; replies
 * arrive on the channel's event loop; the futures returned here are completed on that event loop,
 * so their dependants must not block (the programmer moves completion of its public futures off it).
 */
public final class OpenFlowSwitch {
    private static final Logger log = LoggerFactory.getLogger(OpenFlowSwitch.class);

    private final Channel channel;
    private final DeviceId deviceId;
    private final long dpid;
    private final int tables;
    private final Duration confirmTimeout;
    private final SwitchAgent agent;
    private final AtomicInteger xids;
    private final Map<Long, PortInfo> ports = new ConcurrentHashMap<>();

    /** Batches waiting for their barrier reply, by barrier xid. */
    private final Map<Long, PendingBatch> batches = new ConcurrentHashMap<>();
    /** The batch each unconfirmed flow-mod belongs to, by flow-mod xid: routes errors. */
    private final Map<Long, PendingBatch> batchOfFlowMod = new ConcurrentHashMap<>();
    /** Flow-stats requests waiting for (the rest of) their reply, by xid. */
    private final Map<Long, PendingStats> stats = new ConcurrentHashMap<>();

    OpenFlowSwitch(Channel channel, long dpid, int tables, List<PortInfo> ports, Duration confirmTimeout,
                   SwitchAgent agent, int firstXid) {
        this.channel = channel;
        this.dpid = dpid;
        this.deviceId = FlowRuleTranslator.deviceId(dpid);
        this.tables = tables;
        this.confirmTimeout = confirmTimeout;
        this.agent = agent;
        this.xids = new AtomicInteger(firstXid);
        ports.forEach(p -> this.ports.put(p.number().toLong(), p));
    }

    public DeviceId deviceId() {
        return deviceId;
    }

    public long dpid() {
        return dpid;
    }

    public boolean isConnected() {
        return channel.isActive();
    }

    /** A snapshot of the switch and its ports. */
    public SwitchInfo info() {
        return new SwitchInfo(deviceId, dpid, channel.remoteAddress(), tables, new ArrayList<>(ports.values()));
    }

    /** A fresh transaction id (never 0, wraps within 32 bits). */
    public long nextXid() {
        int xid;
        do {
            xid = xids.incrementAndGet();
        } while (xid == 0);
        return xid & 0xffffffffL;
    }

    /**
     * Sends the flow-mods followed by a barrier, and completes once the barrier reply is in, with
     * the flow-mods the switch refused (empty if none). OpenFlow guarantees that the switch has
     * processed, and reported errors for, every message before the barrier by then. Completes
     * exceptionally with {@link SwitchException} on timeout or when the connection goes.
     */
    public CompletableFuture<List<FlowModFailure>> sendFlowMods(List<OFFlowMod> flowMods) {
        long barrierXid = nextXid();
        PendingBatch batch = new PendingBatch(barrierXid, flowMods);
        batch.timeout = channel.eventLoop().schedule(() -> failBatch(batch, new SwitchException(deviceId, 0,
                "no barrier reply within " + confirmTimeout.toMillis() + " ms")),
                confirmTimeout.toMillis(), TimeUnit.MILLISECONDS);
        flowMods.forEach(mod -> batchOfFlowMod.put(mod.getXid(), batch));
        batches.put(barrierXid, batch);
        // One event-loop task writes the whole batch, so batches from different threads never interleave.
        channel.eventLoop().execute(() -> {
            flowMods.forEach(channel::write);
            channel.writeAndFlush(OF13.buildBarrierRequest().setXid(barrierXid).build())
                    .addListener((ChannelFutureListener) f -> {
                        if (!f.isSuccess()) {
                            failBatch(batch, new SwitchException(deviceId, 0, "send failed: " + f.cause()));
                        }
                    });
        });
        return batch.future;
    }

    /** Reads every flow entry of every table (multipart FLOW stats, all parts collected). */
    public CompletableFuture<List<OFFlowStatsEntry>> flowStats() {
        long xid = nextXid();
        PendingStats pending = new PendingStats();
        pending.timeout = channel.eventLoop().schedule(() -> failStats(xid, new SwitchException(deviceId, 0,
                "no flow stats reply within " + confirmTimeout.toMillis() + " ms")),
                confirmTimeout.toMillis(), TimeUnit.MILLISECONDS);
        stats.put(xid, pending);
        channel.writeAndFlush(OF13.buildFlowStatsRequest()
                .setXid(xid)
                .setTableId(TableId.ALL)
                .setOutPort(OFPort.ANY)
                .setOutGroup(OFGroup.ANY)
                .setCookie(U64.ZERO)
                .setCookieMask(U64.ZERO)
                .setMatch(OF13.buildMatch().build())
                .build()).addListener((ChannelFutureListener) f -> {
                    if (!f.isSuccess()) {
                        failStats(xid, new SwitchException(deviceId, 0, "send failed: " + f.cause()));
                    }
                });
        return pending.future;
    }

    /** Packet-out of a whole frame (no switch buffer) through one port. */
    public void sendPacket(PortNumber outPort, byte[] frame) {
        OFPort port = PortNumber.CONTROLLER.equals(outPort) ? OFPort.CONTROLLER : OFPort.of((int) outPort.toLong());
        channel.writeAndFlush(OF13.buildPacketOut()
                .setXid(nextXid())
                .setBufferId(OFBufferId.NO_BUFFER)
                .setInPort(OFPort.CONTROLLER)
                .setActions(List.of(OF13.actions().output(port, 0)))
                .setData(frame)
                .build());
    }

    /** Closes the connection; {@link #disconnected()} follows from the channel handler. */
    void close() {
        channel.close();
    }

    // ---- called on the event loop by SwitchChannelHandler ----

    void handle(OFMessage msg) {
        switch (msg.getType()) {
            case BARRIER_REPLY:
                barrierReply((OFBarrierReply) msg);
                break;
            case ERROR:
                error((OFErrorMsg) msg);
                break;
            case STATS_REPLY:
                if (msg instanceof OFFlowStatsReply) {
                    flowStatsReply((OFFlowStatsReply) msg);
                }
                break;
            case PACKET_IN:
                packetIn((OFPacketIn) msg);
                break;
            case PORT_STATUS:
                portStatus((OFPortStatus) msg);
                break;
            default:
                log.debug("{}: ignoring {}", deviceId, msg.getType());
        }
    }

    /** The channel is gone: nothing pending can be confirmed any more. */
    void disconnected() {
        SwitchException gone = new SwitchException(deviceId, 0, "switch disconnected");
        new ArrayList<>(batches.values()).forEach(b -> failBatch(b, gone));
        new ArrayList<>(stats.keySet()).forEach(xid -> failStats(xid, gone));
    }

    private void barrierReply(OFBarrierReply reply) {
        PendingBatch batch = batches.remove(reply.getXid());
        if (batch == null) {
            log.debug("{}: barrier reply xid {} nobody waits for (timed out?)", deviceId, reply.getXid());
            return;
        }
        forget(batch);
        batch.future.complete(List.copyOf(batch.failures));
    }

    private void error(OFErrorMsg error) {
        PendingBatch batch = batchOfFlowMod.get(error.getXid());
        if (batch != null) {
            OFFlowMod mod = batch.flowMods.get(error.getXid());
            log.info("{}: switch refused {} cookie 0x{}: {}", deviceId, mod.getCommand(),
                    Long.toHexString(mod.getCookie().getValue()), ErrorMessages.describe(error));
            batch.failures.add(new FlowModFailure(mod, error));
            return;
        }
        if (stats.containsKey(error.getXid())) {
            failStats(error.getXid(), new SwitchException(deviceId, 0,
                    "flow stats refused: " + ErrorMessages.describe(error)));
            return;
        }
        log.warn("{}: error for xid {} nobody waits for: {}", deviceId, error.getXid(), error);
    }

    private void flowStatsReply(OFFlowStatsReply reply) {
        PendingStats pending = stats.get(reply.getXid());
        if (pending == null) {
            return;
        }
        pending.entries.addAll(reply.getEntries());
        if (!reply.getFlags().contains(OFStatsReplyFlags.REPLY_MORE)) {
            stats.remove(reply.getXid());
            pending.timeout.cancel(false);
            pending.future.complete(List.copyOf(pending.entries));
        }
    }

    private void packetIn(OFPacketIn packetIn) {
        OFPort inPort = packetIn.getMatch().get(MatchField.IN_PORT);
        if (inPort == null) {
            log.debug("{}: packet-in without in_port, dropped", deviceId);
            return;
        }
        agent.packetIn(this, PortNumber.portNumber(inPort.getPortNumber() & 0xffffffffL), packetIn.getData());
    }

    private void portStatus(OFPortStatus status) {
        PortInfo port = PortInfo.of(status.getDesc());
        SwitchListener.PortChange change;
        if (status.getReason() == OFPortReason.DELETE) {
            ports.remove(port.number().toLong());
            change = SwitchListener.PortChange.REMOVED;
        } else {
            PortInfo old = ports.put(port.number().toLong(), port);
            change = status.getReason() == OFPortReason.ADD || old == null
                    ? SwitchListener.PortChange.ADDED : SwitchListener.PortChange.MODIFIED;
        }
        agent.portChanged(this, port, change);
    }

    private void failBatch(PendingBatch batch, SwitchException cause) {
        if (batches.remove(batch.barrierXid, batch)) {
            forget(batch);
            batch.future.completeExceptionally(cause);
        }
    }

    private void forget(PendingBatch batch) {
        batch.timeout.cancel(false);
        batch.flowMods.keySet().forEach(xid -> batchOfFlowMod.remove(xid, batch));
    }

    private void failStats(long xid, SwitchException cause) {
        PendingStats pending = stats.remove(xid);
        if (pending != null) {
            pending.timeout.cancel(false);
            pending.future.completeExceptionally(cause);
        }
    }

    @Override
    public String toString() {
        return deviceId + "@" + channel.remoteAddress();
    }

    /** Flow-mods sent together and confirmed by one barrier. */
    private static final class PendingBatch {
        final long barrierXid;
        final Map<Long, OFFlowMod> flowMods = new LinkedHashMap<>();
        final List<FlowModFailure> failures = new ArrayList<>(); // event loop only
        final CompletableFuture<List<FlowModFailure>> future = new CompletableFuture<>();
        volatile ScheduledFuture<?> timeout;

        PendingBatch(long barrierXid, List<OFFlowMod> mods) {
            this.barrierXid = barrierXid;
            mods.forEach(m -> flowMods.put(m.getXid(), m));
        }
    }

    private static final class PendingStats {
        final List<OFFlowStatsEntry> entries = new ArrayList<>(); // event loop only
        final CompletableFuture<List<OFFlowStatsEntry>> future = new CompletableFuture<>();
        volatile ScheduledFuture<?> timeout;
    }
}
