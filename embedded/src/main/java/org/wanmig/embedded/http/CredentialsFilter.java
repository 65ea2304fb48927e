package org.wanmig.embedded.http;

import javax.annotation.Priority;
import javax.ws.rs.Priorities;
import javax.ws.rs.container.ContainerRequestContext;
import javax.ws.rs.container.ContainerRequestFilter;
import javax.ws.rs.container.PreMatching;
import javax.ws.rs.core.HttpHeaders;
import javax.ws.rs.core.MediaType;
import javax.ws.rs.core.Response;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Base64;
import java.util.Locale;

/**
 * Every request needs HTTP basic auth (ONOS's onos/rocks unless configured) or, when a token is
 * configured, "Authorization: Bearer TOKEN"; else 401 before any resource runs. Secrets are
 * compared as SHA-256 digests with {@link MessageDigest#isEqual}: constant time, and independent of
 * the length of what the client sent.
 */
@PreMatching
@Priority(Priorities.AUTHENTICATION)
final class CredentialsFilter implements ContainerRequestFilter {
    private final byte[] basicDigest;
    private final byte[] bearerDigest;

    /** @param token accepted as a bearer token; null accepts basic auth only */
    CredentialsFilter(String user, String password, String token) {
        this.basicDigest = sha256((user + ":" + password).getBytes(StandardCharsets.UTF_8));
        this.bearerDigest = token == null ? null : sha256(token.getBytes(StandardCharsets.UTF_8));
    }

    @Override
    public void filter(ContainerRequestContext request) {
        if (!accepts(request.getHeaderString(HttpHeaders.AUTHORIZATION))) {
            request.abortWith(Response.status(Response.Status.UNAUTHORIZED)
                    .header(HttpHeaders.WWW_AUTHENTICATE, "Basic realm=\"wanmig\"")
                    .entity(JsonErrors.bytes(null, "authentication required"))
                    .type(MediaType.APPLICATION_JSON).build());
        }
    }

    boolean accepts(String authorization) {
        if (authorization == null) {
            return false;
        }
        int space = authorization.indexOf(' ');
        if (space < 0) {
            return false;
        }
        String scheme = authorization.substring(0, space).toLowerCase(Locale.ROOT);
        String value = authorization.substring(space + 1).trim();
        if ("basic".equals(scheme)) {
            byte[] given;
            try {
                given = Base64.getDecoder().decode(value);
            } catch (IllegalArgumentException e) {
                return false;
            }
            return MessageDigest.isEqual(sha256(given), basicDigest);
        }
        if ("bearer".equals(scheme) && bearerDigest != null) {
            return MessageDigest.isEqual(sha256(value.getBytes(StandardCharsets.UTF_8)), bearerDigest);
        }
        return false;
    }

    private static byte[] sha256(byte[] bytes) {
        try {
            return MessageDigest.getInstance("SHA-256").digest(bytes);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("every JVM has SHA-256", e);
        }
    }
}
