package org.wanmig.embedded.http;

import java.time.Duration;

/**
 * What one client may cost the embedded REST server, so that slow or abusive clients cannot starve
 * it: time to send the request header and the body, idle time, connections, request size, and
 * threads. Immutable; {@link #DEFAULTS} suit a management API on a testbed or a small site.
 */
public final class RestLimits {
    /**
     * Header 10 s, body 30 s, idle 30 s, 256 connections, 8 KiB header, 64 KiB body, 32 threads of
     * which 6 are never given to request handling (Jetty's acceptor and selector, and 4 kept free
     * to dispatch, parse and refuse).
     */
    public static final RestLimits DEFAULTS = new RestLimits(Duration.ofSeconds(10), Duration.ofSeconds(30),
            Duration.ofSeconds(30), 256, 8 * 1024, 64 * 1024, 32, 4, 256);

    /** Jetty's acceptor and selector threads: the connector is built with one of each. */
    static final int IO_THREADS = 2;

    private final Duration headerTimeout;
    private final Duration bodyTimeout;
    private final Duration idleTimeout;
    private final int maxConnections;
    private final int maxHeaderBytes;
    private final long maxBodyBytes;
    private final int maxThreads;
    private final int reservedThreads;
    private final int maxQueuedJobs;

    /**
     * @param headerTimeout   a connection must deliver a complete request header this long after it
     *                        opened or after its previous request ended, else it is closed
     * @param bodyTimeout     a request's body must have arrived this long after its header
     * @param idleTimeout     a connection with no traffic at all (or a response nobody reads) is closed
     * @param maxConnections  beyond this, new connections wait in the accept queue
     * @param maxHeaderBytes  a larger request header is refused with 431
     * @param maxBodyBytes    a larger request body is refused with 413
     * @param maxThreads      the thread pool's bound
     * @param reservedThreads threads (beyond the acceptor and selector) that request handling never
     *                        takes, so the server keeps dispatching, parsing and refusing under load
     * @param maxQueuedJobs   the thread pool's queue bound
     */
    public RestLimits(Duration headerTimeout, Duration bodyTimeout, Duration idleTimeout, int maxConnections,
                      int maxHeaderBytes, long maxBodyBytes, int maxThreads, int reservedThreads, int maxQueuedJobs) {
        this.headerTimeout = positive(headerTimeout, "headerTimeout");
        this.bodyTimeout = positive(bodyTimeout, "bodyTimeout");
        this.idleTimeout = positive(idleTimeout, "idleTimeout");
        this.maxConnections = atLeast(maxConnections, 1, "maxConnections");
        this.maxHeaderBytes = atLeast(maxHeaderBytes, 1024, "maxHeaderBytes");
        if (maxBodyBytes < 1) {
            throw new IllegalArgumentException("maxBodyBytes must be positive: " + maxBodyBytes);
        }
        this.maxBodyBytes = maxBodyBytes;
        this.reservedThreads = atLeast(reservedThreads, 1, "reservedThreads");
        this.maxThreads = atLeast(maxThreads, IO_THREADS + reservedThreads + 1, "maxThreads");
        this.maxQueuedJobs = atLeast(maxQueuedJobs, 1, "maxQueuedJobs");
    }

    private static Duration positive(Duration d, String name) {
        if (d == null || d.isNegative() || d.isZero()) {
            throw new IllegalArgumentException(name + " must be positive: " + d);
        }
        return d;
    }

    private static int atLeast(int value, int min, String name) {
        if (value < min) {
            throw new IllegalArgumentException(name + " must be at least " + min + ": " + value);
        }
        return value;
    }

    public Duration headerTimeout() {
        return headerTimeout;
    }

    public Duration bodyTimeout() {
        return bodyTimeout;
    }

    public Duration idleTimeout() {
        return idleTimeout;
    }

    public int maxConnections() {
        return maxConnections;
    }

    public int maxHeaderBytes() {
        return maxHeaderBytes;
    }

    public long maxBodyBytes() {
        return maxBodyBytes;
    }

    public int maxThreads() {
        return maxThreads;
    }

    public int reservedThreads() {
        return reservedThreads;
    }

    public int maxQueuedJobs() {
        return maxQueuedJobs;
    }

    /** Requests handled at once: the pool less the I/O threads and the reserved share. */
    public int maxConcurrentRequests() {
        return maxThreads - IO_THREADS - reservedThreads;
    }

    public RestLimits withTimeouts(Duration header, Duration body, Duration idle) {
        return new RestLimits(header, body, idle, maxConnections, maxHeaderBytes, maxBodyBytes, maxThreads,
                reservedThreads, maxQueuedJobs);
    }

    public RestLimits withMaxConnections(int max) {
        return new RestLimits(headerTimeout, bodyTimeout, idleTimeout, max, maxHeaderBytes, maxBodyBytes, maxThreads,
                reservedThreads, maxQueuedJobs);
    }

    public RestLimits withSizes(int headerBytes, long bodyBytes) {
        return new RestLimits(headerTimeout, bodyTimeout, idleTimeout, maxConnections, headerBytes, bodyBytes,
                maxThreads, reservedThreads, maxQueuedJobs);
    }

    public RestLimits withThreads(int max, int reserved) {
        return new RestLimits(headerTimeout, bodyTimeout, idleTimeout, maxConnections, maxHeaderBytes, maxBodyBytes,
                max, reserved, maxQueuedJobs);
    }

    @Override
    public String toString() {
        return "header " + headerTimeout.toMillis() + " ms, body " + bodyTimeout.toMillis() + " ms, idle "
                + idleTimeout.toMillis() + " ms, " + maxConnections + " connections, header " + maxHeaderBytes
                + " B, body " + maxBodyBytes + " B, " + maxThreads + " threads (" + maxConcurrentRequests()
                + " for requests)";
    }
}
