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
        return node;
    }
}
