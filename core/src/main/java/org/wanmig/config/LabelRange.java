package org.wanmig.config;

/** The MPLS labels the MMS may use for tunnels, inclusive at both ends. */
public final class LabelRange {
    /** Labels 0..15 are reserved by RFC 3032; 2^20 - 1 is the largest label. */
    public static final int FIRST_UNRESERVED = 16;
    public static final int MAX_LABEL = (1 << 20) - 1;

    private final int min;
    private final int max;

    public LabelRange(int min, int max) {
        this.min = min;
        this.max = max;
    }

    public int min() {
        return min;
    }

    public int max() {
        return max;
    }

    public int size() {
        return max - min + 1;
    }

    public boolean contains(int label) {
        return label >= min && label <= max;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof LabelRange && ((LabelRange) o).min == min && ((LabelRange) o).max == max;
    }

    @Override
    public int hashCode() {
        return 31 * min + max;
    }

    @Override
    public String toString() {
        return min + ".." + max;
    }
}
