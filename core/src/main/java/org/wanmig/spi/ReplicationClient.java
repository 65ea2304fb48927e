package org.wanmig.spi;

import org.wanmig.config.DataCenter;
import org.wanmig.config.VirtualServer;

import java.time.Duration;
import java.util.concurrent.CompletableFuture;

/** How the MMS steers the replication of a server's disk between two data centers. */
public interface ReplicationClient {

    /** Switch to synchronous replication and complete once the replica is identical (RPO 0). */
    CompletableFuture<Void> goSynchronous(VirtualServer server, DataCenter primary, DataCenter replica,
                                          Duration timeout);

    /** Make {@code newPrimary} the primary and {@code oldPrimary} its replica. */
    CompletableFuture<Void> reverseRoles(VirtualServer server, DataCenter oldPrimary, DataCenter newPrimary);

    /** Back to normal operation: {@code primary} is primary and replication is asynchronous. */
    CompletableFuture<Void> restore(VirtualServer server, DataCenter primary, DataCenter replica);
}
