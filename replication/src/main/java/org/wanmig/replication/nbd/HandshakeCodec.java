package org.wanmig.replication.nbd;

import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;

/** Byte layout of the fixed-newstyle handshake (no decisions here; see NbdHandshake). */
final class HandshakeCodec {
    /** One client option: immutable. */
    static final class Option {
        final int code;
        final byte[] data;

        Option(int code, byte[] data) {
            this.code = code;
            this.data = data;
        }
    }

    private final DataInputStream in;
    private final DataOutputStream out;

    HandshakeCodec(DataInputStream in, DataOutputStream out) {
        this.in = in;
        this.out = out;
    }

    void writeGreeting() throws IOException {
        out.writeLong(Nbd.NBDMAGIC);
        out.writeLong(Nbd.IHAVEOPT);
        out.writeShort(Nbd.FLAG_FIXED_NEWSTYLE | Nbd.FLAG_NO_ZEROES);
        out.flush();
    }

    int readClientFlags() throws IOException {
        return in.readInt();
    }

    /** Reads an option; an oversized one is skipped and returned with null data. */
    Option readOption() throws IOException {
        long magic = in.readLong();
        if (magic != Nbd.IHAVEOPT) {
            throw new NbdProtocolException("bad option magic " + Long.toHexString(magic));
        }
        int code = in.readInt();
        long len = in.readInt() & 0xffffffffL;
        if (len > Nbd.MAX_OPTION_LENGTH) {
            if (len > 16L * Nbd.MAX_OPTION_LENGTH) {
                throw new NbdProtocolException("option length " + len + " absurd");
            }
            Nbd.skipFully(in, len);
            return new Option(code, null);
        }
        byte[] data = new byte[(int) len];
        in.readFully(data);
        return new Option(code, data);
    }

    void reply(int option, int type, byte[] data) throws IOException {
        out.writeLong(Nbd.REPLY_MAGIC);
        out.writeInt(option);
        out.writeInt(type);
        out.writeInt(data.length);
        out.write(data);
    }

    void replyError(int option, int type, String message) throws IOException {
        reply(option, type, message.getBytes(StandardCharsets.UTF_8));
    }

    void replyServer(int option, String name) throws IOException {
        byte[] n = name.getBytes(StandardCharsets.UTF_8);
        byte[] d = new byte[4 + n.length];
        d[0] = (byte) (n.length >>> 24);
        d[1] = (byte) (n.length >>> 16);
        d[2] = (byte) (n.length >>> 8);
        d[3] = (byte) n.length;
        System.arraycopy(n, 0, d, 4, n.length);
        reply(option, Nbd.REP_SERVER, d);
    }

    void replyInfoExport(int option, long size, int flags) throws IOException {
        java.nio.ByteBuffer b = java.nio.ByteBuffer.allocate(12);
        b.putShort((short) Nbd.INFO_EXPORT).putLong(size).putShort((short) flags);
        reply(option, Nbd.REP_INFO, b.array());
    }

    void replyInfoBlockSize(int option, int min, int preferred, int max) throws IOException {
        java.nio.ByteBuffer b = java.nio.ByteBuffer.allocate(14);
        b.putShort((short) Nbd.INFO_BLOCK_SIZE).putInt(min).putInt(preferred).putInt(max);
        reply(option, Nbd.REP_INFO, b.array());
    }

    void replyInfoName(int option, String name) throws IOException {
        byte[] n = name.getBytes(StandardCharsets.UTF_8);
        java.nio.ByteBuffer b = java.nio.ByteBuffer.allocate(2 + n.length);
        b.putShort((short) Nbd.INFO_NAME).put(n);
        reply(option, Nbd.REP_INFO, b.array());
    }

    /** Old-style NBD_OPT_EXPORT_NAME answer (no reply header). */
    void writeExportNameReply(long size, int flags, boolean noZeroes) throws IOException {
        out.writeLong(size);
        out.writeShort(flags);
        if (!noZeroes) {
            out.write(new byte[124]);
        }
    }

    void flush() throws IOException {
        out.flush();
    }
}
