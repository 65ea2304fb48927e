package org.wanmig.replication.disk;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;

/**
 * One bit per block of the image: set = the peer may lack this block. Persisted next to the image
 * so that a resync interrupted by a crash or restart resumes with only the blocks still missing.
 * The "compare" flag marks a bitmap that came from an unknown replica state: those blocks are
 * hash-compared before being sent instead of being sent blindly.
 */
public final class DirtyBitmap {
    private static final int MAGIC = 0x574d4442; // "WMDB"

    private final int blockSize;
    private final long blocks;
    private final long[] words;
    private long count;
    private boolean compare;
    private long version; // bumps on every change: lets the saver skip clean bitmaps

    public DirtyBitmap(long imageSize, int blockSize) {
        if (Integer.bitCount(blockSize) != 1) {
            throw new IllegalArgumentException("block size must be a power of two: " + blockSize);
        }
        this.blockSize = blockSize;
        this.blocks = (imageSize + blockSize - 1) / blockSize;
        this.words = new long[(int) ((blocks + 63) / 64)];
    }

    public int blockSize() {
        return blockSize;
    }

    public long blocks() {
        return blocks;
    }

    public synchronized long dirtyCount() {
        return count;
    }

    public synchronized boolean compareMode() {
        return compare;
    }

    public synchronized long version() {
        return version;
    }

    /** Marks every block touched by [offset, offset+length). */
    public synchronized void markRange(long offset, long length) {
        if (length <= 0) {
            return;
        }
        long first = offset / blockSize;
        long last = Math.min(blocks - 1, (offset + length - 1) / blockSize);
        for (long b = first; b <= last; b++) {
            setBit(b);
        }
        version++;
    }

    public synchronized void mark(long block) {
        setBit(block);
        version++;
    }

    /** Marks everything and asks for hash comparison (used when the replica's state is unknown). */
    public synchronized void markAllForCompare() {
        for (long b = 0; b < blocks; b++) {
            setBit(b);
        }
        compare = true;
        version++;
    }

    public synchronized boolean isSet(long block) {
        return (words[(int) (block >>> 6)] & (1L << (block & 63))) != 0;
    }

    /** Clears a block; returns true if it was set. */
    public synchronized boolean clear(long block) {
        int w = (int) (block >>> 6);
        long m = 1L << (block & 63);
        if ((words[w] & m) == 0) {
            return false;
        }
        words[w] &= ~m;
        count--;
        if (count == 0) {
            compare = false;
        }
        version++;
        return true;
    }

    /** Index of the first set block at or after from, or -1. */
    public synchronized long nextSet(long from) {
        if (from >= blocks) {
            return -1;
        }
        int w = (int) (from >>> 6);
        long word = words[w] & (-1L << (from & 63));
        while (true) {
            if (word != 0) {
                long b = ((long) w << 6) + Long.numberOfTrailingZeros(word);
                return b < blocks ? b : -1;
            }
            if (++w >= words.length) {
                return -1;
            }
            word = words[w];
        }
    }

    private void setBit(long block) {
        if (block < 0 || block >= blocks) {
            throw new IndexOutOfBoundsException("block " + block);
        }
        int w = (int) (block >>> 6);
        long m = 1L << (block & 63);
        if ((words[w] & m) == 0) {
            words[w] |= m;
            count++;
        }
    }

    /** Atomically replaces the file with the current bitmap OR'ed with extra blocks still unacknowledged. */
    public void save(Path file, long[] extraBlocks) throws IOException {
        ByteBuffer buf;
        synchronized (this) {
            buf = ByteBuffer.allocate(4 + 4 + 8 + 1 + words.length * 8);
            buf.putInt(MAGIC).putInt(blockSize).putLong(blocks).put((byte) (compare ? 1 : 0));
            long[] copy = words.clone();
            for (long b : extraBlocks) {
                copy[(int) (b >>> 6)] |= 1L << (b & 63);
            }
            for (long w : copy) {
                buf.putLong(w);
            }
        }
        buf.flip();
        Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
        try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                StandardOpenOption.TRUNCATE_EXISTING)) {
            while (buf.hasRemaining()) {
                ch.write(buf);
            }
            ch.force(true);
        }
        Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    }

    /** Loads a saved bitmap; returns false (leaving this one untouched) if absent or of another geometry. */
    public synchronized boolean load(Path file) throws IOException {
        if (!Files.exists(file)) {
            return false;
        }
        ByteBuffer buf = ByteBuffer.wrap(Files.readAllBytes(file));
        if (buf.remaining() != 17 + words.length * 8 || buf.getInt() != MAGIC
                || buf.getInt() != blockSize || buf.getLong() != blocks) {
            return false;
        }
        compare = buf.get() != 0;
        count = 0;
        for (int i = 0; i < words.length; i++) {
            words[i] = buf.getLong();
            count += Long.bitCount(words[i]);
        }
        if (count == 0) {
            compare = false;
        }
        version++;
        return true;
    }
}
