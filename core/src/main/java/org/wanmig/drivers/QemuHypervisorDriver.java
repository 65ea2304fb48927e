package org.wanmig.drivers;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.wanmig.api.Migration;
import org.wanmig.api.MigrationId;
import org.wanmig.api.WanmigException;
import org.wanmig.config.DataCenter;
import org.wanmig.config.VirtualServer;
import org.wanmig.config.QemuOptions;
import org.wanmig.drivers.qemu.QmpClient;
import org.wanmig.spi.HypervisorDriver;
import org.wanmig.spi.HypervisorListener;

import java.io.IOException;
import java.net.URI;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * Live-migrates QEMU guests over QMP. Each data center runs a small hypervisor agent that knows
 * its QEMU processes: it tells where a running guest's QMP socket is, and starts the destination
 * QEMU with {@code -incoming} (only something on the destination host can). The MMS speaks QMP
 * to the source itself: capabilities, parameters, {@code migrate}, and, in {@code pause} mode,
 * {@code migrate-continue} once the listener has switched network and storage over inside the
 * pause. QMP events become timeline entries.
 *
 * <p>Agent API (JSON over HTTP): {@code GET /vms/{server}} gives {@code {"state","qmp"}};
 * {@code POST /vms/{server}/incoming} starts the destination and gives {@code {"uri","qmp"}};
 * {@code DELETE /vms/{server}/incoming} stops it; {@code POST /vms/{server}/started} and
 * {@code POST /vms/{server}/stop} record the move at the destination and end the source;
 * {@code POST /vms/{server}/drain-nic}, after a switchover in the pause and the guest's resume at
 * the destination, sends the frames still queued in the stopped source's tap back into the switch,
 * through the redirect (optional: an agent without it answers 404, and those frames are lost as
 * before).
 */
public final class QemuHypervisorDriver implements HypervisorDriver {
    private static final Logger log = LoggerFactory.getLogger(QemuHypervisorDriver.class);
    private static final Duration AGENT_TIMEOUT = Duration.ofSeconds(30);
    private static final Duration QMP_TIMEOUT = Duration.ofSeconds(10);
    /** A guest boot under TCG takes seconds; the agent answers once it is up. */
    private static final Duration BOOT_TIMEOUT = Duration.ofSeconds(150);
    /** How long after the source's "completed" the destination may take to emit RESUME. */
    private static final Duration RESUME_WAIT = Duration.ofSeconds(10);
    /** Longest the guest waits in pre-switchover for the MMS (beyond it the migration is given up). */
    private static final Duration PAUSE_BUDGET = Duration.ofSeconds(30);
    /**
     * Shortest wait for the source's greeting after a switchover that may have happened: a
     * monitor that no migration thread holds greets within milliseconds, on a loaded host too.
     */
    private static final Duration GREETING_FLOOR = Duration.ofSeconds(1);
    /** query-migrate retries (every STATS_RETRY_MS) while QEMU has not yet set total-time after "completed". */
    private static final int STATS_RETRIES = 20;
    private static final long STATS_RETRY_MS = 10;
    /** query-migrate states of a migration that a predecessor started and that is still going. */
    private static final java.util.Set<String> UNDER_WAY = java.util.Set.of("setup", "active", "pre-switchover",
            "device", "completed");

    private final QemuOptions options;
    private final JsonHttp http = new JsonHttp(null);
    private final Map<MigrationId, Session> sessions = new ConcurrentHashMap<>();
    /** Connecting to agents and QEMU blocks: never on the caller's (lifecycle) thread. */
    private final ExecutorService worker = Executors.newCachedThreadPool(r -> {
        Thread t = new Thread(r, "qemu-driver");
        t.setDaemon(true);
        return t;
    });

    public QemuHypervisorDriver(QemuOptions options) {
        this.options = options;
    }

    @Override
    public String name() {
        return "qemu";
    }

    /** switchover "pause": the MMS switches over at QEMU's pre-switchover (see {@link #migrate}). */
    @Override
    public boolean switchesOverInPause(VirtualServer server) {
        return options.switchover() == QemuOptions.Switchover.PAUSE;
    }

    /** A guest that resumed at the destination stays there: {@link #abort} does not migrate it back. */
    @Override
    public boolean returnsMovedServer(VirtualServer server) {
        return false;
    }

    public QemuOptions options() {
        return options;
    }

    @Override
    public void migrate(Migration m, VirtualServer server, DataCenter from, DataCenter to,
                        HypervisorListener listener) {
        Session fresh = new Session(m, server.name(), from.name(), to.name(), listener);
        Session existing = sessions.putIfAbsent(m.id(), fresh);
        if (existing != null) {
            // A resumed MMS asks again: the session under way reports when it ends.
            log.info("migration {}: QEMU migration of {} already under way", m.id(), server.name());
            return;
        }
        worker.execute(fresh::start);
    }

    @Override
    public void abort(Migration m, VirtualServer server, DataCenter from, DataCenter to, boolean serverMoved) {
        Session s = sessions.get(m.id());
        if (serverMoved) {
            // The guest runs at B on the promoted disk; taking it back is a migration of its own.
            log.warn("migration {}: {} already runs in {}; it stays there (migrate it back to return)",
                    m.id(), server.name(), to.name());
            if (s != null) {
                s.end();
            }
            return;
        }
        Session target = s != null ? s
                : new Session(m, server.name(), from.name(), to.name(), null);
        worker.execute(target::cancel);
    }

    /**
     * Lets go of every migration without touching it (this MMS stops): the QMP connections close,
     * QEMU goes on, and a successor that is asked again follows each migration from where it is.
     */
    public void close() {
        for (Session s : sessions.values()) {
            s.end();
        }
        worker.shutdown();
    }

    /**
     * Failover: boots the server at {@code at} from its disk there (the promoted replica) through
     * that DC's hypervisor agent ({@code POST /vms/{server}/boot}, answered once the guest is up), and
     * checks over QMP that it runs. A server the agent already runs there is only checked, so a
     * resumed failover does not boot it twice.
     */
    @Override
    public CompletableFuture<String> restart(VirtualServer server, DataCenter at, long port) {
        return CompletableFuture.supplyAsync(() -> {
            String name = server.name();
            JsonNode vm = http.get(agent(at.name(), "vms/" + name), AGENT_TIMEOUT).join();
            boolean booted = false;
            if (!"running".equals(vm.path("state").asText())) {
                ObjectNode body = JsonHttp.mapper().createObjectNode().put("ofport", port);
                vm = http.post(agent(at.name(), "vms/" + name + "/boot"), body, BOOT_TIMEOUT).join();
                booted = true;
            }
            try (QmpClient qmp = QmpClient.connect(vm.path("qmp").asText(), QMP_TIMEOUT, e -> { })) {
                JsonNode status = qmp.call("query-status", null, QMP_TIMEOUT);
                if (!status.path("running").asBoolean()) {
                    throw new IllegalStateException("QEMU of " + name + " at " + at.name() + " is "
                            + status.path("status").asText());
                }
            } catch (IOException e) {
                throw new java.util.concurrent.CompletionException(e);
            }
            return "qemu: " + name + (booted ? " booted at " : " already running at ") + at.name()
                    + " from its disk there";
        }, worker);
    }

    /**
     * In the paper's order the guest resumes at the destination before its disk there is
     * promoted: its first write is refused and, its disk configured werror=stop, QEMU stops it
     * (status io-error) instead of failing the write. Now that the disk takes writes, cont
     * retries the write and the guest goes on.
     */
    @Override
    public CompletableFuture<String> diskWritable(VirtualServer server, DataCenter at) {
        return CompletableFuture.supplyAsync(() -> {
            JsonNode vm = http.get(agent(at.name(), "vms/" + server.name()), AGENT_TIMEOUT).join();
            if (!vm.hasNonNull("qmp")) {
                return null;
            }
            try (QmpClient qmp = QmpClient.connect(vm.get("qmp").asText(), QMP_TIMEOUT, e -> { })) {
                String status = qmp.call("query-status", null, QMP_TIMEOUT).path("status").asText();
                if (!"io-error".equals(status)) {
                    return null;
                }
                qmp.call("cont", null, QMP_TIMEOUT);
                return "qemu: " + server.name() + " at " + at.name() + " had stopped on a write refused before its"
                        + " disk was promoted there; resumed (cont retries the write)";
            } catch (IOException e) {
                throw new java.util.concurrent.CompletionException(e);
            }
        }, worker);
    }

    private URI agent(String dc, String path) {
        URI base = options.agents().get(dc);
        if (base == null) {
            throw new IllegalStateException("no hypervisor agent configured for " + dc);
        }
        String b = base.toString().endsWith("/") ? base.toString() : base + "/";
        return URI.create(b + path);
    }

    private static String mb(long bytes) {
        return String.format("%.1f MiB", bytes / 1048576.0);
    }

    /** One QEMU migration: the source's QMP connection and what QEMU said so far. */
    private final class Session {
        private final MigrationId id;
        private final String server;
        private final String from;
        private final String to;
        private final HypervisorListener listener;
        private final CompletableFuture<Void> resumed = new CompletableFuture<>();
        private volatile QmpClient source;
        private volatile QmpClient destination;
        private volatile String destinationAddress;
        private volatile boolean finished;
        /** migrate-continue answered: the redirect was in place before the guest went on. */
        private volatile boolean switchedInPause;
        /** migrate-continue was sent: the source may be sending the rest, holding its big lock. */
        private volatile boolean continueSent;
        /** The source's monitor closed after migrate-continue, before its completion was read. */
        private volatile boolean sourceGone;
        /**
         * A predecessor (the MMS restarted) switched over in the pause, or may have (its successor
         * could not learn it): migrate-continue may have been sent, and QEMU may be sending the
         * rest into a stalled stream, its monitor held up.
         */
        private final boolean afterPause;
        /** That switchover in failures' words: known, or only possible. */
        private final String switchover;
        /**
         * When the instance that doubts that switchover took over (epoch ms; 0: not known): any
         * migrate-continue came before, so QEMU's stream has had the completion budget since then.
         */
        private final long predecessorsGoneBy;
        /** What connectSource cut, for the failure's reason. */
        private volatile String cutAtStart = "";
        /** This session started the destination QEMU (not one that follows a predecessor's). */
        private volatile boolean begun;
        /**
         * A followed migration can reach pre-switchover or completion both by an event and by
         * the first query-migrate: each is handled once.
         */
        private final AtomicBoolean switchoverSeen = new AtomicBoolean();
        private final AtomicBoolean completionSeen = new AtomicBoolean();
        /** start() is over: the destination's connection, if any, is open (completion waits for it). */
        private final CompletableFuture<Void> started = new CompletableFuture<>();
        /** start() was called (an abort's session of its own never starts). */
        private volatile boolean starting;

        Session(Migration record, String server, String from, String to, HypervisorListener listener) {
            this.id = record.id();
            this.server = server;
            this.from = from;
            this.to = to;
            this.listener = listener;
            this.afterPause = record.mayHaveSwitchedInPause();
            this.switchover = record.switchedInPause() ? "the switchover in the pause"
                    : "a switchover in the pause that may have happened";
            this.predecessorsGoneBy = record.switchedInPause() ? 0 : record.predecessorsGoneBy();
        }

        void start() {
            starting = true;
            try {
                JsonNode src = http.get(agent(from, "vms/" + server), AGENT_TIMEOUT).join();
                if (!"running".equals(src.path("state").asText())) {
                    JsonNode dst = http.get(agent(to, "vms/" + server), AGENT_TIMEOUT).join();
                    if ("running".equals(dst.path("state").asText())) {
                        // asked again (a restarted MMS) after the move had completed
                        finished = true;
                        listener.completed(id, "QEMU: " + server + " already runs at " + to);
                        end();
                        return;
                    }
                    throw new IllegalStateException(server + " is " + src.path("state").asText("unknown")
                            + " at " + from + ", not running");
                }
                source = connectSource(src.path("qmp").asText());
                closeIfEnded();
                source.closed().thenRun(() -> {
                    if (finished || completionSeen.get()) {
                        return;   // completed: the destination's RESUME decides (completed())
                    }
                    if (continueSent && destination != null) {
                        // it may have sent everything before it went, its last event unread: so too
                        sourceGone = true;
                        completedOnce();
                    } else {
                        fail("the source QEMU's QMP connection closed during the migration");
                    }
                });
                // events from here on reach this session; query-migrate says what came before
                String status = source.call("query-migrate", null, QMP_TIMEOUT).path("status").asText("none");
                if (UNDER_WAY.contains(status) && destinationHeld()) {
                    attach(status);
                } else if (afterPause) {
                    // past the switchover a new migration is never started: the rollback decides
                    fail("QEMU's migration of " + server + " is " + status + " after " + switchover
                            + (cutAtStart.isEmpty() ? "" : cutAtStart));
                } else {
                    begin();
                }
            } catch (RuntimeException | IOException e) {
                Throwable cause = e instanceof CompletionException && e.getCause() != null ? e.getCause() : e;
                if (begun) {
                    cleanupDestination();   // only a destination this session started; never a followed one
                }
                fail("QEMU migration did not start: " + cause.getMessage());
            } finally {
                started.complete(null);
            }
        }

        /**
         * Whether the destination's agent holds a QEMU of this server. A QEMU that arrived by
         * migration reports that incoming migration ("completed") until it migrates again, so
         * the status alone does not mean a predecessor's migration is under way: moving a server
         * back to where it came from has no destination QEMU yet.
         */
        private boolean destinationHeld() {
            String state = http.get(agent(to, "vms/" + server), AGENT_TIMEOUT).join().path("state").asText("absent");
            return "incoming".equals(state) || "running".equals(state);
        }

        /** A fresh migration: the destination QEMU started by its agent, then migrate. */
        private void begin() throws IOException {
            begun = true;
            ObjectNode req = JsonHttp.mapper().createObjectNode().put("migration", id.value());
            JsonNode dst = http.post(agent(to, "vms/" + server + "/incoming"), req, AGENT_TIMEOUT).join();
            String uri = dst.path("uri").asText(null);
            if (uri == null) {
                throw new IllegalStateException("hypervisor agent of " + to + " gave no incoming URI: " + dst);
            }
            if (dst.hasNonNull("qmp")) {
                destinationAddress = dst.get("qmp").asText();
                destination = QmpClient.connect(destinationAddress, QMP_TIMEOUT, this::onDestinationEvent);
                closeIfEnded();
            }
            configure();
            source.call("migrate", QmpClient.args().put("uri", uri), QMP_TIMEOUT);
            progress("QEMU migrating " + server + " to " + uri + " (switchover "
                    + options.switchover().name().toLowerCase() + ", downtime-limit "
                    + options.downtimeLimit().toMillis() + " ms"
                    + (options.maxBandwidthMbps() > 0 ? ", max-bandwidth " + options.maxBandwidthMbps() + " Mbit/s" : "")
                    + (options.compress() ? ", xbzrle" : "") + ")");
        }

        /**
         * The migration was started by a predecessor (the MMS restarted or a new leader took
         * over): follow it instead of starting another, which would stop the destination QEMU.
         */
        private void attach(String status) throws IOException {
            // said first: QEMU may complete while the destination is being connected
            progress("QEMU migration of " + server + " already under way (" + status + "): following it");
            JsonNode dst = http.get(agent(to, "vms/" + server), AGENT_TIMEOUT).join();
            if (dst.hasNonNull("qmp")) {
                destinationAddress = dst.get("qmp").asText();
                destination = QmpClient.connect(destinationAddress, QMP_TIMEOUT, this::onDestinationEvent);
                closeIfEnded();
                if (destination.call("query-status", null, QMP_TIMEOUT).path("running").asBoolean()) {
                    resumed.complete(null);
                }
            }
            if ("pre-switchover".equals(status)) {
                switchoverOnce(System.nanoTime(), 0);
            } else if ("completed".equals(status)) {
                completedOnce();
            }
        }

        private void configure() throws IOException {
            ObjectNode caps = QmpClient.args();
            var list = caps.putArray("capabilities");
            list.addObject().put("capability", "events").put("state", true);
            list.addObject().put("capability", "pause-before-switchover")
                    .put("state", options.switchover() == QemuOptions.Switchover.PAUSE);
            list.addObject().put("capability", "xbzrle").put("state", options.compress());
            source.call("migrate-set-capabilities", caps, QMP_TIMEOUT);
            ObjectNode params = QmpClient.args().put("downtime-limit", options.downtimeLimit().toMillis());
            if (options.maxBandwidthMbps() > 0) {
                params.put("max-bandwidth", options.maxBandwidthMbps() * 1_000_000 / 8);
            }
            source.call("migrate-set-parameters", params, QMP_TIMEOUT);
        }

        private void onSourceEvent(JsonNode event) {
            String name = event.path("event").asText();
            JsonNode data = event.path("data");
            if ("MIGRATION_PASS".equals(name)) {
                progress("pre-copy pass " + data.path("pass").asInt() + stats());
            } else if ("MIGRATION".equals(name)) {
                String status = data.path("status").asText();
                switch (status) {
                    case "pre-switchover":
                        long seen = System.nanoTime();
                        long eventMicros = event.path("timestamp").path("seconds").asLong() * 1_000_000L
                                + event.path("timestamp").path("microseconds").asLong();
                        switchoverOnce(seen, eventMicros);
                        break;
                    case "completed":
                        completedOnce();
                        break;
                    case "failed":
                        worker.execute(() -> {
                            String why = queryError();
                            cleanupDestination();
                            fail("QEMU migration failed" + (why.isEmpty() ? "" : ": " + why));
                        });
                        break;
                    case "cancelled":
                        worker.execute(() -> {
                            cleanupDestination();
                            fail("QEMU migration cancelled");
                        });
                        break;
                    default:
                        break;
                }
            }
        }

        private void switchoverOnce(long seen, long eventMicros) {
            if (switchoverSeen.compareAndSet(false, true)) {
                worker.execute(() -> switchover(seen, eventMicros));
            }
        }

        private void completedOnce() {
            if (completionSeen.compareAndSet(false, true)) {
                worker.execute(this::completed);
            }
        }

        /**
         * Called after each connection this session opens. The session may have ended meanwhile
         * (completed on another worker thread, or the MMS closed) and not seen it: then it is
         * closed here, since QEMU's monitor serves one client and a leaked one locks out the rest.
         */
        private void closeIfEnded() {
            if (finished) {
                closeConnections();
            }
        }

        private void onDestinationEvent(JsonNode event) {
            if ("RESUME".equals(event.path("event").asText())) {
                resumed.complete(null);
            }
        }

        /**
         * Paused with RAM copied: the listener switches over, then QEMU sends device state. Only
         * the listener's work and migrate-continue are inside the pause; QEMU's figures are read
         * meanwhile and noted after.
         *
         * @param seen        when the driver received the pre-switchover event (nanoTime)
         * @param eventMicros QEMU's timestamp of that event (epoch microseconds), 0 if unknown
         */
        private void switchover(long seen, long eventMicros) {
            CompletableFuture<Void> hook = listener.preSwitchover(id, "paused before switchover").toCompletableFuture();
            String stats = stats();
            // a listener that never answers (a controller that died mid-pause) must not keep the guest stopped
            hook.orTimeout(PAUSE_BUDGET.toMillis(), TimeUnit.MILLISECONDS).whenComplete((ok, error) -> worker.execute(() -> {
                if (error == null) {
                    long answered = System.nanoTime();
                    continueSent = true;   // QEMU may act on it even if its answer never comes (see cutStream)
                    Duration budget = options.completionBudget();
                    try {
                        // within the budget: the answer can wait behind a stalled stream too
                        source.call("migrate-continue", QmpClient.args().put("state", "pre-switchover"), budget);
                    } catch (IOException e) {
                        // no answer: QEMU may be sending the rest already, its monitor held up
                        fail("migrate-continue refused: " + e.getMessage() + cutStream());
                        return;
                    }
                    long continued = System.nanoTime();
                    switchedInPause = true;
                    CompletableFuture.delayedExecutor(Math.max(0, budget.toNanos() - (continued - answered)),
                            TimeUnit.NANOSECONDS, worker).execute(() -> {
                                if (!finished && !completionSeen.get()) {
                                    fail(String.format("QEMU did not complete within %d ms of migrate-continue"
                                            + " (completionBudgetMs): its stream to %s stalled", budget.toMillis(), to)
                                            + cutStream());
                                }
                            });
                    // QEMU stamps its events with the host's wall clock
                    double sinceEvent = eventMicros > 0 ? System.currentTimeMillis() - eventMicros / 1000.0 : -1;
                    progress(String.format("pause hook done: migrate-continue answered %.1f ms after the driver saw"
                            + " pre-switchover (listener %.1f ms, continue %.1f ms)%s; at the pause%s", (continued - seen) / 1e6,
                            (answered - seen) / 1e6, (continued - answered) / 1e6,
                            sinceEvent >= 0 ? String.format(", %.1f ms after QEMU's event", sinceEvent) : "", stats));
                    return;
                }
                log.warn("migration {}: switchover refused ({}), cancelling; {} resumes at {}",
                        id, error.getMessage(), server, from);
                cancel();
            }));
        }

        /**
         * The frames that reached the source's tap in its last moments before STOP, while QEMU's
         * migration thread held its lock, are still queued there (one more in QEMU's own net queue:
         * its tap backend reads one before it learns the stopped NIC takes none) and die with the
         * source's QEMU: the source's
         * agent sends them back into the switch, whose redirect (in place since the pause) carries
         * them to the destination, where the guest answers them (late). Once the guest resumed
         * there (a source that a rollback resumes reads them itself), before the source is ended;
         * an agent without this call loses them as before. Never fails.
         */
        private CompletableFuture<Void> drainSourceNic() {
            return http.post(agent(from, "vms/" + server + "/drain-nic"), null, AGENT_TIMEOUT).handle((r, e) -> {
                progress(e == null ? String.format("source NIC drained at %s: %d frames queued after the guest"
                        + " stopped sent on through the redirect%s%s", from, r.path("frames").asInt(),
                        r.has("fromQemuQueue") ? " (" + r.path("fromQemuQueue").asInt() + " from QEMU's own net queue)" : "",
                        r.path("fromGuest").asInt() > 0 ? ", " + r.path("fromGuest").asInt()
                                + " of them sent by the guest as it stopped, which QEMU never wrote" : "")
                        : "source NIC not drained at " + from + ": " + WanmigException.messageOf(e));
                return null;
            });
        }

        private void completed() {
            String stats = completionStats();
            try {
                // a followed migration can complete while start() still connects the destination
                started.get(AGENT_TIMEOUT.plus(QMP_TIMEOUT).toMillis(), TimeUnit.MILLISECONDS);
                if (destination != null) {
                    awaitResume();
                }
                http.post(agent(to, "vms/" + server + "/started"), null, AGENT_TIMEOUT).join();
            } catch (Exception e) {
                fail((sourceGone ? "the source QEMU's monitor closed after migrate-continue" : "QEMU completed")
                        + " but the guest did not resume at " + to + ": " + e.getMessage());
                return;
            }
            finished = true;
            listener.completed(id, "QEMU completed" + (sourceGone ? " (the guest resumed at " + to
                    + "; the source's monitor had closed before its completion was read)" : stats));
            // the redirect is in place since the pause: what the source's tap still holds can follow
            CompletableFuture<Void> drained = switchedInPause ? drainSourceNic() : CompletableFuture.completedFuture(null);
            drained.thenCompose(x -> http.post(agent(from, "vms/" + server + "/stop"), null, AGENT_TIMEOUT)).whenComplete((r, e) -> {
                if (e != null) {
                    log.warn("migration {}: stopping the source QEMU at {} failed: {}", id, from, e.getMessage());
                }
            });
            end();
        }

        /**
         * Until the destination emits RESUME, at most {@link #RESUME_WAIT}. A destination whose
         * monitor closed and refuses another connection has exited (QEMU closes a monitor only
         * then): that ends the wait at once, and the source, stopped after completing, can be
         * resumed by the rollback instead of waiting out the budget.
         */
        private void awaitResume() throws Exception {
            long deadline = System.nanoTime() + RESUME_WAIT.toNanos();
            try {
                CompletableFuture.anyOf(resumed, destination.closed()).get(RESUME_WAIT.toMillis(), TimeUnit.MILLISECONDS);
                if (resumed.isDone()) {
                    return;
                }
                try (QmpClient again = QmpClient.connect(destinationAddress, QMP_TIMEOUT, e -> { })) {
                    // its monitor answers: the process lives, only our connection ended
                    if (again.call("query-status", null, QMP_TIMEOUT).path("running").asBoolean()) {
                        return;
                    }
                } catch (IOException gone) {
                    throw new IOException("the destination QEMU's monitor closed and refuses a new connection"
                            + " (the process is gone): " + gone.getMessage());
                }
                resumed.get(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
            } catch (java.util.concurrent.TimeoutException e) {
                throw new IOException("no RESUME from the destination within " + RESUME_WAIT);
            }
        }

        /** Gives the migration up: the source goes on running, the destination is stopped. */
        void cancel() {
            log.debug("migration {}: cancelling (start under way: {}, finished: {})", id, starting && !started.isDone(),
                    finished);
            String cut = (continueSent || afterPause) && !finished ? cutStream() : "";
            awaitStart();
            log.debug("migration {}: cancelling after the cut{} and the start", id, cut);
            // The session's own connection if it is live, else (or if it closes under us: the
            // session may be ending on another thread as the abort arrives) a connection of its own.
            QmpClient live = source;
            boolean reuse = live != null && !finished && !live.closed().isDone();
            String unanswered = null;
            try {
                cancelAndResume(reuse ? live : null);
            } catch (IOException | RuntimeException first) {
                // Our connection closed under us, or the monitor did not answer: a stream stalled
                // after migrate-continue that this session did not send (a restarted MMS's). Once
                // more on a connection of our own, the stream cut first.
                unanswered = first.getMessage();
                if (reuse || cut.isEmpty()) {
                    cut = cut.isEmpty() ? cutStream() : cut;
                    try {
                        cancelAndResume(null);
                        unanswered = null;
                    } catch (IOException | RuntimeException again) {
                        unanswered = again.getMessage();
                    }
                }
            }
            cleanupDestination();
            if (unanswered != null) {
                log.warn("migration {}: cancelling the QEMU migration of {} failed: {}", id, server, unanswered);
                // QEMU resumes the guest itself once its stream fails (TCP gives up, or the peer's reset)
                fail("QEMU migration not cancelled: the monitor at " + from + " did not answer (" + unanswered
                        + ")" + cut + "; " + server + " stays paused at " + from + " until its migration stream fails");
                return;
            }
            fail("QEMU migration cancelled" + cut + "; " + server + " runs at " + from);
        }

        /**
         * After migrate-continue QEMU's migration thread sends the last RAM and the device state
         * holding the big lock. A stream that stalls there (a WAN gone silent) keeps the source's
         * monitor from answering anything, migrate_cancel included, until TCP gives up (about 15
         * minutes), and the guest stays paused. The source's agent destroys the stream's connection:
         * the write fails, QEMU fails the migration, and its monitor answers again. Harmless when
         * the stream is gone already. Returns what it did, for the failure's reason.
         */
        private String cutStream() {
            try {
                JsonNode r = http.post(agent(from, "vms/" + server + "/cut-migration"), null, AGENT_TIMEOUT).join();
                int n = r.path("cut").asInt();
                log.info("migration {}: the source's agent at {} cut {} migration stream connection(s)", id, from, n);
                return n > 0 ? " (its stream to " + to + " cut at " + from + ")" : "";
            } catch (RuntimeException e) {
                log.warn("migration {}: cutting the migration stream at {} failed: {}", id, from,
                        WanmigException.messageOf(e));
                return "";
            }
        }

        /**
         * The source's monitor. After a predecessor's switchover in the pause, the guest is paused
         * or at the destination already, and a monitor that does not greet within the completion
         * budget is held up by QEMU's migration thread on a stalled stream (the rest has had that
         * budget since migrate-continue): the stream is cut, and the monitor asked again.
         */
        private QmpClient connectSource(String address) throws IOException {
            try {
                return QmpClient.connect(address, afterPause ? greetingBudget() : QMP_TIMEOUT, this::onSourceEvent);
            } catch (IOException e) {
                if (!afterPause) {
                    throw e;
                }
                cutAtStart = cutStream();
                log.warn("migration {}: the source's monitor did not answer after {} ({}); its stream cut: {}", id,
                        switchover, e.getMessage(), cutAtStart.isEmpty() ? "nothing to cut" : cutAtStart);
                return QmpClient.connect(address, QMP_TIMEOUT, this::onSourceEvent);
            }
        }

        /**
         * The completion budget, counted from the take-over when that bounds the switchover: a
         * successor that first spent seconds asking a silent destination whether it took over
         * has spent them from the stream's budget too (not below GREETING_FLOOR).
         */
        private Duration greetingBudget() {
            Duration budget = options.completionBudget();
            if (predecessorsGoneBy <= 0) {
                return budget;
            }
            long left = predecessorsGoneBy + budget.toMillis() - System.currentTimeMillis();
            return left > budget.toMillis() ? budget : Duration.ofMillis(Math.max(GREETING_FLOOR.toMillis(), left));
        }

        /**
         * Lets a start() under way finish first. It may hold, or be waiting for, the source's
         * monitor, which serves one client: a connection of the cancel's own would queue behind
         * it, and a destination it is starting would come after the cancel's cleanup. The cut
         * just made frees the monitor, so start() gets through and fails, or follows on, at once.
         */
        private void awaitStart() {
            if (!starting) {
                return;
            }
            try {
                started.get(options.completionBudget().plus(QMP_TIMEOUT.multipliedBy(2)).toMillis(),
                        TimeUnit.MILLISECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            } catch (java.util.concurrent.ExecutionException | java.util.concurrent.TimeoutException e) {
                log.warn("migration {}: cancelling while its start is still under way: {}", id, e.toString());
            }
        }

        /** migrate_cancel, then cont if the source is not running; on {@code qmp}, or a new connection if null. */
        private void cancelAndResume(QmpClient qmp) throws IOException {
            QmpClient own = null;
            if (qmp == null) {
                JsonNode src = http.get(agent(from, "vms/" + server), AGENT_TIMEOUT).join();
                own = QmpClient.connect(src.path("qmp").asText(), QMP_TIMEOUT, e -> { });
                qmp = own;
                log.debug("migration {}: the source's monitor greeted the cancel's own connection", id);
            }
            try {
                qmp.call("migrate_cancel", null, QMP_TIMEOUT);
                // A cancel in pre-switchover leaves the guest stopped on some QEMU versions; a
                // completed source waits in postmigrate, one stopped on a write error in io-error.
                JsonNode status = qmp.call("query-status", null, QMP_TIMEOUT);
                if (!status.path("running").asBoolean(true)) {
                    qmp.call("cont", null, QMP_TIMEOUT);
                }
                log.debug("migration {}: cancelled, the source {}", id, status.path("status").asText());
            } finally {
                if (own != null) {
                    own.close();
                }
            }
        }

        private void cleanupDestination() {
            try {
                http.delete(agent(to, "vms/" + server + "/incoming"), AGENT_TIMEOUT).join();
            } catch (RuntimeException e) {
                log.warn("migration {}: stopping the destination QEMU at {} failed: {}", id, to, e.getMessage());
            }
        }

        private String stats() {
            try {
                JsonNode q = source.call("query-migrate", null, QMP_TIMEOUT);
                JsonNode ram = q.path("ram");
                return String.format(": %s of %s sent, %s remaining, dirty %d pages/s, expected downtime %d ms",
                        mb(ram.path("transferred").asLong()), mb(ram.path("total").asLong()),
                        mb(ram.path("remaining").asLong()), ram.path("dirty-pages-rate").asLong(),
                        q.path("expected-downtime").asLong());
            } catch (IOException | RuntimeException e) {
                return "";
            }
        }

        private String completionStats() {
            try {
                JsonNode q = source.call("query-migrate", null, QMP_TIMEOUT);
                // QEMU 7.2 emits "completed" before it computes total-time and downtime (both 0
                // until then): ask again briefly rather than report a 0 ms downtime
                for (int i = 0; i < STATS_RETRIES && q.path("total-time").asLong() == 0; i++) {
                    Thread.sleep(STATS_RETRY_MS);
                    q = source.call("query-migrate", null, QMP_TIMEOUT);
                }
                JsonNode ram = q.path("ram");
                return String.format(": total %d ms, downtime %d ms, RAM %s transferred in %d syncs",
                        q.path("total-time").asLong(), q.path("downtime").asLong(),
                        mb(ram.path("transferred").asLong()), ram.path("dirty-sync-count").asLong());
            } catch (IOException | RuntimeException e) {
                return "";
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return "";
            }
        }

        private String queryError() {
            try {
                return source.call("query-migrate", null, QMP_TIMEOUT).path("error-desc").asText("");
            } catch (IOException | RuntimeException e) {
                return "";
            }
        }

        private void progress(String detail) {
            if (listener != null) {
                listener.progress(id, detail);
            }
        }

        private void fail(String reason) {
            if (finished) {
                return;
            }
            finished = true;
            if (listener != null) {
                listener.failed(id, reason);
            }
            end();
        }

        void end() {
            finished = true;
            sessions.remove(id, this);
            closeConnections();
        }

        private void closeConnections() {
            if (source != null) {
                source.close();
            }
            if (destination != null) {
                destination.close();
            }
        }
    }
}
