package org.wanmig.replication.peer;

import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.zip.CRC32C;

/**
 * Wire format of the peer protocol. Every frame:
 * magic u32 "WMRP" | type u8 | flags u8 | reserved u16 | seq u64 | offset u64 | length u32 |
 * payload[length] | crc32c u32 over everything before it.
 * Lengths are capped before any allocation, so a hostile peer cannot exhaust memory.
 */
public final class PeerCodec {
    public static final int MAGIC = 0x574d5250;
    public static final int HEADER = 28;
    public static final int MAX_PAYLOAD = 32 * 1024 * 1024 + 4096;

    private final DataInputStream in;
    private final DataOutputStream out;
    private final CRC32C rcrc = new CRC32C();
    private final CRC32C wcrc = new CRC32C();
    private final byte[] rhead = new byte[HEADER];
    private final ByteBuffer whead = ByteBuffer.allocate(HEADER);

    public PeerCodec(DataInputStream in, DataOutputStream out) {
        this.in = in;
        this.out = out;
    }

    public PeerFrame read() throws IOException {
        // Check the magic before waiting for a whole header: garbage is rejected at once.
        in.readFully(rhead, 0, 4);
        ByteBuffer h = ByteBuffer.wrap(rhead);
        int magic = h.getInt();
        if (magic != MAGIC) {
            throw new PeerProtocolException("bad frame magic 0x" + Integer.toHexString(magic));
        }
        in.readFully(rhead, 4, HEADER - 4);
        if (magic != MAGIC) {
            throw new PeerProtocolException("bad frame magic 0x" + Integer.toHexString(magic));
        }
        int type = h.get() & 0xff;
        int flags = h.get() & 0xff;
        h.getShort();
        long seq = h.getLong();
        long offset = h.getLong();
        long len = h.getInt() & 0xffffffffL;
        if (len > MAX_PAYLOAD) {
            throw new PeerProtocolException("frame payload " + len + " exceeds limit");
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
        ByteBuffer p = data.duplicate();
        whead.clear();
        whead.putInt(MAGIC).put((byte) type).put((byte) flags).putShort((short) 0).putLong(seq).putLong(offset)
                .putInt(p.remaining());
        wcrc.reset();
        wcrc.update(whead.array(), 0, HEADER);
        wcrc.update(p.duplicate());
        out.write(whead.array(), 0, HEADER);
        if (p.hasArray()) {
            out.write(p.array(), p.arrayOffset() + p.position(), p.remaining());
        } else {
            byte[] tmp = new byte[p.remaining()];
            p.get(tmp);
            out.write(tmp);
        }
        out.writeInt((int) wcrc.getValue());
    }

    public void flush() throws IOException {
        out.flush();
    }

    public boolean inputIdle() throws IOException {
        return in.available() == 0;
    }
}
