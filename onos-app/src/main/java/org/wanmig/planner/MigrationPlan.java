package org.wanmig.planner;

import org.onosproject.net.ConnectPoint;
import org.onosproject.net.flow.FlowRule;

import java.util.ArrayList;
import java.util.List;

/**
 * The rules of one migration, grouped by the phase that installs them. All carry the
 * migration's cookie, so teardown is "remove {@link #all()}".
 */
public final class MigrationPlan {
    private final List<ConnectPoint> forwardPath;
    private final List<ConnectPoint> reversePath;
    private final List<FlowRule> tunnel;
    private final List<FlowRule> reverseIngress;
    private final FlowRule redirect;

    MigrationPlan(List<ConnectPoint> forwardPath, List<ConnectPoint> reversePath, List<FlowRule> tunnel,
                  List<FlowRule> reverseIngress, FlowRule redirect) {
        this.forwardPath = List.copyOf(forwardPath);
        this.reversePath = List.copyOf(reversePath);
        this.tunnel = List.copyOf(tunnel);
        this.reverseIngress = List.copyOf(reverseIngress);
        this.redirect = redirect;
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

    /** At PE_A: the single higher-priority rule that sends server-bound traffic into the tunnel. */
    public FlowRule redirect() {
        return redirect;
    }

    /** What PREPARING installs: the tunnel and the reverse ingress (inert until the server moves). */
    public List<FlowRule> prepared() {
        List<FlowRule> all = new ArrayList<>(tunnel);
        all.addAll(reverseIngress);
        return all;
    }

    public List<FlowRule> all() {
        List<FlowRule> all = prepared();
        all.add(redirect);
        return all;
    }
}
