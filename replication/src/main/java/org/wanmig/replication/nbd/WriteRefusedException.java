package org.wanmig.replication.nbd;

import java.io.IOException;

/** The export exists but this copy is read-only right now (a replica): NBD_EPERM. */
public final class WriteRefusedException extends IOException {
    public WriteRefusedException(String msg) {
        super(msg);
    }
}
