package org.wanmig.api;

import java.util.Collections;
import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;
import java.util.stream.IntStream;

/**
 * MPLS labels of a DC pair's shared tunnel, held by every migration that uses it (see
 * NetworkPlanner#tunnelLabels): one for the PE_A to PE_B direction and one per client
 * site for the way back. The reverse path needs a label per site because the egress at PE_A pops
 * the label and must know, in one table, where the packet goes next.
 */
public final class TunnelLabels {
    private final int forward;
    private final Map<String, Integer> reverseBySite;

    public TunnelLabels(int forward, Map<String, Integer> reverseBySite) {
        this.forward = forward;
        this.reverseBySite = Collections.unmodifiableMap(new TreeMap<>(reverseBySite));
    }

    public int forward() {
        return forward;
    }

    /** Site name to the label of the reverse path that ends towards that site. */
    public Map<String, Integer> reverseBySite() {
        return reverseBySite;
    }

    public IntStream all() {
        return IntStream.concat(IntStream.of(forward),
                reverseBySite.values().stream().mapToInt(Integer::intValue));
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof TunnelLabels && ((TunnelLabels) o).forward == forward
                && ((TunnelLabels) o).reverseBySite.equals(reverseBySite);
    }

    @Override
    public int hashCode() {
        return Objects.hash(forward, reverseBySite);
    }

    @Override
    public String toString() {
        return "forward=" + forward + " reverse=" + reverseBySite;
    }
}
