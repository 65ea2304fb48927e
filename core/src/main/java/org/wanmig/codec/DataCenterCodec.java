package org.wanmig.codec;

import com.fasterxml.jackson.databind.node.ObjectNode;
import org.onosproject.codec.CodecContext;
import org.onosproject.codec.JsonCodec;
import org.onosproject.net.PortNumber;
import org.wanmig.config.DataCenter;

/** JSON of a data center as the REST API shows it (the agent token is never shown). */
public final class DataCenterCodec extends JsonCodec<DataCenter> {

    @Override
    public ObjectNode encode(DataCenter dc, CodecContext context) {
        ObjectNode node = context.mapper().createObjectNode().put("name", dc.name()).put("pe", dc.pe().toString());
        dc.wanPorts().stream().map(PortNumber::toLong).forEach(node.putArray("wanPorts")::add);
        dc.serverPorts().stream().map(PortNumber::toLong).forEach(node.putArray("serverPorts")::add);
        if (dc.agent() == null) {
            node.putNull("agent");
        } else {
            node.put("agent", dc.agent().toString());
        }
        return node;
    }

    /** The data center as a client of the REST API sees it (no agent token). */
    @Override
    public DataCenter decode(ObjectNode json, CodecContext context) {
        java.util.List<PortNumber> wan = new java.util.ArrayList<>();
        json.path("wanPorts").forEach(p -> wan.add(PortNumber.portNumber(p.asLong())));
        java.util.List<PortNumber> servers = new java.util.ArrayList<>();
        json.path("serverPorts").forEach(p -> servers.add(PortNumber.portNumber(p.asLong())));
        String agent = json.path("agent").isTextual() ? json.path("agent").asText() : null;
        return new DataCenter(json.path("name").asText(), org.onosproject.net.DeviceId.deviceId(json.path("pe").asText()),
                wan, servers, agent == null ? null : java.net.URI.create(agent), null);
    }
}
