package org.wanmig.replication.control.takeover;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;

/**
 * Whole frames as bytes, ready for one write: the agent's answers, and the client's requests (for
 * the MMS side and tests).
 */
public final class TakeOverEncoder {
    /** A REFUSED message is cut to this many bytes (on a character boundary). */
    public static final int MAX_MESSAGE_BYTES = 512;

    private TakeOverEncoder() {
    }

    public static byte[] frame(byte type, byte[] payload) {
        if (payload.length > TakeOverFrame.MAX_PAYLOAD) {
            throw new IllegalArgumentException("payload of " + payload.length + " bytes, at most "
                    + TakeOverFrame.MAX_PAYLOAD);
        }
        return ByteBuffer.allocate(TakeOverFrame.HEADER_BYTES + payload.length)
                .put(TakeOverFrame.MAGIC).put(type).putShort((short) payload.length).put(payload).array();
    }

    // ---- agent -> client

    /** READY, the answer to CHECK: the disk's generation and role, as they are. */
    public static byte[] ready(long generation, String role) {
        return status(TakeOverFrame.READY, generation, role);
    }

    /** TOOK_OVER: the generation the disk is primary at, and its role. */
    public static byte[] tookOver(long generation, String role) {
        return status(TakeOverFrame.TOOK_OVER, generation, role);
    }

    private static byte[] status(byte type, long generation, String role) {
        byte[] r = role.getBytes(StandardCharsets.UTF_8);
        return frame(type, ByteBuffer.allocate(8 + r.length).putLong(generation).put(r).array());
    }

    /** REFUSED with an HTTP-like status and a message (cut to {@link #MAX_MESSAGE_BYTES}). */
    public static byte[] refused(int status, String message) {
        byte[] m = utf8Prefix(message == null ? "" : message, MAX_MESSAGE_BYTES);
        return frame(TakeOverFrame.REFUSED, ByteBuffer.allocate(2 + m.length).putShort((short) status).put(m).array());
    }

    public static byte[] pong() {
        return frame(TakeOverFrame.PONG, new byte[0]);
    }

    public static byte[] welcome() {
        return frame(TakeOverFrame.WELCOME, new byte[0]);
    }

    // ---- client -> agent

    public static byte[] auth(String token) {
        return frame(TakeOverFrame.AUTH, token.getBytes(StandardCharsets.UTF_8));
    }

    public static byte[] takeOver(TakeOverRequest r) {
        return frame(TakeOverFrame.TAKEOVER, r.encode());
    }

    /** CHECK: as TAKEOVER (the agent uses the disk only). */
    public static byte[] check(TakeOverRequest r) {
        return frame(TakeOverFrame.CHECK, r.encode());
    }

    public static byte[] ping() {
        return frame(TakeOverFrame.PING, new byte[0]);
    }

    /** The UTF-8 of s, at most max bytes, never ending inside a character's encoding. */
    static byte[] utf8Prefix(String s, int max) {
        byte[] b = s.getBytes(StandardCharsets.UTF_8);
        if (b.length <= max) {
            return b;
        }
        int end = max;
        while (end > 0 && (b[end] & 0xc0) == 0x80) { // b[end] continues a character: cut before that character
            end--;
        }
        byte[] out = new byte[end];
        System.arraycopy(b, 0, out, 0, end);
        return out;
    }
}
