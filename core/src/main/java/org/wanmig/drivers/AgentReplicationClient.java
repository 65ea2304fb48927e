package org.wanmig.drivers;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.wanmig.api.AgentDiskStatus;
import org.wanmig.api.Promotion;
import org.wanmig.config.DataCenter;
import org.wanmig.config.MigrationSettings;
import org.wanmig.config.VirtualServer;
import org.wanmig.spi.ReplicationClient;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.SocketTimeoutException;
import java.net.URI;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Supplier;

import javax.net.ssl.HttpsURLConnection;

/**
 * Steers the replication agents of two data centers through their control API (disk name =
 * server name). A data center with no agent configured has nothing to steer: its side completes
 * at once, which is the direct mode for testbeds without storage; so does a server whose disk is
 * not on the agents ({@code servers[].replicated} false).
 */
public final class AgentReplicationClient implements ReplicationClient {
    private static final Duration CALL_TIMEOUT = Duration.ofSeconds(10);
    /** What an HTTP call waits beyond the budget it gives the agent: the answer's way back. */
    private static final Duration MARGIN = Duration.ofSeconds(5);
    /** The agent takes a positive handover budget; after a takeover there is nothing to hand over. */
    private static final Duration RETIRE_HANDOVER = Duration.ofMillis(1);
    /**
     * The take-over's budget: it is inside the guest's pause and takes milliseconds; an agent that
     * does not answer within this fails the switchover (rolled back, the guest goes on at the
     * source) rather than holding the guest paused for the general call timeout.
     */
    private static final Duration TAKEOVER_TIMEOUT = Duration.ofSeconds(2);

    /**
     * How long a refused take-over check is asked again: the replica learns the SYNC mode from the
     * primary's STATUS frames (every 250 ms) and, the guest still writing, may see a write in
     * flight; a reason that outlasts this is one the pause would meet too.
     */
    private static final Duration CHECK_WINDOW = Duration.ofSeconds(2);
    private static final long CHECK_RETRY_MS = 20;

    /** What opening a take-over channel, or a check over it, may take, before the move. */
    private static final Duration CHANNEL_SETUP_TIMEOUT = Duration.ofSeconds(2);

    private final Supplier<Duration> demoteBudget;
    /** Take-over channels, by agent (URI and token), opened by the checks before the move. */
    private final Map<String, TakeOverChannel> channels = new ConcurrentHashMap<>();

    /** With the default demote budget ({@link MigrationSettings#DEFAULT_DEMOTE_TIMEOUT}). */
    public AgentReplicationClient() {
        this(() -> MigrationSettings.DEFAULT_DEMOTE_TIMEOUT);
    }

    /**
     * @param demoteBudget the handover budget each demote is given (migration.demoteTimeoutSeconds,
     *                     read per call); the agent is told it, and the call waits it plus a margin
     */
    public AgentReplicationClient(Supplier<Duration> demoteBudget) {
        this.demoteBudget = demoteBudget;
    }

    @Override
    public CompletableFuture<Void> goSynchronous(VirtualServer server, DataCenter primary, DataCenter replica,
                                                 Duration timeout) {
        if (primary.agent() == null || !server.replicated()) {
            return done();
        }
        ObjectNode mode = JsonHttp.mapper().createObjectNode().put("mode", "SYNC");
        ObjectNode wait = JsonHttp.mapper().createObjectNode().put("timeoutMs", timeout.toMillis());
        return call(primary, server, "mode", mode, CALL_TIMEOUT)
                .thenCompose(x -> call(primary, server, "wait-sync", wait, timeout.plusSeconds(5)))
                .thenApply(status -> {
                    if (!status.path("inSync").asBoolean(false)) {
                        throw new IllegalStateException(primary.name() + " agent reports " + server.name()
                                + " not in sync: " + status);
                    }
                    return null;
                });
    }

    @Override
    public CompletableFuture<Void> reverseRoles(VirtualServer server, DataCenter oldPrimary, DataCenter newPrimary) {
        if (!server.replicated()) {
            return done();
        }
        // demote first: two primaries at once would accept diverging writes
        return demote(oldPrimary, server)
                .thenCompose(x -> call(newPrimary, server, "promote", null, CALL_TIMEOUT))
                .thenApply(x -> null);
    }

    /** One call at the new primary: promote with takeover (the agent checks its stream is live, SYNC, applied). */
    @Override
    public CompletableFuture<String> takeOver(String takeOverId, VirtualServer server, DataCenter oldPrimary,
                                              DataCenter newPrimary) {
        if (newPrimary.agent() == null) {
            return CompletableFuture.completedFuture("no replication agent at " + newPrimary.name());
        }
        if (!server.replicated()) {
            return CompletableFuture.completedFuture(server.name() + " is not replicated: its storage is left alone");
        }
        String key = channelKey(newPrimary);
        TakeOverChannel channel = channels.get(key);
        if (channel == null || !channel.isOpen()) {
            return takeOverByHttp(takeOverId, server, newPrimary, "");
        }
        long t0 = System.nanoTime();
        long[] at = new long[3];
        return JsonHttp.onDirectThread(channel.toString(), () -> {
            at[0] = System.nanoTime();
            try {
                long generation = channel.takeOver(server.name(), takeOverId, TAKEOVER_TIMEOUT, at);
                return describeTakeOver(newPrimary, generation, "channel", t0, at);
            } catch (SocketTimeoutException e) {
                forget(key, channel);   // an agent that does not answer here would not over HTTP either
                throw new IOException(newPrimary.name() + " agent did not answer the take-over within "
                        + TAKEOVER_TIMEOUT.toMillis() + " ms", e);
            } catch (IOException e) {
                forget(key, channel);
                throw new ChannelBroken(e);
            }
        }).handle((how, error) -> {
            if (error == null) {
                return CompletableFuture.completedFuture(how);
            }
            Throwable cause = error instanceof CompletionException && error.getCause() != null ? error.getCause() : error;
            if (!(cause instanceof ChannelBroken)) {
                return CompletableFuture.<String>failedFuture(cause);
            }
            // the same named take-over: one that reached the agent before the channel broke is answered as done
            return takeOverByHttp(takeOverId, server, newPrimary, String.format(
                    " after the take-over channel broke (%s, %.1f ms)", cause.getCause().getMessage(),
                    (System.nanoTime() - t0) / 1e6));
        }).thenCompose(f -> f);
    }

    private CompletableFuture<String> takeOverByHttp(String takeOverId, VirtualServer server, DataCenter newPrimary,
                                                     String after) {
        ObjectNode takeover = JsonHttp.mapper().createObjectNode().put("takeover", true).put("takeoverId", takeOverId);
        long t0 = System.nanoTime();
        long[] at = new long[3];
        return callDirect(newPrimary, server, "promote", takeover, TAKEOVER_TIMEOUT, at).thenApply(status ->
                describeTakeOver(newPrimary, status.path("generation").asLong(-1), "agent", t0, at) + after);
    }

    private static String describeTakeOver(DataCenter dc, long generation, String how, long t0, long[] at) {
        return String.format("%s took over at generation %d (%s call %.1f ms: on the call's thread after %.1f,"
                        + " request written after %.1f, answered after %.1f)", dc.name(), generation, how,
                (System.nanoTime() - t0) / 1e6, (at[0] - t0) / 1e6, (at[1] - t0) / 1e6, (at[2] - t0) / 1e6);
    }

    /** A take-over channel that failed before an answer (not a timeout): the call goes over HTTP. */
    private static final class ChannelBroken extends UncheckedIOException {
        private static final long serialVersionUID = 1L;

        ChannelBroken(IOException cause) {
            super(cause);
        }
    }

    private static String channelKey(DataCenter dc) {
        return dc.agent() + "#" + (dc.agentToken() == null ? 0 : dc.agentToken().hashCode());
    }

    private void forget(String key, TakeOverChannel channel) {
        channel.close();
        channels.remove(key, channel);
    }

    /**
     * After a take-over check the agent answered with its channel's port: the pause's call goes
     * over that channel, opened (and authenticated) now if it is not open, and checked over; never
     * fails, it says what it did, or why the pause's call will go over HTTP. On a thread for direct calls.
     */
    private CompletableFuture<String> ensureChannel(DataCenter dc, VirtualServer server, int port) {
        String key = channelKey(dc);
        return JsonHttp.onDirectThread("take-over channel", () -> {
            TakeOverChannel open = channels.get(key);
            if (open != null && open.port() == port && open.isOpen()) {
                try {
                    checkOver(open, server);
                    return "";
                } catch (IOException | RuntimeException e) {
                    forget(key, open);
                }
            }
            // an HTTPS agent's channel is TLS, trusted as its HTTPS calls are (HttpsURLConnection's default)
            boolean tls = "https".equalsIgnoreCase(dc.agent().getScheme());
            TakeOverChannel fresh = null;
            try {
                fresh = TakeOverChannel.open(dc.agent().getHost(), port, dc.agentToken(),
                        CHANNEL_SETUP_TIMEOUT, tls ? HttpsURLConnection.getDefaultSSLSocketFactory() : null);
                checkOver(fresh, server);
                TakeOverChannel old = channels.put(key, fresh);
                if (old != null) {
                    old.close();
                }
                return "; take-over channel open (port " + port + (tls ? ", TLS" : "") + ", checked over it)";
            } catch (IOException | RuntimeException e) {
                if (fresh != null) {
                    fresh.close();
                }
                return "; no take-over channel (" + e.getMessage() + "): the pause's call goes over HTTP";
            }
        });
    }

    /**
     * The take-over check once more, over the channel: it proves the channel (as a ping would)
     * and takes the take-over's own path at both ends, whose first run in each process cost
     * 10-40 ms inside the pause (classes loaded and linked, the request's patterns compiled). A
     * refusal (409: the check over HTTP just passed, a write was in flight) proves it as well.
     */
    private static void checkOver(TakeOverChannel channel, VirtualServer server) throws IOException {
        try {
            channel.check(server.name(), CHANNEL_SETUP_TIMEOUT);
        } catch (JsonHttp.Refused e) {
            if (e.status() != 409) {
                throw e;
            }
        }
    }

    /**
     * The take-over's checks at the new primary, changing nothing (promote with takeover and
     * check), asked again while refused within {@link #CHECK_WINDOW}. The same route, body types
     * and HTTP client path as {@link #takeOver}, so the pause's call is not the first of its kind,
     * and asked every few seconds until the pause it keeps that call's connection open.
     */
    @Override
    public CompletableFuture<String> checkTakeOver(VirtualServer server, DataCenter oldPrimary, DataCenter newPrimary) {
        if (newPrimary.agent() == null || !server.replicated()) {
            return CompletableFuture.completedFuture(null);
        }
        ObjectNode check = JsonHttp.mapper().createObjectNode().put("takeover", true).put("check", true);
        CompletableFuture<String> result = new CompletableFuture<>();
        checkUntilReady(server, newPrimary, check, System.nanoTime(), 1, result);
        return result;
    }

    private void checkUntilReady(VirtualServer server, DataCenter newPrimary, ObjectNode check, long t0, int attempt,
                                 CompletableFuture<String> result) {
        long sent = System.nanoTime();
        callDirect(newPrimary, server, "promote", check, CALL_TIMEOUT, new long[3]).whenComplete((status, error) -> {
            String tries = attempt == 1 ? "" : String.format(", %d checks in %.1f ms", attempt, (System.nanoTime() - t0) / 1e6);
            if (error == null) {
                if (!status.path("takeoverReady").asBoolean(false)) {
                    // an agent that ignored "check" would have taken over for real
                    result.completeExceptionally(new IllegalStateException(newPrimary.name()
                            + " agent answered the take-over check without takeoverReady: " + status));
                } else {
                    String ready = String.format("%s ready to take over (check %.1f ms%s)", newPrimary.name(),
                            (System.nanoTime() - sent) / 1e6, tries);
                    int port = status.path("takeOverPort").asInt(0);
                    if (port <= 0 || port > 65535) {
                        result.complete(ready);
                    } else {
                        ensureChannel(newPrimary, server, port).whenComplete((note, e) -> result.complete(ready
                                + (note != null ? note : "; no take-over channel (" + e + ")")));
                    }
                }
                return;
            }
            Throwable cause = error instanceof java.util.concurrent.CompletionException && error.getCause() != null
                    ? error.getCause() : error;
            boolean refused = cause instanceof JsonHttp.Refused && ((JsonHttp.Refused) cause).status() == 409;
            if (refused && System.nanoTime() - t0 < CHECK_WINDOW.toNanos()) {
                CompletableFuture.delayedExecutor(CHECK_RETRY_MS, java.util.concurrent.TimeUnit.MILLISECONDS)
                        .execute(() -> checkUntilReady(server, newPrimary, check, t0, attempt + 1, result));
                return;
            }
            result.completeExceptionally(refused ? new IllegalStateException(newPrimary.name()
                    + " agent would refuse the take-over in the pause" + tries + ": " + cause.getMessage()) : cause);
        });
    }

    /** Demote with the smallest budget: the old primary's stream ended at the takeover, nothing can hand over. */
    @Override
    public CompletableFuture<Void> retire(VirtualServer server, DataCenter oldPrimary) {
        if (!server.replicated()) {
            return done();
        }
        ObjectNode body = JsonHttp.mapper().createObjectNode().put("timeoutMs", RETIRE_HANDOVER.toMillis());
        return call(oldPrimary, server, "demote", body, RETIRE_HANDOVER.plus(MARGIN)).thenApply(x -> null);
    }

    @Override
    public CompletableFuture<Void> restore(VirtualServer server, DataCenter primary, DataCenter replica) {
        if (!server.replicated()) {
            return done();
        }
        ObjectNode async = JsonHttp.mapper().createObjectNode().put("mode", "ASYNC");
        return demote(replica, server)
                .thenCompose(x -> call(primary, server, "promote", null, CALL_TIMEOUT))
                .thenCompose(x -> call(primary, server, "mode", async, CALL_TIMEOUT))
                .thenApply(x -> null);
    }

    /** Promote with aboveTakeOver (generation+2, see the agent's README), then ASYNC; the replica is not asked. */
    @Override
    public CompletableFuture<Void> reclaim(VirtualServer server, DataCenter primary, DataCenter replica) {
        if (!server.replicated()) {
            return done();
        }
        ObjectNode above = JsonHttp.mapper().createObjectNode().put("aboveTakeOver", true);
        ObjectNode async = JsonHttp.mapper().createObjectNode().put("mode", "ASYNC");
        return call(primary, server, "promote", above, CALL_TIMEOUT)
                .thenCompose(x -> call(primary, server, "mode", async, CALL_TIMEOUT))
                .thenApply(x -> null);
    }

    /**
     * Reads the replica's status first (its last known lag: what the primary last reported
     * unacknowledged, and the writes queued behind the last one applied), then promotes with force:
     * the lost primary cannot hand over. The agent answers a promote of a primary with its status,
     * so a repeated call changes nothing.
     */
    @Override
    public CompletableFuture<Promotion> promote(VirtualServer server, DataCenter at, DataCenter lost) {
        if (at.agent() == null || !server.replicated()) {
            return CompletableFuture.completedFuture(new Promotion(-1, 0, 0, -1, 0, (at.agent() == null
                    ? "no replication agent at " + at.name() : server.name() + "'s disk is not replicated")
                    + ": nothing to promote"));
        }
        ObjectNode force = JsonHttp.mapper().createObjectNode().put("force", true);
        long t0 = System.nanoTime();
        long[] read = new long[1];
        return http(at).get(disk(at, server, ""), CALL_TIMEOUT).thenCompose(before -> {
            read[0] = System.nanoTime();
            return call(at, server, "promote", force, CALL_TIMEOUT).thenApply(after -> {
                    boolean wasPrimary = "PRIMARY".equals(before.path("role").asText());
                    JsonNode report = after.path("lastPromote");
                    long lagBytes = wasPrimary ? 0 : before.path("lagBytes").asLong();
                    long lagWrites = wasPrimary ? 0 : before.path("lagWrites").asLong();
                    double rpo = report.isObject() ? report.path("rpoSeconds").asDouble(-1) : -1;
                    long rolledBack = report.path("rolledBack").asBoolean() ? report.path("rolledBackBytes").asLong() : 0;
                    long generation = after.path("generation").asLong(-1);
                    String detail = (wasPrimary ? "already primary at " + at.name() + " (generation " + generation + ")"
                            : "promoted at " + at.name() + " to generation " + generation + " (forced, " + lost.name()
                            + " lost)") + String.format(" [agent: status %.0f ms, promote %.0f ms]",
                            (read[0] - t0) / 1e6, (System.nanoTime() - read[0]) / 1e6);
                    return new Promotion(generation, lagBytes, lagWrites, rpo, rolledBack, detail);
                });
        });
    }

    /** GET /v1/disks of the agent: its list of disk statuses. */
    @Override
    public CompletableFuture<List<AgentDiskStatus>> disks(DataCenter dc, Duration timeout) {
        if (dc.agent() == null) {
            return CompletableFuture.failedFuture(new IllegalStateException(dc.name() + " has no replication agent"));
        }
        URI uri = URI.create(dc.agent().toString().replaceAll("/+$", "") + "/v1/disks");
        return http(dc).get(uri, timeout).thenApply(list -> {
            if (!list.isArray()) {
                throw new IllegalStateException(dc.name() + " agent answered no disk list: " + list);
            }
            List<AgentDiskStatus> disks = new ArrayList<>();
            for (JsonNode d : list) {
                disks.add(new AgentDiskStatus(d.path("disk").asText(), d.hasNonNull("role") ? d.get("role").asText() : null,
                        d.path("peerConnected").asBoolean(false), d.path("peerSilentMillis").asLong(-1)));
            }
            return disks;
        });
    }

    /** Demote with the budget sent along: the agent hands over within it, the call waits it plus a margin. */
    private CompletableFuture<JsonNode> demote(DataCenter dc, VirtualServer server) {
        Duration budget = demoteBudget.get();
        ObjectNode body = JsonHttp.mapper().createObjectNode().put("timeoutMs", budget.toMillis());
        return call(dc, server, "demote", body, budget.plus(MARGIN));
    }

    private CompletableFuture<JsonNode> call(DataCenter dc, VirtualServer server, String action, JsonNode body,
                                             Duration timeout) {
        if (dc.agent() == null) {
            return CompletableFuture.completedFuture(JsonHttp.mapper().createObjectNode());
        }
        return http(dc).post(disk(dc, server, "/" + action), body, timeout);
    }

    /**
     * {@link #call} for the take-over and its checks: blocking I/O on a thread of its own
     * (JsonHttp#postDirect), which notes its times in {@code stamps}.
     */
    private CompletableFuture<JsonNode> callDirect(DataCenter dc, VirtualServer server, String action, JsonNode body,
                                                   Duration timeout, long[] stamps) {
        return http(dc).postDirect(disk(dc, server, "/" + action), body, timeout, stamps);
    }

    private static JsonHttp http(DataCenter dc) {
        return new JsonHttp(dc.agentToken() == null ? null : "Bearer " + dc.agentToken());
    }

    private static URI disk(DataCenter dc, VirtualServer server, String suffix) {
        String base = dc.agent().toString().replaceAll("/+$", "");
        return URI.create(base + "/v1/disks/" + server.name() + suffix);
    }

    private static CompletableFuture<Void> done() {
        return CompletableFuture.completedFuture(null);
    }
}
