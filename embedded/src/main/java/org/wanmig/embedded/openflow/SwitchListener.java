package org.wanmig.embedded.openflow;

import org.onosproject.net.DeviceId;

/**
 * Switch life-cycle events. Called one at a time, in order, on the controller's event thread
 * (never on a Netty I/O thread), so implementations may take their time without stalling I/O.
 */
public interface SwitchListener {

    /** The switch finished the handshake and can be programmed. */
    default void switchConnected(SwitchInfo info) {
    }

    /** The connection to the switch is gone (closed, echo timeout, or replaced by a new one). */
    default void switchDisconnected(DeviceId device) {
    }

    /** A PORT_STATUS message: a port was added, removed or changed state. */
    default void portChanged(DeviceId device, PortInfo port, PortChange change) {
    }

    /** What a PORT_STATUS message said happened to the port. */
    enum PortChange {
        ADDED, REMOVED, MODIFIED
    }
}
