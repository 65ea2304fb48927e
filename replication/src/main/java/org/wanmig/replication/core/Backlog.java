package org.wanmig.replication.core;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;

/**
 * The ordered, bounded stream of writes a primary still owes its peer: records queued for
 * sending and records sent but not yet acknowledged. Only while the link is "attached" (streaming)
 * do writes enter it; otherwise the disk records them in its dirty bitmap instead.
 */
public final class Backlog {
    private final long maxBytes;
    private final ArrayDeque<WriteRecord> queued = new ArrayDeque<>();
    private final ArrayDeque<WriteRecord> inflight = new ArrayDeque<>();
    private long userBytes;
    private long userRecords;
    private long resyncInflightBytes;
    private boolean attached;
    private long nextWireSeq = 1;

    public Backlog(long maxBytes) {
        this.maxBytes = maxBytes;
    }

    /**
     * Appends a user record, blocking while the backlog is full (that is the bounded lag).
     * Returns false if the link is not streaming: the caller must then mark the range dirty.
     */
    public synchronized boolean offer(WriteRecord r) throws InterruptedException {
        while (attached && userBytes > 0 && userBytes + r.cost() > maxBytes) {
            wait();
        }
        if (!attached) {
            return false;
        }
        r.counted(true);
        queued.addLast(r);
        userBytes += r.cost();
        userRecords++;
        notifyAll();
        return true;
    }

    /**
     * Next queued record, moved to in-flight with its wire sequence number and the head sequence
     * of the stream behind it (so the sender needs no second lock); null on timeout.
     */
    public synchronized WriteRecord takeNext(long timeoutMs) throws InterruptedException {
        long deadline = System.currentTimeMillis() + timeoutMs;
        while (queued.isEmpty()) {
            long left = deadline - System.currentTimeMillis();
            if (left <= 0 || !attached) {
                return null;
            }
            wait(left);
        }
        WriteRecord r = queued.pollFirst();
        r.wireSeq(nextWireSeq++);
        // Records still queued behind this one get the next sequence numbers: that is the head.
        r.headSeq(r.wireSeq() + queued.size());
        inflight.addLast(r);
        return r;
    }

    /**
     * Up to max queued records at once (one lock, not one per record), each moved to in-flight with
     * its wire sequence number and head, exactly as if taken one by one by {@link #takeNext}; appended
     * to out. Returns how many were taken (0 on timeout or when the link is not streaming).
     */
    public synchronized int takeBatch(List<WriteRecord> out, int max, long timeoutMs) throws InterruptedException {
        long deadline = System.currentTimeMillis() + timeoutMs;
        while (queued.isEmpty()) {
            long left = deadline - System.currentTimeMillis();
            if (left <= 0 || !attached) {
                return 0;
            }
            wait(left);
        }
        int n = 0;
        while (n < max && !queued.isEmpty()) {
            WriteRecord r = queued.pollFirst();
            r.wireSeq(nextWireSeq++);
            r.headSeq(r.wireSeq() + queued.size());
            inflight.addLast(r);
            out.add(r);
            n++;
        }
        return n;
    }

    /** Records waiting to be sent (each will take the next wire sequence number). */
    public synchronized long queuedRecords() {
        return queued.size();
    }

    public synchronized boolean hasQueued() {
        return !queued.isEmpty();
    }

    /** Registers a record the link generated itself (resync data, flush, control). */
    public synchronized long addInflight(WriteRecord r) {
        r.wireSeq(nextWireSeq++);
        if (r.kind() == WriteRecord.Kind.RESYNC_BLOCK) {
            resyncInflightBytes += r.length();
        }
        inflight.addLast(r);
        return r.wireSeq();
    }

    public synchronized long nextSeq() {
        return nextWireSeq++;
    }

    /** Peer acknowledged everything up to seq: release those records. Returns payload bytes acked. */
    public synchronized long ack(long seq) {
        long bytes = 0;
        while (!inflight.isEmpty() && inflight.peekFirst().wireSeq() <= seq) {
            WriteRecord r = inflight.pollFirst();
            if (r.counted()) {
                userBytes -= r.cost();
                userRecords--;
            } else if (r.kind() == WriteRecord.Kind.RESYNC_BLOCK) {
                resyncInflightBytes -= r.length();
            }
            if (r.kind() != WriteRecord.Kind.FLUSH) {
                bytes += r.length();
            }
            r.complete(true);
        }
        notifyAll();
        return bytes;
    }

    /** Link is streaming: from now on writes queue here. */
    public synchronized void attach() {
        attached = true;
        notifyAll();
    }

    public synchronized boolean attached() {
        return attached;
    }

    /**
     * Link lost: everything not acknowledged is handed back (to be marked dirty) and waiting
     * writers are released; the peer does not have these.
     */
    public synchronized List<WriteRecord> detach() {
        attached = false;
        List<WriteRecord> out = new ArrayList<>(inflight);
        out.addAll(queued);
        inflight.clear();
        queued.clear();
        userBytes = 0;
        userRecords = 0;
        resyncInflightBytes = 0;
        for (WriteRecord r : out) {
            r.complete(false);
        }
        notifyAll();
        return out;
    }

    /** Ranges [offset,length] of every unacknowledged data record, for the persisted bitmap. */
    public synchronized List<long[]> pendingRanges() {
        List<long[]> out = new ArrayList<>();
        for (WriteRecord r : inflight) {
            out.add(new long[]{r.offset(), r.length()});
        }
        for (WriteRecord r : queued) {
            out.add(new long[]{r.offset(), r.length()});
        }
        return out;
    }

    public synchronized boolean isEmpty() {
        return queued.isEmpty() && inflight.isEmpty();
    }

    public synchronized long userBytes() {
        return userBytes;
    }

    /** Resync data sent but not yet confirmed by the peer. */
    public synchronized long resyncInflightBytes() {
        return resyncInflightBytes;
    }

    public synchronized long userRecords() {
        return userRecords;
    }

    public synchronized long inflightCount() {
        return inflight.size();
    }

    /** Enqueue time of the oldest unacknowledged user record, or -1. */
    public synchronized long oldestNanos() {
        for (WriteRecord r : inflight) {
            if (r.counted()) {
                return r.enqueuedNanos();
            }
        }
        return queued.isEmpty() ? -1 : queued.peekFirst().enqueuedNanos();
    }

    /** Waits until nothing is queued or in flight, or the timeout passes. */
    public synchronized boolean awaitEmpty(long timeoutMs) throws InterruptedException {
        long deadline = System.currentTimeMillis() + timeoutMs;
        while (!(queued.isEmpty() && inflight.isEmpty())) {
            long left = deadline - System.currentTimeMillis();
            if (left <= 0) {
                return false;
            }
            wait(left);
        }
        return true;
    }
}
