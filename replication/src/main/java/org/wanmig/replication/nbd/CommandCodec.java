package org.wanmig.replication.nbd;

import org.wanmig.replication.net.FrameTimer;

import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;

/** Byte layout of transmission-phase requests and simple replies. */
final class CommandCodec {
    /** One request header; immutable. */
    static final class Request {
        final int flags;
        final int type;
        final long handle;
        final long offset;
        final long length;

        Request(int flags, int type, long handle, long offset, long length) {
            this.flags = flags;
            this.type = type;
            this.handle = handle;
            this.offset = offset;
            this.length = length;
        }
    }

    private final DataInputStream in;
    private final DataOutputStream out;

    private final BufferedSocketInput buffered;
    private final FrameTimer timer;

    CommandCodec(DataInputStream in, DataOutputStream out, BufferedSocketInput buffered) {
        this(in, out, buffered, FrameTimer.NONE);
    }

    /** timer: a request's header and its payload must each arrive within the request deadline. */
    CommandCodec(DataInputStream in, DataOutputStream out, BufferedSocketInput buffered, FrameTimer timer) {
        this.in = in;
        this.out = out;
        this.buffered = buffered;
        this.timer = timer;
    }

    /** Next request header, or null on clean EOF between requests. */
    Request read() throws IOException {
        int first = in.read();
        if (first < 0) {
            return null;
        }
        timer.frameStarted();
        try {
            return readHeader(first);
        } finally {
            timer.frameDone();
        }
    }

    private Request readHeader(int first) throws IOException {
        int magic = (first << 24) | (in.readUnsignedByte() << 16) | (in.readUnsignedByte() << 8) | in.readUnsignedByte();
        if (magic != Nbd.REQUEST_MAGIC) {
            // Framing is lost; the spec says the server must close.
            throw new NbdProtocolException("bad request magic 0x" + Integer.toHexString(magic));
        }
        int flags = in.readUnsignedShort();
        int type = in.readUnsignedShort();
        long handle = in.readLong();
        long offset = in.readLong();
        long length = in.readInt() & 0xffffffffL;
        return new Request(flags, type, handle, offset, length);
    }

    void readPayload(byte[] dst, int len) throws IOException {
        timer.frameStarted();
        try {
            in.readFully(dst, 0, len);
        } finally {
            timer.frameDone();
        }
    }

    void skipPayload(long len) throws IOException {
        timer.frameStarted();
        try {
            Nbd.skipFully(in, len);
        } finally {
            timer.frameDone();
        }
    }

    void reply(long handle, int error) throws IOException {
        out.writeInt(Nbd.SIMPLE_REPLY_MAGIC);
        out.writeInt(error);
        out.writeLong(handle);
    }

    void replyData(long handle, byte[] data, int len) throws IOException {
        reply(handle, 0);
        out.write(data, 0, len);
    }

    /** Flushes replies once the client has nothing more queued (batches pipelined replies). */
    void flushIfIdle() throws IOException {
        // A buffered request header means the client pipelines: reply later, in one segment.
        // Only when nothing is buffered ask the kernel (an ioctl) whether more is on its way.
        if (buffered.buffered() < 28 && in.available() == 0) {
            out.flush();
        }
    }

    void flush() throws IOException {
        out.flush();
    }
}
