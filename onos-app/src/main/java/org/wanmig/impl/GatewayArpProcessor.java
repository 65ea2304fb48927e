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

import java.nio.ByteBuffer;
import java.util.Optional;
import java.util.function.Supplier;

/**
 * Answers ARP for the gateway addresses out of the port the request came in on. The planner's
 * baseline sends every ARP to the controller, so no packet request is needed here.
 */
public final class GatewayArpProcessor implements PacketProcessor {
    private final PacketService packetService;
    private final Supplier<GatewayArpResponder> responder;

    /** @param responder the responder of the current configuration, or null before there is one */
    public GatewayArpProcessor(PacketService packetService, Supplier<GatewayArpResponder> responder) {
        this.packetService = packetService;
        this.responder = responder;
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
