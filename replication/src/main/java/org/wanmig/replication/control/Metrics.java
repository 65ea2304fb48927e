package org.wanmig.replication.control;

import org.wanmig.replication.core.DiskStatus;
import org.wanmig.replication.core.Mode;
import org.wanmig.replication.core.Role;

import java.util.List;
import java.util.Locale;

/** Renders counters in the Prometheus text exposition format (version 0.0.4). */
final class Metrics {
    private Metrics() {
    }

    static String render(List<ReplicationControl.DiskCounters> all) {
        StringBuilder sb = new StringBuilder();
        gauge(sb, "wanmig_replication_role_primary", "1 if this agent's copy is PRIMARY, 0 if REPLICA", all,
                c -> c.status().role() == Role.PRIMARY ? 1 : 0);
        gauge(sb, "wanmig_replication_mode_sync", "1 if the disk replicates synchronously", all,
                c -> c.status().mode() == Mode.SYNC ? 1 : 0);
        gauge(sb, "wanmig_replication_in_sync", "1 if the replica is identical (RPO 0)", all,
                c -> c.status().inSync() ? 1 : 0);
        gauge(sb, "wanmig_replication_peer_connected", "1 if the peer link is up", all,
                c -> c.status().peerConnected() ? 1 : 0);
        gauge(sb, "wanmig_replication_lag_bytes", "bytes written here that the replica lacks", all,
                c -> c.status().lagBytes());
        gauge(sb, "wanmig_replication_lag_blocks", "blocks/records the replica lacks", all,
                c -> c.status().lagBlocks());
        gauge(sb, "wanmig_replication_rpo_seconds", "age of the oldest write the replica lacks", all,
                c -> c.status().rpoSeconds());
        gauge(sb, "wanmig_replication_resync_remaining_bytes", "dirty bytes still to resync", all,
                c -> c.status().resyncRemainingBytes());
        gauge(sb, "wanmig_replication_throughput_bytes_per_second", "recent replication throughput", all,
                c -> c.status().throughputBytesPerSec());
        gauge(sb, "wanmig_replication_generation", "fencing generation (bumped by every promote)", all,
                c -> c.status().generation());
        gauge(sb, "wanmig_replication_consistent", "0 while a replica is inside a resync (promote rolls back)", all,
                c -> c.status().consistent() ? 1 : 0);
        gauge(sb, "wanmig_replication_behind", "1 if the replica knows it lacks writes of its primary", all,
                c -> c.status().behind() ? 1 : 0);
        gauge(sb, "wanmig_replication_fenced_unreplicated_bytes",
                "bytes this copy acknowledged as a primary but never replicated before it was fenced", all,
                c -> c.status().fenced() == null ? 0 : c.status().fenced().unreplicatedBytes());
        counter(sb, "wanmig_replication_writes_total", "NBD writes accepted", all, c -> c.writes());
        counter(sb, "wanmig_replication_shipped_bytes_total", "bytes acknowledged by the peer", all,
                c -> c.shippedBytes());
        counter(sb, "wanmig_replication_applied_bytes_total", "bytes applied from the peer (replica)", all,
                c -> c.appliedBytes());
        return sb.toString();
    }

    private interface Value {
        double of(ReplicationControl.DiskCounters c);
    }

    private static void gauge(StringBuilder sb, String name, String help, List<ReplicationControl.DiskCounters> all,
                              Value v) {
        family(sb, name, help, "gauge", all, v);
    }

    private static void counter(StringBuilder sb, String name, String help, List<ReplicationControl.DiskCounters> all,
                                Value v) {
        family(sb, name, help, "counter", all, v);
    }

    private static void family(StringBuilder sb, String name, String help, String type,
                               List<ReplicationControl.DiskCounters> all, Value v) {
        sb.append("# HELP ").append(name).append(' ').append(help).append('\n');
        sb.append("# TYPE ").append(name).append(' ').append(type).append('\n');
        for (ReplicationControl.DiskCounters c : all) {
            DiskStatus s = c.status();
            double x = v.of(c);
            sb.append(name).append("{disk=\"").append(s.disk()).append("\",role=\"").append(s.role())
                    .append("\",mode=\"").append(s.mode()).append("\"} ")
                    .append(x == Math.rint(x) && Math.abs(x) < 1e15 ? Long.toString((long) x)
                            : String.format(Locale.ROOT, "%.6f", x))
                    .append('\n');
        }
    }
}
