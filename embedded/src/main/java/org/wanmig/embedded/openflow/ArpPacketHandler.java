package org.wanmig.embedded.openflow;

import org.onlab.packet.DeserializationException;
import org.onlab.packet.Ethernet;
import org.onosproject.net.DeviceId;
import org.onosproject.net.PortNumber;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.wanmig.net.GatewayArpResponder;
import org.wanmig.net.ServerAnnounceDetector;
import org.wanmig.spi.SwitchException;

import java.util.Objects;
import java.util.Optional;
import java.util.function.BiFunction;
import java.util.function.Consumer;
import java.util.function.Function;

/**
 * Handles the packet-ins switches send to the controller, parsing each frame once: a server
 * announcing itself (RARP, gratuitous ARP; the core's {@link ServerAnnounceDetector}) is passed
 * on, and an ARP request is given to the responder (the core's {@link GatewayArpResponder}),
 * whose reply goes back out of the port the request came in on. As ONOS's GatewayArpProcessor.
 */
public final class ArpPacketHandler implements PacketListener {
    private static final Logger log = LoggerFactory.getLogger(ArpPacketHandler.class);

    private final Function<Ethernet, Optional<Ethernet>> responder;
    private final PacketSender sender;
    private final BiFunction<DeviceId, Ethernet, Optional<ServerAnnounceDetector.Announce>> announces;
    private final Consumer<ServerAnnounceDetector.Announce> announced;

    /** @param responder gives the reply to a frame, or empty when the frame is not ours to answer */
    public ArpPacketHandler(Function<Ethernet, Optional<Ethernet>> responder, PacketSender sender) {
        this(responder, sender, (d, f) -> Optional.empty(), a -> { });
    }

    /**
     * @param announces the announce a frame at a device is, if any
     * @param announced what to tell of each announce (the manager's early cutover trigger)
     */
    public ArpPacketHandler(Function<Ethernet, Optional<Ethernet>> responder, PacketSender sender,
                            BiFunction<DeviceId, Ethernet, Optional<ServerAnnounceDetector.Announce>> announces,
                            Consumer<ServerAnnounceDetector.Announce> announced) {
        this.responder = Objects.requireNonNull(responder);
        this.sender = Objects.requireNonNull(sender);
        this.announces = Objects.requireNonNull(announces);
        this.announced = Objects.requireNonNull(announced);
    }

    public ArpPacketHandler(GatewayArpResponder responder, PacketSender sender, ServerAnnounceDetector detector,
                            Consumer<ServerAnnounceDetector.Announce> announced) {
        this(responder::reply, sender, detector::detect, announced);
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
        announces.apply(device, eth).ifPresent(announced);
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
