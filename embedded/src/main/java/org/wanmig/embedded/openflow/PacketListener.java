package org.wanmig.embedded.openflow;

import org.onosproject.net.DeviceId;
import org.onosproject.net.PortNumber;

/** Receives packet-ins. Called on the controller's event thread, never on a Netty I/O thread. */
@FunctionalInterface
public interface PacketListener {
    /** A frame the switch sent to the controller, with the port it entered the switch on. */
    void packetIn(DeviceId device, PortNumber inPort, byte[] frame);
}
