package org.wanmig.api;

/** Identifier of one evacuation; unique within a cluster (or one embedded runtime). */
public final class EvacuationId implements Comparable<EvacuationId> {
    private final long value;

    private EvacuationId(long value) {
        if (value <= 0) {
            throw new IllegalArgumentException("evacuation id must be positive: " + value);
        }
        this.value = value;
    }

    public static EvacuationId of(long value) {
        return new EvacuationId(value);
    }

    /** Parses a decimal id, as typed on the CLI or in a REST path. */
    public static EvacuationId parse(String text) {
        try {
            return of(Long.parseLong(text.trim()));
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("not an evacuation id: " + text);
        }
    }

    public long value() {
        return value;
    }

    @Override
    public int compareTo(EvacuationId o) {
        return Long.compare(value, o.value);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof EvacuationId && ((EvacuationId) o).value == value;
    }

    @Override
    public int hashCode() {
        return Long.hashCode(value);
    }

    @Override
    public String toString() {
        return Long.toString(value);
    }
}
