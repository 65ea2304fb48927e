package org.wanmig.embedded.http;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;

import javax.servlet.http.HttpServletResponse;
import java.io.IOException;
import java.nio.charset.StandardCharsets;

/**
 * The error body of wanmig's REST API, {"error": reason, "field": offending input or null}, for the
 * refusals the HTTP layer makes before the resource runs (auth, limits, path, unknown resource).
 */
final class JsonErrors {
    private static final ObjectMapper MAPPER = new ObjectMapper();

    private JsonErrors() {
    }

    static ObjectNode body(String field, String reason) {
        ObjectNode body = MAPPER.createObjectNode().put("error", reason);
        if (field == null) {
            body.putNull("field");
        } else {
            body.put("field", field);
        }
        return body;
    }

    static byte[] bytes(String field, String reason) {
        return body(field, reason).toString().getBytes(StandardCharsets.UTF_8);
    }

    static void send(HttpServletResponse response, int status, String field, String reason) throws IOException {
        byte[] bytes = bytes(field, reason);
        response.setStatus(status);
        response.setContentType("application/json");
        response.setContentLength(bytes.length);
        response.getOutputStream().write(bytes);
    }
}
