package org.wanmig.rest;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.onosproject.codec.CodecContext;
import org.onosproject.net.flow.FlowRule;
import org.wanmig.api.Migration;
import org.wanmig.api.MigrationId;
import org.wanmig.api.MigrationService;
import org.wanmig.api.WanmigException;
import org.wanmig.config.DataCenter;
import org.wanmig.config.VirtualServer;
import org.wanmig.planner.MigrationPlan;
import org.wanmig.planner.NetworkPlanner;
import org.wanmig.planner.RuleFormatter;

import java.util.Set;
import java.util.function.Supplier;

/**
 * The REST operations of wanmig, free of any HTTP stack: the JAX-RS resource {@link WanmigWebResource}
 * (served by ONOS and by the embedded runtime) and the CLI delegate here, so every entry point answers
 * with the same JSON and the same errors (400 naming the field, 404 unknown id, 409 conflict, 503 not
 * available).
 */
public final class WanmigApi {
    private static final Set<String> START_FIELDS = Set.of("server", "destination");
    private static final Set<String> REPORT_FIELDS = Set.of("status", "detail");

    private final MigrationService service;
    private final CodecContext context;
    private final Supplier<NetworkPlanner> planner;

    public WanmigApi(MigrationService service, CodecContext context, Supplier<NetworkPlanner> planner) {
        this.service = service;
        this.context = context;
        this.planner = planner;
    }

    public ApiResponse dataCenters() {
        ObjectNode root = context.mapper().createObjectNode();
        ArrayNode list = root.putArray("dataCenters");
        service.dataCenters().forEach(dc -> list.add(context.codec(DataCenter.class).encode(dc, context)));
        return ok(root);
    }

    public ApiResponse servers() {
        ObjectNode root = context.mapper().createObjectNode();
        ArrayNode list = root.putArray("servers");
        service.servers().forEach(v -> list.add(context.codec(VirtualServer.class).encode(v, context)));
        return ok(root);
    }

    public ApiResponse migrations() {
        ObjectNode root = context.mapper().createObjectNode();
        ArrayNode list = root.putArray("migrations");
        service.migrations().forEach(m -> list.add(encode(m)));
        return ok(root);
    }

    public ApiResponse migration(String id) {
        return ApiCalls.handle(context.mapper(), () -> ok(encode(find(id))));
    }

    /** The migration's rules hop by hop: its stored plan (the revision in force after a re-plan). */
    public ApiResponse rules(String id) {
        return ApiCalls.handle(context.mapper(), () -> {
            Migration m = find(id);
            MigrationPlan plan = m.plan() != null ? m.plan() : planner.get().migration(m);
            ObjectNode root = context.mapper().createObjectNode();
            addRules(root.putArray("tunnel"), plan.tunnel());
            addRules(root.putArray("reverseIngress"), plan.reverseIngress());
            addRules(root.putArray("redirect"), plan.redirects());
            return ok(root);
        });
    }

    public ApiResponse start(String body) {
        return ApiCalls.handle(context.mapper(), () -> {
            ObjectNode req = ApiCalls.object(context.mapper(), body, START_FIELDS);
            Migration m = service.startMigration(text(req, "server"), text(req, "destination"));
            return new ApiResponse(201, encode(m));
        });
    }

    public ApiResponse abort(String id) {
        return ApiCalls.handle(context.mapper(), () -> ok(encode(service.abort(parseId(id)))));
    }

    /** The hypervisor's report: {"status":"completed"|"failed","detail":"..."}. */
    public ApiResponse hypervisorReport(String id, String body) {
        return ApiCalls.handle(context.mapper(), () -> {
            MigrationId mid = parseId(id);
            ObjectNode req = ApiCalls.object(context.mapper(), body, REPORT_FIELDS);
            String status = text(req, "status");
            String detail = req.path("detail").asText("");
            if ("completed".equals(status)) {
                return ok(encode(service.hypervisorCompleted(mid, detail)));
            } else if ("failed".equals(status)) {
                return ok(encode(service.hypervisorFailed(mid, detail)));
            }
            throw WanmigException.badRequest("status", "must be \"completed\" or \"failed\", got \"" + status + "\"");
        });
    }

    // ---- helpers -------------------------------------------------------------------------------

    private Migration find(String id) {
        MigrationId mid = parseId(id);
        return service.migration(mid).orElseThrow(() ->
                WanmigException.notFound("id", "unknown migration " + mid));
    }

    private static MigrationId parseId(String id) {
        try {
            return MigrationId.parse(id);
        } catch (IllegalArgumentException e) {
            throw WanmigException.badRequest("id", "not a migration id: '" + id + "'");
        }
    }

    private static String text(ObjectNode req, String field) {
        JsonNode v = req.get(field);
        if (v == null || v.isNull()) {
            throw WanmigException.badRequest(field, "missing");
        }
        if (!v.isTextual() || v.asText().isBlank()) {
            throw WanmigException.badRequest(field, "must be a non-empty string");
        }
        return v.asText();
    }

    private JsonNode encode(Migration m) {
        return context.codec(Migration.class).encode(m, context);
    }

    private static void addRules(ArrayNode list, java.util.List<FlowRule> rules) {
        rules.forEach(r -> list.add(RuleFormatter.format(r)));
    }

    private ApiResponse ok(JsonNode body) {
        return new ApiResponse(200, body);
    }

}
