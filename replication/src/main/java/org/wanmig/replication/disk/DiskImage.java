package org.wanmig.replication.disk;

import java.io.Closeable;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * A raw virtual disk image of fixed size. All offsets are bounds-checked here, so no caller
 * (NBD client or peer) can ever touch bytes outside the image.
 */
public final class DiskImage implements Closeable {
    private static final int ZERO_CHUNK = 1 << 20;
    private static final ByteBuffer ZEROS = ByteBuffer.allocateDirect(ZERO_CHUNK).asReadOnlyBuffer();

    private final Path path;
    private final FileChannel channel;
    private final long size;

    private DiskImage(Path path, FileChannel channel, long size) {
        this.path = path;
        this.channel = channel;
        this.size = size;
    }

    /**
     * Opens (creating a sparse file if needed) an image. sizeBytes 0 means "use the file's size".
     * A file shorter than sizeBytes is extended sparsely; a longer one is an error (we never truncate data).
     */
    public static DiskImage open(Path path, long sizeBytes) throws IOException {
        if (sizeBytes < 0) {
            throw new IllegalArgumentException("negative size for " + path);
        }
        boolean exists = Files.exists(path);
        if (!exists && sizeBytes == 0) {
            throw new IOException("image " + path + " does not exist and no size was configured");
        }
        if (path.getParent() != null) {
            Files.createDirectories(path.getParent());
        }
        FileChannel ch = FileChannel.open(path, StandardOpenOption.CREATE, StandardOpenOption.READ,
                StandardOpenOption.WRITE);
        long current = ch.size();
        long size = sizeBytes == 0 ? current : sizeBytes;
        if (current > size) {
            ch.close();
            throw new IOException("image " + path + " is " + current + " bytes, larger than configured " + size);
        }
        if (current < size) {
            // Sparse extension: writing one byte at the end keeps the file holey.
            ch.write(ByteBuffer.wrap(new byte[1]), size - 1);
        }
        return new DiskImage(path, ch, size);
    }

    public Path path() {
        return path;
    }

    public long size() {
        return size;
    }

    /** True if [offset, offset+length) lies inside the image. Overflow-safe. */
    public boolean inBounds(long offset, long length) {
        return offset >= 0 && length >= 0 && offset <= size && length <= size - offset;
    }

    private void check(long offset, long length) {
        if (!inBounds(offset, length)) {
            throw new IndexOutOfBoundsException("range " + offset + "+" + length + " outside image of " + size);
        }
    }

    /** Reads exactly dst.remaining() bytes at offset; holes read as zeros. */
    public void read(long offset, ByteBuffer dst) throws IOException {
        check(offset, dst.remaining());
        long pos = offset;
        while (dst.hasRemaining()) {
            int n = channel.read(dst, pos);
            if (n < 0) {
                // Past EOF of a sparse tail: fill with zeros.
                while (dst.hasRemaining()) {
                    dst.put((byte) 0);
                }
                break;
            }
            pos += n;
        }
    }

    public void write(long offset, ByteBuffer src) throws IOException {
        check(offset, src.remaining());
        long pos = offset;
        while (src.hasRemaining()) {
            pos += channel.write(src, pos);
        }
    }

    public void writeZeroes(long offset, long length) throws IOException {
        check(offset, length);
        long pos = offset;
        long end = offset + length;
        while (pos < end) {
            ByteBuffer z = ZEROS.duplicate();
            z.limit((int) Math.min(ZERO_CHUNK, end - pos));
            while (z.hasRemaining()) {
                pos += channel.write(z, pos);
            }
        }
    }

    /** Makes all completed writes durable (fdatasync). */
    public void flush() throws IOException {
        channel.force(false);
    }

    @Override
    public void close() throws IOException {
        channel.close();
    }
}
