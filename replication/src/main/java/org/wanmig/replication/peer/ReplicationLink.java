package org.wanmig.replication.peer;

import com.fasterxml.jackson.databind.ObjectMapper;
import org.wanmig.replication.core.PeerView;
import org.wanmig.replication.core.ReplicatedDisk;
import org.wanmig.replication.core.Role;
import org.wanmig.replication.core.WriteRecord;
import org.wanmig.replication.disk.DirtyBitmap;
import org.wanmig.replication.disk.ExtentHasher;
import org.wanmig.replication.net.SafeJson;

import java.io.Closeable;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * Primary side of one disk's replication: connects to the peer agent, authenticates, resyncs what
 * the dirty bitmap (or a hash comparison) says the replica lacks, then streams the backlog in order.
 * Any failure drops the connection; unacknowledged data goes back to the dirty bitmap and the link
 * reconnects with backoff while the disk keeps serving NBD.
 */
public final class ReplicationLink implements Closeable {
    private static final Logger LOG = Logger.getLogger(ReplicationLink.class.getName());
    private static final ObjectMapper JSON = SafeJson.MAPPER; // peer payloads are input from the network
    private static final int HASH_CHUNK_BLOCKS = 64;
    private static final int HASH_PIPELINE = 4;
    private static final CompletableFuture<byte[]> NO_HASHES = CompletableFuture.completedFuture(null);
    private static final long STATUS_INTERVAL_MS = 250;
    private static final long ASYNC_LINGER_NANOS = 200_000;
    private static final int SEND_BATCH = 64; // records taken from the backlog under one lock

    private final ReplicatedDisk disk;
    private final InetSocketAddress peer;
    private final PeerTransport transport;
    private final Thread thread;
    private final Map<Long, CompletableFuture<byte[]>> hashWaiters = new ConcurrentHashMap<>();
    /** Generation and head in front of a live WRITE; used by the link thread only. */
    private final ByteBuffer streamPrefix = ByteBuffer.allocate(PeerFrame.DATA_PREFIX);
    private volatile boolean stopped;
    private volatile Socket socket;
    private volatile CompletableFuture<Boolean> handover;
    private volatile CompletableFuture<Void> handoverAck;

    public ReplicationLink(ReplicatedDisk disk, InetSocketAddress peer, byte[] psk) {
        this(disk, peer, PeerTransport.psk(psk));
    }

    public ReplicationLink(ReplicatedDisk disk, InetSocketAddress peer, PeerTransport transport) {
        this.disk = disk;
        this.peer = peer;
        this.transport = transport;
        this.thread = new Thread(this::run, "repl-link-" + disk.name());
        thread.setDaemon(true);
    }

    public void start() {
        thread.start();
    }

    private void run() {
        long backoff = 100;
        while (!stopped && disk.role() == Role.PRIMARY) {
            boolean reachedStreaming = false;
            try {
                reachedStreaming = session();
            } catch (IOException | TimeoutException | ExecutionException e) {
                if (!stopped) {
                    LOG.log(Level.INFO, disk.name() + ": peer link to " + peer + " down: " + e);
                }
            } catch (RuntimeException e) {
                // A bug, not a network problem: say so loudly, then retry like any other failure.
                LOG.log(Level.SEVERE, disk.name() + ": replication link failed unexpectedly", e);
            } catch (InterruptedException e) {
                break;
            } finally {
                closeSocket();
                disk.detach();
                failWaiters();
            }
            if (stopped) {
                break;
            }
            backoff = reachedStreaming ? 100 : Math.min(2000, backoff * 2);
            try {
                for (long slept = 0; slept < backoff && !stopped; slept += 20) {
                    Thread.sleep(20);
                }
            } catch (InterruptedException e) {
                break;
            }
        }
        CompletableFuture<Boolean> h = handover;
        if (h != null) {
            h.complete(false);
        }
    }

    /** One connection lifetime; returns true if it got as far as streaming. */
    private boolean session() throws IOException, InterruptedException, TimeoutException, ExecutionException {
        Socket s = new Socket();
        socket = s;
        if (stopped) {
            throw new IOException("stopped");
        }
        s.setSendBufferSize(4 << 20);
        s.setReceiveBufferSize(1 << 20);
        PeerTransport.Connection conn = transport.connect(s, peer, 5000); // TLS if configured, authenticated
        PeerCodec hs = conn.codec();
        disk.awaitMetaDurable(); // the generation leaves only once it is durable (a take-over persists it after answering)
        hs.write(new PeerFrame(PeerFrame.OPEN, 0, 0, 0,
                JSON.writeValueAsBytes(new OpenMessage(disk.name(), disk.size(), disk.syncId(), disk.generation()))));
        hs.flush();
        PeerFrame reply = hs.read();
        if (reply.type() == PeerFrame.FENCED) {
            // The peer was promoted while we were away: we are an old primary and must stop.
            long newer = JSON.readValue(reply.payload(), OpenMessage.class).generation();
            if (disk.fenceByGeneration(newer) != null || disk.role() != Role.PRIMARY) {
                throw new IOException("fenced: peer is at generation " + newer);
            }
            throw new PeerProtocolException("peer claims generation " + newer + ", not above ours");
        }
        if (reply.type() == PeerFrame.ERROR) {
            throw new PeerProtocolException("peer refused " + disk.name() + ": "
                    + org.wanmig.replication.net.LogSafe.escape(reply.payload()));
        }
        if (reply.type() != PeerFrame.OPEN_OK) {
            throw new PeerProtocolException("expected OPEN_OK, got " + reply.type());
        }
        PeerCodec c = conn.established(64 * 1024, 1 << 20);
        OpenMessage peerOpen = JSON.readValue(reply.payload(), OpenMessage.class);
        boolean sameContent = !peerOpen.syncId().isEmpty() && peerOpen.syncId().equals(disk.syncId());
        DirtyBitmap dirty = disk.dirtyBitmap();
        if (!sameContent && !dirty.compareMode()) {
            // Unknown replica content: compare everything (resumes from the saved bitmap if interrupted).
            LOG.info(disk.name() + ": replica identity differs, full hash-compare sync");
            disk.markAllForCompare();
        }
        // Wire sequence numbers keep growing across sessions, so a late ACK from a dead
        // connection can never release a record of the new one.
        disk.linkUp(true);
        LOG.info(disk.name() + ": peer link up to " + peer + ", " + dirty.dirtyCount() + " blocks to resync");

        Thread reader = new Thread(() -> readAcks(c), "repl-acks-" + disk.name());
        reader.setDaemon(true);
        reader.start();
        Thread watch = new Thread(() -> watchAcks(s), "repl-ack-watch-" + disk.name());
        watch.setDaemon(true);
        watch.start();

        resync(c, dirty);
        // The end marker: everything sent so far makes the replica equal to us as of tryAttach.
        WriteRecord barrier = new WriteRecord(WriteRecord.Kind.FLUSH, 0, 0, null, true);
        long bseq = disk.backlog().addInflight(barrier);
        c.write(PeerFrame.FLUSH, PeerFrame.FLAG_SYNC | PeerFrame.FLAG_RESYNC_END, bseq, 0,
                prefix(0, bseq + disk.backlog().queuedRecords()).flip());
        if (!sameContent) {
            // After the barrier the replica holds our content: give it our identity.
            c.write(new PeerFrame(PeerFrame.SET_SYNC_ID, 0, 0, 0, disk.syncId().getBytes(StandardCharsets.UTF_8)));
        }
        c.flush();
        LOG.info(disk.name() + ": resync complete, streaming");
        stream(c);
        return true;
    }

    /** Passes over the dirty bitmap until it is empty and the disk switched to streaming. */
    private void resync(PeerCodec c, DirtyBitmap dirty) throws IOException, InterruptedException,
            TimeoutException, ExecutionException {
        long total = dirty.dirtyCount();
        long sent = 0;
        long skipped = 0;
        int lastPct = -1;
        long lastStatus = 0;
        ExtentHasher hasher = new ExtentHasher();
        Run run = new Run();
        while (!disk.tryAttach()) {
            checkRunning();
            boolean compare = dirty.compareMode();
            // Chunks whose hashes were requested, oldest first: keeps HASH_PIPELINE round trips in flight.
            ArrayDeque<long[]> chunks = new ArrayDeque<>();
            ArrayDeque<CompletableFuture<byte[]>> pending = new ArrayDeque<>();
            long nextStart = dirty.nextSet(0);
            while (true) {
                checkRunning();
                while (nextStart >= 0 && chunks.size() < (compare ? HASH_PIPELINE : 1)) {
                    chunks.addLast(new long[]{nextStart});
                    pending.addLast(compare ? requestHashes(c, nextStart) : NO_HASHES); // deque takes no nulls
                    nextStart = dirty.nextSet(Math.min(dirty.blocks(), nextStart + HASH_CHUNK_BLOCKS));
                }
                if (chunks.isEmpty()) {
                    break;
                }
                long start = chunks.pollFirst()[0];
                CompletableFuture<byte[]> hashes = pending.pollFirst();
                long end = Math.min(dirty.blocks(), start + HASH_CHUNK_BLOCKS);
                byte[] remote = compare ? hashes.get(120, TimeUnit.SECONDS) : null;
                for (long b = start; b < end; b++) {
                    if (!dirty.clear(b)) {
                        run.flush(c);
                        continue;
                    }
                    boolean handled = false;
                    try {
                        byte[] rh = remote == null ? null : Arrays.copyOfRange(remote,
                                (int) (b - start) * ExtentHasher.HASH_BYTES,
                                (int) (b - start + 1) * ExtentHasher.HASH_BYTES);
                        if (sendBlock(c, hasher, b, rh, run)) {
                            sent++;
                        } else {
                            skipped++;
                        }
                        handled = true;
                    } finally {
                        if (!handled) {
                            // The link failed while this block was cleared but neither sent nor in
                            // flight (e.g. a flush of the run before it threw): it is still owed,
                            // and so are the blocks kept in the run. Without this they were lost.
                            disk.markDirty(b * dirty.blockSize(), dirty.blockSize());
                            run.abandon();
                        }
                    }
                }
                run.flush(c);
                if (total > 0) {
                    int pct = (int) (100 * Math.min(total, sent + skipped) / total);
                    if (pct / 10 != lastPct / 10) {
                        LOG.info(disk.name() + ": resync " + pct + "% (" + sent + " blocks sent, " + skipped
                                + " equal or zero skipped)");
                        lastPct = pct;
                    }
                }
                if (System.currentTimeMillis() - lastStatus > STATUS_INTERVAL_MS) {
                    sendStatus(c);
                    lastStatus = System.currentTimeMillis();
                }
            }
            c.flush();
        }
    }

    private CompletableFuture<byte[]> requestHashes(PeerCodec c, long startBlock) throws IOException {
        long count = Math.min(HASH_CHUNK_BLOCKS, disk.dirtyBitmap().blocks() - startBlock);
        long seq = disk.backlog().nextSeq();
        CompletableFuture<byte[]> f = new CompletableFuture<>();
        hashWaiters.put(seq, f);
        ByteBuffer p = ByteBuffer.allocate(4).putInt((int) count);
        p.flip();
        c.write(PeerFrame.HASH_REQ, 0, seq, startBlock * disk.dirtyBitmap().blockSize(), p);
        c.flush();
        return f;
    }

    /**
     * Contiguous data blocks are coalesced into one WRITE frame of up to RUN_MAX bytes: fewer
     * frames, acks and syscalls per byte during a full sync. Blocks are read straight into the
     * run's buffer; one that turns out not to need sending is dropped again by rewinding.
     */
    private final class Run {
        private static final int RUN_MAX = 1 << 20;
        // Room for the data prefix in front, so the run goes out without another copy.
        private final ByteBuffer buf = ByteBuffer.allocate(PeerFrame.DATA_PREFIX + RUN_MAX)
                .position(PeerFrame.DATA_PREFIX);
        private long offset = -1;

        /** A slice of the run buffer holding len bytes read at off (flushing first if not contiguous). */
        ByteBuffer read(PeerCodec c, long off, int len) throws IOException {
            if (offset >= 0 && (offset + buf.position() - PeerFrame.DATA_PREFIX != off || buf.remaining() < len)) {
                flush(c);
            }
            ByteBuffer slice = buf.duplicate();
            slice.limit(slice.position() + len);
            disk.read(off, slice);
            slice.flip();
            slice.position(buf.position());
            return slice;
        }

        void keep(long off, int len) {
            if (offset < 0) {
                offset = off;
            }
            buf.position(buf.position() + len);
        }

        /** The link failed: blocks kept here but not yet sent go back to the dirty bitmap. */
        void abandon() {
            if (offset >= 0) {
                disk.markDirty(offset, buf.position() - PeerFrame.DATA_PREFIX);
            }
            buf.clear();
            buf.position(PeerFrame.DATA_PREFIX);
            offset = -1;
        }

        void flush(PeerCodec c) throws IOException {
            if (offset < 0) {
                return;
            }
            WriteRecord r = new WriteRecord(WriteRecord.Kind.RESYNC_BLOCK, offset,
                    buf.position() - PeerFrame.DATA_PREFIX, null, false);
            long seq = disk.backlog().addInflight(r);
            ByteBuffer out = buf.duplicate();
            out.flip();
            out.putLong(0, disk.generation()).putLong(8, seq);
            c.write(PeerFrame.WRITE, PeerFrame.FLAG_RESYNC, seq, offset, out);
            buf.clear();
            buf.position(PeerFrame.DATA_PREFIX);
            offset = -1;
        }
    }

    /**
     * Sends one block unless the replica already has it (remoteHash given and equal). Zero blocks
     * travel as a ZERO frame without payload. Returns true if something was sent.
     */
    private boolean sendBlock(PeerCodec c, ExtentHasher hasher, long block, byte[] remoteHash, Run run)
            throws IOException {
        int bs = disk.dirtyBitmap().blockSize();
        long off = block * bs;
        int len = (int) Math.min(bs, disk.size() - off);
        ByteBuffer data = run.read(c, off, len);
        boolean zero = ExtentHasher.isAllZero(data);
        if (remoteHash != null
                && (zero ? ExtentHasher.isZeroMarker(remoteHash) : Arrays.equals(hasher.hash(data), remoteHash))) {
            run.flush(c);
            return false;
        }
        if (zero) {
            run.flush(c);
            WriteRecord r = new WriteRecord(WriteRecord.Kind.RESYNC_BLOCK, off, len, null, false);
            long seq = disk.backlog().addInflight(r);
            c.write(PeerFrame.ZERO, PeerFrame.FLAG_RESYNC, seq, off, prefix(8, seq).putLong(len).flip());
        } else {
            run.keep(off, len);
        }
        return true;
    }

    /** Live stream: backlog records in order; status heartbeats; handover when asked. */
    private void stream(PeerCodec c) throws IOException, InterruptedException {
        long lastStatus = 0;
        List<WriteRecord> batch = new ArrayList<>(SEND_BATCH);
        while (true) {
            checkRunning();
            batch.clear();
            disk.backlog().takeBatch(batch, SEND_BATCH, 50);
            for (WriteRecord r : batch) {
                int flags = r.sync() ? PeerFrame.FLAG_SYNC : 0;
                long head = r.headSeq();
                switch (r.kind()) {
                    case WRITE:
                        // Prefix and data go out as one frame; the write itself is not copied again.
                        streamPrefix.clear();
                        streamPrefix.putLong(disk.generation()).putLong(head).flip();
                        c.write(PeerFrame.WRITE, flags, r.wireSeq(), r.offset(), streamPrefix, r.data());
                        break;
                    case ZERO:
                        c.write(PeerFrame.ZERO, flags, r.wireSeq(), r.offset(), prefix(8, head).putLong(r.length()).flip());
                        break;
                    default:
                        c.write(PeerFrame.FLUSH, PeerFrame.FLAG_SYNC, r.wireSeq(), 0, prefix(0, head).flip());
                }
                // head == wireSeq: nothing was queued behind this record when it was taken (known
                // without taking the backlog's lock again). Otherwise the next one follows at once.
                if (head == r.wireSeq()) {
                    if (r.sync()) {
                        c.flush(); // a writer waits for this ack; one that raced in just flushes early
                    } else {
                        // ASYNC: linger briefly so a burst of small writes leaves in one segment;
                        // costs replication lag in microseconds, saves syscalls and wakeups on both ends.
                        java.util.concurrent.locks.LockSupport.parkNanos(ASYNC_LINGER_NANOS);
                        if (!disk.backlog().hasQueued()) {
                            c.flush();
                        }
                    }
                }
            }
            long now = System.currentTimeMillis();
            if (now - lastStatus > STATUS_INTERVAL_MS) {
                sendStatus(c);
                c.flush();
                lastStatus = now;
            }
            CompletableFuture<Boolean> h = handover;
            if (h != null && !h.isDone() && disk.backlog().isEmpty()) {
                CompletableFuture<Void> ack = new CompletableFuture<>();
                handoverAck = ack;
                c.write(new PeerFrame(PeerFrame.HANDOVER, 0, 0, 0, null));
                c.flush();
                try {
                    ack.get(10, TimeUnit.SECONDS);
                    h.complete(true);
                } catch (ExecutionException | TimeoutException e) {
                    h.complete(false);
                }
                return;
            }
        }
    }

    /** A buffer starting with the data prefix (generation, head), with room for extra more bytes. */
    private ByteBuffer prefix(int extra, long head) {
        return ByteBuffer.allocate(PeerFrame.DATA_PREFIX + extra).putLong(disk.generation()).putLong(head);
    }

    private void sendStatus(PeerCodec c) throws IOException {
        c.write(new PeerFrame(PeerFrame.STATUS, 0, 0, 0, JSON.writeValueAsBytes(PeerView.of(disk.status()))));
    }

    private void readAcks(PeerCodec c) {
        try {
            while (true) {
                PeerFrame f = c.read();
                disk.peerContact();
                switch (f.type()) {
                    case PeerFrame.ACK:
                        disk.acked(disk.backlog().ack(f.seq()), (f.flags() & PeerFrame.FLAG_SYNC) != 0);
                        break;
                    case PeerFrame.HASH_RESP: {
                        CompletableFuture<byte[]> w = hashWaiters.remove(f.seq());
                        if (w == null) {
                            throw new PeerProtocolException("unexpected HASH_RESP seq " + f.seq());
                        }
                        w.complete(f.payload());
                        break;
                    }
                    case PeerFrame.HANDOVER_ACK: {
                        CompletableFuture<Void> a = handoverAck;
                        if (a != null) {
                            a.complete(null);
                        }
                        break;
                    }
                    case PeerFrame.ERROR:
                        throw new PeerProtocolException("peer error: " + org.wanmig.replication.net.LogSafe.escape(f.payload()));
                    default:
                        throw new PeerProtocolException("unexpected frame type " + f.type() + " from replica");
                }
            }
        } catch (IOException e) {
            if (!stopped) {
                LOG.fine(disk.name() + ": ack reader ends: " + e);
            }
            closeSocket(); // makes the sender fail too, so the session is torn down once
            failWaiters(); // a resync blocked on hashes must not wait out its 120 s timeout
        }
    }

    /**
     * A link that died silently (a WAN link down: TCP notices nothing for minutes, and the peer's
     * idle deadline is 30 s) would hold every synchronous write that long. When the oldest write
     * still unacknowledged has waited longer than the ack timeout and nothing at all came from
     * the peer meanwhile, the link is declared dead: the socket is closed, the session ends, and
     * what the peer did not acknowledge goes back to the dirty bitmap, so the waiting writes
     * complete locally and are resynchronised when the peer returns (DRBD's timeout, likewise).
     */
    private void watchAcks(Socket s) {
        long timeoutMs = transport.limits().ackTimeoutMs();
        while (!stopped && socket == s && !s.isClosed()) {
            try {
                Thread.sleep(Math.min(100, timeoutMs / 4));
            } catch (InterruptedException e) {
                return;
            }
            long oldest = disk.backlog().oldestNanos();
            long waitedMs = oldest < 0 ? 0 : (System.nanoTime() - oldest) / 1_000_000;
            long silentMs = disk.peerSilentMillis();
            if (waitedMs > timeoutMs && silentMs > timeoutMs && socket == s) {
                LOG.warning(disk.name() + ": peer " + peer + " acknowledged nothing for " + silentMs + " ms with a"
                        + " write waiting " + waitedMs + " ms: link declared dead; writes go on here and are"
                        + " resynchronised when it returns");
                closeSocket();
                failWaiters();
                return;
            }
        }
    }

    private void checkRunning() throws IOException {
        Socket s = socket;
        if (stopped || s == null || s.isClosed()) {
            throw new IOException("link closed");
        }
        if (disk.role() != Role.PRIMARY) {
            throw new IOException("no longer primary");
        }
    }

    private void closeSocket() {
        Socket s = socket;
        if (s != null) {
            try {
                s.close();
            } catch (IOException ignored) {
                // already closing
            }
        }
    }

    private void failWaiters() {
        for (CompletableFuture<byte[]> w : hashWaiters.values()) {
            w.completeExceptionally(new IOException("link closed"));
        }
        hashWaiters.clear();
        CompletableFuture<Void> a = handoverAck;
        if (a != null) {
            a.completeExceptionally(new IOException("link closed"));
        }
    }

    /**
     * Planned role reversal: waits (up to timeoutMs) until the replica has everything, tells it so,
     * and stops the link. Returns true if the replica confirmed it is fully caught up.
     * The caller must have fenced new writes first.
     */
    public boolean handOver(long timeoutMs) throws InterruptedException {
        CompletableFuture<Boolean> h = new CompletableFuture<>();
        handover = h;
        boolean ok;
        try {
            ok = h.get(timeoutMs, TimeUnit.MILLISECONDS);
        } catch (ExecutionException | TimeoutException e) {
            ok = false;
        }
        close();
        return ok;
    }

    @Override
    public void close() {
        stopped = true;
        closeSocket();
        // No interrupt: it would close the image's FileChannel if the thread is mid-read.
        try {
            thread.join(5000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
