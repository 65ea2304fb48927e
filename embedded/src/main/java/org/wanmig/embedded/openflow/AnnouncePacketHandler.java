package org.wanmig.embedded.openflow;

import org.onlab.packet.DeserializationException;
import org.onlab.packet.Ethernet;
import org.onosproject.net.DeviceId;
import org.onosproject.net.PortNumber;
import org.wanmig.net.ServerAnnounceDetector;

import java.util.Objects;
import java.util.function.Consumer;

/** Passes a server's RARP or gratuitous ARP seen at a PE to the core (the cutover's early trigger). */
public final class AnnouncePacketHandler implements PacketListener {
    private final ServerAnnounceDetector detector;
    private final Consumer<ServerAnnounceDetector.Announce> announced;

    public AnnouncePacketHandler(ServerAnnounceDetector detector, Consumer<ServerAnnounceDetector.Announce> announced) {
        this.detector = Objects.requireNonNull(detector);
        this.announced = Objects.requireNonNull(announced);
    }

    @Override
    public void packetIn(DeviceId device, PortNumber inPort, byte[] frame) {
        Ethernet eth;
        try {
            eth = Ethernet.deserializer().deserialize(frame, 0, frame.length);
        } catch (DeserializationException | RuntimeException e) {
            return;   // ArpPacketHandler logs unparseable frames
        }
        detector.detect(device, eth).ifPresent(announced);
    }
}
