package org.wanmig.planner;

import org.junit.jupiter.api.Test;
import org.wanmig.api.TunnelLabels;
import org.wanmig.api.WanmigException;
import org.wanmig.config.ClientSite;
import org.wanmig.config.LabelRange;
import org.wanmig.testing.Topologies;

import java.util.Collection;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

class LabelAllocatorTest {
    private final Collection<ClientSite> twoSites = Topologies.topology(Topologies.THREE_DC).clientSites();

    @Test
    void takesTheLowestFreeLabels() {
        TunnelLabels l = LabelAllocator.allocate(new LabelRange(100, 199), List.of(), twoSites);
        assertEquals(new TunnelLabels(100, Map.of("site1", 101, "site2", 102)), l);
    }

    @Test
    void skipsLabelsHeldByActiveMigrations() {
        TunnelLabels held = new TunnelLabels(101, Map.of("site1", 103, "site2", 500));
        TunnelLabels l = LabelAllocator.allocate(new LabelRange(100, 199), List.of(held), twoSites);
        assertEquals(new TunnelLabels(100, Map.of("site1", 102, "site2", 104)), l);
    }

    @Test
    void exhaustedRangeIsAConflict() {
        TunnelLabels held = new TunnelLabels(100, Map.of("site1", 101, "site2", 102));
        WanmigException e = assertThrows(WanmigException.class,
                () -> LabelAllocator.allocate(new LabelRange(100, 104), List.of(held), twoSites));
        assertEquals(WanmigException.Kind.CONFLICT, e.kind());
        assertEquals("labels", e.field());
    }
}
