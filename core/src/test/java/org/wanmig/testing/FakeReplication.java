package org.wanmig.testing;

import org.wanmig.config.DataCenter;
import org.wanmig.config.VirtualServer;
import org.wanmig.spi.ReplicationClient;

import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;

/** Replication whose answers the test decides: at once by default, held, or failed. */
public final class FakeReplication implements ReplicationClient {
    private final List<String> calls = new CopyOnWriteArrayList<>();
    private final List<CompletableFuture<Void>> heldSyncs = new CopyOnWriteArrayList<>();
    private volatile boolean holdSync;
    private volatile RuntimeException reverseError;

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

    public void failReverse(RuntimeException e) {
        reverseError = e;
    }

    /** "sync vs1 dcA>dcB", "reverse vs1 dcA>dcB", "restore vs1 dcA<dcB". */
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
    public CompletableFuture<Void> restore(VirtualServer server, DataCenter primary, DataCenter replica) {
        calls.add("restore " + server.name() + " " + primary.name() + "<" + replica.name());
        return CompletableFuture.completedFuture(null);
    }
}
