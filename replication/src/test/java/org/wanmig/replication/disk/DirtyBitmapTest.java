package org.wanmig.replication.disk;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

@Timeout(30)
class DirtyBitmapTest {
    @TempDir
    Path dir;

    @Test
    void marksClearsAndPersists() throws Exception {
        DirtyBitmap b = new DirtyBitmap((10L << 20) + 5, 65536);
        assertEquals(161, b.blocks());
        b.markRange(65535, 2); // straddles blocks 0 and 1
        b.markRange(10L << 20, 5); // the short last block
        assertEquals(3, b.dirtyCount());
        assertEquals(0, b.nextSet(0));
        assertEquals(1, b.nextSet(1));
        assertEquals(160, b.nextSet(2));
        assertTrue(b.clear(1));
        assertFalse(b.clear(1));
        Path f = dir.resolve("x.dirty");
        b.save(f, new long[]{77});
        DirtyBitmap c = new DirtyBitmap((10L << 20) + 5, 65536);
        assertTrue(c.load(f));
        assertEquals(3, c.dirtyCount()); // 0, 160 and the unacknowledged 77
        assertTrue(c.isSet(77));
        assertFalse(c.isSet(1));
        // another geometry is not loaded
        assertFalse(new DirtyBitmap(1 << 20, 65536).load(f));
        Files.write(f, new byte[]{1, 2, 3});
        assertFalse(new DirtyBitmap((10L << 20) + 5, 65536).load(f));
    }

    @Test
    void compareModeEndsWhenEmpty() {
        DirtyBitmap b = new DirtyBitmap(3 * 65536, 65536);
        b.markAllForCompare();
        assertTrue(b.compareMode());
        for (long i = b.nextSet(0); i >= 0; i = b.nextSet(i + 1)) {
            b.clear(i);
        }
        assertFalse(b.compareMode());
        assertEquals(-1, b.nextSet(0));
    }

    @Test
    void imageBoundsAreEnforced() throws Exception {
        try (DiskImage img = DiskImage.open(dir.resolve("d.img"), 1 << 20)) {
            assertEquals(1 << 20, Files.size(dir.resolve("d.img")));
            assertThrows(IndexOutOfBoundsException.class, () -> img.write((1 << 20) - 1, ByteBuffer.allocate(2)));
            assertThrows(IndexOutOfBoundsException.class, () -> img.read(-1, ByteBuffer.allocate(1)));
            assertFalse(img.inBounds(Long.MAX_VALUE, Long.MAX_VALUE));
            img.write(100, ByteBuffer.wrap(new byte[]{9}));
            img.writeZeroes(0, 1 << 20);
            ByteBuffer r = ByteBuffer.allocate(1);
            img.read(100, r);
            assertEquals(0, r.get(0));
        }
        assertThrows(java.io.IOException.class, () -> DiskImage.open(dir.resolve("d.img"), 4096));
    }

    @Test
    void hasherMarksZeroExtents() {
        ExtentHasher h = new ExtentHasher();
        assertTrue(ExtentHasher.isZeroMarker(h.hash(ByteBuffer.allocate(65536))));
        ByteBuffer one = ByteBuffer.allocate(65536);
        one.put(65535, (byte) 1);
        byte[] x = h.hash(one);
        assertFalse(ExtentHasher.isZeroMarker(x));
        assertEquals(32, x.length);
    }
}
