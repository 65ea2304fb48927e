package org.wanmig.replication.core;

import org.wanmig.replication.disk.DirtyBitmap;
import org.wanmig.replication.disk.DiskImage;
import org.wanmig.replication.disk.UndoJournal;
import org.wanmig.replication.nbd.BlockDevice;
import org.wanmig.replication.nbd.WriteRefusedException;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.atomic.AtomicLong;
import java.util.logging.Logger;

/**
 * One replicated disk: the local image plus the role/mode state machine and the write path that
 * feeds the replication stream. The peer link itself lives in the peer package and talks to this
 * class through its link-facing methods.
 *
 * Ordering: a write is applied locally and appended to the backlog under one lock, so the stream
 * order equals the local order even with several NBD connections; the replica applies in stream
 * order, hence it always holds a crash-consistent prefix while streaming.
 *
 * Replica consistency: a resync writes blocks in disk order, so in the middle of one the image is
 * a mix. Before the first resync write the metadata records "inconsistent" (forced to disk), and
 * every block is journaled (old content, forced) before its first overwrite; the resync's end
 * marker clears the mark and drops the journal. Promote rolls an inconsistent copy back first.
 *
 * Generations: every promote takes generation+1; a primary that meets a higher generation at its
 * peer is fenced (becomes a replica at once, NBD writes get EPERM) and reports what it had not
 * replicated; the new primary's resync then overwrites it.
 */
public final class ReplicatedDisk implements BlockDevice {
    private static final Logger LOG = Logger.getLogger(ReplicatedDisk.class.getName());

    private final String name;
    private final DiskImage image;
    private final DirtyBitmap dirty;
    private final Path bitmapFile;
    private final Path metaFile;
    private final Backlog backlog;
    private final Object order = new Object();
    private final Object bitmapSaveLock = new Object();

    private volatile DiskMeta meta;
    private volatile boolean fenced;          // demote in progress: refuse new writes
    private volatile boolean linkUp;          // primary: authenticated link to the peer
    private volatile boolean syncFlushed;     // primary: peer confirmed durability since SYNC was set
    private volatile boolean heldAllAtLoss;   // primary: the link went down with the peer holding every write durably
    private volatile long dirtySinceNanos = -1;
    private volatile PeerView peerView = PeerView.NONE; // replica: what the primary last told us
    private volatile boolean sessionUp;       // replica: a primary is streaming to us
    /**
     * A replica whose primary has been silent this long does not count its stream as live for a
     * take-over. Below the primary's least ack deadline (peerAckTimeoutMs, at least 2 s): a primary
     * acknowledges a write its replica lacks only once it declared the link dead, by which time
     * the replica refuses to take over.
     */
    public static final long LIVE_STREAM_SILENCE_MS = 1_500;
    private volatile long peerContactMillis;  // wall clock of the last frame from the peer, 0 never
    private Object activeSession;             // replica: only this stream may write (guarded by order)
    private UndoJournal journal;              // replica: non-null exactly while meta says inconsistent
    private volatile boolean catchingUp;      // replica: session open, its resync not yet ended
    private volatile long primaryHead;        // replica: the primary's newest sequence when the last data frame left
    private volatile long appliedSeq;         // replica: sequence of the last data frame applied
    private volatile boolean statusLag;       // replica: the primary's last STATUS had unacknowledged data
    private volatile boolean unconfirmed;     // replica: loaded as behind, or fenced; until a stream says otherwise
    private volatile boolean handedOverClean; // replica: old primary handed over, nothing can be missing
    private volatile long currentAtMillis;    // replica: last time we held all the primary had sent of
    /**
     * Done once the metadata holding the current role and generation is durable. A take-over
     * persists it after its answer; until then no NBD write touches the image and no write, zero
     * or flush is acknowledged (they wait under order), and the link sends no OPEN: a crash before
     * it leaves a replica at the old generation, identical to its primary, that acknowledged nothing.
     */
    private volatile CompletableFuture<Void> metaDurable =
            CompletableFuture.completedFuture(null);
    private volatile CountDownLatch deferredPersistGate; // tests: holds the deferred persist

    private final AtomicLong writes = new AtomicLong();
    private final AtomicLong shippedBytes = new AtomicLong();
    private final AtomicLong appliedBytes = new AtomicLong();
    private volatile double throughput;
    private long lastRateBytes;
    private long lastRateNanos = System.nanoTime();

    public ReplicatedDisk(String name, DiskImage image, Role configuredRole, int blockSize, long maxBacklogBytes)
            throws IOException {
        this.name = name;
        this.image = image;
        this.dirty = new DirtyBitmap(image.size(), blockSize);
        this.bitmapFile = image.path().resolveSibling(image.path().getFileName() + ".dirty");
        this.metaFile = DiskMeta.fileFor(image.path());
        this.backlog = new Backlog(maxBacklogBytes);
        DiskMeta m = DiskMeta.load(metaFile);
        if (m == null) {
            // First start: a primary owns the content and names it; a replica's content is unknown.
            m = new DiskMeta(configuredRole, Mode.ASYNC,
                    configuredRole == Role.PRIMARY ? UUID.randomUUID().toString() : "", true, false);
        }
        boolean loaded = dirty.load(bitmapFile);
        if (m.role() == Role.PRIMARY && !m.cleanShutdown()) {
            // We may have acknowledged writes the peer never got and that no bitmap recorded.
            LOG.warning(name + ": unclean shutdown, the replica will be hash-compared in full");
            dirty.markAllForCompare();
        } else if (loaded && dirty.dirtyCount() > 0) {
            LOG.info(name + ": resuming with " + dirty.dirtyCount() + " dirty blocks from " + bitmapFile);
        }
        if (m.role() == Role.REPLICA && !m.cleanShutdown() && !m.syncId().isEmpty()) {
            // Writes we acknowledged without fsync (ASYNC) may be gone after a crash: let the
            // primary hash-compare us instead of trusting its bitmap.
            LOG.warning(name + ": unclean shutdown of a replica, asking for a hash-compare resync");
            m = m.withSyncId("").withBehind(true);
        }
        Path undo = UndoJournal.fileFor(image.path());
        if (!m.consistent()) {
            // Interrupted resync: keep (and extend) the journal of the last consistent state.
            journal = UndoJournal.open(undo, image.size(), blockSize);
            LOG.warning(name + ": image is inconsistent (interrupted resync); undo journal holds "
                    + journal.bytes() + " bytes of the last consistent state");
        } else if (Files.exists(undo)) {
            // Crash after the resync end was recorded but before the journal was removed.
            Files.delete(undo);
        }
        unconfirmed = m.behind();
        currentAtMillis = m.currentAtMillis();
        if (dirty.dirtyCount() > 0) {
            dirtySinceNanos = System.nanoTime();
        }
        meta = m.withCleanShutdown(false);
        meta.save(metaFile);
    }

    // ---- identity and state ------------------------------------------------------------------

    @Override public String name() { return name; }
    @Override public long size() { return image.size(); }
    /** Always a writable export: a replica refuses writes with EPERM until promoted, so a hypervisor
     *  can open it read-write before a migration and write once the roles have flipped. */
    @Override public boolean readOnly() { return false; }
    public Role role() { return meta.role(); }
    public Mode mode() { return meta.mode(); }
    public String syncId() { return meta.syncId(); }
    public DirtyBitmap dirtyBitmap() { return dirty; }
    public Backlog backlog() { return backlog; }
    public DiskImage image() { return image; }

    /**
     * Replica: may lack writes the primary has. Derived, never stored, so it cannot disagree with
     * what it says: behind unless every sign says current — no stream has yet shown the copy
     * current since it was loaded as behind or was fenced, the stream's resync ended, the image is
     * consistent (nothing journaled), the last data frame had nothing queued behind it at the
     * primary, and the primary's last STATUS had nothing unacknowledged. (Data still in the pipe
     * after that cannot be known here: that is the ASYNC lag, bounded by the primary's backlog.)
     * Always false on a primary. Persisted in the metadata at session end and by the ticker.
     */
    public boolean knownBehind() {
        DiskMeta m = meta;
        return m.role() == Role.REPLICA
                && (unconfirmed || catchingUp || !m.consistent() || lagWrites() > 0 || statusLag);
    }

    /** Replica: writes the primary had queued behind the last data frame we applied. */
    public long lagWrites() {
        // Sequence before head, the reverse of noteApplied's order: a reader racing an update sees
        // the old pair, the new pair, or the old sequence with the new head; never too small a lag.
        long applied = appliedSeq;
        return Math.max(0, primaryHead - applied);
    }

    public boolean consistent() { return meta.consistent(); }
    public long generation() { return meta.generation(); }
    public boolean sessionUp() { return sessionUp; }

    private synchronized void updateMeta(DiskMeta m) {
        meta = m;
        try {
            m.save(metaFile);
            CompletableFuture<Void> d = metaDurable;
            if (!d.complete(null) && d.isCompletedExceptionally()) {
                metaDurable = CompletableFuture.completedFuture(null); // on disk after all
            }
        } catch (IOException e) {
            LOG.severe(name + ": cannot persist state to " + metaFile + ": " + e);
        }
    }

    /**
     * Caller holds order: m is the metadata from now on, persisted on a thread of its own started
     * once {@code start} completes; {@link #metaDurable} completes once it (or a later one) is on
     * disk, fails if it cannot be.
     */
    private void persistAfter(DiskMeta m, CompletionStage<?> start) {
        CompletableFuture<Void> durable = new CompletableFuture<>();
        metaDurable = durable;   // before the role flips: a writer that sees PRIMARY under order sees this
        synchronized (this) {
            meta = m;
        }
        start.whenComplete((x, e) -> persistThread(durable).start());
    }

    private Thread persistThread(CompletableFuture<Void> durable) {
        Thread t = new Thread(() -> {
            try {
                CountDownLatch gate = deferredPersistGate;
                if (gate != null) {
                    gate.await();
                }
                synchronized (this) {
                    meta.save(metaFile);   // the current one: a later change saved since holds the generation too
                }
                durable.complete(null);
            } catch (IOException | InterruptedException | RuntimeException e) {
                LOG.severe(name + ": cannot persist state to " + metaFile + ": " + e + "; refusing writes");
                durable.completeExceptionally(e);
            }
        }, "meta-" + name);
        t.setDaemon(true);
        return t;
    }

    /** Done once the role and generation in memory are durable (see {@link #metaDurable}). */
    public CompletableFuture<Void> metaDurable() {
        return metaDurable;
    }

    /** Waits until the role and generation are durable; fails if they cannot be made so. */
    public void awaitMetaDurable() throws IOException {
        CompletableFuture<Void> d = metaDurable;
        if (d.isDone() && !d.isCompletedExceptionally()) {
            return;
        }
        try {
            d.get();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted while the generation is persisted");
        } catch (ExecutionException e) {
            throw new IOException(name + ": role and generation not durable: " + e.getCause());
        }
    }

    /** Tests: the next deferred persist waits until {@code gate} opens (a crash before it, in effect). */
    public void holdDeferredPersist(CountDownLatch gate) {
        deferredPersistGate = gate;
    }

    /** Stops (or resumes) accepting writes while a demote drains the stream. */
    public void fence(boolean on) {
        synchronized (order) {
            fenced = on;
        }
    }

    /** ASYNC/SYNC switch. Going SYNC does not wait; wait-sync waits for the drain. */
    public void setMode(Mode m) {
        synchronized (order) {
            boolean entering = m == Mode.SYNC && meta.mode() != Mode.SYNC;
            updateMeta(meta.withMode(m));
            if (entering) {
                // Writes acked in ASYNC mode may still sit unflushed at the peer: a barrier drains
                // them; its durable ack is what lets us report in-sync.
                syncFlushed = false;
                try {
                    backlog.offer(new WriteRecord(WriteRecord.Kind.FLUSH, 0, 0, null, true));
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }
        }
    }

    /**
     * Primary -> replica. Further NBD writes are refused from here on. If the peer was not fully
     * caught up, our content is marked as diverged (new syncId) so the next primary will
     * hash-compare us instead of trusting a bitmap. Returns false, changing nothing, if we are a
     * replica already (fenced while a demote waited for its handover).
     */
    public boolean becomeReplica(boolean peerCaughtUp) {
        synchronized (order) {
            if (meta.role() == Role.REPLICA) {
                return false; // fenced by the peer's generation meanwhile: that already decided our identity
            }
            DiskMeta m = meta.withRole(Role.REPLICA).withBehind(false);
            if (!peerCaughtUp) {
                m = m.withSyncId(UUID.randomUUID().toString());
            }
            unconfirmed = false;
            toReplica(m);
            return true;
        }
    }

    /**
     * Caller holds order. The one way a primary becomes a replica (demote, fence): nothing is owed
     * to a peer any more, so the dirty bitmap is emptied, then m (role REPLICA) is persisted.
     */
    private void toReplica(DiskMeta m) {
        for (long b = dirty.nextSet(0); b >= 0; b = dirty.nextSet(b + 1)) {
            dirty.clear(b);
        }
        dirtySinceNanos = -1;
        updateMeta(m);
        saveBitmapQuietly();
    }

    /**
     * Replica -> primary, in generation+1. An inconsistent copy (interrupted resync) is first rolled
     * back to its last consistent state; the report says so and what RPO that implies. With force
     * (unplanned failover) we take a new identity: the old primary's content may hold writes we
     * never saw, so it must be hash-compared when it comes back.
     */
    public PromoteReport becomePrimary(boolean force) throws IOException {
        return becomePrimary(force, false, 1, null);
    }

    /**
     * {@link #becomePrimary(boolean)} in generation+2: the peer may have taken over from us (in
     * generation+1) without our learning of it, its answer lost with its agent or its link, and
     * this promotion must fence such a take-over rather than tie with it.
     */
    public PromoteReport becomePrimaryAboveTakeOver() throws IOException {
        return becomePrimary(false, false, 2, null);
    }

    private PromoteReport becomePrimary(boolean force, boolean persistAfter, int step, String takeOverId)
            throws IOException {
        return becomePrimary(force, persistAfter, step, takeOverId, CompletableFuture.completedFuture(null));
    }

    private PromoteReport becomePrimary(boolean force, boolean persistAfter, int step, String takeOverId,
                                        CompletionStage<?> persistStart) throws IOException {
        synchronized (order) {
            long now = System.currentTimeMillis();
            DiskMeta m = meta;
            long restoredAsOf = currentAtMillis;
            long rolledBack = 0;
            boolean didRollback = false;
            if (journal != null) {
                // Never serve the mix: restore the last consistent image, durably, before anything else.
                rolledBack = journal.rollback(image);
                restoredAsOf = m.currentAtMillis();
                m = m.withConsistent(true).withCurrentAtMillis(restoredAsOf);
                updateMeta(m);
                journal.delete();
                journal = null;
                didRollback = true;
                LOG.warning(name + ": rolled back " + rolledBack + " bytes of an interrupted resync to the state of "
                        + java.time.Instant.ofEpochMilli(restoredAsOf));
            }
            boolean clean = handedOverClean && !didRollback;
            // -1: this copy never held the primary's state (its first sync never completed).
            double rpo = clean ? 0 : restoredAsOf <= 0 ? -1 : Math.max(0, (now - restoredAsOf) / 1000.0);
            long gen = m.generation() + step;
            PromoteReport r = new PromoteReport(now, force, gen, didRollback, rolledBack, restoredAsOf, rpo, clean)
                    .withTakeOverId(takeOverId);
            // ASYNC whatever this copy's mode as an earlier primary: SYNC is asked for one migration
            // and kept in the meta, so a copy promoted on the way back would otherwise make every
            // write of the moved guest wait a WAN round trip, and stall while its peer is away
            m = m.withRole(Role.PRIMARY).withMode(Mode.ASYNC).withBehind(false).withGeneration(gen).withLastPromote(r)
                    .withFenced(null);
            if (force || m.syncId().isEmpty() || didRollback) {
                m = m.withSyncId(UUID.randomUUID().toString());
            }
            if (persistAfter) {
                persistAfter(m, persistStart);
            } else {
                updateMeta(m);
            }
            // What a replica knew about its primary's stream means nothing to a primary (or to the
            // replica it may be demoted to later).
            unconfirmed = false;
            catchingUp = false;
            statusLag = false;
            primaryHead = appliedSeq;
            return r;
        }
    }

    /**
     * Replica -> primary while the primary still streams to us: the switchover inside a
     * hypervisor's pause, where the caller guarantees that no write is in flight (the guest is
     * stopped and its block I/O drained). What we can see ourselves must agree: the stream is live
     * and synchronous (so the primary acknowledged nothing we have not applied and made durable),
     * its resync ended, nothing is journaled, and every data frame seen is applied. The primary's
     * last STATUS is not asked: taken every 250 ms, it often shows the write that was in flight
     * then. The old stream can write no more from here; the old primary is fenced by the new
     * generation when our stream reaches it (or its own reconnect is refused with it).
     *
     * <p>The promotion is named {@code takeOverId} (null: unnamed; see {@link #takenOverBy}). The
     * new generation's persist starts once {@code answered} completes: started at once, its thread
     * (a JSON encode, a write, two fsyncs) competed for the CPUs with the answer it follows anyway,
     * inside the guest's pause. Writes wait for it either way ({@link #awaitMetaDurable}).
     *
     * @return the reason we may lack a write, or null once promoted (the report is in the status)
     */
    public String takeOverFromLivePrimary(String takeOverId, CompletionStage<?> answered) throws IOException {
        synchronized (order) {
            String lacking = takeOverLacking();
            if (lacking != null) {
                return lacking;
            }
            activeSession = null; // the old stream's late frames are refused
            handedOverClean = true;
            becomePrimary(false, true, 1, takeOverId, answered);   // the meta's fsyncs after the answer: see metaDurable
            return null;
        }
    }

    /** The name of the take-over that made this copy primary, if it is primary by one; else null. */
    public String takenOverBy() {
        DiskMeta m = meta;
        return m.role() == Role.PRIMARY && m.lastPromote() != null ? m.lastPromote().takeOverId() : null;
    }

    /**
     * {@link #takeOverFromLivePrimary}'s checks alone, changing nothing: why this copy may lack a
     * write the primary acknowledged, or null if it could take over now. The take-over check asks
     * it before the move, while the guest still writes, so a write in flight can show here.
     */
    public String takeOverLacking() {
        synchronized (order) {
            long silent = peerSilentMillis();
            return meta.role() != Role.REPLICA ? "not a replica"
                    : !sessionUp ? "the primary is not streaming to us"
                    : silent > LIVE_STREAM_SILENCE_MS ? "the primary has been silent for " + silent
                            + " ms (it sends its status every 250 ms): the stream may be dead"
                    : peerView.mode() != Mode.SYNC ? "the primary replicates " + peerView.mode() + ", not SYNC"
                    : catchingUp || journal != null ? "the stream's resync has not ended"
                    : lagWrites() > 0 ? lagWrites() + " writes of the primary's queue not applied yet"
                    : null;
        }
    }

    /**
     * The peer is at a higher generation (it was promoted while we were cut off): stop being
     * primary now. Returns the report of what we had acknowledged but never replicated, or null if
     * we are not a primary below that generation. Our content is then unknown to the new primary
     * (empty sync identity): its resync hash-compares us and overwrites what differs.
     */
    public FenceReport fenceByGeneration(long peerGeneration) {
        synchronized (order) {
            DiskMeta m = meta;
            if (m.role() != Role.PRIMARY || peerGeneration <= m.generation()) {
                return null;
            }
            releaseUnacknowledged();
            FenceReport rep = unreplicated(m.generation(), peerGeneration);
            // A peer that took over from our live synchronous stream holds all we have: we keep our
            // identity and it resyncs only what it wrote since, not the whole disk.
            boolean prefix = peerHoldsEverything();
            unconfirmed = true; // before the role flips: a replica is never seen current in between
            handedOverClean = false;
            toReplica(m.withRole(Role.REPLICA).withGeneration(peerGeneration).withSyncId(prefix ? m.syncId() : "")
                    .withBehind(true).withFenced(rep));
            if (prefix) {
                LOG.info(name + ": fenced by the peer at generation " + peerGeneration + " (we were primary at "
                        + m.generation() + "); it held every write we acknowledged, so we keep our identity and"
                        + " take only what it wrote since");
            } else {
                LOG.warning(name + ": FENCED: the peer is at generation " + peerGeneration + ", we were primary at "
                        + m.generation() + "; now a replica refusing writes. " + rep
                        + " -- these writes will be discarded by the resync from the new primary");
            }
            return rep;
        }
    }

    /** Caller holds order: what the dirty bitmap says we acknowledged but never replicated. */
    private FenceReport unreplicated(long ownGeneration, long peerGeneration) {
        boolean unknown = dirty.compareMode();
        long bs = dirty.blockSize();
        long blocks = 0;
        long bytes = 0;
        List<String> extents = new ArrayList<>();
        boolean truncated = false;
        long b = dirty.nextSet(0);
        while (b >= 0) {
            long start = b;
            long end = b + 1;
            while (end < dirty.blocks() && dirty.isSet(end)) {
                end++;
            }
            long off = start * bs;
            long len = Math.min(image.size(), end * bs) - off;
            blocks += end - start;
            bytes += len;
            if (extents.size() < FenceReport.MAX_EXTENTS) {
                extents.add(off + "+" + len);
            } else {
                truncated = true;
            }
            b = end < dirty.blocks() ? dirty.nextSet(end) : -1;
        }
        return new FenceReport(System.currentTimeMillis(), ownGeneration, peerGeneration, bytes, blocks,
                extents, truncated, unknown);
    }

    // ---- NBD write path -----------------------------------------------------------------------

    @Override
    public void read(long offset, ByteBuffer dst) throws IOException {
        image.read(offset, dst);
    }

    @Override
    public void write(long offset, ByteBuffer src, boolean fua) throws IOException {
        int len = src.remaining();
        WriteRecord rec;
        synchronized (order) {
            requirePrimary();
            awaitMetaDurable();
            image.write(offset, src.duplicate());
            rec = ship(new WriteRecord(WriteRecord.Kind.WRITE, offset, len, src, meta.mode() == Mode.SYNC));
        }
        if (fua) {
            image.flush();
        }
        awaitPeer(rec);
    }

    @Override
    public void writeZeroes(long offset, long length, boolean fua) throws IOException {
        WriteRecord rec;
        synchronized (order) {
            requirePrimary();
            awaitMetaDurable();
            image.writeZeroes(offset, length);
            rec = ship(new WriteRecord(WriteRecord.Kind.ZERO, offset, length, null, meta.mode() == Mode.SYNC));
        }
        if (fua) {
            image.flush();
        }
        awaitPeer(rec);
    }

    @Override
    public void trim(long offset, long length) throws IOException {
        // Discard is advisory in NBD; we keep the data, so there is nothing to replicate either.
        synchronized (order) {
            requirePrimary();
            awaitMetaDurable();
        }
    }

    @Override
    public void flush() throws IOException {
        image.flush();
        awaitMetaDurable();
    }

    private void requirePrimary() throws WriteRefusedException {
        if (meta.role() != Role.PRIMARY || fenced) {
            throw new WriteRefusedException(name + " is a replica");
        }
    }

    /** Caller holds order. Queues the record or, with no streaming link, marks it dirty. */
    private WriteRecord ship(WriteRecord rec) throws IOException {
        writes.incrementAndGet();
        try {
            if (backlog.offer(rec)) {
                return rec;
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted while waiting for replication backlog space");
        }
        markDirty(rec.offset(), rec.length());
        return null;
    }

    private void awaitPeer(WriteRecord rec) throws IOException {
        if (rec == null || !rec.sync()) {
            return;
        }
        try {
            // The link completes every record, acked or not (on link loss it is marked dirty),
            // so this cannot hang past a link failure. Switched to ASYNC meanwhile (the MMS gives
            // up a migration whose replica is cut off), the write completes now with ASYNC's
            // guarantee: the record stays queued for the peer, or goes dirty if the link is lost.
            while (!rec.isDone() && meta.mode() == Mode.SYNC) {
                rec.await(20);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted while waiting for the peer");
        }
    }

    public void markDirty(long offset, long length) {
        if (dirty.dirtyCount() == 0) {
            dirtySinceNanos = System.nanoTime();
        }
        dirty.markRange(offset, length);
    }

    // ---- link-facing (primary side) -----------------------------------------------------------

    /** The replica's content is unknown: every block is hash-compared before sending. */
    public void markAllForCompare() {
        if (dirty.dirtyCount() == 0) {
            dirtySinceNanos = System.nanoTime();
        }
        dirty.markAllForCompare();
        saveBitmapQuietly();
    }

    public void linkUp(boolean up) {
        linkUp = up;
        if (up) {
            peerContact();
        }
    }

    public boolean isLinkUp() {
        return linkUp;
    }

    /**
     * Atomically (w.r.t. writers) switches from resync to streaming if nothing is dirty any more.
     * Returns false if writes dirtied blocks meanwhile and another resync pass is needed.
     */
    public boolean tryAttach() {
        synchronized (order) {
            if (dirty.dirtyCount() > 0) {
                return false;
            }
            dirtySinceNanos = -1;
            backlog.attach();
            heldAllAtLoss = false; // streaming again: syncFlushed says it from here
            return true;
        }
    }

    /** Queues a durability barrier (used when entering SYNC mode and at the end of resync). */
    public WriteRecord queueFlush() throws InterruptedException {
        synchronized (order) {
            WriteRecord r = new WriteRecord(WriteRecord.Kind.FLUSH, 0, 0, null, true);
            return backlog.offer(r) ? r : null;
        }
    }

    /** Link lost: whatever the peer did not acknowledge becomes dirty again. */
    public void detach() {
        releaseUnacknowledged();
        saveBitmapQuietly();
    }

    /** The link is down: a primary's records the peer did not acknowledge go back to the dirty bitmap. */
    private void releaseUnacknowledged() {
        List<WriteRecord> unacknowledged = backlog.detach();
        for (WriteRecord r : unacknowledged) {
            if (r.length() > 0 && meta.role() == Role.PRIMARY) {
                markDirty(r.offset(), r.length());
            }
        }
        // Sticky across failed reconnects: they change nothing at the peer. A write since marks dirty.
        heldAllAtLoss = unacknowledged.isEmpty() && (heldAllAtLoss || (syncFlushed && meta.mode() == Mode.SYNC));
        linkUp = false;
        syncFlushed = false;
    }

    /**
     * Primary: the peer holds, durably, every write we ever acknowledged, and we wrote nothing
     * since: synchronous, nothing dirty or unacknowledged, the last acknowledgement durable. Then
     * our content is a prefix of the peer's, and a peer that took over from us (at a higher
     * generation) needs to send us only what it wrote since: we keep our identity when demoted or
     * fenced instead of asking for a hash-compare of the whole disk.
     */
    public boolean peerHoldsEverything() {
        synchronized (order) {
            if (meta.role() != Role.PRIMARY || meta.mode() != Mode.SYNC || dirty.compareMode()
                    || dirty.dirtyCount() > 0 || !backlog.isEmpty()) {
                return false;
            }
            return backlog.attached() ? linkUp && syncFlushed : heldAllAtLoss;
        }
    }

    public void acked(long bytes, boolean durable) {
        shippedBytes.addAndGet(bytes);
        if (durable && meta.mode() == Mode.SYNC && backlog.isEmpty() && backlog.attached()) {
            syncFlushed = true;
        }
    }

    public void setSyncIdFromPeer(String id) {
        updateMeta(meta.withSyncId(id));
    }

    // ---- replica side -------------------------------------------------------------------------

    /**
     * A new inbound stream takes over. A superseded stream that is still draining its socket can
     * then no longer write: its late frames would be older than the new stream's resync data.
     */
    public void claimSession(Object session) {
        synchronized (order) {
            activeSession = session;
            // Until this stream's resync has ended we cannot know what the primary has that we lack.
            catchingUp = true; // takes over from unconfirmed: this stream now decides
            unconfirmed = false;
            statusLag = false;
            handedOverClean = false;
        }
    }

    /**
     * A primary opened a stream at the given generation. Returns our generation if it is higher
     * (the caller refuses the stream: the sender is a fenced old primary), else adopts the
     * primary's generation and returns -1.
     */
    public long acceptGeneration(long primaryGeneration) {
        synchronized (order) {
            if (primaryGeneration < meta.generation()) {
                return meta.generation();
            }
            if (primaryGeneration > meta.generation()) {
                updateMeta(meta.withGeneration(primaryGeneration));
            }
            return -1;
        }
    }

    /** Caller holds order: the first resync write of a consistent image starts the undo journal. */
    private void beginInconsistent() throws IOException {
        // Durable mark first, then the journal: a crash in between leaves an empty journal, harmless.
        // No write may happen unless the mark is on disk, so a failure here fails the frame.
        DiskMeta m = meta.withConsistent(false).withBehind(true).withCurrentAtMillis(currentAtMillis);
        synchronized (this) {
            m.save(metaFile);
            meta = m;
        }
        journal = UndoJournal.open(UndoJournal.fileFor(image.path()), image.size(), dirty.blockSize());
        LOG.info(name + ": resync starts overwriting: image marked inconsistent, undo journal open");
    }

    /** Caller holds order: keep the old content of [offset, offset+length) if a resync is overwriting. */
    private void guard(List<ReplicatedWrite> writes) throws IOException {
        boolean resync = false;
        for (ReplicatedWrite w : writes) {
            resync |= w.resync();
        }
        if (resync && journal == null) {
            beginInconsistent();
        }
        if (journal != null) {
            List<long[]> ranges = new ArrayList<>(writes.size());
            for (ReplicatedWrite w : writes) {
                ranges.add(new long[]{w.offset(), w.length()});
            }
            journal.preserve(image, ranges);
        }
    }

    /** End marker of the stream's resync: we now hold the primary's state as of that point. */
    public void resyncComplete(Object session, long seq, long head) throws IOException {
        synchronized (order) {
            requireActive(session);
            if (journal != null) {
                image.flush(); // the resync data must be durable before the journal that undoes it goes
                currentAtMillis = System.currentTimeMillis();
                updateMeta(meta.withConsistent(true).withCurrentAtMillis(currentAtMillis));
                journal.delete();
                journal = null;
                LOG.info(name + ": resync complete, image consistent again");
            }
            catchingUp = false;
            noteApplied(seq, head);
        }
    }

    /** Every data frame says which sequence it is and how far the primary's queue reaches. */
    public void noteApplied(long seq, long head) {
        // The head first (see lagWrites).
        primaryHead = head;
        appliedSeq = seq;
        noteIfCurrent();
    }

    /** A sign of currency changed: a copy that is now current records when (its RPO bound). */
    private void noteIfCurrent() {
        if (!knownBehind()) {
            currentAtMillis = System.currentTimeMillis();
        }
    }

    private void requireActive(Object session) throws WriteRefusedException {
        if (meta.role() != Role.REPLICA) {
            throw new WriteRefusedException(name + " is primary here; refusing peer data");
        }
        if (session != activeSession) {
            throw new WriteRefusedException(name + ": stream superseded by a newer one");
        }
    }

    /** Applies a block from the primary's stream; never allowed on a primary. */
    public void applyReplicated(Object session, long offset, ByteBuffer data, boolean resync) throws IOException {
        apply(session, List.of(ReplicatedWrite.data(offset, data, resync)));
    }

    public void applyZeroes(Object session, long offset, long length, boolean resync) throws IOException {
        apply(session, List.of(ReplicatedWrite.zeroes(offset, length, resync)));
    }

    /**
     * Applies consecutive writes of the stream in order. While a resync overwrites, the old content
     * of all of them is journaled first with one fsync (a batch of resync frames costs one, not one
     * each).
     */
    public void apply(Object session, List<ReplicatedWrite> writes) throws IOException {
        synchronized (order) {
            requireActive(session);
            guard(writes);
            for (ReplicatedWrite w : writes) {
                ByteBuffer d = w.data();
                if (d == null) {
                    image.writeZeroes(w.offset(), w.length());
                } else {
                    image.write(w.offset(), d);
                }
                appliedBytes.addAndGet(w.length());
            }
        }
    }

    /** A frame came from the peer on this disk's link (either role). */
    public void peerContact() {
        peerContactMillis = System.currentTimeMillis();
    }

    /** Milliseconds since the last frame from the peer, -1 if none ever came. */
    public long peerSilentMillis() {
        long last = peerContactMillis;
        return last == 0 ? -1 : Math.max(0, System.currentTimeMillis() - last);
    }

    public void sessionUp(boolean up) {
        sessionUp = up;
        if (up) {
            peerContact();
        }
        if (!up) {
            peerView = PeerView.NONE;
            persistReplicaView();
        }
    }

    /** What the primary reports (mode, its lag view); a report of unacknowledged data means behind. */
    public void peerStatus(PeerView v) {
        peerView = v;
        statusLag = v.lagBytes() > 0;
        noteIfCurrent();
    }

    /** Old primary handed over cleanly: we hold everything it acknowledged. */
    public void handedOver() {
        synchronized (order) {
            catchingUp = false;
            primaryHead = appliedSeq;
            statusLag = false;
            unconfirmed = false; // behind now only while a journal (an interrupted resync) remains
            handedOverClean = journal == null;
            currentAtMillis = System.currentTimeMillis();
            persistReplicaView();
        }
    }

    private void persistReplicaView() {
        DiskMeta m = meta;
        boolean behind = knownBehind();
        if (m.role() == Role.REPLICA && (m.behind() != behind || m.currentAtMillis() != currentAtMillis)) {
            updateMeta(m.withBehind(behind).withCurrentAtMillis(currentAtMillis));
        }
    }

    // ---- persistence and reporting ------------------------------------------------------------

    public void saveBitmapQuietly() {
        // One saver at a time: the ticker, the link and a fence would otherwise share the .tmp file.
        synchronized (bitmapSaveLock) {
            saveBitmap();
        }
    }

    private void saveBitmap() {
        try {
            List<long[]> ranges = backlog.pendingRanges();
            long bs = dirty.blockSize();
            long n = 0;
            for (long[] r : ranges) {
                n += r[1] == 0 ? 0 : (r[0] + r[1] - 1) / bs - r[0] / bs + 1;
            }
            long[] extra = new long[(int) Math.min(n, dirty.blocks())];
            int i = 0;
            outer:
            for (long[] r : ranges) {
                if (r[1] == 0) {
                    continue;
                }
                for (long b = r[0] / bs; b <= (r[0] + r[1] - 1) / bs; b++) {
                    if (i == extra.length) {
                        break outer;
                    }
                    extra[i++] = b;
                }
            }
            dirty.save(bitmapFile, extra);
        } catch (IOException e) {
            LOG.warning(name + ": cannot save dirty bitmap: " + e);
        }
    }

    /** Called once a second: throughput estimate. */
    public synchronized void tick() {
        DiskMeta m = meta;
        if (m.role() == Role.REPLICA && (m.behind() != knownBehind() || currentAtMillis - m.currentAtMillis() > 5000)) {
            persistReplicaView();
        }
        long now = System.nanoTime();
        long total = shippedBytes.get() + appliedBytes.get();
        double dt = (now - lastRateNanos) / 1e9;
        if (dt > 0) {
            double inst = (total - lastRateBytes) / dt;
            throughput = throughput == 0 ? inst : 0.5 * throughput + 0.5 * inst;
        }
        lastRateBytes = total;
        lastRateNanos = now;
    }

    public long writes() { return writes.get(); }
    public long shippedBytes() { return shippedBytes.get(); }
    public long appliedBytes() { return appliedBytes.get(); }

    public DiskStatus status() {
        DiskMeta m = meta;
        long bs = dirty.blockSize();
        if (m.role() == Role.PRIMARY) {
            long dirtyBlocks = dirty.dirtyCount();
            // Sent-but-unconfirmed resync data still counts: a crash now would resend it.
            long resync = Math.min(image.size(), dirtyBlocks * bs) + backlog.resyncInflightBytes();
            long lagBytes = backlog.userBytes() + resync;
            long lagBlocks = dirtyBlocks + backlog.userRecords();
            long now = System.nanoTime();
            long since = dirtyBlocks > 0 ? dirtySinceNanos : backlog.oldestNanos();
            double rpo = since < 0 ? 0 : (now - since) / 1e9;
            boolean streaming = backlog.attached();
            boolean inSync = m.mode() == Mode.SYNC && linkUp && streaming && syncFlushed
                    && backlog.isEmpty() && dirtyBlocks == 0;
            return new DiskStatus(name, m.role(), m.mode(), inSync, linkUp, lagBlocks, lagBytes, rpo,
                    throughput, image.size(), resync, m.generation(), m.consistent(), false, 0,
                    peerSilentMillis(), m.lastPromote(), m.fenced());
        }
        PeerView v = peerView;
        boolean b = knownBehind();
        boolean up = sessionUp;
        long cur = currentAtMillis;
        // Without a primary to ask, the replica's own answer: how long since it was last current.
        double rpo = up ? v.rpoSeconds() : !b ? 0 : cur <= 0 ? -1 : (System.currentTimeMillis() - cur) / 1000.0;
        return new DiskStatus(name, m.role(), v.mode() == null ? m.mode() : v.mode(), up && v.inSync() && !b,
                up, v.lagBytes() == 0 ? 0 : (v.lagBytes() + bs - 1) / bs, v.lagBytes(),
                rpo, throughput, image.size(), v.resyncRemainingBytes(), m.generation(), m.consistent(),
                b, lagWrites(), peerSilentMillis(), m.lastPromote(), m.fenced());
    }

    public void close() {
        synchronized (order) {
            saveBitmapQuietly();
            try {
                image.flush();
                DiskMeta m = meta.withCleanShutdown(backlog.isEmpty());
                if (m.role() == Role.REPLICA) {
                    m = m.withBehind(knownBehind()).withCurrentAtMillis(currentAtMillis);
                }
                updateMeta(m);
                if (journal != null) {
                    journal.close();
                }
                image.close();
            } catch (IOException e) {
                LOG.warning(name + ": close: " + e);
            }
        }
    }
}
