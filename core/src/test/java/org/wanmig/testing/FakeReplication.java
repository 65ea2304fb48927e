package org.wanmig.testing;

import org.wanmig.api.AgentDiskStatus;
import org.wanmig.api.Promotion;
import org.wanmig.config.DataCenter;
import org.wanmig.config.VirtualServer;
import org.wanmig.spi.ReplicationClient;

import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;

/** Replication whose answers the test decides: at once by default, held, or failed. */
public final class FakeReplication implements ReplicationClient {
    private final List<String> calls = new CopyOnWriteArrayList<>();
    private final List<CompletableFuture<Void>> heldSyncs = new CopyOnWriteArrayList<>();
    private volatile boolean holdSync;
    private volatile boolean holdRestore;
    private final CompletableFuture<Void> heldRestore = new CompletableFuture<>();
    private volatile RuntimeException reverseError;
    private final AtomicInteger restoreFailures = new AtomicInteger();
    private volatile RuntimeException restoreError;
    private volatile RuntimeException checkError;
    /** Per server: the DC whose copy was last promoted by a failover, and its generation. */
    private final Map<String, String> promotedAt = new ConcurrentHashMap<>();
    private final Map<String, Long> generations = new ConcurrentHashMap<>();
    private final Map<String, RuntimeException> promoteErrors = new ConcurrentHashMap<>();
    private final Map<String, long[]> lags = new ConcurrentHashMap<>();

    /** Per DC: the disks its agent reports, or absent: the agent does not answer. */
    private final Map<String, List<AgentDiskStatus>> agentDisks = new ConcurrentHashMap<>();

    /** The agent of {@code dc} answers with these disks (an empty list: it answers, serving none). */
    public void agentAnswers(String dc, AgentDiskStatus... disks) {
        agentDisks.put(dc, List.of(disks));
    }

    /** The agent of {@code dc} does not answer the controller (unreachable, or dead). */
    public void agentSilent(String dc) {
        agentDisks.remove(dc);
    }

    /** The agent refuses to promote {@code server}'s replica. */
    public void refusePromote(String server, RuntimeException e) {
        promoteErrors.put(server, e);
    }

    /** The last known lag of {@code server}'s replica: what a promotion reports as lost. */
    public void lag(String server, long bytes, long writes) {
        lags.put(server, new long[] {bytes, writes});
    }

    /** The generation of {@code server}'s disk (0 before any failover). */
    public long generation(String server) {
        return generations.getOrDefault(server, 0L);
    }

    /** goSynchronous answers only when the test says so (or never). */
    public void holdSync() {
        holdSync = true;
    }

    public void completeSyncs() {
        heldSyncs.forEach(f -> f.complete(null));
    }

    public void failSyncs(RuntimeException e) {
        heldSyncs.forEach(f -> f.completeExceptionally(e));
    }

    /** The take-over check before the move answers with this refusal. */
    public void refuseTakeOverCheck(RuntimeException e) {
        checkError = e;
    }

    private final Map<String, CompletableFuture<Void>> heldRetires = new ConcurrentHashMap<>();

    private final List<String> takeOverIds = new CopyOnWriteArrayList<>();

    private volatile Runnable onTakeOver = () -> { };

    /** Runs {@code r} on the caller's thread whenever a take-over is asked, before it answers. */
    public void onTakeOver(Runnable r) {
        onTakeOver = r;
    }

    /** The names the take-overs were asked with, in order. */
    public List<String> takeOverIds() {
        return takeOverIds;
    }

    public void failReverse(RuntimeException e) {
        reverseError = e;
    }

    /**
     * "sync vs1 dcA>dcB", "check vs1 dcA>dcB", "reverse vs1 dcA>dcB", "takeover vs1 dcA>dcB", "retire vs1 dcA",
     * "restore vs1 dcA<dcB", "reclaim vs1 dcA<dcB", "promote vs1 dcB lost dcA".
     */
    public List<String> calls() {
        return calls;
    }

    @Override
    public CompletableFuture<Void> goSynchronous(VirtualServer server, DataCenter primary, DataCenter replica,
                                                 Duration timeout) {
        calls.add("sync " + server.name() + " " + primary.name() + ">" + replica.name());
        if (holdSync) {
            CompletableFuture<Void> f = new CompletableFuture<>();
            heldSyncs.add(f);
            return f;
        }
        return CompletableFuture.completedFuture(null);
    }

    @Override
    public CompletableFuture<Void> reverseRoles(VirtualServer server, DataCenter oldPrimary, DataCenter newPrimary) {
        calls.add("reverse " + server.name() + " " + oldPrimary.name() + ">" + newPrimary.name());
        return reverseError == null ? CompletableFuture.completedFuture(null)
                : CompletableFuture.failedFuture(reverseError);
    }

    @Override
    public CompletableFuture<String> takeOver(String takeOverId, VirtualServer server, DataCenter oldPrimary,
                                              DataCenter newPrimary) {
        calls.add("takeover " + server.name() + " " + oldPrimary.name() + ">" + newPrimary.name());
        takeOverIds.add(takeOverId);
        onTakeOver.run();
        return reverseError == null ? CompletableFuture.completedFuture(newPrimary.name() + " took over")
                : CompletableFuture.failedFuture(reverseError);
    }

    @Override
    public CompletableFuture<String> checkTakeOver(VirtualServer server, DataCenter oldPrimary, DataCenter newPrimary) {
        calls.add("check " + server.name() + " " + oldPrimary.name() + ">" + newPrimary.name());
        return checkError == null ? CompletableFuture.completedFuture(newPrimary.name() + " ready to take over")
                : CompletableFuture.failedFuture(checkError);
    }

    @Override
    public CompletableFuture<Void> retire(VirtualServer server, DataCenter oldPrimary) {
        calls.add("retire " + server.name() + " " + oldPrimary.name());
        return heldRetires.getOrDefault(oldPrimary.name(), CompletableFuture.completedFuture(null));
    }

    /** retire at {@code dc} answers only when the returned future is completed (an agent that does not answer). */
    public CompletableFuture<Void> holdRetire(String dc) {
        return heldRetires.computeIfAbsent(dc, k -> new CompletableFuture<>());
    }

    @Override
    public CompletableFuture<Void> restore(VirtualServer server, DataCenter primary, DataCenter replica) {
        calls.add("restore " + server.name() + " " + primary.name() + "<" + replica.name());
        if (restoreFailures.getAndDecrement() > 0) {
            return CompletableFuture.failedFuture(restoreError);
        }
        return holdRestore ? heldRestore : CompletableFuture.completedFuture(null);
    }

    /** The next {@code times} restores or reclaims fail with {@code error} (an agent down, then back). */
    public void failRestores(int times, RuntimeException error) {
        restoreError = error;
        restoreFailures.set(times);
    }

    /** How many restores were asked so far. */
    public long restores() {
        return calls.stream().filter(c -> c.startsWith("restore ")).count();
    }

    /** How many reclaims were asked so far. */
    public long reclaims() {
        return calls.stream().filter(c -> c.startsWith("reclaim ")).count();
    }

    @Override
    public CompletableFuture<Void> reclaim(VirtualServer server, DataCenter primary, DataCenter replica) {
        calls.add("reclaim " + server.name() + " " + primary.name() + "<" + replica.name());
        if (restoreFailures.getAndDecrement() > 0) {
            return CompletableFuture.failedFuture(restoreError);
        }
        return holdRestore ? heldRestore : CompletableFuture.completedFuture(null);
    }

    /** restore and reclaim answer only when {@link #restoreHeld} is completed. */
    public void holdRestore() {
        holdRestore = true;
    }

    public CompletableFuture<Void> restoreHeld() {
        return heldRestore;
    }

    /** Like the agent: a new generation, unless the copy is primary there already (then as it is). */
    @Override
    public CompletableFuture<Promotion> promote(VirtualServer server, DataCenter at, DataCenter lost) {
        String name = server.name();
        calls.add("promote " + name + " " + at.name() + " lost " + lost.name());
        RuntimeException refused = promoteErrors.get(name);
        if (refused != null) {
            return CompletableFuture.failedFuture(refused);
        }
        if (at.name().equals(promotedAt.get(name))) {
            return CompletableFuture.completedFuture(new Promotion(generation(name), 0, 0, 0, 0,
                    "already primary at " + at.name()));
        }
        long g = generations.merge(name, 1L, Long::sum);
        promotedAt.put(name, at.name());
        long[] lag = lags.getOrDefault(name, new long[] {0, 0});
        return CompletableFuture.completedFuture(new Promotion(g, lag[0], lag[1], lag[1] > 0 ? 0.5 : 0, 0,
                "promoted at " + at.name() + " to generation " + g));
    }

    /** What the test set with agentAnswers, or a never-completing future: no answer (the caller's timeout decides). */
    @Override
    public CompletableFuture<List<AgentDiskStatus>> disks(DataCenter dc, Duration timeout) {
        List<AgentDiskStatus> d = agentDisks.get(dc.name());
        return d == null ? new CompletableFuture<>() : CompletableFuture.completedFuture(d);
    }
}
