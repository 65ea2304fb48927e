package org.wanmig.planner;

import org.wanmig.api.TunnelLabels;
import org.wanmig.api.WanmigException;
import org.wanmig.config.ClientSite;
import org.wanmig.config.LabelRange;

import java.util.BitSet;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.Map;

/** Picks the lowest free labels of the configured range for a new migration. */
public final class LabelAllocator {
    private LabelAllocator() {
    }

    /**
     * @param inUse labels held by migrations that are still active
     * @throws WanmigException CONFLICT when the range has too few free labels
     */
    public static TunnelLabels allocate(LabelRange range, Collection<TunnelLabels> inUse,
                                        Collection<ClientSite> sites) {
        BitSet taken = new BitSet();
        inUse.forEach(l -> l.all().filter(range::contains).forEach(x -> taken.set(x - range.min())));
        int needed = 1 + sites.size();
        int[] free = new int[needed];
        int found = 0;
        for (int i = taken.nextClearBit(0); i < range.size() && found < needed; i = taken.nextClearBit(i + 1)) {
            free[found++] = range.min() + i;
        }
        if (found < needed) {
            throw WanmigException.conflict("labels", "label range exhausted: " + range + " has "
                    + (range.size() - taken.cardinality()) + " free labels, a migration needs " + needed);
        }
        Map<String, Integer> reverse = new LinkedHashMap<>();
        int next = 1;
        for (ClientSite s : sites) {
            reverse.put(s.name(), free[next++]);
        }
        return new TunnelLabels(free[0], reverse);
    }
}
