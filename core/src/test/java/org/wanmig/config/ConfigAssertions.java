package org.wanmig.config;

import com.fasterxml.jackson.databind.node.ObjectNode;

import java.util.stream.Collectors;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.fail;

/** Asserts on the problems of a rejected configuration. */
final class ConfigAssertions {
    private ConfigAssertions() {
    }

    /** The config must be rejected whole (no topology comes back). */
    static ConfigException rejected(ObjectNode config) {
        return assertThrows(ConfigException.class, () -> WanTopologyParser.parse(config),
                "the configuration should have been rejected");
    }

    /** One problem has exactly {@code path} and a reason containing {@code reasonPart}. */
    static void assertProblem(ConfigException e, String path, String reasonPart) {
        boolean found = e.problems().stream()
                .anyMatch(p -> p.path().equals(path) && p.reason().contains(reasonPart));
        if (!found) {
            fail("expected a problem at " + path + " containing '" + reasonPart + "', got:\n  "
                    + e.problems().stream().map(ConfigProblem::toString).collect(Collectors.joining("\n  ")));
        }
    }

    static void assertOnlyProblem(ConfigException e, String path, String reasonPart) {
        assertProblem(e, path, reasonPart);
        if (e.problems().size() != 1) {
            fail("expected only the problem at " + path + ", got " + e.problems());
        }
    }
}
