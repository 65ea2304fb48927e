package org.wanmig.embedded.store;

import java.io.IOException;

/** Another runtime holds the state directory ({@link StateDirLock}). */
public final class StateDirInUseException extends IOException {
    private static final long serialVersionUID = 1L;

    public StateDirInUseException(String message) {
        super(message);
    }
}
