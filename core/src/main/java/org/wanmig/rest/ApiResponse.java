package org.wanmig.rest;

import com.fasterxml.jackson.databind.JsonNode;

/** A status code and JSON body, independent of the HTTP stack that sends it. */
public final class ApiResponse {
    private final int status;
    private final JsonNode body;

    public ApiResponse(int status, JsonNode body) {
        this.status = status;
        this.body = body;
    }

    public int status() {
        return status;
    }

    public JsonNode body() {
        return body;
    }
}
