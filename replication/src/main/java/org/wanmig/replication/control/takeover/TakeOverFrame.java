package org.wanmig.replication.control.takeover;

import java.util.Arrays;

/**
 * One frame of the take-over channel (version 1), either direction. On the wire: byte 0x57 ('W'),
 * the type, the payload length as unsigned 16-bit big-endian, then the payload (at most
 * {@link #MAX_PAYLOAD} bytes). Immutable.
 */
public final class TakeOverFrame {
    public static final byte MAGIC = 0x57;
    public static final int HEADER_BYTES = 4;
    /** Largest payload either side may send; a longer one is a protocol error. */
    public static final int MAX_PAYLOAD = 1024;

    // client -> agent
    /** The agent's control token, UTF-8; the first frame of every connection. */
    public static final byte AUTH = 0x01;
    /** u8 n, disk name (n bytes), u8 m, take-over id (m bytes, 0 = unnamed). */
    public static final byte TAKEOVER = 0x02;
    /** Empty; answered PONG. */
    public static final byte PING = 0x03;
    /**
     * As TAKEOVER (the id is not used), changing nothing: answered READY if the disk could take
     * over now, else REFUSED as TAKEOVER would be. Asked before the move, it takes the take-over's
     * own path on both ends (parse, the agent's checks, the answer), so that the call inside the
     * pause is not the first of its kind in either process.
     */
    public static final byte CHECK = 0x04;

    // agent -> client
    /** u64 generation, then the role name UTF-8. */
    public static final byte TOOK_OVER = (byte) 0x81;
    /** u16 status (HTTP's codes: 400, 401, 404, 409, 500, 503), then a message UTF-8 of at most 512 bytes. */
    public static final byte REFUSED = (byte) 0x82;
    public static final byte PONG = (byte) 0x83;
    public static final byte WELCOME = (byte) 0x84;
    /** The answer to CHECK: as TOOK_OVER (u64 generation, then the role name), the disk unchanged. */
    public static final byte READY = (byte) 0x85;

    private final byte type;
    private final byte[] payload;

    private TakeOverFrame(byte type, byte[] payload) {
        this.type = type;
        this.payload = payload;
    }

    /** A frame holding a copy of payload. */
    public static TakeOverFrame of(byte type, byte[] payload) {
        if (payload.length > MAX_PAYLOAD) {
            throw new IllegalArgumentException("payload of " + payload.length + " bytes, at most " + MAX_PAYLOAD);
        }
        return new TakeOverFrame(type, payload.clone());
    }

    /** For the decoder, which hands over an array nobody else holds. */
    static TakeOverFrame owning(byte type, byte[] payload) {
        return new TakeOverFrame(type, payload);
    }

    public byte type() {
        return type;
    }

    /** A copy of the payload. */
    public byte[] payload() {
        return payload.clone();
    }

    public int payloadLength() {
        return payload.length;
    }

    /** The payload itself, for this package's parsers (which do not keep or change it). */
    byte[] payloadView() {
        return payload;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof TakeOverFrame && ((TakeOverFrame) o).type == type
                && Arrays.equals(((TakeOverFrame) o).payload, payload);
    }

    @Override
    public int hashCode() {
        return 31 * type + Arrays.hashCode(payload);
    }

    @Override
    public String toString() {
        return String.format("TakeOverFrame[type=0x%02x, %d bytes]", type & 0xff, payload.length);
    }
}
