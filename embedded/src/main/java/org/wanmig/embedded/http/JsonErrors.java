package org.wanmig.embedded.http;

import com.fasterxml.jackson.databind.ObjectMapper;
import org.wanmig.rest.ApiResponse;

import javax.servlet.http.HttpServletResponse;
import java.io.IOException;
import java.nio.charset.StandardCharsets;

/**
 * Sends the error body of wanmig's REST API (the core's {@link ApiResponse#errorBody}) for the
 * refusals the HTTP layer makes before the resource runs (auth, limits, path, unknown resource).
 */
final class JsonErrors {
    private static final ObjectMapper MAPPER = new ObjectMapper();

    private JsonErrors() {
    }

    static byte[] bytes(String field, String reason) {
        return ApiResponse.errorBody(MAPPER, field, reason).toString().getBytes(StandardCharsets.UTF_8);
    }

    static void send(HttpServletResponse response, int status, String field, String reason) throws IOException {
        byte[] bytes = bytes(field, reason);
        response.setStatus(status);
        response.setContentType("application/json");
        response.setContentLength(bytes.length);
        response.getOutputStream().write(bytes);
    }
}
