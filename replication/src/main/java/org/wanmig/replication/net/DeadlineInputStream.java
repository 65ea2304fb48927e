package org.wanmig.replication.net;

import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.Socket;
import java.net.SocketTimeoutException;

/**
 * Socket input whose reads are bounded by a deadline for the whole frame rather than per read, so
 * a peer that trickles one byte at a time is cut when the frame's deadline passes. Between frames
 * the idle timeout applies (0 = wait forever, e.g. an NBD client that has nothing to do).
 * The socket timeout is set only when it changes (a frame starts or ends), not before every read:
 * setSoTimeout takes the socket's lock. Within a frame it is shortened to the time left only once a
 * read could otherwise end more than {@link #SLACK_DIVISOR}th of the frame timeout after the deadline,
 * so a normal frame costs no extra call and a trickling one at most a few.
 */
public final class DeadlineInputStream extends FilterInputStream implements FrameTimer {
    /** A read may overrun the frame deadline by at most frameTimeout / SLACK_DIVISOR. */
    static final int SLACK_DIVISOR = 8;

    private final Socket socket;
    private final int idleTimeoutMs;
    private final int frameTimeoutMs;
    private final long frameTimeoutNanos;
    private final long slackMs;
    // Confined to the thread that reads (the codec calls frameStarted/frameDone on it).
    private long frameDeadline; // System.nanoTime(); 0 = none
    private int armedMs = -1;   // the socket's current timeout as set here; -1 = not set yet

    public DeadlineInputStream(Socket socket, InputStream in, int idleTimeoutMs, int frameTimeoutMs) {
        super(in);
        this.socket = socket;
        this.idleTimeoutMs = idleTimeoutMs;
        this.frameTimeoutMs = frameTimeoutMs;
        this.frameTimeoutNanos = frameTimeoutMs * 1_000_000L;
        this.slackMs = Math.max(1, frameTimeoutMs / SLACK_DIVISOR);
    }

    @Override
    public void frameStarted() {
        frameDeadline = nonZero(System.nanoTime() + frameTimeoutNanos);
    }

    @Override
    public void frameDone() {
        frameDeadline = 0;
    }

    private static long nonZero(long t) {
        return t == 0 ? 1 : t;
    }

    private void arm() throws IOException {
        long d = frameDeadline;
        if (d == 0) {
            setTimeout(idleTimeoutMs);
            return;
        }
        long leftMs = (d - System.nanoTime()) / 1_000_000L;
        if (leftMs <= 0) {
            throw new SocketTimeoutException("frame deadline passed");
        }
        // A read armed with armedMs ends at most armedMs from now; keep it while that is within the slack.
        if (armedMs <= 0 || armedMs > frameTimeoutMs || armedMs - leftMs > slackMs) {
            setTimeout((int) Math.min(Integer.MAX_VALUE, leftMs));
        }
    }

    private void setTimeout(int ms) throws IOException {
        if (ms != armedMs) {
            socket.setSoTimeout(ms);
            armedMs = ms;
        }
    }

    @Override
    public int read() throws IOException {
        arm();
        return in.read();
    }

    @Override
    public int read(byte[] b, int off, int len) throws IOException {
        arm();
        return in.read(b, off, len);
    }

    @Override
    public long skip(long n) throws IOException {
        arm();
        return in.skip(n);
    }
}
