package org.wanmig.replication.nbd;

import java.io.IOException;
import java.nio.ByteBuffer;

/** What the NBD server needs from an export. Ranges are validated by the server before calls. */
public interface BlockDevice {
    String name();

    long size();

    /** A replica: advertised READ_ONLY and refuses writes with EPERM. */
    boolean readOnly();

    void read(long offset, ByteBuffer dst) throws IOException;

    /** @throws WriteRefusedException if this copy may not be written (replica) */
    void write(long offset, ByteBuffer src, boolean fua) throws IOException;

    void writeZeroes(long offset, long length, boolean fua) throws IOException;

    /** Advisory discard; may do nothing (allowed by the NBD spec). */
    void trim(long offset, long length) throws IOException;

    void flush() throws IOException;
}
