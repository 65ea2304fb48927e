package org.wanmig.api;

import org.wanmig.config.DataCenter;
import org.wanmig.config.VirtualServer;

import java.util.Collection;
import java.util.Optional;

/**
 * The migration management system as its users see it (CLI, REST, whole-DC plans). Every
 * refusal is a {@link WanmigException} thrown before anything is changed.
 */
public interface MigrationService {

    Collection<DataCenter> dataCenters();

    Collection<VirtualServer> servers();

    /** The data center a server runs in now. */
    String location(String server);

    /** The active migration of a server, if one runs. */
    Optional<Migration> activeMigration(String server);

    Collection<Migration> migrations();

    Optional<Migration> migration(MigrationId id);

    /**
     * Starts moving {@code server} to {@code destination}; it attaches at the destination PE's
     * port configured for it (servers[].ports), else the first server port of that data center.
     */
    Migration startMigration(String server, String destination);

    /** Gives up a migration that has not completed; everything returns to the source. */
    Migration abort(MigrationId id);

    /** The hypervisor's report that the server runs at the destination (the cutover trigger). */
    Migration hypervisorCompleted(MigrationId id, String detail);

    /** The hypervisor's report that it could not move the server. */
    Migration hypervisorFailed(MigrationId id, String reason);

    void addListener(MigrationListener listener);

    void removeListener(MigrationListener listener);
}
