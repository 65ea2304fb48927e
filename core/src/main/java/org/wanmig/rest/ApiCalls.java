package org.wanmig.rest;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.wanmig.api.WanmigException;

import java.io.IOException;
import java.util.Iterator;
import java.util.Set;
import java.util.function.Supplier;

/** What every REST operation does alike: errors as {"error", "field"} with the kind's status, strict bodies. */
final class ApiCalls {
    private ApiCalls() {
    }

    /** Runs an operation; a refusal becomes its 4xx/503 answer and changes nothing. */
    static ApiResponse handle(ObjectMapper mapper, Supplier<ApiResponse> operation) {
        try {
            return operation.get();
        } catch (WanmigException e) {
            return ApiResponse.error(mapper, status(e.kind()), e.field(), e.reason());
        } catch (IllegalArgumentException e) {
            return ApiResponse.error(mapper, 400, null, e.getMessage());
        }
    }

    private static int status(WanmigException.Kind kind) {
        switch (kind) {
            case NOT_FOUND:
                return 404;
            case CONFLICT:
                return 409;
            case UNAVAILABLE:
                return 503;
            default:
                return 400;
        }
    }

    /** The body as a JSON object with no field outside {@code allowed}; a 400 naming the field otherwise. */
    static ObjectNode object(ObjectMapper mapper, String body, Set<String> allowed) {
        JsonNode node;
        try {
            node = body == null || body.isBlank() ? null : mapper.readTree(body);
        } catch (IOException e) {
            throw WanmigException.badRequest("body", "not valid JSON: " + e.getMessage().split("\n")[0]);
        }
        if (node == null || !node.isObject()) {
            throw WanmigException.badRequest("body", "must be a JSON object");
        }
        Iterator<String> names = node.fieldNames();
        while (names.hasNext()) {
            String name = names.next();
            if (!allowed.contains(name)) {
                throw WanmigException.badRequest(name, "unknown field; expected " + allowed);
            }
        }
        return (ObjectNode) node;
    }
}
