package org.wanmig.embedded.openflow;

import org.junit.jupiter.api.Test;
import org.onlab.packet.ARP;
import org.onlab.packet.Ethernet;
import org.onlab.packet.Ip4Address;
import org.onlab.packet.MacAddress;
import org.onosproject.net.DeviceId;
import org.onosproject.net.PortNumber;
import org.wanmig.config.WanTopologyParser;
import org.wanmig.net.GatewayArpResponder;
import org.wanmig.spi.SwitchException;

import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The ARP handler wired to the core's real responder, with a recording packet sender. */
class ArpPacketHandlerTest {
    private static final DeviceId PE = DeviceId.deviceId("of:000000000000000a");
    private static final MacAddress HOST = MacAddress.valueOf("00:00:00:00:02:10");

    private final List<Object[]> sent = new ArrayList<>();

    private ArpPacketHandler handler(PacketSender sender) throws Exception {
        try (InputStream in = getClass().getResourceAsStream("/openflow/two-dc.json")) {
            String json = new String(in.readAllBytes(), StandardCharsets.UTF_8);
            return new ArpPacketHandler(new GatewayArpResponder(WanTopologyParser.parseNetcfg(json)), sender);
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
    void switchGoneWhileAnsweringIsNotAnError() throws Exception {
        handler((d, p, f) -> {
            throw new SwitchException(d, 0, "switch not connected");
        }).packetIn(PE, PortNumber.portNumber(2), arpRequest("10.2.0.254"));
    }
}
