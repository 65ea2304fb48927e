package org.wanmig.codec;

import com.fasterxml.jackson.databind.node.ObjectNode;
import org.onosproject.codec.CodecContext;
import org.onosproject.codec.JsonCodec;
import org.wanmig.api.MigrationService;
import org.wanmig.config.VirtualServer;

/** JSON of a virtual server with where it runs now and its active migration, if any. */
public final class VirtualServerCodec extends JsonCodec<VirtualServer> {

    @Override
    public ObjectNode encode(VirtualServer v, CodecContext context) {
        ObjectNode node = context.mapper().createObjectNode().put("name", v.name()).put("ip", v.ip().toString())
                .put("mac", v.mac().toString()).put("gateway", v.gateway().toString())
                .put("configuredDc", v.dc());
        MigrationService service = context.getService(MigrationService.class);
        node.put("location", service.location(v.name()));
        service.activeMigration(v.name()).ifPresentOrElse(m -> node.put("migration", m.id().value()),
                () -> node.putNull("migration"));
        ObjectNode ports = node.putObject("ports");
        v.ports().forEach((dc, port) -> ports.put(dc, port.toLong()));
        node.put("hypervisor", v.hypervisor().orElse(null));   // null: the configured default driver
        node.put("replicated", v.replicated());
        node.put("replicaAt", v.replicaAt().orElse(null));
        return node;
    }

    /** The server as configured; "location" and "migration" are views of the service, not decoded. */
    @Override
    public VirtualServer decode(ObjectNode json, CodecContext context) {
        java.util.Map<String, org.onosproject.net.PortNumber> ports = new java.util.LinkedHashMap<>();
        json.path("ports").fields().forEachRemaining(e ->
                ports.put(e.getKey(), org.onosproject.net.PortNumber.portNumber(e.getValue().asLong())));
        String dc = json.path("configuredDc").asText();
        return new VirtualServer(json.path("name").asText(), org.onlab.packet.Ip4Address.valueOf(json.path("ip").asText()),
                org.onlab.packet.MacAddress.valueOf(json.path("mac").asText()),
                org.onlab.packet.Ip4Address.valueOf(json.path("gateway").asText()), dc, ports.get(dc), ports)
                .withReplicaAt(json.path("replicaAt").isTextual() ? json.path("replicaAt").asText() : null);
    }
}
