package org.wanmig.spi;

import org.onosproject.net.DeviceId;

/** A switch refused a rule, or could not be reached in time; names the switch and the rule cookie. */
public class SwitchException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    private final transient DeviceId device;
    private final long cookie;

    public SwitchException(DeviceId device, long cookie, String message) {
        super(device + (cookie != 0 ? " cookie 0x" + Long.toHexString(cookie) : "") + ": " + message);
        this.device = device;
        this.cookie = cookie;
    }

    public DeviceId device() {
        return device;
    }

    /** Cookie of the refused rule, or 0 when the failure concerns the switch as a whole. */
    public long cookie() {
        return cookie;
    }
}
