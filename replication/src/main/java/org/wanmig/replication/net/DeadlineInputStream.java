package org.wanmig.replication.net;

import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.Socket;
import java.net.SocketTimeoutException;

/**
 * Socket input whose reads are bounded by a deadline for the whole frame (or handshake) rather than
 * per read: before every read of the socket the timeout is set to the time left, so a peer that
 * trickles one byte at a time is cut when the frame's deadline passes. Between frames the idle
 * timeout applies (0 = wait forever, e.g. an NBD client that has nothing to do).
 */
public final class DeadlineInputStream extends FilterInputStream implements FrameTimer {
    private final Socket socket;
    private final int idleTimeoutMs;
    private final long frameTimeoutNanos;
    private volatile long frameDeadline; // System.nanoTime(); 0 = none
    private volatile long overallDeadline; // handshake; 0 = none

    public DeadlineInputStream(Socket socket, InputStream in, int idleTimeoutMs, int frameTimeoutMs) {
        super(in);
        this.socket = socket;
        this.idleTimeoutMs = idleTimeoutMs;
        this.frameTimeoutNanos = frameTimeoutMs * 1_000_000L;
    }

    /** A deadline for everything read until {@link #clearOverallDeadline()} (the handshake). */
    public void setOverallDeadline(long timeoutMs) {
        overallDeadline = nonZero(System.nanoTime() + timeoutMs * 1_000_000L);
    }

    public void clearOverallDeadline() {
        overallDeadline = 0;
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
        long f = frameDeadline;
        long o = overallDeadline;
        long d = f == 0 ? o : o == 0 ? f : (f - o < 0 ? f : o);
        int timeout;
        if (d == 0) {
            timeout = idleTimeoutMs;
        } else {
            long leftMs = (d - System.nanoTime()) / 1_000_000L;
            if (leftMs <= 0) {
                throw new SocketTimeoutException(f == d ? "frame deadline passed" : "handshake deadline passed");
            }
            timeout = (int) Math.min(Integer.MAX_VALUE, leftMs);
        }
        socket.setSoTimeout(timeout);
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
