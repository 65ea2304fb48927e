package org.wanmig.rest;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;

/** A status code and JSON body, independent of the HTTP stack that sends it. */
public final class ApiResponse {
    private final int status;
    private final JsonNode body;

    public ApiResponse(int status, JsonNode body) {
        this.status = status;
        this.body = body;
    }

    /** A refusal: {"error": reason, "field": the offending input or null}, the one error body of wanmig's REST API. */
    public static ApiResponse error(ObjectMapper mapper, int status, String field, String reason) {
        return new ApiResponse(status, errorBody(mapper, field, reason));
    }

    /** The error body alone, for HTTP layers that refuse a request before any operation runs. */
    public static ObjectNode errorBody(ObjectMapper mapper, String field, String reason) {
        ObjectNode body = mapper.createObjectNode().put("error", reason);
        if (field == null) {
            body.putNull("field");
        } else {
            body.put("field", field);
        }
        return body;
    }

    public int status() {
        return status;
    }

    public JsonNode body() {
        return body;
    }
}
