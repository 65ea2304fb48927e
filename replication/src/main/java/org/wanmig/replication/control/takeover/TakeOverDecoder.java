package org.wanmig.replication.control.takeover;

import java.nio.ByteBuffer;

/**
 * Cuts a byte stream into take-over channel frames, whatever the chunks the bytes arrive in. Knows
 * nothing of sockets: the caller feeds what it read. The first byte and the type are checked as
 * soon as they arrive and the length before anything is allocated, so it buffers at most one
 * header and one payload of {@link TakeOverFrame#MAX_PAYLOAD} bytes. After a protocol error it
 * stays failed: the stream cannot be resynchronised.
 */
public final class TakeOverDecoder {
    private enum State { HEADER, PAYLOAD, FAILED }

    private final boolean fromClient;
    private State state = State.HEADER;
    private final byte[] header = new byte[TakeOverFrame.HEADER_BYTES];
    private int headerFill;
    private byte[] payload;
    private int payloadFill;

    private TakeOverDecoder(boolean fromClient) {
        this.fromClient = fromClient;
    }

    /** The agent's side: accepts AUTH, TAKEOVER, PING and CHECK. */
    public static TakeOverDecoder ofClientFrames() {
        return new TakeOverDecoder(true);
    }

    /** The client's side: accepts TOOK_OVER, REFUSED, PONG and WELCOME. */
    public static TakeOverDecoder ofAgentFrames() {
        return new TakeOverDecoder(false);
    }

    /**
     * Consumes bytes of in up to the end of the next frame and returns it, or returns null once in
     * is used up without completing one (the bytes so far are kept). Call again while it returns frames.
     */
    public TakeOverFrame decode(ByteBuffer in) throws TakeOverProtocolException {
        while (true) {
            switch (state) {
                case FAILED:
                    throw new TakeOverProtocolException("the stream broke earlier");
                case HEADER: {
                    if (!in.hasRemaining()) {
                        return null;
                    }
                    byte b = in.get();
                    header[headerFill++] = b;
                    if (headerFill == 1 && b != TakeOverFrame.MAGIC) {
                        throw fail(String.format("bad first byte 0x%02x", b & 0xff));
                    }
                    if (headerFill == 2 && !known(b)) {
                        throw fail(String.format("unknown frame type 0x%02x", b & 0xff));
                    }
                    if (headerFill < TakeOverFrame.HEADER_BYTES) {
                        continue;
                    }
                    int length = ((header[2] & 0xff) << 8) | (header[3] & 0xff);
                    if (length > TakeOverFrame.MAX_PAYLOAD) {
                        throw fail("payload of " + length + " bytes, at most " + TakeOverFrame.MAX_PAYLOAD);
                    }
                    payload = new byte[length];
                    payloadFill = 0;
                    state = State.PAYLOAD;
                    continue;
                }
                case PAYLOAD: {
                    int n = Math.min(in.remaining(), payload.length - payloadFill);
                    in.get(payload, payloadFill, n);
                    payloadFill += n;
                    if (payloadFill < payload.length) {
                        return null;
                    }
                    TakeOverFrame f = TakeOverFrame.owning(header[1], payload);
                    payload = null;
                    headerFill = 0;
                    state = State.HEADER;
                    return f;
                }
                default:
                    throw new IllegalStateException(state.name());
            }
        }
    }

    /** True while part of a frame has arrived and the rest has not (the frame deadline runs). */
    public boolean inFrame() {
        return state == State.PAYLOAD || (state == State.HEADER && headerFill > 0);
    }

    /** Bytes held for the frame in progress (at most a header and one maximal payload). */
    public int buffered() {
        return state == State.PAYLOAD ? TakeOverFrame.HEADER_BYTES + payloadFill
                : state == State.HEADER ? headerFill : 0;
    }

    private boolean known(byte type) {
        return fromClient
                ? type == TakeOverFrame.AUTH || type == TakeOverFrame.TAKEOVER || type == TakeOverFrame.PING
                        || type == TakeOverFrame.CHECK
                : type == TakeOverFrame.TOOK_OVER || type == TakeOverFrame.REFUSED || type == TakeOverFrame.PONG
                        || type == TakeOverFrame.WELCOME || type == TakeOverFrame.READY;
    }

    private TakeOverProtocolException fail(String why) {
        state = State.FAILED;
        payload = null;
        return new TakeOverProtocolException(why);
    }
}
