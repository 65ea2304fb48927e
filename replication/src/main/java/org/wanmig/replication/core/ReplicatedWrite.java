package org.wanmig.replication.core;

import java.nio.ByteBuffer;

/** One block write from the primary's stream, as the replica applies it; immutable (data is not modified). */
public final class ReplicatedWrite {
    private final long offset;
    private final long length;
    private final ByteBuffer data; // null: zeroes
    private final boolean resync;

    private ReplicatedWrite(long offset, long length, ByteBuffer data, boolean resync) {
        this.offset = offset;
        this.length = length;
        this.data = data;
        this.resync = resync;
    }

    public static ReplicatedWrite data(long offset, ByteBuffer data, boolean resync) {
        return new ReplicatedWrite(offset, data.remaining(), data.asReadOnlyBuffer(), resync);
    }

    public static ReplicatedWrite zeroes(long offset, long length, boolean resync) {
        return new ReplicatedWrite(offset, length, null, resync);
    }

    public long offset() { return offset; }
    public long length() { return length; }
    /** The bytes to write, or null for zeroes. */
    public ByteBuffer data() { return data == null ? null : data.duplicate(); }
    /** Sent by a resync (the replica journals what it overwrites) rather than the live stream. */
    public boolean resync() { return resync; }
}
