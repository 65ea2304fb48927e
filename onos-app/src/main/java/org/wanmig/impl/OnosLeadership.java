package org.wanmig.impl;

import org.onosproject.cluster.ClusterService;
import org.onosproject.cluster.LeadershipEvent;
import org.onosproject.cluster.LeadershipEventListener;
import org.onosproject.cluster.LeadershipService;
import org.onosproject.cluster.NodeId;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.wanmig.spi.Leadership;

import java.util.Objects;

/**
 * One instance of the cluster drives migrations: the leader of the topic "org.wanmig.app".
 * Tells its owner when this instance gains or loses that role.
 */
public final class OnosLeadership implements Leadership {
    private static final Logger log = LoggerFactory.getLogger(OnosLeadership.class);

    /** What to do when this instance starts or stops driving. */
    public interface Transitions {
        void becameLeader();

        void lostLeadership();
    }

    private final LeadershipService leadershipService;
    private final NodeId localNode;
    private final String topic;
    private final Transitions transitions;
    private final LeadershipEventListener listener = this::event;
    private boolean leader;

    public OnosLeadership(LeadershipService leadershipService, ClusterService clusterService, String topic,
                          Transitions transitions) {
        this.leadershipService = leadershipService;
        this.localNode = clusterService.getLocalNode().id();
        this.topic = topic;
        this.transitions = transitions;
    }

    /** Joins the election; if this instance wins at once, {@link Transitions#becameLeader} runs now. */
    public void start() {
        leadershipService.addListener(listener);
        leadershipService.runForLeadership(topic);
        update();
    }

    public void stop() {
        leadershipService.removeListener(listener);
        leadershipService.withdraw(topic);
        synchronized (this) {
            leader = false;
        }
    }

    @Override
    public boolean isLeader() {
        return Objects.equals(leadershipService.getLeader(topic), localNode);
    }

    @Override
    public String leader() {
        NodeId id = leadershipService.getLeader(topic);
        return id == null ? null : id.toString();
    }

    private void event(LeadershipEvent event) {
        if (event.subject() != null && topic.equals(event.subject().topic())) {
            update();
        }
    }

    /** Compares who leads now with what this instance last acted on; acts once per change. */
    private void update() {
        boolean now = isLeader();
        synchronized (this) {
            if (now == leader) {
                return;
            }
            leader = now;
        }
        log.info("wanmig: this instance ({}) {} migrations; leader is {}", localNode,
                now ? "now drives" : "no longer drives", leader());
        if (now) {
            transitions.becameLeader();
        } else {
            transitions.lostLeadership();
        }
    }
}
