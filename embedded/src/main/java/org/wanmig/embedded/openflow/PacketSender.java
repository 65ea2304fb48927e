package org.wanmig.embedded.openflow;

import org.onosproject.net.DeviceId;
import org.onosproject.net.PortNumber;

/** Sends frames out of a switch port (OpenFlow packet-out). */
@FunctionalInterface
public interface PacketSender {
    /**
     * Sends the frame out of the given port. Does not wait for the switch.
     *
     * @throws org.wanmig.spi.SwitchException if the switch is not connected
     */
    void sendPacket(DeviceId device, PortNumber outPort, byte[] frame);
}
