package org.wanmig.embedded.http;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import javax.ws.rs.WebApplicationException;
import javax.ws.rs.core.MediaType;
import javax.ws.rs.core.Response;
import javax.ws.rs.ext.ExceptionMapper;

/**
 * Failures outside wanmig's own answers, in wanmig's error JSON: Jersey's 404/405/415 (unknown
 * path or method), a body over the limit (413), a body that timed out or broke off (400), and
 * anything unexpected (500, logged). The resource's own errors (400 naming the field, 404, 409,
 * 503) are responses, not exceptions, and never come here.
 */
final class ErrorMapper implements ExceptionMapper<Exception> {
    private static final Logger log = LoggerFactory.getLogger(ErrorMapper.class);

    @Override
    public Response toResponse(Exception e) {
        Throwable cause = e;
        while (cause.getCause() != null && !(cause instanceof RequestGuardFilter.BodyTooLargeException)) {
            cause = cause.getCause();
        }
        if (cause instanceof RequestGuardFilter.BodyTooLargeException) {
            return json(413, "body", cause.getMessage());
        }
        if (e instanceof WebApplicationException) {
            Response original = ((WebApplicationException) e).getResponse();
            int status = original.getStatus();
            // keep Jersey's headers (Allow on 405, ...), replace the body
            return Response.fromResponse(original).entity(JsonErrors.bytes(status == 404 ? "path" : null,
                    e.getMessage())).type(MediaType.APPLICATION_JSON).build();
        }
        if (e instanceof java.io.IOException) {
            return json(400, "body", "request body not received: " + e.getMessage());
        }
        log.error("REST request failed", e);
        return json(500, null, String.valueOf(e));
    }

    private static Response json(int status, String field, String reason) {
        return Response.status(status).entity(JsonErrors.bytes(field, reason)).type(MediaType.APPLICATION_JSON)
                .build();
    }
}
