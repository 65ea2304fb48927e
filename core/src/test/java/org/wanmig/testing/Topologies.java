package org.wanmig.testing;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.onosproject.core.ApplicationId;
import org.onosproject.core.DefaultApplicationId;
import org.wanmig.config.WanTopology;
import org.wanmig.config.WanTopologyParser;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.function.Consumer;

/** Test topologies: the JSON under src/test/resources/topologies, as editable trees and parsed. */
public final class Topologies {
    public static final ObjectMapper MAPPER = new ObjectMapper();
    public static final ApplicationId APP_ID = new DefaultApplicationId(7, "org.wanmig.app");

    /** Two DCs behind a 3-switch WAN (the mininet sample): site1 - s1 - s2 - {peA, s3 - peB}. */
    public static final String TWO_DC = "two-dc.json";
    /** PE_A and PE_B joined by one link; site1 hangs off s1, linked to PE_A's second WAN port. */
    public static final String TWO_DC_DIRECT = "two-dc-direct.json";
    /** The mininet 3-DC sample: two sites, three DCs, a meshed core. */
    public static final String THREE_DC = "three-dc.json";
    /** THREE_DC with the s2-s5 shortcut marked down. */
    public static final String THREE_DC_LINK_DOWN = "three-dc-link-down.json";
    /** TWO_DC with a second server vs2 and the "rest" hypervisor driver. */
    public static final String TWO_DC_TWO_SERVERS = "two-dc-two-servers.json";

    private Topologies() {
    }

    /** The "wanmig" object of a test resource, a fresh copy the caller may change. */
    public static ObjectNode config(String resource) {
        try (InputStream in = Topologies.class.getResourceAsStream("/topologies/" + resource)) {
            if (in == null) {
                throw new IllegalArgumentException("no test topology " + resource);
            }
            return (ObjectNode) MAPPER.readTree(in).path("apps").path(WanTopologyParser.APP_ID)
                    .path(WanTopologyParser.CONFIG_KEY);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** A resource's config after {@code edit}. */
    public static ObjectNode config(String resource, Consumer<ObjectNode> edit) {
        ObjectNode config = config(resource);
        edit.accept(config);
        return config;
    }

    public static WanTopology topology(String resource) {
        return WanTopologyParser.parse(config(resource));
    }

    public static WanTopology topology(String resource, Consumer<ObjectNode> edit) {
        return WanTopologyParser.parse(config(resource, edit));
    }

    /** A file of the repository (tests run in onos-app/). */
    public static String repositoryFile(String relative) {
        try {
            return Files.readString(Path.of("..").resolve(relative));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    // ---- small editing helpers for the JSON tree ------------------------------------------------

    public static ObjectNode entry(ObjectNode config, String list, int index) {
        return (ObjectNode) config.get(list).get(index);
    }

    public static ArrayNode array(ObjectNode config, String list) {
        return (ArrayNode) config.get(list);
    }

    /** Sets migration.* timing fields (seconds, fractions allowed). */
    public static ObjectNode migration(ObjectNode config) {
        return config.has("migration") ? (ObjectNode) config.get("migration") : config.putObject("migration");
    }
}
