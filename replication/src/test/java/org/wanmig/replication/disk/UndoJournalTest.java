package org.wanmig.replication.disk;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

class UndoJournalTest {
    private static final int BS = 64 * 1024;

    @TempDir
    Path dir;

    private static void write(DiskImage img, long off, int len, int seed) throws Exception {
        byte[] b = new byte[len];
        new Random(seed).nextBytes(b);
        img.write(off, ByteBuffer.wrap(b));
    }

    @Test
    void rollbackRestoresTheStateBeforeTheFirstOverwriteAcrossReopenAndTornTail() throws Exception {
        Path p = dir.resolve("x.img");
        long size = 10L * BS + 1000; // a short last block
        byte[] before;
        try (DiskImage img = DiskImage.open(p, size)) {
            write(img, 0, (int) size, 1);
            before = Files.readAllBytes(p);
            Path jf = UndoJournal.fileFor(p);
            try (UndoJournal j = UndoJournal.open(jf, size, BS)) {
                // unaligned range across blocks 0 and 1, then block 1 again (not journaled twice)
                j.preserve(img, BS - 10, 20);
                write(img, BS - 10, 20, 2);
                j.preserve(img, BS, 100);
                write(img, BS, 100, 3);
                assertEquals(2L * BS, j.bytes());
                j.preserve(img, 10L * BS, 1000);
                write(img, 10L * BS, 1000, 4);
            }
            // crash while appending: a torn entry at the tail is ignored and cut off on open
            try (FileChannel ch = FileChannel.open(jf, StandardOpenOption.WRITE, StandardOpenOption.APPEND)) {
                ch.write(ByteBuffer.wrap(new byte[]{0x57, 0x4d, 0x55, 0x4a, 0, 0, 1}));
            }
            try (UndoJournal j = UndoJournal.open(jf, size, BS)) {
                assertEquals(2L * BS + 1000, j.bytes(), "reopened journal knows what it holds");
                j.preserve(img, 5L * BS + 3, 5); // new block: journaled
                write(img, 5L * BS + 3, 5, 5);
                j.preserve(img, BS + 7, 5);      // already journaled: keeps the first content
                write(img, BS + 7, 5, 6);
                assertEquals(3L * BS + 1000, j.bytes());
                assertEquals(3L * BS + 1000, j.rollback(img));
                j.delete();
                assertFalse(Files.exists(jf));
            }
        }
        assertArrayEquals(before, Files.readAllBytes(p));
    }

    /** Data and zero blocks interleaved in one batch: each entry is its own block's content, none bleeds into the next. */
    @Test
    void interleavedZeroAndDataBlocksRollBackExactlyFromTheJournalAndACopy() throws Exception {
        Path p = dir.resolve("z.img");
        long size = 6L * BS + 777;
        byte[] before;
        try (DiskImage img = DiskImage.open(p, size)) {
            write(img, BS, BS, 11);          // blocks 1, 3 and the short last block hold data; 0, 2, 4, 5 zeros
            write(img, 3L * BS, BS, 12);
            write(img, 6L * BS, 777, 13);
            before = Files.readAllBytes(p);
            Path jf = UndoJournal.fileFor(p);
            try (UndoJournal j = UndoJournal.open(jf, size, BS)) {
                j.preserve(img, List.of(new long[]{BS, 1}, new long[]{0, 1}, new long[]{3L * BS, 2L * BS},
                        new long[]{2L * BS, 1}, new long[]{5L * BS, BS + 777}));
                assertEquals(size, j.bytes());
            }
            write(img, 0, (int) size, 14);   // the resync overwrites every block
            Path copy = dir.resolve("copy.img");
            Files.copy(p, copy);
            try (DiskImage c = DiskImage.open(copy, 0)) {
                assertEquals(size, UndoJournal.applyTo(jf, c));
            }
            assertArrayEquals(before, Files.readAllBytes(copy), "journal applied to a copy");
            try (UndoJournal j = UndoJournal.open(jf, size, BS)) {
                assertEquals(size, j.bytes(), "reopened journal knows what it holds");
                assertEquals(size, j.rollback(img));
            }
        }
        assertArrayEquals(before, Files.readAllBytes(p));
    }
}
