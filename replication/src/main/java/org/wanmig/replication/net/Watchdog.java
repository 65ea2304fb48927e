package org.wanmig.replication.net;

import java.io.IOException;
import java.net.Socket;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.logging.Logger;

/**
 * Closes a connection whose handshake (TLS, authentication, first request) is not done by its
 * deadline, however the peer spreads its bytes. One shared timer thread for all ports.
 */
public final class Watchdog {
    private static final Logger LOG = Logger.getLogger(Watchdog.class.getName());
    private static final ScheduledExecutorService TIMER = Executors.newSingleThreadScheduledExecutor(r -> {
        Thread t = new Thread(r, "handshake-watchdog");
        t.setDaemon(true);
        return t;
    });

    private Watchdog() {
    }

    /** A running deadline; {@link #cancel()} once the handshake is done. */
    public static final class Deadline {
        private final ScheduledFuture<?> f;
        private volatile boolean fired;

        private Deadline(String what, Socket c, long ms) {
            f = TIMER.schedule(() -> {
                if (c.isClosed()) {
                    return; // the connection ended some other way (refused, failed): nothing to report
                }
                fired = true;
                LOG.warning(what + ": handshake not done within " + ms + " ms, closing");
                try {
                    c.close();
                } catch (IOException ignored) {
                    // closing anyway
                }
            }, ms, TimeUnit.MILLISECONDS);
        }

        public void cancel() {
            f.cancel(false);
        }

        /** True if the deadline passed and the connection was closed. */
        public boolean fired() {
            return fired;
        }
    }

    public static Deadline closeAfter(String what, Socket c, long ms) {
        return new Deadline(what, c, ms);
    }
}
