package org.wanmig.api;

/**
 * A request the MMS refuses, with the reason and (where one input is at fault) the field.
 * Nothing has been changed when this is thrown.
 */
public class WanmigException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    /** What kind of refusal; REST maps these to 400, 404, 409 and 503. */
    public enum Kind { BAD_REQUEST, NOT_FOUND, CONFLICT, UNAVAILABLE }

    private final Kind kind;
    private final String field;

    public WanmigException(Kind kind, String field, String reason) {
        super(reason);
        this.kind = kind;
        this.field = field;
    }

    public static WanmigException badRequest(String field, String reason) {
        return new WanmigException(Kind.BAD_REQUEST, field, reason);
    }

    public static WanmigException notFound(String field, String reason) {
        return new WanmigException(Kind.NOT_FOUND, field, reason);
    }

    public static WanmigException conflict(String field, String reason) {
        return new WanmigException(Kind.CONFLICT, field, reason);
    }

    public static WanmigException unavailable(String reason) {
        return new WanmigException(Kind.UNAVAILABLE, null, reason);
    }

    public Kind kind() {
        return kind;
    }

    /** The offending input field, or null. */
    public String field() {
        return field;
    }

    public String reason() {
        return getMessage();
    }

    /** What went wrong behind a future's wrappers (completion, execution): its message, else its type. */
    public static String messageOf(Throwable t) {
        while ((t instanceof java.util.concurrent.CompletionException
                || t instanceof java.util.concurrent.ExecutionException) && t.getCause() != null) {
            t = t.getCause();
        }
        return t.getMessage() == null ? t.toString() : t.getMessage();
    }
}
