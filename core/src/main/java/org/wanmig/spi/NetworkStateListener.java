package org.wanmig.spi;

import org.onosproject.net.ConnectPoint;
import org.onosproject.net.DeviceId;

/**
 * What the network reports about itself: WAN links and switches going down and coming back.
 * Both southbounds feed the core through this one interface (the embedded runtime from OpenFlow
 * PORT_STATUS, port descriptions and connections; ONOS from LinkService and DeviceService), so
 * what a failure means for routing is decided in one place. A link is named by its two ends, in
 * either order. Reports may repeat; a repeated report changes nothing.
 */
public interface NetworkStateListener {

    /** Both ends of the link can carry traffic (ports up, link detected). */
    void linkUp(ConnectPoint one, ConnectPoint two);

    /** Either end of the link cannot carry traffic (port disabled, no carrier, link vanished). */
    void linkDown(ConnectPoint one, ConnectPoint two);

    /** The switch is connected to the controller and can be programmed. */
    void switchUp(DeviceId device);

    /** The switch lost its controller connection: every link it terminates counts as down. */
    void switchDown(DeviceId device);
}
