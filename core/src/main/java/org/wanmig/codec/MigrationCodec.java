package org.wanmig.codec;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.onosproject.codec.CodecContext;
import org.onosproject.codec.JsonCodec;
import org.wanmig.api.Migration;
import org.wanmig.api.MigrationEvent;
import org.wanmig.api.MigrationId;
import org.wanmig.api.MigrationState;
import org.wanmig.api.TunnelLabels;

import java.time.Instant;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** JSON of a migration record, timeline included; also the form in which stores keep records. */
public final class MigrationCodec extends JsonCodec<Migration> {

    @Override
    public ObjectNode encode(Migration m, CodecContext context) {
        ObjectNode node = context.mapper().createObjectNode()
                .put("id", m.id().value()).put("server", m.server())
                .put("source", m.source()).put("destination", m.destination())
                .put("destinationPort", m.destinationPort())
                .put("state", m.state().name()).put("active", m.isActive());
        if (m.error() == null) {
            node.putNull("error");
        } else {
            node.put("error", m.error());
        }
        node.put("hypervisorReported", m.hypervisorReported()).put("switchedInPause", m.switchedInPause())
                .put("switchoverUnknown", m.switchoverUnknown());
        if (m.predecessorsGoneBy() > 0) {
            node.put("predecessorsGoneBy", m.predecessorsGoneBy());
        }
        ObjectNode labels = node.putObject("labels").put("forward", m.labels().forward());
        ObjectNode reverse = labels.putObject("reverse");
        m.labels().reverseBySite().forEach(reverse::put);
        ArrayNode timeline = node.putArray("timeline");
        for (MigrationEvent e : m.timeline()) {
            timeline.addObject().put("state", e.state().name())
                    .put("time", Instant.ofEpochMilli(e.epochMillis()).toString())
                    .put("epochMillis", e.epochMillis()).put("detail", e.detail());
        }
        if (m.plan() != null) {
            node.set("plan", PlanCodec.encode(m.plan(), context.mapper()));
        }
        return node;
    }

    @Override
    public Migration decode(ObjectNode json, CodecContext context) {
        Map<String, Integer> reverse = new LinkedHashMap<>();
        Iterator<Map.Entry<String, JsonNode>> it = json.path("labels").path("reverse").fields();
        while (it.hasNext()) {
            Map.Entry<String, JsonNode> e = it.next();
            reverse.put(e.getKey(), e.getValue().asInt());
        }
        List<MigrationEvent> timeline = new ArrayList<>();
        for (JsonNode e : json.path("timeline")) {
            timeline.add(new MigrationEvent(MigrationState.valueOf(e.path("state").asText()),
                    e.path("epochMillis").asLong(), e.path("detail").asText("")));
        }
        JsonNode error = json.get("error");
        return new Migration(MigrationId.of(json.path("id").asLong()), json.path("server").asText(),
                json.path("source").asText(), json.path("destination").asText(),
                json.path("destinationPort").asLong(),
                new TunnelLabels(json.path("labels").path("forward").asInt(), reverse), timeline,
                error == null || error.isNull() ? null : error.asText(),
                json.hasNonNull("plan") ? PlanCodec.decode(json.get("plan")) : null,
                json.path("hypervisorReported").asBoolean(false), json.path("switchedInPause").asBoolean(false),
                json.path("switchoverUnknown").asBoolean(false), json.path("predecessorsGoneBy").asLong(0));
    }
}
