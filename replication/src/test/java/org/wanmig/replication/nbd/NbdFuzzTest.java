package org.wanmig.replication.nbd;

import com.code_intelligence.jazzer.junit.FuzzTest;

import java.io.ByteArrayInputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.util.List;

/**
 * Jazzer targets for the NBD server's codecs: the fixed-newstyle handshake and the transmission
 * phase, fed with arbitrary client bytes. An IOException (protocol error, end of input) is the
 * expected way to reject input; any other exception or error is a finding. Regression inputs live
 * in src/test/resources/org/wanmig/replication/nbd/NbdFuzzTestInputs/&lt;method&gt;/.
 */
class NbdFuzzTest {
    /** A 64 KiB in-memory export; checks that every range it is handed was validated. */
    static final class MemDevice implements BlockDevice {
        final byte[] data = new byte[64 * 1024];
        final boolean ro;

        MemDevice(boolean ro) {
            this.ro = ro;
        }

        @Override public String name() { return "vs1"; }
        @Override public long size() { return data.length; }
        @Override public boolean readOnly() { return ro; }

        private void check(long off, long len) {
            if (off < 0 || len < 0 || off + len > data.length) {
                throw new AssertionError("unvalidated range " + off + "+" + len);
            }
        }

        @Override
        public void read(long offset, ByteBuffer dst) {
            check(offset, dst.remaining());
            dst.put(data, (int) offset, dst.remaining());
        }

        @Override
        public void write(long offset, ByteBuffer src, boolean fua) throws IOException {
            check(offset, src.remaining());
            if (ro) {
                throw new WriteRefusedException("read-only");
            }
            src.get(data, (int) offset, src.remaining());
        }

        @Override
        public void writeZeroes(long offset, long length, boolean fua) {
            check(offset, length);
            java.util.Arrays.fill(data, (int) offset, (int) (offset + length), (byte) 0);
        }

        @Override
        public void trim(long offset, long length) {
            check(offset, length);
        }

        @Override
        public void flush() {
        }
    }

    static Exports exports(BlockDevice d) {
        return new Exports() {
            @Override
            public BlockDevice find(String name) {
                return name.isEmpty() || name.equals(d.name()) ? d : null;
            }

            @Override
            public List<String> names() {
                return List.of(d.name());
            }
        };
    }

    @FuzzTest(maxDuration = "30s")
    void handshake(byte[] input) {
        DataInputStream in = new DataInputStream(new ByteArrayInputStream(input));
        DataOutputStream out = new DataOutputStream(OutputStream.nullOutputStream());
        try {
            new NbdHandshake(new HandshakeCodec(in, out), exports(new MemDevice(false))).negotiate();
        } catch (IOException expected) {
            // protocol error or end of input: the connection would be closed
        }
    }

    @FuzzTest(maxDuration = "30s")
    void commands(byte[] input) {
        if (input.length == 0) {
            return;
        }
        MemDevice dev = new MemDevice((input[0] & 1) != 0);
        BufferedSocketInput buffered = new BufferedSocketInput(new ByteArrayInputStream(input, 1, input.length - 1), 4096);
        DataInputStream in = new DataInputStream(buffered);
        DataOutputStream out = new DataOutputStream(OutputStream.nullOutputStream());
        try {
            new NbdSession(new CommandCodec(in, out, buffered), dev).run();
        } catch (IOException expected) {
            // protocol error or end of input
        }
    }
}
