package org.wanmig.testing;

import org.wanmig.api.Migration;
import org.wanmig.api.MigrationId;
import org.wanmig.api.MigrationListener;
import org.wanmig.api.MigrationService;
import org.wanmig.api.MigrationState;
import org.wanmig.api.TunnelLabels;
import org.wanmig.api.WanmigException;
import org.wanmig.config.DataCenter;
import org.wanmig.config.VirtualServer;
import org.wanmig.config.WanTopology;

import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * A migration service whose migrations end only when the test says so ({@link #complete},
 * {@link #fail}), or when aborted (at once, ROLLED_BACK). Listeners are told on the caller's
 * thread, as the real lifecycle does on its own.
 */
public final class FakeMigrationService implements MigrationService {
    private final WanTopology topology;
    private final Map<MigrationId, Migration> migrations = new LinkedHashMap<>();
    private final Map<String, String> locations = new HashMap<>();
    private final Set<String> refusing = new HashSet<>();
    private final List<MigrationId> aborted = new ArrayList<>();
    private final List<MigrationListener> listeners = new CopyOnWriteArrayList<>();
    private long nextId = 1;
    private long now = 1_000;

    public FakeMigrationService(WanTopology topology) {
        this.topology = topology;
        topology.servers().forEach(v -> locations.put(v.name(), v.dc()));
    }

    /** startMigration refuses {@code server} (UNAVAILABLE) until {@link #accept}. */
    public synchronized void refuse(String server) {
        refusing.add(server);
    }

    public synchronized void accept(String server) {
        refusing.remove(server);
    }

    /** Every migration started, oldest first. */
    public synchronized List<Migration> started() {
        return new ArrayList<>(migrations.values());
    }

    /** Servers with a migration in flight. */
    public synchronized Set<String> inFlight() {
        Set<String> out = new HashSet<>();
        migrations.values().stream().filter(Migration::isActive).forEach(m -> out.add(m.server()));
        return out;
    }

    public synchronized List<MigrationId> aborted() {
        return new ArrayList<>(aborted);
    }

    /** Runs the server's active migration to COMPLETED, telling listeners of each step. */
    public void complete(String server) {
        Migration m = activeOrFail(server);
        for (MigrationState s : List.of(MigrationState.PREPARING, MigrationState.MIGRATING, MigrationState.CUTOVER,
                MigrationState.ROUTES_UPDATED, MigrationState.DRAINING, MigrationState.COMPLETED)) {
            m = record(m.transition(s, ++now, ""));
        }
        synchronized (this) {
            locations.put(server, m.destination());
        }
    }

    /** The server's active migration fails (its rules rolled back; it stays at the source). */
    public void fail(String server, String reason) {
        Migration m = activeOrFail(server);
        record(m.withError(reason).transition(MigrationState.FAILED, ++now, reason));
    }

    private Migration activeOrFail(String server) {
        return activeMigration(server).orElseThrow(() -> new AssertionError("no migration of " + server + " runs"));
    }

    private Migration record(Migration m) {
        synchronized (this) {
            migrations.put(m.id(), m);
        }
        listeners.forEach(l -> l.transitioned(m));
        return m;
    }

    @Override
    public Collection<DataCenter> dataCenters() {
        return topology.dataCenters();
    }

    @Override
    public Collection<VirtualServer> servers() {
        return topology.servers();
    }

    @Override
    public synchronized String location(String server) {
        return locations.get(server);
    }

    @Override
    public synchronized Optional<Migration> activeMigration(String server) {
        return migrations.values().stream().filter(m -> m.server().equals(server) && m.isActive()).findFirst();
    }

    @Override
    public synchronized Collection<Migration> migrations() {
        return new ArrayList<>(migrations.values());
    }

    @Override
    public synchronized Optional<Migration> migration(MigrationId id) {
        return Optional.ofNullable(migrations.get(id));
    }

    @Override
    public Migration startMigration(String server, String destination) {
        Migration m;
        synchronized (this) {
            if (refusing.contains(server)) {
                throw WanmigException.unavailable("the hypervisor of " + server + " does not answer");
            }
            if (activeMigration(server).isPresent()) {
                throw WanmigException.conflict("server", server + " is already migrating");
            }
            m = Migration.requested(MigrationId.of(nextId++), server, locations.get(server), destination, 2,
                    new TunnelLabels(1000, Map.of()), ++now);
        }
        return record(m);
    }

    @Override
    public Migration abort(MigrationId id) {
        Migration m;
        synchronized (this) {
            m = migrations.get(id);
            if (m == null) {
                throw WanmigException.notFound("id", "no migration " + id);
            }
            if (!m.isActive()) {
                throw WanmigException.conflict("id", "migration " + id + " has ended: " + m.state());
            }
            aborted.add(id);
        }
        return record(m.withError("aborted").transition(MigrationState.ROLLED_BACK, ++now, "aborted"));
    }

    @Override
    public Migration hypervisorCompleted(MigrationId id, String detail) {
        complete(migration(id).orElseThrow().server());
        return migration(id).orElseThrow();
    }

    @Override
    public Migration hypervisorFailed(MigrationId id, String reason) {
        fail(migration(id).orElseThrow().server(), reason);
        return migration(id).orElseThrow();
    }

    @Override
    public void addListener(MigrationListener listener) {
        listeners.add(listener);
    }

    @Override
    public void removeListener(MigrationListener listener) {
        listeners.remove(listener);
    }
}
