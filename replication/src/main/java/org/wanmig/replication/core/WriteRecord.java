package org.wanmig.replication.core;

import java.nio.ByteBuffer;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/**
 * One unit of the ordered replication stream of a primary. Identity matters (acks release the
 * waiting writer), so this is a mutable holder, but its payload fields are final.
 */
public final class WriteRecord {
    public enum Kind { WRITE, ZERO, FLUSH, RESYNC_BLOCK }

    private final Kind kind;
    private final long offset;
    private final long length;
    private final ByteBuffer data; // WRITE and RESYNC_BLOCK only
    private final boolean sync;    // peer must make it durable before acking
    private final long enqueuedNanos;
    private final CountDownLatch done = new CountDownLatch(1);
    private volatile boolean durable;
    private long wireSeq = -1;
    private long headSeq = -1; // set by Backlog.takeNext
    private boolean counted; // entered through offer(): counts against the backlog limit

    public WriteRecord(Kind kind, long offset, long length, ByteBuffer data, boolean sync) {
        this.kind = kind;
        this.sync = sync;
        this.offset = offset;
        this.length = length;
        this.data = data;
        this.enqueuedNanos = System.nanoTime();
    }

    public Kind kind() { return kind; }
    public boolean sync() { return sync; }
    public long offset() { return offset; }
    public long length() { return length; }
    public ByteBuffer data() { return data == null ? null : data.duplicate(); }
    public long enqueuedNanos() { return enqueuedNanos; }
    public long wireSeq() { return wireSeq; }
    void wireSeq(long s) { wireSeq = s; }
    /** When taken for sending: the wire sequence the last record queued behind this one will get. */
    public long headSeq() { return headSeq; }
    void headSeq(long s) { headSeq = s; }
    boolean counted() { return counted; }
    void counted(boolean c) { counted = c; }

    /** Bytes this record holds against the backlog limit. */
    public long cost() {
        return data == null ? 64 : data.remaining();
    }

    void complete(boolean peerHasIt) {
        durable = peerHasIt;
        done.countDown();
    }

    /** Waits until the peer acknowledged the record or the link dropped; true if the peer has it. */
    public boolean await(long timeoutMs) throws InterruptedException {
        return done.await(timeoutMs, TimeUnit.MILLISECONDS) && durable;
    }

    public boolean isDone() {
        return done.getCount() == 0;
    }
}
