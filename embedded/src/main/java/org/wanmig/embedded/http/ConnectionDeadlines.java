package org.wanmig.embedded.http;

import org.eclipse.jetty.io.Connection;
import org.eclipse.jetty.io.EndPoint;
import org.eclipse.jetty.server.HttpChannel;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.util.component.AbstractLifeCycle;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Duration;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.LongSupplier;

/**
 * Header and body deadlines per connection. Jetty 9.4's idle timeout restarts with every byte, so
 * a client sending one header byte every few seconds would hold its connection forever (slowloris);
 * here a connection must deliver a complete request header within the header timeout of opening
 * (or of its previous request's end), and a request's body must be complete within the body
 * timeout of its header, else the connection is closed. Connections being handled (header and
 * body in) are left to the idle timeout. Added to the connector as a bean, so Jetty tells it about
 * connections and requests.
 */
final class ConnectionDeadlines extends AbstractLifeCycle implements Connection.Listener, HttpChannel.Listener {
    private static final Logger log = LoggerFactory.getLogger(ConnectionDeadlines.class);

    /** What a connection waits for, and until when (System.nanoTime). */
    private static final class Deadline {
        final String waitingFor;
        final long atNanos;

        Deadline(String waitingFor, long atNanos) {
            this.waitingFor = waitingFor;
            this.atNanos = atNanos;
        }
    }

    private final long headerNanos;
    private final long bodyNanos;
    private final long sweepMillis;
    private final LongSupplier clock;
    private final Map<EndPoint, Deadline> deadlines = new ConcurrentHashMap<>();
    private ScheduledExecutorService sweeper;

    ConnectionDeadlines(Duration header, Duration body) {
        this(header, body, System::nanoTime);
    }

    ConnectionDeadlines(Duration header, Duration body, LongSupplier nanoClock) {
        this.headerNanos = header.toNanos();
        this.bodyNanos = body.toNanos();
        // a deadline is enforced at most a tenth of it (bounded to 10..500 ms) late
        this.sweepMillis = Math.max(10, Math.min(500, Math.min(header.toMillis(), body.toMillis()) / 10));
        this.clock = nanoClock;
    }

    @Override
    protected void doStart() {
        sweeper = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "wanmig-rest-deadlines");
            t.setDaemon(true);
            return t;
        });
        sweeper.scheduleWithFixedDelay(this::sweep, sweepMillis, sweepMillis, TimeUnit.MILLISECONDS);
    }

    @Override
    protected void doStop() {
        sweeper.shutdownNow();
        deadlines.clear();
    }

    /** Connections that are waiting for a client right now (for tests and logs). */
    int waiting() {
        return deadlines.size();
    }

    @Override
    public void onOpened(Connection connection) {
        awaitHeader(connection.getEndPoint());
    }

    @Override
    public void onClosed(Connection connection) {
        deadlines.remove(connection.getEndPoint());
    }

    @Override
    public void onRequestBegin(Request request) {
        EndPoint endPoint = request.getHttpChannel().getEndPoint();
        boolean hasBody = request.getContentLengthLong() > 0 || request.getHeader("Transfer-Encoding") != null;
        if (hasBody) {
            deadlines.put(endPoint, new Deadline("request body", clock.getAsLong() + bodyNanos));
        } else {
            deadlines.remove(endPoint);
        }
    }

    @Override
    public void onRequestEnd(Request request) {
        deadlines.remove(request.getHttpChannel().getEndPoint());
    }

    @Override
    public void onComplete(Request request) {
        EndPoint endPoint = request.getHttpChannel().getEndPoint();
        if (endPoint.isOpen()) {
            awaitHeader(endPoint); // keep-alive: the next request's header is due in time too
        }
    }

    private void awaitHeader(EndPoint endPoint) {
        deadlines.put(endPoint, new Deadline("request header", clock.getAsLong() + headerNanos));
    }

    /** Closes every connection whose deadline passed; forgets closed ones. */
    void sweep() {
        long now = clock.getAsLong();
        deadlines.forEach((endPoint, deadline) -> {
            if (!endPoint.isOpen()) {
                deadlines.remove(endPoint, deadline);
            } else if (now - deadline.atNanos > 0 && deadlines.remove(endPoint, deadline)) {
                log.debug("closing {}: {} not complete in time", endPoint.getRemoteAddress(), deadline.waitingFor);
                endPoint.close();
            }
        });
    }
}
