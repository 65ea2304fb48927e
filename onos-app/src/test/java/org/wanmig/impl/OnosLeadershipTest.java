package org.wanmig.impl;

import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class OnosLeadershipTest {
    private static final String TOPIC = "org.wanmig.app";

    private final FakeCluster fake = new FakeCluster();
    private final List<String> transitions = new ArrayList<>();
    private OnosLeadership leadership;

    @BeforeEach
    void setUp() {
        leadership = new OnosLeadership(fake.leadership, fake.cluster, TOPIC, new OnosLeadership.Transitions() {
            @Override
            public void becameLeader() {
                transitions.add("leader");
            }

            @Override
            public void lostLeadership() {
                transitions.add("follower");
            }
        });
    }

    @Test
    void winningAtStartTakesOverOnce() {
        leadership.start();
        assertEquals(List.of(TOPIC), fake.candidacies);
        assertTrue(leadership.isLeader());
        assertEquals(FakeCluster.LOCAL.toString(), leadership.leader());
        assertEquals(List.of("leader"), transitions);

        fake.elect(TOPIC, FakeCluster.LOCAL); // a new term of the same leader changes nothing
        assertEquals(List.of("leader"), transitions);
    }

    @Test
    void followerTakesOverWhenElectedAndReleasesWhenReplaced() {
        fake.winner = FakeCluster.OTHER;
        leadership.start();
        assertFalse(leadership.isLeader());
        assertEquals(FakeCluster.OTHER.toString(), leadership.leader());
        assertEquals(List.of(), transitions);

        fake.elect(TOPIC, FakeCluster.LOCAL);
        assertEquals(List.of("leader"), transitions);
        fake.elect(TOPIC, FakeCluster.OTHER);
        assertEquals(List.of("leader", "follower"), transitions);
    }

    @Test
    void eventsOfOtherTopicsAreIgnored() {
        fake.winner = FakeCluster.OTHER;
        leadership.start();
        fake.leaders.put(TOPIC, FakeCluster.LOCAL); // changed, but the event is about another topic
        fake.elect("org.onosproject.other", FakeCluster.LOCAL);
        assertEquals(List.of(), transitions);
    }

    @Test
    void leaderlessTopicMeansNotLeader() {
        fake.winner = null;
        leadership.start();
        assertFalse(leadership.isLeader());
        assertEquals(null, leadership.leader());
    }

    @Test
    void stopWithdrawsAndStopsListening() {
        leadership.start();
        leadership.stop();
        assertEquals(List.of(TOPIC), fake.withdrawals);
        assertTrue(fake.listeners.isEmpty());
        assertFalse(leadership.isLeader());
    }
}
