package org.wanmig.spi;

import org.wanmig.api.Migration;
import org.wanmig.api.MigrationId;

import java.util.Collection;
import java.util.Map;
import java.util.Optional;

/**
 * Where migration records and server placements live: a distributed map in ONOS, a local file in
 * the embedded runtime. The lifecycle writes a record before acting on its new state, so another
 * instance (or a restarted one) can resume from the store alone.
 */
public interface MigrationStore {

    /** A fresh id, never handed out before by this store. */
    MigrationId nextId();

    Optional<Migration> get(MigrationId id);

    Collection<Migration> all();

    void put(Migration migration);

    /**
     * The record with a note added within its phase (progress, figures): nothing to resume from,
     * so a store may show it at once and write it with the next {@link #put} rather than make the
     * lifecycle wait for a disk (QEMU's last pre-copy pass is noted just before its pause).
     */
    default void note(Migration migration) {
        put(migration);
    }

    /**
     * The record written before a step taken inside a guest's pause, where a disk flush would be
     * paid by the guest: shown at once and written soon after, off the caller's thread, never
     * over a later {@link #put} of the same record. A store whose every write costs the same
     * writes it through.
     */
    default void mark(Migration migration) {
        put(migration);
    }

    /** Forgets a finished migration (pruned after the retention period). */
    void remove(MigrationId id);

    /** Server name to the data center it runs in, for servers that moved since configuration. */
    Map<String, String> placements();

    void setPlacement(String server, String dataCenter);
}
