package org.wanmig.api;

/** Identifier of one migration; unique within a cluster (or one embedded runtime). */
public final class MigrationId implements Comparable<MigrationId> {
    private final long value;

    private MigrationId(long value) {
        if (value <= 0 || value > MAX) {
            throw new IllegalArgumentException("migration id must be in 1.." + MAX + ": " + value);
        }
        this.value = value;
    }

    /** Ids fit in 24 bits because they are carried inside flow-rule cookies. */
    public static final long MAX = (1L << 24) - 1;

    public static MigrationId of(long value) {
        return new MigrationId(value);
    }

    /** Parses a decimal id, as typed on the CLI or in a REST path. */
    public static MigrationId parse(String text) {
        try {
            return of(Long.parseLong(text.trim()));
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("not a migration id: " + text);
        }
    }

    public long value() {
        return value;
    }

    @Override
    public int compareTo(MigrationId o) {
        return Long.compare(value, o.value);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof MigrationId && ((MigrationId) o).value == value;
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
