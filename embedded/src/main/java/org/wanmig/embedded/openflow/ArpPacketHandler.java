package org.wanmig.embedded.openflow;

import org.onlab.packet.DeserializationException;
import org.onlab.packet.Ethernet;
import org.onosproject.net.DeviceId;
import org.onosproject.net.PortNumber;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.wanmig.net.GatewayArpResponder;
import org.wanmig.spi.SwitchException;

import java.util.Objects;
import java.util.Optional;
import java.util.function.Function;

/**
 * Answers ARP requests that switches send to the controller: parses the packet-in, asks the
 * responder (the core's {@link GatewayArpResponder}) and sends its reply back out of the port
 * the request came in on.
 */
public final class ArpPacketHandler implements PacketListener {
    private static final Logger log = LoggerFactory.getLogger(ArpPacketHandler.class);

    private final Function<Ethernet, Optional<Ethernet>> responder;
    private final PacketSender sender;

    /** @param responder gives the reply to a frame, or empty when the frame is not ours to answer */
    public ArpPacketHandler(Function<Ethernet, Optional<Ethernet>> responder, PacketSender sender) {
        this.responder = Objects.requireNonNull(responder);
        this.sender = Objects.requireNonNull(sender);
    }

    public ArpPacketHandler(GatewayArpResponder responder, PacketSender sender) {
        this(responder::reply, sender);
    }

    @Override
    public void packetIn(DeviceId device, PortNumber inPort, byte[] frame) {
        Ethernet eth;
        try {
            eth = Ethernet.deserializer().deserialize(frame, 0, frame.length);
        } catch (DeserializationException | RuntimeException e) {
            log.debug("{} port {}: unparseable frame ({} bytes): {}", device, inPort, frame.length, e.toString());
            return;
        }
        if (eth.getEtherType() != Ethernet.TYPE_ARP) {
            return;
        }
        Optional<Ethernet> reply = responder.apply(eth);
        if (reply.isEmpty()) {
            return;
        }
        try {
            sender.sendPacket(device, inPort, reply.get().serialize());
            log.debug("{} port {}: answered ARP from {}", device, inPort, eth.getSourceMAC());
        } catch (SwitchException e) {
            log.info("ARP reply not sent: {}", e.getMessage());
        }
    }
}
