package org.wanmig.embedded.openflow;

import org.onosproject.net.DeviceId;

import java.util.List;
import java.util.Objects;
import java.util.stream.Collectors;

/** What reconciling one switch with the desired rules did. Immutable. */
public final class ReconcileResult {
    private final DeviceId device;
    private final List<Long> reinstalled;
    private final List<Long> removed;
    private final List<String> failures;

    public ReconcileResult(DeviceId device, List<Long> reinstalled, List<Long> removed, List<String> failures) {
        this.device = Objects.requireNonNull(device);
        this.reinstalled = List.copyOf(reinstalled);
        this.removed = List.copyOf(removed);
        this.failures = List.copyOf(failures);
    }

    public DeviceId device() {
        return device;
    }

    /** Cookies of desired rules that were missing or different on the switch and were installed again. */
    public List<Long> reinstalled() {
        return reinstalled;
    }

    /** Cookies of wanmig-tagged rules on the switch that were no longer desired and were deleted. */
    public List<Long> removed() {
        return removed;
    }

    /** What the switch refused while being reconciled (empty when all went well). */
    public List<String> failures() {
        return failures;
    }

    public boolean ok() {
        return failures.isEmpty();
    }

    @Override
    public String toString() {
        return device + ": reinstalled " + hex(reinstalled) + ", removed " + hex(removed)
                + (failures.isEmpty() ? "" : ", failures " + failures);
    }

    private static String hex(List<Long> cookies) {
        return cookies.stream().map(c -> "0x" + Long.toHexString(c)).collect(Collectors.joining(",", "[", "]"));
    }
}
