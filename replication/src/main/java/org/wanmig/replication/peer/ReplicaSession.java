package org.wanmig.replication.peer;

import com.fasterxml.jackson.databind.ObjectMapper;
import org.wanmig.replication.core.PeerView;
import org.wanmig.replication.core.ReplicatedDisk;
import org.wanmig.replication.core.ReplicatedWrite;
import org.wanmig.replication.disk.ExtentHasher;
import org.wanmig.replication.net.SafeJson;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * Replica side of one disk's stream: applies frames strictly in sequence order (so the image is a
 * crash-consistent prefix of the primary's writes), answers hash requests, and acknowledges in
 * batches; before acknowledging anything the primary flagged SYNC it forces the image to disk.
 * Resync frames are journaled by the disk before they overwrite; the FLUSH flagged RESYNC_END
 * makes the image consistent again. Every data frame carries the session's generation and the
 * primary's head sequence, from which the disk knows its own lag.
 */
final class ReplicaSession {
    private static final ObjectMapper JSON = SafeJson.MAPPER; // peer payloads are input from the network
    private static final int MAX_HASH_BLOCKS = 4096;
    private static final int ACK_EVERY = 16; // frames; keeps unconfirmed resync data small
    private static final long BATCH_MAX_BYTES = 8 << 20; // resync frames journaled with one fsync

    private final PeerCodec codec;
    private final ReplicatedDisk disk;
    private final long generation;
    private final ExtentHasher hasher = new ExtentHasher();
    private long lastSeq;
    private boolean unacked;
    private boolean needForce;
    private int sinceAck;
    // Resync frames that arrived back to back, applied together (one journal fsync for all of them).
    private final List<ReplicatedWrite> batch = new ArrayList<>();
    private long batchBytes;
    private long batchSeq;
    private long batchHead;

    ReplicaSession(PeerCodec codec, ReplicatedDisk disk, long generation) {
        this.codec = codec;
        this.disk = disk;
        this.generation = generation;
    }

    /** Checks the data prefix and returns the head sequence it carries. */
    private long dataPrefix(PeerFrame f, int minRest) throws PeerProtocolException {
        byte[] p = f.payload();
        if (p.length < PeerFrame.DATA_PREFIX + minRest) {
            throw new PeerProtocolException("data frame type " + f.type() + " too short");
        }
        ByteBuffer b = ByteBuffer.wrap(p);
        long gen = b.getLong();
        long head = b.getLong();
        if (gen != generation) {
            throw new PeerProtocolException("frame of generation " + gen + " in a session of generation " + generation);
        }
        return head;
    }

    void run() throws IOException {
        disk.claimSession(this);
        while (true) {
            PeerFrame f = codec.read();
            disk.peerContact();
            boolean resyncData = (f.type() == PeerFrame.WRITE || f.type() == PeerFrame.ZERO)
                    && (f.flags() & PeerFrame.FLAG_RESYNC) != 0;
            if (!resyncData) {
                applyBatch(); // the stream's order: anything else comes after the batched frames
            }
            switch (f.type()) {
                case PeerFrame.WRITE: {
                    checkSeq(f);
                    long head = dataPrefix(f, 0);
                    int len = f.payload().length - PeerFrame.DATA_PREFIX;
                    checkRange(f.offset(), len);
                    ReplicatedWrite w = ReplicatedWrite.data(f.offset(),
                            ByteBuffer.wrap(f.payload(), PeerFrame.DATA_PREFIX, len), resyncData);
                    noteData(f);
                    write(w, f.seq(), head);
                    break;
                }
                case PeerFrame.ZERO: {
                    checkSeq(f);
                    long head = dataPrefix(f, 8);
                    if (f.payload().length != PeerFrame.DATA_PREFIX + 8) {
                        throw new PeerProtocolException("ZERO frame needs an 8-byte length");
                    }
                    long len = ByteBuffer.wrap(f.payload()).getLong(PeerFrame.DATA_PREFIX);
                    checkRange(f.offset(), len);
                    noteData(f);
                    write(ReplicatedWrite.zeroes(f.offset(), len, resyncData), f.seq(), head);
                    break;
                }
                case PeerFrame.FLUSH: {
                    checkSeq(f);
                    long head = dataPrefix(f, 0);
                    needForce = true;
                    noteData(f);
                    if ((f.flags() & PeerFrame.FLAG_RESYNC_END) != 0) {
                        disk.resyncComplete(this, f.seq(), head);
                    } else {
                        disk.noteApplied(f.seq(), head);
                    }
                    break;
                }
                case PeerFrame.HASH_REQ:
                    answerHashes(f);
                    break;
                case PeerFrame.STATUS:
                    disk.peerStatus(JSON.readValue(f.payload(), PeerView.class));
                    unacked = true; // heartbeat: answer so the primary sees us alive
                    break;
                case PeerFrame.SET_SYNC_ID:
                    disk.flush();
                    disk.setSyncIdFromPeer(new String(f.payload(), StandardCharsets.UTF_8));
                    break;
                case PeerFrame.HANDOVER:
                    disk.flush();
                    disk.handedOver();
                    // The old primary is about to return from demote; our promote must not see a
                    // live session any more, so drop it before confirming.
                    disk.sessionUp(false);
                    ack();
                    codec.write(new PeerFrame(PeerFrame.HANDOVER_ACK, 0, lastSeq, 0, null));
                    codec.flush();
                    return;
                default:
                    throw new PeerProtocolException("unexpected frame type " + f.type() + " on replica stream");
            }
            if (unacked && (++sinceAck >= ACK_EVERY || codec.inputIdle())) {
                ack();
                codec.flush();
            }
        }
    }

    /** Live writes apply at once; resync writes wait in the batch while more are already queued. */
    private void write(ReplicatedWrite w, long seq, long head) throws IOException {
        if (!w.resync()) {
            disk.apply(this, List.of(w));
            disk.noteApplied(seq, head);
            return;
        }
        batch.add(w);
        batchBytes += w.length();
        batchSeq = seq;
        batchHead = head;
        if (batchBytes >= BATCH_MAX_BYTES || codec.inputIdle()) {
            applyBatch();
        }
    }

    private void applyBatch() throws IOException {
        if (batch.isEmpty()) {
            return;
        }
        disk.apply(this, batch);
        disk.noteApplied(batchSeq, batchHead);
        batch.clear();
        batchBytes = 0;
    }

    private void checkSeq(PeerFrame f) throws PeerProtocolException {
        if (f.seq() <= lastSeq) {
            throw new PeerProtocolException("sequence went backwards: " + f.seq() + " after " + lastSeq);
        }
    }

    private void checkRange(long offset, long length) throws PeerProtocolException {
        if (offset < 0 || length < 0 || length > disk.size() || offset > disk.size() - length) {
            throw new PeerProtocolException("range " + offset + "+" + length + " outside disk " + disk.name());
        }
    }

    private void noteData(PeerFrame f) {
        lastSeq = f.seq();
        unacked = true;
        if ((f.flags() & PeerFrame.FLAG_SYNC) != 0) {
            needForce = true;
        }
    }

    private void ack() throws IOException {
        applyBatch(); // never acknowledge what is not written
        int flags = 0;
        if (needForce) {
            disk.flush();
            needForce = false;
            flags = PeerFrame.FLAG_SYNC;
        }
        codec.write(new PeerFrame(PeerFrame.ACK, flags, lastSeq, 0, null));
        unacked = false;
        sinceAck = 0;
    }

    private void answerHashes(PeerFrame f) throws IOException {
        if (f.payload().length != 4) {
            throw new PeerProtocolException("HASH_REQ needs a 4-byte count");
        }
        int count = ByteBuffer.wrap(f.payload()).getInt();
        int bs = disk.dirtyBitmap().blockSize();
        if (count <= 0 || count > MAX_HASH_BLOCKS || f.offset() % bs != 0) {
            throw new PeerProtocolException("bad HASH_REQ count " + count + " offset " + f.offset());
        }
        long start = f.offset();
        if (start < 0 || start >= disk.size()) {
            throw new PeerProtocolException("HASH_REQ offset outside disk");
        }
        count = (int) Math.min(count, (disk.size() - start + bs - 1) / bs);
        ByteBuffer out = ByteBuffer.allocate(count * ExtentHasher.HASH_BYTES);
        ByteBuffer buf = ByteBuffer.allocate(bs);
        for (int i = 0; i < count; i++) {
            long off = start + (long) i * bs;
            buf.clear();
            buf.limit((int) Math.min(bs, disk.size() - off));
            disk.read(off, buf);
            buf.flip();
            out.put(hasher.hash(buf));
        }
        out.flip();
        codec.write(PeerFrame.HASH_RESP, 0, f.seq(), start, out);
        codec.flush();
    }
}
