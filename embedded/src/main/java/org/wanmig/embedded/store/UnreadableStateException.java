package org.wanmig.embedded.store;

import com.fasterxml.jackson.core.JsonProcessingException;

import java.nio.file.Path;

/**
 * A file of the state directory that the runtime cannot read or decode. The runtime stops before it
 * changes anything: starting without the record would forget a migration whose rules and storage
 * roles may still be in place, and the reconciler would then remove its rules as unknown.
 */
public final class UnreadableStateException extends RuntimeException {
    private final transient Path file;

    UnreadableStateException(Path file, Throwable cause) {
        super("cannot read " + file + ": " + reason(cause), cause);
        this.file = file;
    }

    /** The file that could not be read. */
    public Path file() {
        return file;
    }

    private static String reason(Throwable cause) {
        if (cause instanceof JsonProcessingException) {   // its own message quotes the file's text
            JsonProcessingException json = (JsonProcessingException) cause;
            return json.getOriginalMessage() + (json.getLocation() == null ? "" : " (line "
                    + json.getLocation().getLineNr() + ", column " + json.getLocation().getColumnNr() + ")");
        }
        return cause.getMessage() == null ? cause.getClass().getSimpleName() : cause.getMessage();
    }
}
