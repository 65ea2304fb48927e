package org.wanmig.embedded.openflow;

import org.junit.jupiter.api.Test;
import org.onlab.packet.ARP;
import org.onlab.packet.Ethernet;
import org.onlab.packet.Ip4Address;
import org.onlab.packet.MacAddress;
import org.onosproject.net.DeviceId;
import org.onosproject.net.PortNumber;
import org.wanmig.config.WanTopologyParser;
import org.wanmig.config.WanTopology;
import org.wanmig.net.GatewayArpResponder;
import org.wanmig.net.ServerAnnounceDetector;
import org.wanmig.spi.SwitchException;

import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The packet-in handler wired to the core's real responder and announce detector, with a recording packet sender. */
class ArpPacketHandlerTest {
    private static final DeviceId PE = DeviceId.deviceId("of:000000000000000a");
    private static final MacAddress HOST = MacAddress.valueOf("00:00:00:00:02:10");

    private final List<Object[]> sent = new ArrayList<>();

    private final List<ServerAnnounceDetector.Announce> announced = new ArrayList<>();

    private ArpPacketHandler handler(PacketSender sender) throws Exception {
        try (InputStream in = getClass().getResourceAsStream("/openflow/two-dc.json")) {
            String json = new String(in.readAllBytes(), StandardCharsets.UTF_8);
            WanTopology topology = WanTopologyParser.parseNetcfg(json);
            return new ArpPacketHandler(new GatewayArpResponder(topology), sender,
                    new ServerAnnounceDetector(topology), announced::add);
        }
    }

    private static byte[] arpRequest(String target) {
        Ethernet request = ARP.buildArpRequest(HOST.toBytes(), Ip4Address.valueOf("10.2.0.10").toOctets(),
                Ip4Address.valueOf(target).toOctets(), (short) -1);
        return request.serialize();
    }

    @Test
    void gatewayRequestIsAnsweredOutOfTheInPort() throws Exception {
        handler((d, p, f) -> sent.add(new Object[]{d, p, f})).packetIn(PE, PortNumber.portNumber(2),
                arpRequest("10.2.0.254"));
        assertEquals(1, sent.size());
        assertEquals(PE, sent.get(0)[0]);
        assertEquals(PortNumber.portNumber(2), sent.get(0)[1]);
        Ethernet reply = Ethernet.deserializer().deserialize((byte[]) sent.get(0)[2], 0, ((byte[]) sent.get(0)[2]).length);
        assertEquals(HOST, reply.getDestinationMAC());
        ARP arp = (ARP) reply.getPayload();
        assertEquals(ARP.OP_REPLY, arp.getOpCode());
        assertEquals(MacAddress.valueOf("00:00:5e:00:01:01"), MacAddress.valueOf(arp.getSenderHardwareAddress()));
        assertEquals(Ip4Address.valueOf("10.2.0.254"), Ip4Address.valueOf(arp.getSenderProtocolAddress()));
    }

    @Test
    void otherTargetsAndOtherFramesAreIgnored() throws Exception {
        ArpPacketHandler h = handler((d, p, f) -> sent.add(new Object[]{d, p, f}));
        h.packetIn(PE, PortNumber.portNumber(2), arpRequest("10.2.0.77"));
        h.packetIn(PE, PortNumber.portNumber(2), new byte[]{1, 2, 3}); // truncated garbage
        assertTrue(sent.isEmpty());
    }

    @Test
    void aServerAnnouncingItselfAtAPeIsPassedOnFromTheSameParse() throws Exception {
        ArpPacketHandler h = handler((d, p, f) -> sent.add(new Object[]{d, p, f}));
        h.packetIn(PE, PortNumber.portNumber(2), arpRequest("10.2.0.10")); // gratuitous ARP
        Ethernet rarp = new Ethernet().setSourceMACAddress(HOST).setDestinationMACAddress(MacAddress.BROADCAST)
                .setEtherType(ServerAnnounceDetector.TYPE_RARP);
        rarp.setPayload(new org.onlab.packet.Data(new byte[28]));
        h.packetIn(DeviceId.deviceId("of:000000000000000b"), PortNumber.portNumber(2), rarp.serialize());
        h.packetIn(PE, PortNumber.portNumber(2), arpRequest("10.2.0.254")); // answered, no announce
        h.packetIn(PE, PortNumber.portNumber(2), new byte[]{1, 2, 3});

        assertEquals(2, announced.size());
        assertEquals("vs1", announced.get(0).server());
        assertEquals("dcA", announced.get(0).dataCenter());
        assertEquals("gratuitous ARP", announced.get(0).kind());
        assertEquals("dcB", announced.get(1).dataCenter());
        assertEquals("RARP", announced.get(1).kind());
        assertEquals(1, sent.size(), "only the gateway request is answered");
    }

    @Test
    void switchGoneWhileAnsweringIsNotAnError() throws Exception {
        handler((d, p, f) -> {
            throw new SwitchException(d, 0, "switch not connected");
        }).packetIn(PE, PortNumber.portNumber(2), arpRequest("10.2.0.254"));
    }
}
