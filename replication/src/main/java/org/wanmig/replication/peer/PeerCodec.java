package org.wanmig.replication.peer;

import org.wanmig.replication.net.BufferedInput;
import org.wanmig.replication.net.FrameTimer;

import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.zip.CRC32C;

/**
 * Wire format of the peer protocol. Every frame:
 * magic u32 "WMRP" | type u8 | flags u8 | reserved u16 | seq u64 | offset u64 | length u32 |
 * payload[length] | crc32c u32 over everything before it.
 * Lengths are capped before any allocation, so a hostile peer cannot exhaust memory: until the peer
 * has authenticated a payload may have at most {@link #PRE_AUTH_MAX_PAYLOAD} bytes; afterwards the
 * limit is the one negotiated in the handshake (the smaller of the two sides' announcements, the
 * same in both directions), and only WRITE frames may use all of it (HASH_RESP up to
 * {@link #MAX_HASH_RESP_PAYLOAD}, every other type {@link #MAX_CONTROL_PAYLOAD}). Reads and writes
 * are checked against it. A {@link FrameTimer} learns when a frame starts and ends, so a deadline
 * can cover the whole frame rather than each read.
 */
public final class PeerCodec {
    public static final int MAGIC = 0x574d5250;
    public static final int HEADER = 28;
    /**
     * Largest payload a side may announce, and its default announcement: an NBD write of up to
     * 32 MiB travels as one frame.
     */
    public static final int MAX_PAYLOAD = 32 * 1024 * 1024 + 4096;
    /** Before authentication: HELLO, CHALLENGE, PROOF, AUTH_OK and short ERROR texts fit. */
    public static final int PRE_AUTH_MAX_PAYLOAD = 512;
    /** Frames other than WRITE and HASH_RESP (OPEN, STATUS, ZERO, HASH_REQ, ERROR, ...). */
    public static final int MAX_CONTROL_PAYLOAD = 64 * 1024;
    /** HASH_RESP: 32 bytes per extent, at most 4096 extents per request. */
    public static final int MAX_HASH_RESP_PAYLOAD = 4096 * 32;

    private final DataInputStream in;
    private final BufferedInput buffer;
    private final DataOutputStream out;
    private final FrameTimer timer;
    private final CRC32C rcrc = new CRC32C();
    private final CRC32C wcrc = new CRC32C();
    private final byte[] rhead = new byte[HEADER];
    private final ByteBuffer whead = ByteBuffer.allocate(HEADER);
    private volatile int limit;

    /** A codec without deadlines and with the full limits (tests, tools). */
    public PeerCodec(DataInputStream in, DataOutputStream out) {
        this(in, out, FrameTimer.NONE, MAX_PAYLOAD);
    }

    /** A codec whose reads are timed by timer and whose payloads start limited to initialLimit. */
    public PeerCodec(DataInputStream in, DataOutputStream out, FrameTimer timer, int initialLimit) {
        this(in, out, timer, initialLimit, null);
    }

    /**
     * As above; buffer is the buffering stream inside in (or null): {@link #inputIdle()} then answers
     * from it without a system call while it holds bytes.
     */
    public PeerCodec(DataInputStream in, DataOutputStream out, FrameTimer timer, int initialLimit,
                     BufferedInput buffer) {
        this.buffer = buffer;
        this.in = in;
        this.out = out;
        this.timer = timer;
        this.limit = initialLimit;
    }

    /** After authentication: the negotiated payload limit, for reads and writes alike. */
    public void setLimit(int negotiated) {
        this.limit = negotiated;
    }

    /** The payload limit in force: the pre-authentication bound, then the negotiated one. */
    public int limit() {
        return limit;
    }

    /** Largest payload accepted for a frame type under a negotiated limit. */
    public static int limitFor(int type, int limit) {
        switch (type) {
            case PeerFrame.WRITE:
                return limit;
            case PeerFrame.HASH_RESP:
                return Math.min(limit, MAX_HASH_RESP_PAYLOAD);
            default:
                return Math.min(limit, MAX_CONTROL_PAYLOAD);
        }
    }

    public PeerFrame read() throws IOException {
        // Waiting for a frame's first byte is idle time; from then on the frame deadline runs.
        in.readFully(rhead, 0, 1);
        timer.frameStarted();
        try {
            return readRest();
        } finally {
            timer.frameDone();
        }
    }

    private PeerFrame readRest() throws IOException {
        // Check the magic before waiting for a whole header: garbage is rejected at once.
        in.readFully(rhead, 1, 3);
        ByteBuffer h = ByteBuffer.wrap(rhead);
        int magic = h.getInt();
        if (magic != MAGIC) {
            throw new PeerProtocolException("bad frame magic 0x" + Integer.toHexString(magic));
        }
        in.readFully(rhead, 4, HEADER - 4);
        int type = h.get() & 0xff;
        int flags = h.get() & 0xff;
        h.getShort();
        long seq = h.getLong();
        long offset = h.getLong();
        long len = h.getInt() & 0xffffffffL;
        int limit = limitFor(type, this.limit);
        if (len > limit) {
            throw new PeerProtocolException("frame type " + type + " payload " + len + " exceeds limit " + limit);
        }
        byte[] payload = new byte[(int) len];
        in.readFully(payload);
        int crc = in.readInt();
        rcrc.reset();
        rcrc.update(rhead, 0, HEADER);
        rcrc.update(payload, 0, payload.length);
        if ((int) rcrc.getValue() != crc) {
            throw new PeerProtocolException("checksum mismatch on frame type " + type + " seq " + seq);
        }
        return new PeerFrame(type, flags, seq, offset, payload);
    }

    public void write(PeerFrame f) throws IOException {
        write(f.type(), f.flags(), f.seq(), f.offset(), ByteBuffer.wrap(f.payload()));
    }

    /** Writes a frame whose payload is the remaining bytes of data (not consumed). */
    public void write(int type, int flags, long seq, long offset, ByteBuffer data) throws IOException {
        write(type, flags, seq, offset, null, data);
    }

    /**
     * Writes one frame whose payload is the remaining bytes of prefix followed by those of data
     * (neither consumed; prefix may be null). The bytes on the wire are those of a single payload
     * buffer holding both, without copying data into one: a live write is not copied again.
     */
    public void write(int type, int flags, long seq, long offset, ByteBuffer prefix, ByteBuffer data)
            throws IOException {
        ByteBuffer pre = prefix == null ? null : prefix.duplicate();
        ByteBuffer p = data.duplicate();
        long length = (long) p.remaining() + (pre == null ? 0 : pre.remaining());
        int limit = limitFor(type, this.limit);
        if (length > limit) {
            throw new PeerProtocolException("frame type " + type + " payload " + length
                    + " exceeds the negotiated limit " + limit);
        }
        whead.clear();
        whead.putInt(MAGIC).put((byte) type).put((byte) flags).putShort((short) 0).putLong(seq).putLong(offset)
                .putInt((int) length);
        wcrc.reset();
        wcrc.update(whead.array(), 0, HEADER);
        out.write(whead.array(), 0, HEADER);
        if (pre != null) {
            writePart(pre);
        }
        writePart(p);
        out.writeInt((int) wcrc.getValue());
    }

    /** Adds b's remaining bytes to the frame's checksum and sends them. */
    private void writePart(ByteBuffer b) throws IOException {
        wcrc.update(b.duplicate());
        if (b.hasArray()) {
            out.write(b.array(), b.arrayOffset() + b.position(), b.remaining());
        } else {
            byte[] tmp = new byte[b.remaining()];
            b.get(tmp);
            out.write(tmp);
        }
    }

    public void flush() throws IOException {
        out.flush();
    }

    /** True if no input is waiting: answered from the buffer while it holds bytes, else by the socket. */
    public boolean inputIdle() throws IOException {
        if (buffer != null && buffer.buffered() > 0) {
            return false;
        }
        return in.available() == 0;
    }
}
