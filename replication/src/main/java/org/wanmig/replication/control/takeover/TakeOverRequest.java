package org.wanmig.replication.control.takeover;

import java.nio.charset.StandardCharsets;
import java.util.Objects;
import java.util.regex.Pattern;

/**
 * What a TAKEOVER frame asks: the disk and the take-over's name (null: unnamed). Immutable; the
 * names follow the HTTP API's rules (the agent's disk names, the takeoverId pattern).
 * Payload: u8 n, n bytes disk name (ASCII), u8 m, m bytes id, nothing after.
 */
public final class TakeOverRequest {
    private static final Pattern DISK = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]{0,63}");
    private static final Pattern ID = Pattern.compile("[A-Za-z0-9._:@-]{1,128}");

    private final String disk;
    private final String takeOverId;

    private TakeOverRequest(String disk, String takeOverId) {
        this.disk = disk;
        this.takeOverId = takeOverId;
    }

    /** A request to send (the client's side); the names must be valid. */
    public static TakeOverRequest of(String disk, String takeOverId) {
        if (disk == null || !DISK.matcher(disk).matches()) {
            throw new IllegalArgumentException("invalid disk name");
        }
        if (takeOverId != null && !ID.matcher(takeOverId).matches()) {
            throw new IllegalArgumentException("invalid take-over id");
        }
        return new TakeOverRequest(disk, takeOverId);
    }

    /** The payload of a TAKEOVER frame. */
    public static TakeOverRequest parse(byte[] p) throws MalformedTakeOverException {
        if (p.length == 0) {
            throw new MalformedTakeOverException("empty TAKEOVER payload");
        }
        int n = p[0] & 0xff;
        if (1 + n + 1 > p.length) {
            throw new MalformedTakeOverException("TAKEOVER payload ends inside the disk name or before the id's length");
        }
        // ISO-8859-1 maps each byte to one char: a non-ASCII byte fails the pattern instead of being replaced
        String disk = new String(p, 1, n, StandardCharsets.ISO_8859_1);
        if (!DISK.matcher(disk).matches()) {
            throw new MalformedTakeOverException("disk name must be 1 to 64 of A-Z a-z 0-9 . _ - (not starting with . _ -)");
        }
        int m = p[1 + n] & 0xff;
        int end = 1 + n + 1 + m;
        if (end != p.length) {
            throw new MalformedTakeOverException(end > p.length ? "TAKEOVER payload ends inside the take-over id"
                    : "bytes after the take-over id");
        }
        String id = null;
        if (m > 0) {
            id = new String(p, 2 + n, m, StandardCharsets.ISO_8859_1);
            if (!ID.matcher(id).matches()) {
                throw new MalformedTakeOverException("take-over id must be 1 to 128 of A-Z a-z 0-9 . _ : @ -");
            }
        }
        return new TakeOverRequest(disk, id);
    }

    /** The TAKEOVER payload of this request. */
    public byte[] encode() {
        byte[] d = disk.getBytes(StandardCharsets.US_ASCII);
        byte[] i = takeOverId == null ? new byte[0] : takeOverId.getBytes(StandardCharsets.US_ASCII);
        byte[] p = new byte[2 + d.length + i.length];
        p[0] = (byte) d.length;
        System.arraycopy(d, 0, p, 1, d.length);
        p[1 + d.length] = (byte) i.length;
        System.arraycopy(i, 0, p, 2 + d.length, i.length);
        return p;
    }

    public String disk() {
        return disk;
    }

    /** The take-over's name, or null if unnamed. */
    public String takeOverId() {
        return takeOverId;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof TakeOverRequest && ((TakeOverRequest) o).disk.equals(disk)
                && Objects.equals(((TakeOverRequest) o).takeOverId, takeOverId);
    }

    @Override
    public int hashCode() {
        return Objects.hash(disk, takeOverId);
    }

    @Override
    public String toString() {
        return "TakeOverRequest[" + disk + (takeOverId == null ? "" : ", " + takeOverId) + "]";
    }
}
