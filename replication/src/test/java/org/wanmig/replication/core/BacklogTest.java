package org.wanmig.replication.core;

import org.junit.jupiter.api.Test;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;

class BacklogTest {
    private static WriteRecord write(long offset) {
        return new WriteRecord(WriteRecord.Kind.WRITE, offset, 4096, ByteBuffer.allocate(4096), false);
    }

    /** Fills two backlogs alike; returns the records offered to each. */
    private static List<WriteRecord> fill(Backlog b, int n) throws InterruptedException {
        List<WriteRecord> out = new ArrayList<>();
        b.attach();
        for (int i = 0; i < n; i++) {
            WriteRecord r = write(i * 4096L);
            b.offer(r);
            out.add(r);
        }
        return out;
    }

    @Test
    void aBatchTakesRecordsInOrderWithTheSequenceAndHeadOfOneByOneTakes() throws InterruptedException {
        Backlog single = new Backlog(1 << 20);
        Backlog batched = new Backlog(1 << 20);
        List<WriteRecord> s = fill(single, 10);
        List<WriteRecord> b = fill(batched, 10);
        for (int i = 0; i < 10; i++) {
            assertSame(s.get(i), single.takeNext(10));
        }
        List<WriteRecord> taken = new ArrayList<>();
        assertEquals(4, batched.takeBatch(taken, 4, 10));   // capped at max
        assertEquals(6, batched.takeBatch(taken, 64, 10));  // the rest
        assertEquals(0, batched.takeBatch(taken, 64, 10));  // nothing queued: times out empty
        assertEquals(b, taken);
        for (int i = 0; i < 10; i++) {
            assertEquals(s.get(i).wireSeq(), b.get(i).wireSeq());
            assertEquals(s.get(i).headSeq(), b.get(i).headSeq());
        }
        assertEquals(10, b.get(0).headSeq()); // the whole queue was behind the first
        assertEquals(10, b.get(9).headSeq()); // nothing behind the last
        // all in flight: an ack of the first 6 releases exactly those
        assertEquals(6 * 4096, batched.ack(6));
        assertEquals(4, batched.inflightCount());
    }

    @Test
    void aDetachedBacklogYieldsNothing() throws InterruptedException {
        Backlog b = new Backlog(1 << 20);
        List<WriteRecord> taken = new ArrayList<>();
        assertEquals(0, b.takeBatch(taken, 64, 10));
        assertEquals(0, taken.size());
    }
}
