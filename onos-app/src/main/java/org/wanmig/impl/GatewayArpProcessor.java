package org.wanmig.impl;

import org.onlab.packet.Ethernet;
import org.onosproject.net.ConnectPoint;
import org.onosproject.net.flow.DefaultTrafficTreatment;
import org.onosproject.net.packet.DefaultOutboundPacket;
import org.onosproject.net.packet.InboundPacket;
import org.onosproject.net.packet.PacketContext;
import org.onosproject.net.packet.PacketProcessor;
import org.onosproject.net.packet.PacketService;
import org.wanmig.net.GatewayArpResponder;
import org.wanmig.net.ServerAnnounceDetector;

import java.nio.ByteBuffer;
import java.util.Optional;
import java.util.function.Consumer;
import java.util.function.Supplier;

/**
 * Answers ARP for the gateway addresses out of the port the request came in on. The planner's
 * baseline sends every ARP to the controller, so no packet request is needed here.
 */
public final class GatewayArpProcessor implements PacketProcessor {
    private final PacketService packetService;
    private final Supplier<GatewayArpResponder> responder;
    private final Supplier<ServerAnnounceDetector> announces;
    private final Consumer<ServerAnnounceDetector.Announce> announced;

    /** @param responder the responder of the current configuration, or null before there is one */
    public GatewayArpProcessor(PacketService packetService, Supplier<GatewayArpResponder> responder) {
        this(packetService, responder, () -> null, a -> { });
    }

    /**
     * @param announces detector of servers announcing themselves at a PE (RARP, gratuitous ARP),
     *                  or null before there is a configuration
     * @param announced what to tell of each announce (the manager's early cutover trigger)
     */
    public GatewayArpProcessor(PacketService packetService, Supplier<GatewayArpResponder> responder,
                               Supplier<ServerAnnounceDetector> announces,
                               Consumer<ServerAnnounceDetector.Announce> announced) {
        this.packetService = packetService;
        this.responder = responder;
        this.announces = announces;
        this.announced = announced;
    }

    @Override
    public void process(PacketContext context) {
        GatewayArpResponder arp = responder.get();
        if (context.isHandled() || arp == null) {
            return;
        }
        InboundPacket in = context.inPacket();
        Ethernet frame = in.parsed();
        if (frame == null) {
            return;
        }
        ServerAnnounceDetector detector = announces.get();
        if (detector != null) {
            detector.detect(in.receivedFrom().deviceId(), frame).ifPresent(announced);
        }
        Optional<Ethernet> reply = arp.reply(frame);
        if (reply.isEmpty()) {
            return;
        }
        ConnectPoint port = in.receivedFrom();
        packetService.emit(new DefaultOutboundPacket(port.deviceId(),
                DefaultTrafficTreatment.builder().setOutput(port.port()).build(),
                ByteBuffer.wrap(reply.get().serialize())));
        context.block(); // answered: proxy-ARP or host learning must not answer it again
    }
}
