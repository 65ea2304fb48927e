package org.wanmig.replication.nbd;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.logging.Logger;

import org.wanmig.replication.net.LogSafe;

/** Option haggling of the fixed-newstyle handshake: decides what to answer, codec does the bytes. */
final class NbdHandshake {
    private static final Logger LOG = Logger.getLogger(NbdHandshake.class.getName());

    private final HandshakeCodec codec;
    private final Exports exports;
    private boolean noZeroes;

    NbdHandshake(HandshakeCodec codec, Exports exports) {
        this.codec = codec;
        this.exports = exports;
    }

    static int transmissionFlags(BlockDevice dev) {
        int f = Nbd.TF_HAS_FLAGS | Nbd.TF_SEND_FLUSH | Nbd.TF_SEND_FUA | Nbd.TF_SEND_TRIM
                | Nbd.TF_SEND_WRITE_ZEROES | Nbd.TF_CAN_MULTI_CONN;
        return dev.readOnly() ? f | Nbd.TF_READ_ONLY : f;
    }

    /** Runs the handshake; returns the export to serve, or null if the client aborted. */
    BlockDevice negotiate() throws IOException {
        codec.writeGreeting();
        int clientFlags = codec.readClientFlags();
        if ((clientFlags & ~Nbd.CLIENT_FLAGS_KNOWN) != 0 || (clientFlags & Nbd.FLAG_FIXED_NEWSTYLE) == 0) {
            // The spec requires closing on unknown client flags; we only speak fixed newstyle.
            throw new NbdProtocolException("unsupported client flags 0x" + Integer.toHexString(clientFlags));
        }
        noZeroes = (clientFlags & Nbd.FLAG_NO_ZEROES) != 0;
        while (true) {
            HandshakeCodec.Option o = codec.readOption();
            if (o.data == null) {
                if (o.code == Nbd.OPT_EXPORT_NAME) {
                    throw new NbdProtocolException("oversized export name");
                }
                codec.replyError(o.code, Nbd.REP_ERR_TOO_BIG, "option too long");
                codec.flush();
                continue;
            }
            BlockDevice chosen = handle(o);
            codec.flush();
            if (chosen != null) {
                return chosen;
            }
            if (o.code == Nbd.OPT_ABORT) {
                return null;
            }
        }
    }

    private BlockDevice handle(HandshakeCodec.Option o) throws IOException {
        switch (o.code) {
            case Nbd.OPT_EXPORT_NAME: {
                String name = new String(o.data, StandardCharsets.UTF_8);
                BlockDevice dev = exports.find(name);
                if (dev == null) {
                    // No way to report an error for this option: the spec says close.
                    throw new NbdProtocolException("unknown export '" + LogSafe.escape(name) + "'");
                }
                codec.writeExportNameReply(dev.size(), transmissionFlags(dev), noZeroes);
                return dev;
            }
            case Nbd.OPT_ABORT:
                codec.reply(o.code, Nbd.REP_ACK, new byte[0]);
                return null;
            case Nbd.OPT_LIST:
                if (o.data.length != 0) {
                    codec.replyError(o.code, Nbd.REP_ERR_INVALID, "NBD_OPT_LIST takes no data");
                    return null;
                }
                for (String n : exports.names()) {
                    codec.replyServer(o.code, n);
                }
                codec.reply(o.code, Nbd.REP_ACK, new byte[0]);
                return null;
            case Nbd.OPT_INFO:
            case Nbd.OPT_GO:
                return infoOrGo(o);
            default:
                codec.replyError(o.code, Nbd.REP_ERR_UNSUP, "option " + o.code + " not supported");
                return null;
        }
    }

    private BlockDevice infoOrGo(HandshakeCodec.Option o) throws IOException {
        ByteBuffer b = ByteBuffer.wrap(o.data);
        if (b.remaining() < 6) {
            codec.replyError(o.code, Nbd.REP_ERR_INVALID, "short NBD_OPT_INFO/GO");
            return null;
        }
        long nameLen = b.getInt() & 0xffffffffL;
        if (nameLen > b.remaining() - 2) {
            codec.replyError(o.code, Nbd.REP_ERR_INVALID, "name length exceeds option");
            return null;
        }
        byte[] nameBytes = new byte[(int) nameLen];
        b.get(nameBytes);
        int nInfo = b.getShort() & 0xffff;
        if (b.remaining() != 2 * nInfo) {
            codec.replyError(o.code, Nbd.REP_ERR_INVALID, "information request count mismatch");
            return null;
        }
        boolean wantBlockSize = false;
        boolean wantName = false;
        for (int i = 0; i < nInfo; i++) {
            int t = b.getShort() & 0xffff;
            wantBlockSize |= t == Nbd.INFO_BLOCK_SIZE;
            wantName |= t == Nbd.INFO_NAME;
        }
        String name = new String(nameBytes, StandardCharsets.UTF_8);
        BlockDevice dev = exports.find(name);
        if (dev == null) {
            codec.replyError(o.code, Nbd.REP_ERR_UNKNOWN, "no export named '" + name + "'");
            return null;
        }
        codec.replyInfoExport(o.code, dev.size(), transmissionFlags(dev));
        if (wantBlockSize) {
            codec.replyInfoBlockSize(o.code, 1, 4096, Nbd.MAX_REQUEST_LENGTH);
        }
        if (wantName) {
            codec.replyInfoName(o.code, dev.name());
        }
        codec.reply(o.code, Nbd.REP_ACK, new byte[0]);
        if (o.code == Nbd.OPT_GO) {
            LOG.fine("NBD client selected export " + dev.name());
            return dev;
        }
        return null;
    }
}
