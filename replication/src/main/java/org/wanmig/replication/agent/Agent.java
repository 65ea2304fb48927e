package org.wanmig.replication.agent;

import org.wanmig.replication.control.ControlServer;
import org.wanmig.replication.control.ReplicationControl;
import org.wanmig.replication.control.takeover.TakeOverChannel;
import org.wanmig.replication.core.DiskStatus;
import org.wanmig.replication.core.Mode;
import org.wanmig.replication.core.PromoteReport;
import org.wanmig.replication.core.ReplicatedDisk;
import org.wanmig.replication.core.Role;
import org.wanmig.replication.disk.DiskImage;
import org.wanmig.replication.nbd.BlockDevice;
import org.wanmig.replication.nbd.Exports;
import org.wanmig.replication.nbd.NbdServer;
import org.wanmig.replication.peer.PeerServer;
import org.wanmig.replication.peer.PeerTransport;
import org.wanmig.replication.peer.ReplicationLink;

import java.io.Closeable;
import java.io.IOException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.logging.Logger;

/**
 * One replication agent (one per data center): wires the disks to the NBD server, the peer server
 * (inbound streams for replicas), one outbound link per primary disk, and the control API; and
 * orchestrates role changes, which need both the disk state machine and its link.
 */
public final class Agent implements ReplicationControl, Closeable {
    private static final Logger LOG = Logger.getLogger(Agent.class.getName());
    private static final long HANDOVER_TIMEOUT_MS = 15_000;

    private final AgentConfig config;
    private final Map<String, ReplicatedDisk> disks = new LinkedHashMap<>();
    private final Map<String, ReplicationLink> links = new ConcurrentHashMap<>();
    private final Map<String, Object> roleLocks = new ConcurrentHashMap<>(); // serialises promote/demote per disk
    private final NbdServer nbd;
    private final PeerServer peer;
    private final ControlServer control;
    private final TakeOverChannel takeOverChannel; // null: off
    private PeerTransport peerTransport; // set once in the constructor
    private final ScheduledExecutorService ticker;

    public Agent(AgentConfig config) throws IOException {
        this.config = config;
        List<Closeable> opened = new ArrayList<>();
        try {
            for (DiskConfig dc : config.disks()) {
                DiskImage img = DiskImage.open(dc.image(), dc.sizeBytes());
                ReplicatedDisk d = new ReplicatedDisk(dc.name(), img, dc.role(), config.blockSize(),
                        config.maxBacklogBytes());
                disks.put(dc.name(), d);
                LOG.info("disk " + dc.name() + ": " + dc.image() + " " + img.size() + " bytes, " + d.role()
                        + " " + d.mode());
            }
            TransportConfig t = config.transport();
            nbd = new NbdServer(config.nbdListen(), new AgentExports(), t.maxNbdConnections(), t.handshakeTimeoutMs(),
                    t.frameTimeoutMs());
            opened.add(nbd);
            peerTransport = t.peerTransport(config.psk());
            peer = new PeerServer(config.peerListen(), peerTransport, t.maxPeerConnections(), disks::get);
            opened.add(peer);
            takeOverChannel = startTakeOverChannel(config);
            if (takeOverChannel != null) {
                opened.add(takeOverChannel);
            }
            control = new ControlServer(config.controlListen(), config.token(), this, ControlServer.Options.of(t),
                    takeOverChannel == null ? () -> null : takeOverChannel::port);
            opened.add(control::close);
        } catch (IOException | RuntimeException e) {
            for (Closeable c : opened) {
                try {
                    c.close();
                } catch (IOException ignored) {
                    // best effort on a failed start
                }
            }
            for (ReplicatedDisk d : disks.values()) {
                d.close();
            }
            throw e;
        }
        for (ReplicatedDisk d : disks.values()) {
            if (d.role() == Role.PRIMARY) {
                startLink(d);
            }
        }
        ticker = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "agent-ticker");
            t.setDaemon(true);
            return t;
        });
        // Persist resync progress and refresh throughput once a second.
        ticker.scheduleAtFixedRate(() -> {
            for (ReplicatedDisk d : disks.values()) {
                d.tick();
                if (d.role() == Role.PRIMARY) {
                    d.saveBitmapQuietly();
                }
            }
        }, 1, 1, TimeUnit.SECONDS);
    }

    public int nbdPort() { return nbd.port(); }
    public int peerPort() { return peer.port(); }
    public int controlPort() { return control.port(); }
    /** The take-over channel's port, or null if it is off. */
    public Integer takeOverPort() { return takeOverChannel == null ? null : takeOverChannel.port(); }
    public ReplicatedDisk disk(String name) { return disks.get(name); }

    /** The take-over channel unless configured off; TLS when the control API runs HTTPS (the token is never in clear). */
    private TakeOverChannel startTakeOverChannel(AgentConfig config) throws IOException {
        if (config.takeOverListen() == null) {
            LOG.info("take-over channel off (takeOverListen: off)");
            return null;
        }
        return new TakeOverChannel(config.takeOverListen(), config.token(), this,
                TakeOverChannel.Limits.of(config.transport()),
                config.transport().controlTls() ? config.transport().tls() : null);
    }

    private void startLink(ReplicatedDisk d) {
        if (config.peerAddress() == null) {
            LOG.warning(d.name() + ": PRIMARY but no peerAddress configured; not replicating");
            return;
        }
        ReplicationLink l = new ReplicationLink(d, config.peerAddress(), peerTransport);
        ReplicationLink old = links.put(d.name(), l);
        if (old != null) {
            old.close();
        }
        l.start();
    }

    private final class AgentExports implements Exports {
        @Override
        public BlockDevice find(String name) {
            if (name.isEmpty()) {
                return disks.values().iterator().next();
            }
            return disks.get(name);
        }

        @Override
        public List<String> names() {
            return new ArrayList<>(disks.keySet());
        }
    }

    private ReplicatedDisk require(String name) {
        ReplicatedDisk d = disks.get(name);
        if (d == null) {
            throw new NoSuchDiskException(name);
        }
        return d;
    }

    // ---- ReplicationControl -------------------------------------------------------------------

    @Override
    public List<DiskStatus> list() {
        List<DiskStatus> out = new ArrayList<>();
        for (ReplicatedDisk d : disks.values()) {
            out.add(d.status());
        }
        return out;
    }

    @Override
    public DiskStatus status(String disk) {
        return require(disk).status();
    }

    @Override
    public DiskStatus setMode(String disk, Mode mode) {
        ReplicatedDisk d = require(disk);
        d.setMode(mode);
        LOG.info(disk + ": mode " + mode);
        return d.status();
    }

    @Override
    public DiskStatus waitSync(String disk, long timeoutMs) throws InterruptedException {
        ReplicatedDisk d = require(disk);
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(timeoutMs);
        DiskStatus s = d.status();
        while (!s.inSync() && System.nanoTime() < deadline) {
            Thread.sleep(10);
            s = d.status();
        }
        return s;
    }

    @Override
    public DiskStatus promote(String disk, boolean force) {
        return promote(disk, force, false);
    }

    @Override
    public DiskStatus promote(String disk, boolean force, boolean aboveTakeOver) {
        ReplicatedDisk d = require(disk);
        synchronized (roleLock(disk)) {
            if (d.role() == Role.PRIMARY) {
                return d.status();
            }
            if (aboveTakeOver && force) {
                throw new ConflictException(disk + ": force and aboveTakeOver exclude each other");
            }
            // aboveTakeOver: the peer's stream and our being behind it come from a take-over in a
            // pause that was rolled back; the guest goes on from what this copy holds
            if (!force && !aboveTakeOver && d.sessionUp()) {
                throw new ConflictException(disk + ": the peer is still primary and streaming to us; demote it first");
            }
            if (!force && !d.consistent()) {
                throw new ConflictException(disk + ": local copy is inconsistent (interrupted resync); force rolls it "
                        + "back to its last consistent state and reports the RPO that implies");
            }
            if (!force && !aboveTakeOver && d.knownBehind()) {
                throw new ConflictException(disk + ": local copy is known to be behind the old primary "
                        + "(use force to fail over anyway)");
            }
            peer.closeSession(disk);
            PromoteReport r;
            try {
                r = aboveTakeOver ? d.becomePrimaryAboveTakeOver() : d.becomePrimary(force);
            } catch (IOException e) {
                // Rollback failed: we are still an inconsistent replica and must not serve as primary.
                throw new ConflictException(disk + ": rollback to the last consistent state failed: " + e);
            }
            String how = r.rolledBack() ? ", rolled back " + r.rolledBackBytes() + " bytes to the state of "
                    + Instant.ofEpochMilli(r.restoredAsOfMillis()) : "";
            String msg = disk + ": promoted to PRIMARY at generation " + r.generation() + (force ? " (forced)" : "")
                    + (aboveTakeOver ? " (one skipped: above a take-over the peer may have done)" : "")
                    + how + ", RPO <= " + r.rpoSeconds() + " s" + (r.handedOver() ? " (clean handover)" : "");
            if (r.rolledBack() || (force && !r.handedOver())) {
                LOG.warning(msg);
            } else {
                LOG.info(msg);
            }
            startLink(d);
            return d.status();
        }
    }

    @Override
    public DiskStatus takeOver(String disk, String takeOverId, java.util.concurrent.CompletionStage<?> answered) {
        ReplicatedDisk d = require(disk);
        synchronized (roleLock(disk)) {
            if (d.role() == Role.PRIMARY) {
                String by = d.takenOverBy();
                if (takeOverId == null || takeOverId.equals(by)) {
                    return d.status();   // asked again: done
                }
                throw new ConflictException(disk + ": primary already, not by take-over " + takeOverId
                        + (by == null ? "" : " (by take-over " + by + ")"));
            }
            long t0 = System.nanoTime();
            String lacking;
            try {
                lacking = d.takeOverFromLivePrimary(takeOverId, answered);
            } catch (IOException e) {
                throw new ConflictException(disk + ": take-over failed: " + e);
            }
            if (lacking != null) {
                throw cannotTakeOver(disk, lacking);
            }
            long promoted = System.nanoTime();
            // The answer goes first: it is inside the guest's pause, and starting the stream (a
            // thread, a TLS handshake) alongside it slowed it several-fold on a busy host. The old
            // stream can write nothing from here (its session is no longer the active one).
            answered.whenComplete((x, e) -> ticker.execute(() -> streamAfterTakeOver(d, t0, promoted)));
            long generation = d.generation();
            d.metaDurable().whenComplete((x, e) -> LOG.info(String.format("%s: generation %d %s %.1f ms after the"
                    + " take-over began", disk, generation, e == null ? "durable" : "NOT durable (" + e + ")",
                    (System.nanoTime() - t0) / 1e6)));
            return d.status();
        }
    }

    /**
     * The take-over's checks before the move, changing nothing (no role, generation, meta or
     * session): its status if this copy could take over now, else 409 with the reason.
     */
    @Override
    public DiskStatus checkTakeOver(String disk) {
        ReplicatedDisk d = require(disk);
        // under the role lock as the take-over: a role change under way is seen whole
        synchronized (roleLock(disk)) {
            String lacking = d.takeOverLacking();
            if (lacking != null) {
                throw cannotTakeOver(disk, lacking);
            }
            return d.status();
        }
    }

    /**
     * The lock of one disk's role changes. One call site for all: the take-over check links it
     * before the pause, where the first take-over in a fresh agent otherwise linked its own.
     */
    private Object roleLock(String disk) {
        return roleLocks.computeIfAbsent(disk, k -> new Object());
    }

    private static ConflictException cannotTakeOver(String disk, String lacking) {
        return new ConflictException(disk + ": cannot take over from the live primary: " + lacking);
    }

    private void streamAfterTakeOver(ReplicatedDisk d, long t0, long promoted) {
        synchronized (roleLock(d.name())) {
            peer.closeSession(d.name());
            if (d.role() == Role.PRIMARY) { // not demoted again meanwhile (a rollback)
                startLink(d);
            }
        }
        LOG.info(String.format("%s: took over as PRIMARY at generation %d from the live synchronous primary"
                + " (nothing in flight), which this generation fences; role flipped and answered after %.1f ms"
                + " (the generation persisted after the answer, writes wait for it), stream to the old primary"
                + " started after %.1f ms", d.name(), d.generation(),
                (promoted - t0) / 1e6, (System.nanoTime() - t0) / 1e6));
    }

    @Override
    public DiskStatus demote(String disk) throws InterruptedException {
        return demote(disk, HANDOVER_TIMEOUT_MS);
    }

    @Override
    public DiskStatus demote(String disk, long handoverTimeoutMs) throws InterruptedException {
        ReplicatedDisk d = require(disk);
        synchronized (roleLock(disk)) {
            if (d.role() == Role.REPLICA) {
                return d.status();
            }
            d.fence(true);
            try {
                ReplicationLink l = links.remove(disk);
                boolean handedOver = l != null && l.handOver(handoverTimeoutMs);
                // No handover possible (the peer took over and ended our stream), but it had
                // confirmed every write durably: nothing diverged, the identity stays.
                boolean heldByPeer = !handedOver && d.peerHoldsEverything();
                if (!d.becomeReplica(handedOver || heldByPeer)) {
                    LOG.info(disk + ": fenced by the peer's generation while demoting; a replica already");
                } else {
                    LOG.info(disk + ": demoted to REPLICA" + (handedOver ? " after clean handover"
                            : heldByPeer ? " (no handover: the peer already holds every write we acknowledged)"
                            : " WITHOUT handover: peer was not caught up, content marked diverged"));
                }
            } finally {
                d.fence(false);
            }
            return d.status();
        }
    }

    @Override
    public List<DiskCounters> counters() {
        List<DiskCounters> out = new ArrayList<>();
        for (ReplicatedDisk d : disks.values()) {
            out.add(new DiskCounters(d.status(), d.writes(), d.shippedBytes(), d.appliedBytes()));
        }
        return out;
    }

    @Override
    public void close() {
        ticker.shutdownNow();
        if (takeOverChannel != null) {
            takeOverChannel.close();
        }
        control.close();
        for (ReplicationLink l : links.values()) {
            l.close();
        }
        try {
            nbd.close();
            peer.close();
        } catch (IOException e) {
            LOG.warning("close: " + e);
        }
        for (ReplicatedDisk d : disks.values()) {
            d.close();
        }
    }
}
