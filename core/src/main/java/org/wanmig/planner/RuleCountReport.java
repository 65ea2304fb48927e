package org.wanmig.planner;

import org.onosproject.net.DeviceId;
import org.onosproject.net.flow.FlowRule;
import org.wanmig.api.Migration;
import org.wanmig.config.ClientSite;
import org.wanmig.config.DataCenter;
import org.wanmig.config.VirtualServer;
import org.wanmig.config.WanTopology;

import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;

/**
 * How many rules each switch holds: the baseline (infrastructure, site routes, every server's
 * routes where it runs) and the rules of the given migrations. Pure: computed by asking the
 * {@link NetworkPlanner} for the rules, so it measures the planner as it is, and shows how rules
 * per switch grow with the number of servers (scripts/bench-scale, core/EVACUATION.md).
 */
public final class RuleCountReport {

    /** What a switch is in the topology. */
    public enum Role { PE, SITE_EDGE, CORE }

    private final Map<DeviceId, Role> roles;
    private final Map<DeviceId, Integer> baseline;
    private final Map<DeviceId, Integer> migrations;

    private RuleCountReport(Map<DeviceId, Role> roles, Map<DeviceId, Integer> baseline,
                            Map<DeviceId, Integer> migrations) {
        this.roles = roles;
        this.baseline = baseline;
        this.migrations = migrations;
    }

    /** Every baseline rule with the servers where {@code placements} (else the configuration) puts them. */
    public static List<FlowRule> baselineRules(NetworkPlanner planner, Map<String, String> placements) {
        List<FlowRule> rules = new ArrayList<>(planner.infrastructure());
        rules.addAll(planner.siteRoutes());
        rules.addAll(planner.dcRoutes());
        for (VirtualServer v : planner.topology().servers()) {
            rules.addAll(planner.serverRoutes(v, placements.getOrDefault(v.name(), v.dc())));
        }
        return rules;
    }

    /** The report for the baseline plus every rule of {@code active} migrations. */
    public static RuleCountReport of(NetworkPlanner planner, Map<String, String> placements,
                                     Collection<Migration> active) {
        WanTopology t = planner.topology();
        Map<DeviceId, Role> roles = new LinkedHashMap<>();
        t.dataCenters().stream().map(DataCenter::pe).forEach(pe -> roles.put(pe, Role.PE));
        t.clientSites().stream().map(ClientSite::edge).forEach(sw -> roles.putIfAbsent(sw, Role.SITE_EDGE));
        t.allSwitches().forEach(sw -> roles.putIfAbsent(sw, Role.CORE));
        // as the desired state has them: each migration's stored plan (else its plan now), one rule per key,
        // so the rules of a DC pair's shared tunnel count once however many migrations hold them
        Map<RuleKey, FlowRule> tunnels = new LinkedHashMap<>();
        active.forEach(m -> (m.plan() != null ? m.plan() : planner.migration(m)).all()
                .forEach(r -> tunnels.put(RuleKey.of(r), r)));
        return new RuleCountReport(roles, count(roles, baselineRules(planner, placements)),
                count(roles, new ArrayList<>(tunnels.values())));
    }

    /**
     * {@code servers} migrating from {@code source} to {@code destination} at once, each planned as
     * the manager plans a new migration (labels from {@link NetworkPlanner#tunnelLabels}, so they
     * share the pair's tunnel), with ids from {@code firstId}. For reports and benchmarks.
     */
    public static List<Migration> concurrent(NetworkPlanner planner, List<String> servers, String source,
                                             String destination, long firstId) {
        List<Migration> active = new ArrayList<>();
        long id = firstId;
        for (String name : servers) {
            VirtualServer v = planner.topology().server(name).orElseThrow();
            org.wanmig.api.TunnelLabels labels = planner.tunnelLabels(source, destination, active);
            Migration m = Migration.requested(org.wanmig.api.MigrationId.of(id++), name, source, destination,
                    planner.attachment(v, destination).toLong(), labels, 0);
            active.add(m.withPlan(planner.migration(m), labels));
        }
        return active;
    }

    private static Map<DeviceId, Integer> count(Map<DeviceId, Role> roles, List<FlowRule> rules) {
        Map<DeviceId, Integer> out = new TreeMap<>(java.util.Comparator.comparing(DeviceId::toString));
        roles.keySet().forEach(sw -> out.put(sw, 0));
        rules.forEach(r -> out.merge(r.deviceId(), 1, Integer::sum));
        return out;
    }

    public Role role(DeviceId sw) {
        return roles.get(sw);
    }

    /** Baseline rules per switch (every switch of the topology, 0 included). */
    public Map<DeviceId, Integer> baseline() {
        return baseline;
    }

    /** Rules of the given migrations per switch. */
    public Map<DeviceId, Integer> migrations() {
        return migrations;
    }

    public int total(DeviceId sw) {
        return baseline.getOrDefault(sw, 0) + migrations.getOrDefault(sw, 0);
    }

    /** The most rules any switch of {@code role} holds, baseline and migrations together. */
    public int max(Role role) {
        return roles.entrySet().stream().filter(e -> e.getValue() == role).mapToInt(e -> total(e.getKey()))
                .max().orElse(0);
    }

    /** The most baseline rules any switch of {@code role} holds. */
    public int maxBaseline(Role role) {
        return roles.entrySet().stream().filter(e -> e.getValue() == role)
                .mapToInt(e -> baseline.getOrDefault(e.getKey(), 0)).max().orElse(0);
    }

    /** The most migration rules any switch of {@code role} holds. */
    public int maxMigrations(Role role) {
        return roles.entrySet().stream().filter(e -> e.getValue() == role)
                .mapToInt(e -> migrations.getOrDefault(e.getKey(), 0)).max().orElse(0);
    }

    public int totalBaseline() {
        return baseline.values().stream().mapToInt(Integer::intValue).sum();
    }

    public int totalMigrations() {
        return migrations.values().stream().mapToInt(Integer::intValue).sum();
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof RuleCountReport && ((RuleCountReport) o).baseline.equals(baseline)
                && ((RuleCountReport) o).migrations.equals(migrations) && ((RuleCountReport) o).roles.equals(roles);
    }

    @Override
    public int hashCode() {
        return Objects.hash(baseline, migrations);
    }
}
