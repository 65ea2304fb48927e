package org.wanmig.rest;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.onosproject.codec.CodecContext;
import org.wanmig.api.Evacuation;
import org.wanmig.api.EvacuationId;
import org.wanmig.api.EvacuationService;
import org.wanmig.api.WanmigException;
import org.wanmig.evacuation.EvacuationProgress;

import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.function.LongSupplier;

/**
 * The REST operations on evacuations, free of any HTTP stack (like {@link WanmigApi}): the shared
 * JAX-RS resource and the CLI's --json delegate here. Records are {@code EvacuationCodec}'s JSON
 * plus a live ETA ({@code projectedEta}, {@code projectedEndMillis}) computed at the time of asking.
 * Errors: 400 naming the field, 404 unknown id, 409 (capacity exceeded naming the servers, a server
 * already being evacuated, an evacuation that has ended), 503 not the leader.
 */
public final class EvacuationApi {
    private static final Set<String> START_FIELDS = Set.of("source", "to", "servers");
    private static final Set<String> FAILOVER_FIELDS = Set.of("to");

    private final EvacuationService service;
    private final CodecContext context;
    private final LongSupplier clock;

    public EvacuationApi(EvacuationService service, CodecContext context, LongSupplier clock) {
        this.service = service;
        this.context = context;
        this.clock = clock;
    }

    public ApiResponse evacuations() {
        ObjectNode root = context.mapper().createObjectNode();
        ArrayNode list = root.putArray("evacuations");
        service.evacuations().forEach(e -> list.add(encode(e)));
        return new ApiResponse(200, root);
    }

    public ApiResponse evacuation(String id) {
        return ApiCalls.handle(context.mapper(), () -> {
            EvacuationId eid = parseId(id);
            Evacuation e = service.evacuation(eid).orElseThrow(() ->
                    WanmigException.notFound("id", "unknown evacuation " + eid));
            return new ApiResponse(200, encode(e));
        });
    }

    /** {"source": dc, "to": [dc, ...] (optional), "servers": [name, ...] (optional)}. */
    public ApiResponse start(String body) {
        return ApiCalls.handle(context.mapper(), () -> {
            ObjectNode req = ApiCalls.object(context.mapper(), body, START_FIELDS);
            JsonNode source = req.get("source");
            if (source == null || source.isNull()) {
                throw WanmigException.badRequest("source", "missing");
            }
            if (!source.isTextual() || source.asText().isBlank()) {
                throw WanmigException.badRequest("source", "must be a non-empty string");
            }
            Evacuation e = service.evacuate(source.asText(), names(req, "to"), names(req, "servers"));
            return new ApiResponse(201, encode(e));
        });
    }

    /** Declares {@code dc} lost: body {"to": dc} (optional), or empty. */
    public ApiResponse failover(String dc, String body) {
        return ApiCalls.handle(context.mapper(), () -> {
            String to = null;
            if (body != null && !body.isBlank()) {
                ObjectNode req = ApiCalls.object(context.mapper(), body, FAILOVER_FIELDS);
                JsonNode t = req.get("to");
                if (t != null && !t.isNull()) {
                    if (!t.isTextual() || t.asText().isBlank()) {
                        throw WanmigException.badRequest("to", "must be a data center name");
                    }
                    to = t.asText();
                }
            }
            return new ApiResponse(201, encode(service.failover(dc, to)));
        });
    }

    public ApiResponse abort(String id) {
        return ApiCalls.handle(context.mapper(), () -> new ApiResponse(200, encode(service.abort(parseId(id)))));
    }

    /** The record as REST shows it: the codec's JSON plus the live ETA. */
    public ObjectNode encode(Evacuation e) {
        ObjectNode node = context.codec(Evacuation.class).encode(e, context);
        long end = EvacuationProgress.projectedEndMillis(e, clock.getAsLong());
        node.put("projectedEndMillis", end).put("projectedEta", Instant.ofEpochMilli(end).toString());
        return node;
    }

    private static EvacuationId parseId(String id) {
        try {
            return EvacuationId.parse(id);
        } catch (RuntimeException e) {
            throw WanmigException.badRequest("id", "not an evacuation id: '" + id + "'");
        }
    }

    /** An optional array of non-empty strings; absent or null means empty. */
    private static List<String> names(ObjectNode req, String field) {
        JsonNode v = req.get(field);
        List<String> names = new ArrayList<>();
        if (v == null || v.isNull()) {
            return names;
        }
        if (!v.isArray()) {
            throw WanmigException.badRequest(field, "must be an array of names");
        }
        for (JsonNode n : v) {
            if (!n.isTextual() || n.asText().isBlank()) {
                throw WanmigException.badRequest(field, "must be an array of non-empty strings");
            }
            if (names.contains(n.asText())) {
                throw WanmigException.badRequest(field, "names " + n.asText() + " twice");
            }
            names.add(n.asText());
        }
        return names;
    }

}
