package org.wanmig.net;

import org.junit.jupiter.api.Test;
import org.onlab.packet.ARP;
import org.onlab.packet.Ethernet;
import org.onlab.packet.Ip4Address;
import org.onlab.packet.MacAddress;
import org.onosproject.net.DeviceId;
import org.wanmig.config.WanTopology;
import org.wanmig.testing.WanmigFixtures;

import java.util.Optional;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ServerAnnounceDetectorTest {
    private final WanTopology topology = WanmigFixtures.restDriverTopology();
    private final ServerAnnounceDetector detector = new ServerAnnounceDetector(topology);
    private final MacAddress vs1 = topology.server("vs1").orElseThrow().mac();
    private final Ip4Address vs1Ip = topology.server("vs1").orElseThrow().ip();
    private final DeviceId peB = topology.dataCenter("dcB").orElseThrow().pe();

    /** QEMU's self-announce: RARP request, sender and target hardware address the guest's MAC. */
    private Ethernet rarp(MacAddress from) throws Exception {
        ARP body = new ARP();
        body.setHardwareType(ARP.HW_TYPE_ETHERNET).setProtocolType(ARP.PROTO_TYPE_IP)
                .setHardwareAddressLength((byte) 6).setProtocolAddressLength((byte) 4).setOpCode((short) 3)
                .setSenderHardwareAddress(from.toBytes()).setSenderProtocolAddress(new byte[4])
                .setTargetHardwareAddress(from.toBytes()).setTargetProtocolAddress(new byte[4]);
        Ethernet eth = new Ethernet();
        eth.setEtherType(ServerAnnounceDetector.TYPE_RARP).setSourceMACAddress(from)
                .setDestinationMACAddress(MacAddress.BROADCAST).setPayload(body);
        // through the wire format, as a packet-in delivers it
        byte[] bytes = eth.serialize();
        return Ethernet.deserializer().deserialize(bytes, 0, bytes.length);
    }

    private Ethernet arp(MacAddress from, Ip4Address sender, Ip4Address target) throws Exception {
        Ethernet eth = ARP.buildArpRequest(from.toBytes(), sender.toOctets(), target.toOctets(), (short) -1);
        byte[] bytes = eth.serialize();
        return Ethernet.deserializer().deserialize(bytes, 0, bytes.length);
    }

    @Test
    void rarpFromAServerAtAPeIsAnAnnounce() throws Exception {
        Optional<ServerAnnounceDetector.Announce> a = detector.detect(peB, rarp(vs1));
        assertTrue(a.isPresent());
        assertEquals("vs1", a.get().server());
        assertEquals("dcB", a.get().dataCenter());
        assertEquals("RARP", a.get().kind());
    }

    @Test
    void gratuitousArpIsAnAnnounceAndAnOrdinaryRequestIsNot() throws Exception {
        assertEquals("gratuitous ARP", detector.detect(peB, arp(vs1, vs1Ip, vs1Ip)).orElseThrow().kind());
        assertTrue(detector.detect(peB, arp(vs1, vs1Ip, Ip4Address.valueOf("10.2.0.254"))).isEmpty());
    }

    @Test
    void unknownMacOrNotAPeIsNothing() throws Exception {
        assertTrue(detector.detect(peB, rarp(MacAddress.valueOf("02:00:00:00:00:99"))).isEmpty());
        DeviceId core = topology.wanSwitches().iterator().next();
        assertTrue(detector.detect(core, rarp(vs1)).isEmpty());
    }
}
