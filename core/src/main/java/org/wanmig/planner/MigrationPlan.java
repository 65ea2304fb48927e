package org.wanmig.planner;

import org.onosproject.net.ConnectPoint;
import org.onosproject.net.flow.FlowRule;

import java.util.ArrayList;
import java.util.List;

/**
 * The rules of one migration, grouped by the phase that installs them. All carry the
 * migration's cookie, so teardown is "remove {@link #all()}". Persisted in the migration's record:
 * resume, rollback and teardown use the stored plan, never a recomputation from a configuration
 * that may have changed since. A re-plan around a failed link makes a new revision (new labels,
 * rule indices of its own, so both revisions can be on the switches at once).
 */
public final class MigrationPlan {
    private final int revision;
    private final List<ConnectPoint> forwardPath;
    private final List<ConnectPoint> reversePath;
    private final List<FlowRule> tunnel;
    private final List<FlowRule> reverseIngress;
    private final List<FlowRule> redirects;
    private final List<FlowRule> bicast;

    public MigrationPlan(int revision, List<ConnectPoint> forwardPath, List<ConnectPoint> reversePath,
                         List<FlowRule> tunnel, List<FlowRule> reverseIngress, List<FlowRule> redirects,
                         List<FlowRule> bicast) {
        this.revision = revision;
        this.forwardPath = List.copyOf(forwardPath);
        this.reversePath = List.copyOf(reversePath);
        this.tunnel = List.copyOf(tunnel);
        this.reverseIngress = List.copyOf(reverseIngress);
        this.redirects = List.copyOf(redirects);
        this.bicast = List.copyOf(bicast);
    }

    /** 0 for the plan made at the request, one more for each re-plan around a failure. */
    public int revision() {
        return revision;
    }

    /** Hops PE_A to PE_B: each switch and the port it sends out of (PE_B itself not included). */
    public List<ConnectPoint> forwardPath() {
        return forwardPath;
    }

    /** Hops PE_B to PE_A. */
    public List<ConnectPoint> reversePath() {
        return reversePath;
    }

    /**
     * Installed while PREPARING: label switching on every hop of both directions, the egress at
     * PE_B, the egress at PE_A. Nothing is redirected into the tunnel by these rules.
     */
    public List<FlowRule> tunnel() {
        return tunnel;
    }

    /** At PE_B: the server's replies pushed into the reverse path; removed at the route update. */
    public List<FlowRule> reverseIngress() {
        return reverseIngress;
    }

    /**
     * At PE_A: the higher-priority rule that sends server-bound traffic into the tunnel. It is the
     * first of {@link #redirects()}, which is what the cutover installs.
     */
    public FlowRule redirect() {
        return redirects.get(0);
    }

    /**
     * Every rule the cutover installs at PE_A: the redirect, and its twin for traffic arriving by
     * the port the tunnel leaves from, which must be sent out with IN_PORT.
     */
    public List<FlowRule> redirects() {
        return redirects;
    }

    /**
     * With bicast on: at PE_A, server-bound traffic delivered to the server as before and also
     * copied into the tunnel (dropped at PE_B until the server attaches there); empty otherwise.
     */
    public List<FlowRule> bicast() {
        return bicast;
    }

    /**
     * What PREPARING installs: the tunnel, the reverse ingress (inert until the server moves) and
     * the bicast copy if configured. Nothing here takes traffic away from the server at A.
     */
    public List<FlowRule> prepared() {
        List<FlowRule> all = new ArrayList<>(tunnel);
        all.addAll(reverseIngress);
        all.addAll(bicast);
        return all;
    }

    public List<FlowRule> all() {
        List<FlowRule> all = prepared();
        all.addAll(redirects);
        return all;
    }

    /** Whether every hop of both paths is still a link of {@code graph} (so the tunnel still works). */
    public boolean pathsIn(org.wanmig.config.WanGraph graph) {
        return follows(forwardPath, graph) && follows(reversePath, graph);
    }

    private static boolean follows(List<ConnectPoint> path, org.wanmig.config.WanGraph graph) {
        for (int i = 0; i < path.size(); i++) {
            ConnectPoint next;
            try {
                next = graph.far(path.get(i));
            } catch (RuntimeException e) {
                return false;
            }
            if (i + 1 < path.size() && !next.deviceId().equals(path.get(i + 1).deviceId())) {
                return false;
            }
        }
        return true;
    }

    @Override
    public boolean equals(Object o) {
        if (!(o instanceof MigrationPlan)) {
            return false;
        }
        MigrationPlan p = (MigrationPlan) o;
        return revision == p.revision && forwardPath.equals(p.forwardPath) && reversePath.equals(p.reversePath)
                && RuleKey.sameRules(tunnel, p.tunnel) && RuleKey.sameRules(reverseIngress, p.reverseIngress)
                && RuleKey.sameRules(redirects, p.redirects) && RuleKey.sameRules(bicast, p.bicast);
    }

    @Override
    public int hashCode() {
        return java.util.Objects.hash(revision, forwardPath, reversePath, tunnel.size());
    }
}
