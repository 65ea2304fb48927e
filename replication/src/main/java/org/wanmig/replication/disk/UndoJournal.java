package org.wanmig.replication.disk;

import java.io.Closeable;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;
import java.util.zip.CRC32C;

/**
 * Undo journal of a replica during a resync: before a block is overwritten for the first time
 * since the image was last consistent, its old content is appended here and forced to disk.
 * Applying every entry restores the last consistent image exactly, because only first
 * overwrites are journaled and blocks the resync did not touch still hold that state.
 * Entry: magic u32 | offset u64 | length u32 | crc32c u32 (of offset, length, data) | data;
 * a block that was all zeros (the usual case in an initial sync of a sparse replica) is a ZERO
 * entry without data.
 * A torn tail (crash while appending) fails its CRC and is cut off: its block was not yet
 * overwritten, since the overwrite waits for the force.
 */
public final class UndoJournal implements Closeable {
    private static final int MAGIC = 0x574d554a; // "WMUJ"
    private static final int MAGIC_ZERO = 0x574d555a; // "WMUZ": the block held zeros
    private static final int ENTRY_HEADER = 20;

    private final Path file;
    private final FileChannel channel;
    private final int blockSize;
    private final long[] journaled; // one bit per block already preserved
    // Reused for every block a resync preserves (under this object's lock), not allocated per block.
    private final Scratch scratch = new Scratch();
    private final ByteBuffer block;
    private long end;
    private long bytes;

    private UndoJournal(Path file, FileChannel channel, long imageSize, int blockSize) {
        this.file = file;
        this.channel = channel;
        this.blockSize = blockSize;
        this.journaled = new long[(int) (((imageSize + blockSize - 1) / blockSize + 63) / 64)];
        this.block = ByteBuffer.allocate(blockSize);
    }

    /** Buffers and checksum state of one reader or writer of entries, reused from entry to entry. */
    private static final class Scratch {
        final ByteBuffer header = ByteBuffer.allocate(ENTRY_HEADER);
        final ByteBuffer crcHeader = ByteBuffer.allocate(12);
        final CRC32C crc = new CRC32C();
        ByteBuffer data = ByteBuffer.allocate(0); // grows to the largest entry read

        /** A buffer of exactly len bytes remaining; valid until the next call. */
        ByteBuffer data(int len) {
            if (data.capacity() < len) {
                data = ByteBuffer.allocate(len);
            }
            data.clear().limit(len);
            return data;
        }

        int crc(long off, int len, ByteBuffer d) {
            crc.reset();
            crcHeader.clear();
            crcHeader.putLong(off).putInt(len).flip();
            crc.update(crcHeader);
            crc.update(d.duplicate());
            return (int) crc.getValue();
        }
    }

    public static Path fileFor(Path image) {
        return image.resolveSibling(image.getFileName() + ".undo");
    }

    /** Opens (creating if absent, durably) and scans the journal; a torn tail is truncated. */
    public static UndoJournal open(Path file, long imageSize, int blockSize) throws IOException {
        FileChannel ch = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.READ,
                StandardOpenOption.WRITE);
        try {
            // The journal's directory entry must be durable before any entry in it counts: otherwise
            // power loss could keep the "inconsistent" mark but lose the journal that undoes the writes.
            Directories.syncParent(file);
            UndoJournal j = new UndoJournal(file, ch, imageSize, blockSize);
            j.scan(imageSize);
            return j;
        } catch (IOException | RuntimeException e) {
            ch.close();
            throw e;
        }
    }

    private void scan(long imageSize) throws IOException {
        long pos = 0;
        long size = channel.size();
        while (true) {
            Entry e = readEntry(channel, pos, size, scratch, imageSize);
            if (e == null) {
                break;
            }
            markBlocks(e.offset, e.length);
            bytes += e.length;
            pos += e.stored();
        }
        end = pos;
        if (size > end) {
            channel.truncate(end);
            channel.force(true);
        }
    }

    private static final class Entry {
        final long offset;
        final int length;
        final ByteBuffer data; // null: zeros; else the reader's scratch buffer, valid until its next entry

        Entry(long offset, int length, ByteBuffer data) {
            this.offset = offset;
            this.length = length;
            this.data = data;
        }

        long stored() {
            return ENTRY_HEADER + (data == null ? 0 : length);
        }
    }

    private static Entry readEntry(FileChannel ch, long pos, long size, Scratch s, long imageSize)
            throws IOException {
        if (size - pos < ENTRY_HEADER) {
            return null;
        }
        ByteBuffer h = s.header;
        h.clear();
        readFully(ch, h, pos);
        h.flip();
        int magic = h.getInt();
        if (magic != MAGIC && magic != MAGIC_ZERO) {
            return null;
        }
        long off = h.getLong();
        int len = h.getInt();
        int crc = h.getInt();
        boolean zero = magic == MAGIC_ZERO;
        if (len <= 0 || off < 0 || off > imageSize - len || (!zero && size - pos - ENTRY_HEADER < len)) {
            return null;
        }
        ByteBuffer data = s.data(zero ? 0 : len);
        readFully(ch, data, pos + ENTRY_HEADER);
        data.flip();
        if (s.crc(off, len, data) != crc) {
            return null;
        }
        return new Entry(off, len, zero ? null : data);
    }

    private static void readFully(FileChannel ch, ByteBuffer b, long pos) throws IOException {
        while (b.hasRemaining()) {
            int n = ch.read(b, pos);
            if (n < 0) {
                throw new IOException("journal shorter than expected");
            }
            pos += n;
        }
    }

    private boolean isJournaled(long block) {
        return (journaled[(int) (block >>> 6)] & (1L << (block & 63))) != 0;
    }

    private void markBlocks(long offset, long length) {
        for (long b = offset / blockSize; b <= (offset + length - 1) / blockSize; b++) {
            journaled[(int) (b >>> 6)] |= 1L << (b & 63);
        }
    }

    /**
     * Makes sure the current content of every block touched by [offset, offset+length) is in the
     * journal, durable, before the caller overwrites it. One force per call, none if nothing new.
     */
    public void preserve(DiskImage image, long offset, long length) throws IOException {
        preserve(image, List.of(new long[]{offset, length}));
    }

    /** The same for several ranges [offset, length], with a single force at the end. */
    public synchronized void preserve(DiskImage image, List<long[]> ranges) throws IOException {
        boolean appended = false;
        for (long[] r : ranges) {
            if (r[1] > 0) {
                appended |= append(image, r[0] / blockSize, (r[0] + r[1] - 1) / blockSize);
            }
        }
        if (appended) {
            channel.force(true);
        }
    }

    private boolean append(DiskImage image, long first, long last) throws IOException {
        boolean appended = false;
        for (long b = first; b <= last; b++) {
            if (isJournaled(b)) {
                continue;
            }
            long off = b * blockSize;
            int len = (int) Math.min(blockSize, image.size() - off);
            ByteBuffer data = block;
            data.clear().limit(len);
            image.read(off, data);
            data.flip();
            if (ExtentHasher.isAllZero(data)) {
                data.limit(0); // a ZERO entry: no data stored
            }
            ByteBuffer h = scratch.header;
            h.clear();
            h.putInt(data.hasRemaining() ? MAGIC : MAGIC_ZERO).putLong(off).putInt(len)
                    .putInt(scratch.crc(off, len, data));
            h.flip();
            long pos = end;
            while (h.hasRemaining()) {
                pos += channel.write(h, pos);
            }
            while (data.hasRemaining()) {
                pos += channel.write(data, pos);
            }
            end = pos;
            bytes += len;
            markBlocks(off, len);
            appended = true;
        }
        return appended;
    }

    /** Bytes of old content held (= what a rollback rewrites). */
    public synchronized long bytes() {
        return bytes;
    }

    /** Writes every entry back into the image and forces it; returns the bytes restored. */
    public synchronized long rollback(DiskImage image) throws IOException {
        return applyTo(channel, end, image);
    }

    /**
     * Applies a journal file to an image (used by rollback, and by tests and tools on a copy of
     * the image to see what a promote would serve).
     */
    public static long applyTo(Path journal, DiskImage image) throws IOException {
        if (!Files.exists(journal)) {
            return 0;
        }
        try (FileChannel ch = FileChannel.open(journal, StandardOpenOption.READ)) {
            return applyTo(ch, ch.size(), image);
        }
    }

    private static long applyTo(FileChannel ch, long size, DiskImage image) throws IOException {
        long pos = 0;
        long restored = 0;
        Scratch s = new Scratch();
        while (true) {
            Entry e = readEntry(ch, pos, size, s, image.size());
            if (e == null) {
                break;
            }
            if (e.data == null) {
                image.writeZeroes(e.offset, e.length);
            } else {
                image.write(e.offset, e.data);
            }
            restored += e.length;
            pos += e.stored();
        }
        image.flush();
        return restored;
    }

    /** Closes and removes the journal (after the image is consistent again and that is recorded). */
    public synchronized void delete() throws IOException {
        channel.close();
        Files.deleteIfExists(file);
    }

    @Override
    public synchronized void close() throws IOException {
        channel.close();
    }
}
