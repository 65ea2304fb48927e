package org.wanmig.impl;

import org.onlab.packet.IpAddress;
import org.onosproject.cluster.ClusterServiceAdapter;
import org.onosproject.cluster.ControllerNode;
import org.onosproject.cluster.DefaultControllerNode;
import org.onosproject.cluster.Leader;
import org.onosproject.cluster.Leadership;
import org.onosproject.cluster.LeadershipEvent;
import org.onosproject.cluster.LeadershipEventListener;
import org.onosproject.cluster.LeadershipServiceAdapter;
import org.onosproject.cluster.NodeId;

import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;

/** A cluster whose elections the test decides: who leads a topic, and the event that says so. */
final class FakeCluster {
    static final NodeId LOCAL = NodeId.nodeId("onos-1");
    static final NodeId OTHER = NodeId.nodeId("onos-2");

    final Map<String, NodeId> leaders = new ConcurrentHashMap<>();
    final List<String> candidacies = new CopyOnWriteArrayList<>();
    final List<String> withdrawals = new CopyOnWriteArrayList<>();
    final List<LeadershipEventListener> listeners = new CopyOnWriteArrayList<>();
    /** Who wins when the local node runs; null leaves the topic without a leader. */
    volatile NodeId winner = LOCAL;

    final LeadershipServiceAdapter leadership = new LeadershipServiceAdapter() {
        @Override
        public NodeId getLeader(String topic) {
            return leaders.get(topic);
        }

        @Override
        public Leadership runForLeadership(String topic) {
            candidacies.add(topic);
            if (winner != null) {
                leaders.putIfAbsent(topic, winner);
            }
            return leadershipOf(topic);
        }

        @Override
        public void withdraw(String topic) {
            withdrawals.add(topic);
            leaders.remove(topic, LOCAL);
        }

        @Override
        public void addListener(LeadershipEventListener listener) {
            listeners.add(listener);
        }

        @Override
        public void removeListener(LeadershipEventListener listener) {
            listeners.remove(listener);
        }
    };

    final ClusterServiceAdapter cluster = new ClusterServiceAdapter() {
        @Override
        public ControllerNode getLocalNode() {
            return new DefaultControllerNode(LOCAL, IpAddress.valueOf("192.0.2.1"));
        }
    };

    Leadership leadershipOf(String topic) {
        NodeId leader = leaders.get(topic);
        return new Leadership(topic, leader == null ? null : new Leader(leader, 1, 0), List.of());
    }

    /** {@code node} now leads {@code topic}; listeners hear LEADER_CHANGED. */
    void elect(String topic, NodeId node) {
        if (node == null) {
            leaders.remove(topic);
        } else {
            leaders.put(topic, node);
        }
        LeadershipEvent event = new LeadershipEvent(LeadershipEvent.Type.LEADER_CHANGED, leadershipOf(topic));
        listeners.forEach(l -> l.event(event));
    }
}
