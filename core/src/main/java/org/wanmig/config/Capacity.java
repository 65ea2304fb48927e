package org.wanmig.config;

import java.util.Objects;
import java.util.OptionalInt;
import java.util.OptionalLong;

/**
 * How much a data center can host, for evacuation planning (dataCenters[].capacity). Each limit is
 * optional; a data center without any is unlimited, which is what configurations written before
 * evacuation planning mean.
 */
public final class Capacity {
    public static final Capacity UNLIMITED = new Capacity(null, null);

    private final Long memoryMiB;
    private final Integer slots;

    /** {@code memoryMiB} and {@code slots} may be null (no limit); when given they must be positive. */
    public Capacity(Long memoryMiB, Integer slots) {
        if (memoryMiB != null && memoryMiB <= 0 || slots != null && slots <= 0) {
            throw new IllegalArgumentException("capacity limits must be positive: " + memoryMiB + " MiB, " + slots);
        }
        this.memoryMiB = memoryMiB;
        this.slots = slots;
    }

    /** Memory the data center's hypervisors can give to virtual servers, in MiB. */
    public OptionalLong memoryMiB() {
        return memoryMiB == null ? OptionalLong.empty() : OptionalLong.of(memoryMiB);
    }

    /** How many virtual servers the data center can run. */
    public OptionalInt slots() {
        return slots == null ? OptionalInt.empty() : OptionalInt.of(slots);
    }

    public boolean isUnlimited() {
        return memoryMiB == null && slots == null;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof Capacity && Objects.equals(((Capacity) o).memoryMiB, memoryMiB)
                && Objects.equals(((Capacity) o).slots, slots);
    }

    @Override
    public int hashCode() {
        return Objects.hash(memoryMiB, slots);
    }

    @Override
    public String toString() {
        if (isUnlimited()) {
            return "unlimited";
        }
        return (memoryMiB == null ? "" : memoryMiB + " MiB") + (memoryMiB != null && slots != null ? ", " : "")
                + (slots == null ? "" : slots + " slots");
    }
}
