package org.wanmig.replication.peer;

/** One peer-protocol message; immutable (payload is never modified after construction). */
public final class PeerFrame {
    public static final int HELLO = 1;
    public static final int CHALLENGE = 2;
    public static final int PROOF = 3;
    public static final int AUTH_OK = 4;
    public static final int ERROR = 5;
    public static final int OPEN = 6;
    public static final int OPEN_OK = 7;
    public static final int WRITE = 8;
    public static final int ZERO = 9;
    public static final int FLUSH = 10;
    public static final int HASH_REQ = 11;
    public static final int HASH_RESP = 12;
    public static final int ACK = 13;
    public static final int STATUS = 14;
    public static final int SET_SYNC_ID = 15;
    public static final int HANDOVER = 16;
    public static final int HANDOVER_ACK = 17;
    /** Answer to OPEN from a copy at a higher generation: the sender is an old primary and must stop. */
    public static final int FENCED = 18;

    /** WRITE/ZERO: the primary's client waits; make it durable before acking. ACK: it is durable. */
    public static final int FLAG_SYNC = 1;
    /** WRITE/ZERO sent by resync rather than the live stream: the replica journals what it overwrites. */
    public static final int FLAG_RESYNC = 2;
    /** FLUSH closing a resync: the replica now holds the primary's state at that point (consistent). */
    public static final int FLAG_RESYNC_END = 4;

    /**
     * WRITE, ZERO and FLUSH payloads start with generation u64 | head u64: the session's generation
     * and the primary's newest sequence number when the frame left (its own plus those queued
     * behind it), so the replica knows its lag from every frame, not from STATUS frames that queue
     * behind data. ZERO then carries length u64, WRITE the data.
     */
    public static final int DATA_PREFIX = 16;

    private final int type;
    private final int flags;
    private final long seq;
    private final long offset;
    private final byte[] payload;

    public PeerFrame(int type, int flags, long seq, long offset, byte[] payload) {
        this.type = type;
        this.flags = flags;
        this.seq = seq;
        this.offset = offset;
        this.payload = payload == null ? new byte[0] : payload;
    }

    public int type() { return type; }
    public int flags() { return flags; }
    public long seq() { return seq; }
    public long offset() { return offset; }
    public byte[] payload() { return payload; }
}
