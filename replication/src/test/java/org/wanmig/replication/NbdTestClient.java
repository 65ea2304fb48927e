package org.wanmig.replication;

import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.Closeable;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;

/** Minimal NBD client for tests: fixed newstyle, NBD_OPT_GO, one request at a time. */
final class NbdTestClient implements Closeable {
    private final Socket s;
    private final DataInputStream in;
    private final DataOutputStream out;
    private long handle;

    NbdTestClient(int port, String export) throws IOException {
        s = new Socket();
        s.connect(new InetSocketAddress("127.0.0.1", port), 2000);
        s.setSoTimeout(10_000);
        s.setTcpNoDelay(true);
        in = new DataInputStream(new BufferedInputStream(s.getInputStream()));
        out = new DataOutputStream(new BufferedOutputStream(s.getOutputStream()));
        try {
            if (in.readLong() != 0x4e42444d41474943L || in.readLong() != 0x49484156454F5054L) {
                throw new IOException("not an NBD server");
            }
            in.readUnsignedShort();
            out.writeInt(3); // fixed newstyle, no zeroes
            byte[] name = export.getBytes(StandardCharsets.UTF_8);
            out.writeLong(0x49484156454F5054L);
            out.writeInt(7); // OPT_GO
            out.writeInt(4 + name.length + 2);
            out.writeInt(name.length);
            out.write(name);
            out.writeShort(0);
            out.flush();
            while (true) {
                if (in.readLong() != 0x0003e889045565a9L) {
                    throw new IOException("bad option reply magic");
                }
                in.readInt();
                int type = in.readInt();
                byte[] d = new byte[in.readInt()];
                in.readFully(d);
                if (type == 1) {
                    break; // ACK: transmission phase
                }
                if (type != 3) {
                    throw new IOException("NBD_OPT_GO refused: 0x" + Integer.toHexString(type));
                }
            }
        } catch (IOException e) {
            s.close();
            throw e;
        }
    }

    private int request(int type, long offset, byte[] data, int length) throws IOException {
        long h = ++handle;
        out.writeInt(0x25609513);
        out.writeShort(0);
        out.writeShort(type);
        out.writeLong(h);
        out.writeLong(offset);
        out.writeInt(length);
        if (data != null) {
            out.write(data, 0, length);
        }
        out.flush();
        if (in.readInt() != 0x67446698) {
            throw new IOException("bad reply magic");
        }
        int err = in.readInt();
        if (in.readLong() != h) {
            throw new IOException("reply for another handle");
        }
        return err;
    }

    /** NBD error code of a WRITE (0 = done). */
    int write(long offset, byte[] data) throws IOException {
        return request(1, offset, data, data.length);
    }

    int flush() throws IOException {
        return request(3, 0, null, 0);
    }

    @Override
    public void close() throws IOException {
        s.close();
    }
}
