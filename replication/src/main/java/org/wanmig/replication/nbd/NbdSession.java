package org.wanmig.replication.nbd;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.logging.Level;
import java.util.logging.Logger;

/** Transmission phase for one client: validates each request, runs it on the device, replies. */
final class NbdSession {
    private static final Logger LOG = Logger.getLogger(NbdSession.class.getName());

    private final CommandCodec codec;
    private final BlockDevice dev;
    private byte[] readBuf = new byte[128 * 1024];

    NbdSession(CommandCodec codec, BlockDevice dev) {
        this.codec = codec;
        this.dev = dev;
    }

    void run() throws IOException {
        while (true) {
            CommandCodec.Request r = codec.read();
            if (r == null || r.type == Nbd.CMD_DISC) {
                codec.flush();
                return;
            }
            execute(r);
            codec.flushIfIdle();
        }
    }

    private void execute(CommandCodec.Request r) throws IOException {
        boolean inBounds = r.offset >= 0 && r.length <= dev.size() && r.offset <= dev.size() - r.length;
        if ((r.flags & ~Nbd.CMD_FLAGS_KNOWN) != 0) {
            if (r.type == Nbd.CMD_WRITE) {
                if (r.length > Nbd.MAX_REQUEST_LENGTH) {
                    throw new NbdProtocolException("oversized write with bad flags");
                }
                codec.skipPayload(r.length);
            }
            codec.reply(r.handle, Nbd.EINVAL);
            return;
        }
        boolean fua = (r.flags & Nbd.CMD_FLAG_FUA) != 0;
        switch (r.type) {
            case Nbd.CMD_READ:
                if (r.length > Nbd.MAX_REQUEST_LENGTH) {
                    codec.reply(r.handle, Nbd.EOVERFLOW);
                } else if (!inBounds) {
                    codec.reply(r.handle, Nbd.EINVAL);
                } else {
                    doRead(r);
                }
                return;
            case Nbd.CMD_WRITE:
                if (r.length > Nbd.MAX_REQUEST_LENGTH) {
                    // We refuse to buffer it and cannot resynchronise the stream cheaply: error, then close.
                    codec.reply(r.handle, Nbd.EOVERFLOW);
                    codec.flush();
                    throw new NbdProtocolException("write of " + r.length + " bytes exceeds limit");
                }
                byte[] data = new byte[(int) r.length];
                codec.readPayload(data, data.length);
                if (!inBounds) {
                    codec.reply(r.handle, Nbd.ENOSPC);
                    return;
                }
                run(r, () -> dev.write(r.offset, ByteBuffer.wrap(data), fua));
                return;
            case Nbd.CMD_FLUSH:
                run(r, dev::flush);
                return;
            case Nbd.CMD_TRIM:
                if (!inBounds) {
                    codec.reply(r.handle, Nbd.EINVAL);
                    return;
                }
                run(r, () -> {
                    dev.trim(r.offset, r.length);
                    if (fua) {
                        dev.flush();
                    }
                });
                return;
            case Nbd.CMD_WRITE_ZEROES:
                if (!inBounds) {
                    codec.reply(r.handle, Nbd.ENOSPC);
                    return;
                }
                run(r, () -> dev.writeZeroes(r.offset, r.length, fua));
                return;
            default:
                codec.reply(r.handle, Nbd.EINVAL);
        }
    }

    private interface Op {
        void apply() throws IOException;
    }

    private void run(CommandCodec.Request r, Op op) throws IOException {
        int err = 0;
        try {
            if (dev.readOnly() && r.type != Nbd.CMD_FLUSH) {
                throw new WriteRefusedException(dev.name() + " is read-only");
            }
            op.apply();
        } catch (WriteRefusedException e) {
            err = Nbd.EPERM;
        } catch (IOException e) {
            LOG.log(Level.WARNING, "I/O error on " + dev.name() + ": " + e);
            err = Nbd.EIO;
        }
        codec.reply(r.handle, err);
    }

    private void doRead(CommandCodec.Request r) throws IOException {
        int len = (int) r.length;
        if (readBuf.length < len) {
            readBuf = new byte[len];
        }
        try {
            dev.read(r.offset, ByteBuffer.wrap(readBuf, 0, len));
        } catch (IOException e) {
            codec.reply(r.handle, Nbd.EIO);
            return;
        }
        codec.replyData(r.handle, readBuf, len);
    }
}
