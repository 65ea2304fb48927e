package org.wanmig.config;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.onosproject.core.DefaultApplicationId;
import org.wanmig.planner.NetworkPlanner;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertFalse;

/**
 * The netcfg parser's contract under arbitrary input: any JSON either parses to a topology the planner
 * can use, or is rejected with a {@link ConfigException} that names at least one problem. Any other
 * exception is a finding. Seeds: WanTopologyParserFuzzTestInputs/&lt;method&gt;/ (regression in mvn test;
 * scripts/fuzz fuzzes and keeps findings there).
 */
class WanTopologyParserFuzzTest {
    private static final ObjectMapper MAPPER = new ObjectMapper();
    private static final JsonNodeFactory NODES = JsonNodeFactory.instance;
    private static final ObjectNode SAMPLE = loadSample();

    /** Raw text as an operator might upload it with onos-netcfg. */
    @FuzzTest
    void netcfgText(byte[] input) {
        check(() -> WanTopologyParser.parseNetcfg(new String(input, StandardCharsets.UTF_8)));
    }

    /**
     * A valid configuration with fuzzer-chosen edits (a value replaced, a field removed, an element
     * duplicated): reaches the semantic checks much faster than mutated text does.
     */
    @FuzzTest
    void editedSample(FuzzedDataProvider data) {
        ObjectNode config = SAMPLE.deepCopy();
        int edits = data.consumeInt(1, 6);
        for (int i = 0; i < edits && data.remainingBytes() > 0; i++) {
            edit(config, data);
        }
        check(() -> WanTopologyParser.parse(config));
    }

    private static void check(java.util.function.Supplier<WanTopology> parse) {
        WanTopology topology;
        try {
            topology = parse.get();
        } catch (ConfigException e) {
            assertFalse(e.problems().isEmpty(), "a rejection names its problems");
            return;
        }
        // Accepted: the planner must be able to work with it (baseline of every server at home).
        NetworkPlanner planner = new NetworkPlanner(topology, new DefaultApplicationId(1, WanTopologyParser.APP_ID));
        planner.infrastructure();
        planner.siteRoutes();
        for (VirtualServer server : topology.servers()) {
            planner.serverRoutes(server, server.dc());
        }
    }

    /** Picks a node of the tree and changes it. */
    private static void edit(ObjectNode root, FuzzedDataProvider data) {
        List<JsonNode> containers = new ArrayList<>();
        collect(root, containers);
        JsonNode target = data.pickValue(containers);
        if (target.isObject()) {
            ObjectNode obj = (ObjectNode) target;
            List<String> names = new ArrayList<>();
            obj.fieldNames().forEachRemaining(names::add);
            if (names.isEmpty() || data.consumeInt(0, 9) == 0) {
                obj.set(data.consumeString(12), value(data));
                return;
            }
            String name = data.pickValue(names);
            if (data.consumeBoolean()) {
                obj.remove(name);
            } else {
                obj.set(name, value(data));
            }
        } else {
            ArrayNode arr = (ArrayNode) target;
            int op = data.consumeInt(0, 2);
            if (arr.size() == 0 || op == 0) {
                arr.add(value(data));
            } else if (op == 1) {
                int i = data.consumeInt(0, arr.size() - 1);
                arr.add(arr.get(i).deepCopy()); // duplicates: names, ports, links
            } else {
                arr.set(data.consumeInt(0, arr.size() - 1), value(data));
            }
        }
    }

    private static void collect(JsonNode node, List<JsonNode> out) {
        if (node.isContainerNode()) {
            out.add(node);
            for (Iterator<JsonNode> it = node.elements(); it.hasNext(); ) {
                collect(it.next(), out);
            }
        }
    }

    private static JsonNode value(FuzzedDataProvider data) {
        switch (data.consumeInt(0, 9)) {
            case 0: return NODES.nullNode();
            case 1: return NODES.booleanNode(data.consumeBoolean());
            case 2: return NODES.numberNode(data.consumeInt());
            case 3: return NODES.numberNode(data.consumeLong());
            case 4: return NODES.numberNode(data.consumeDouble());
            case 5: return NODES.objectNode();
            case 6: return NODES.arrayNode().add(data.consumeString(24));
            case 7: return NODES.textNode("of:" + String.format("%016x", data.consumeLong())
                    + (data.consumeBoolean() ? "/" + data.consumeInt(-2, 70000) : ""));
            default: return NODES.textNode(data.consumeString(40));
        }
    }

    private static ObjectNode loadSample() {
        try (InputStream in = WanTopologyParserFuzzTest.class.getResourceAsStream("/topologies/three-dc.json")) {
            JsonNode netcfg = MAPPER.readTree(in);
            return (ObjectNode) netcfg.path("apps").path(WanTopologyParser.APP_ID).path(WanTopologyParser.CONFIG_KEY);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
