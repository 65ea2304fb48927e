package org.wanmig.config;

import com.fasterxml.jackson.databind.node.ObjectNode;
import org.junit.jupiter.api.Test;

import java.util.Optional;
import java.util.function.Consumer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.wanmig.config.ConfigAssertions.assertOnlyProblem;
import static org.wanmig.config.ConfigAssertions.rejected;
import static org.wanmig.testing.Topologies.THREE_DC;
import static org.wanmig.testing.Topologies.config;
import static org.wanmig.testing.Topologies.entry;

/** servers[].replicaAt: the DC of a disk's other copy, which bounds where the server can move. */
class ReplicaPairConfigTest {

    /** THREE_DC with an agent in every DC and vs1 (home dcA) edited. */
    private static ObjectNode vs1(Consumer<ObjectNode> server) {
        return config(THREE_DC, c -> {
            for (int i = 0; i < 3; i++) {
                entry(c, "dataCenters", i).put("agent", "http://127.0.0.1:" + (17070 + i));
            }
            server.accept(entry(c, "servers", 0));
        });
    }

    @Test
    void thePairBoundsWhereTheServerCanGo() {
        VirtualServer v = WanTopologyParser.parse(vs1(s -> s.put("replicaAt", "dcB"))).server("vs1").orElseThrow();
        assertEquals("dcA", v.dc());
        assertEquals(Optional.of("dcB"), v.replicaAt());
        assertEquals(Optional.of("dcB"), v.otherCopy("dcA"));
        assertEquals(Optional.of("dcA"), v.otherCopy("dcB"), "the copies swap roles as it moves");
        assertEquals(Optional.empty(), v.otherCopy("dcC"));
        assertTrue(v.storageAllows("dcA", "dcB") && v.storageAllows("dcB", "dcA"));
        assertFalse(v.storageAllows("dcA", "dcC"));
    }

    @Test
    void withoutAPairEveryMoveIsAllowed() {
        VirtualServer v = WanTopologyParser.parse(vs1(s -> { })).server("vs1").orElseThrow();
        assertEquals(Optional.empty(), v.replicaAt());
        assertTrue(v.storageAllows("dcA", "dcC"));
    }

    @Test
    void badPairsAreRefusedWithTheirPath() {
        assertOnlyProblem(rejected(vs1(s -> s.put("replicaAt", "dcZ"))), "servers[0].replicaAt", "unknown data center");
        assertOnlyProblem(rejected(vs1(s -> s.put("replicaAt", "dcA"))), "servers[0].replicaAt", "own data center");
        assertOnlyProblem(rejected(vs1(s -> s.put("replicaAt", 3))), "servers[0].replicaAt", "data center name");
        assertOnlyProblem(rejected(vs1(s -> s.put("replicaAt", "dcB").put("replicated", false))),
                "servers[0].replicaAt", "not replicated");
        assertOnlyProblem(rejected(config(THREE_DC, c -> entry(c, "servers", 0).put("replicaAt", "dcB"))),
                "servers[0].replicaAt", "needs a replication agent in both");
    }
}
