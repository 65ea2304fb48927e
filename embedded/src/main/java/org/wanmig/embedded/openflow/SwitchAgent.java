package org.wanmig.embedded.openflow;

import org.onosproject.net.PortNumber;

/** What a switch connection reports to its controller. Called on the Netty event loop: must not block. */
interface SwitchAgent {
    void switchConnected(OpenFlowSwitch sw);

    void switchDisconnected(OpenFlowSwitch sw);

    void packetIn(OpenFlowSwitch sw, PortNumber inPort, byte[] frame);

    void portChanged(OpenFlowSwitch sw, PortInfo port, SwitchListener.PortChange change);
}
