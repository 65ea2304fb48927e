package org.wanmig.codec;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.onosproject.codec.CodecContext;
import org.onosproject.codec.JsonCodec;
import org.wanmig.api.Evacuation;
import org.wanmig.api.EvacuationEvent;
import org.wanmig.api.EvacuationId;
import org.wanmig.api.EvacuationState;
import org.wanmig.api.MigrationId;
import org.wanmig.api.Promotion;
import org.wanmig.api.ServerEvacuation;

import java.time.Instant;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * JSON of an evacuation record: progress counts, bytes and ETA for people, and every server's
 * state and planned move, which is also the form in which stores keep records.
 */
public final class EvacuationCodec extends JsonCodec<Evacuation> {

    @Override
    public ObjectNode encode(Evacuation e, CodecContext context) {
        ObjectNode node = context.mapper().createObjectNode()
                .put("id", e.id().value()).put("kind", e.kind().name()).put("trigger", e.trigger().name())
                .put("source", e.source()).put("state", e.state().name())
                .put("active", e.isActive());
        e.destinations().forEach(node.putArray("destinations")::add);
        ObjectNode progress = node.putObject("progress");
        for (ServerEvacuation.State s : ServerEvacuation.State.values()) {
            progress.put(s == ServerEvacuation.State.IN_FLIGHT ? "inFlight" : s.name().toLowerCase(), e.count(s));
        }
        progress.put("bytesDone", e.bytesDone()).put("bytesTotal", e.totalBytes());
        node.put("startedMillis", e.startedMillis()).put("started", Instant.ofEpochMilli(e.startedMillis()).toString())
                .put("plannedMillis", e.plannedMillis()).put("eta", Instant.ofEpochMilli(e.etaMillis()).toString())
                .put("maxAttempts", e.maxAttempts());
        ObjectNode slots = node.putObject("slotsByPair");
        e.slotsByPair().forEach(slots::put);
        ArrayNode servers = node.putArray("servers");
        for (ServerEvacuation s : e.servers()) {
            ObjectNode o = servers.addObject().put("server", s.server()).put("destination", s.destination())
                    .put("state", s.state().name()).put("attempts", s.attempts())
                    .put("startedMillis", s.startedMillis());
            putNullable(o, "migration", s.migrationId() == null ? null : s.migrationId().value());
            putNullable(o, "reason", s.reason());
            putNullable(o, "group", s.group());
            o.put("rank", s.rank()).put("exclusive", s.exclusive()).put("converges", s.converges())
                    .put("estimatedBytes", s.estimatedBytes()).put("estimatedMillis", s.estimatedMillis())
                    .put("plannedStartMillis", s.plannedStartMillis());
            if (s.step() != null) {
                o.put("step", s.step().name());
            }
            Promotion p = s.promotion();
            if (p != null) {
                o.putObject("promotion").put("generation", p.generation()).put("lagBytes", p.lagBytes())
                        .put("lagWrites", p.lagWrites()).put("rpoSeconds", p.rpoSeconds())
                        .put("rolledBackBytes", p.rolledBackBytes()).put("detail", p.detail());
            }
        }
        ArrayNode timeline = node.putArray("timeline");
        for (EvacuationEvent ev : e.timeline()) {
            ObjectNode o = timeline.addObject().put("time", Instant.ofEpochMilli(ev.epochMillis()).toString())
                    .put("epochMillis", ev.epochMillis());
            putNullable(o, "server", ev.server());
            o.put("detail", ev.detail());
        }
        return node;
    }

    private static void putNullable(ObjectNode o, String field, Object value) {
        if (value == null) {
            o.putNull(field);
        } else if (value instanceof Long) {
            o.put(field, (Long) value);
        } else {
            o.put(field, value.toString());
        }
    }

    private static String text(JsonNode n, String field) {
        JsonNode v = n.get(field);
        return v == null || v.isNull() ? null : v.asText();
    }

    @Override
    public Evacuation decode(ObjectNode json, CodecContext context) {
        List<String> destinations = new ArrayList<>();
        json.path("destinations").forEach(d -> destinations.add(d.asText()));
        Map<String, Integer> slots = new LinkedHashMap<>();
        Iterator<Map.Entry<String, JsonNode>> it = json.path("slotsByPair").fields();
        while (it.hasNext()) {
            Map.Entry<String, JsonNode> e = it.next();
            slots.put(e.getKey(), e.getValue().asInt());
        }
        List<ServerEvacuation> servers = new ArrayList<>();
        for (JsonNode s : json.path("servers")) {
            JsonNode migration = s.get("migration");
            JsonNode p = s.get("promotion");
            Promotion promotion = p == null || !p.isObject() ? null : new Promotion(p.path("generation").asLong(-1),
                    p.path("lagBytes").asLong(), p.path("lagWrites").asLong(), p.path("rpoSeconds").asDouble(-1),
                    p.path("rolledBackBytes").asLong(), p.path("detail").asText(""));
            String step = text(s, "step");
            servers.add(new ServerEvacuation(s.path("server").asText(), s.path("destination").asText(),
                    text(s, "group"), s.path("rank").asInt(), s.path("exclusive").asBoolean(),
                    s.path("estimatedBytes").asLong(), s.path("estimatedMillis").asLong(),
                    s.path("plannedStartMillis").asLong(), s.path("converges").asBoolean(true),
                    ServerEvacuation.State.valueOf(s.path("state").asText()),
                    migration == null || migration.isNull() ? null : MigrationId.of(migration.asLong()),
                    s.path("attempts").asInt(), s.path("startedMillis").asLong(), text(s, "reason"),
                    step == null ? null : ServerEvacuation.FailoverStep.valueOf(step), promotion));
        }
        List<EvacuationEvent> timeline = new ArrayList<>();
        for (JsonNode ev : json.path("timeline")) {
            timeline.add(new EvacuationEvent(ev.path("epochMillis").asLong(), text(ev, "server"),
                    ev.path("detail").asText("")));
        }
        String kind = text(json, "kind");
        String trigger = text(json, "trigger"); // absent in records written before detection existed
        return new Evacuation(kind == null ? Evacuation.Kind.EVACUATION : Evacuation.Kind.valueOf(kind),
                trigger == null ? Evacuation.Trigger.OPERATOR : Evacuation.Trigger.valueOf(trigger),
                EvacuationId.of(json.path("id").asLong()), json.path("source").asText(), destinations,
                EvacuationState.valueOf(json.path("state").asText()), servers, slots,
                json.path("maxAttempts").asInt(1), json.path("startedMillis").asLong(),
                json.path("plannedMillis").asLong(), timeline);
    }
}
