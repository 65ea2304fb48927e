package org.wanmig.api;

import java.util.Objects;

/**
 * One disk as its replication agent reports it, reduced to what loss detection asks: its role and
 * its replication link to the peer agent. Immutable.
 */
public final class AgentDiskStatus {
    private final String disk;
    private final String role;
    private final boolean peerConnected;
    private final long peerSilentMillis;

    /**
     * @param peerSilentMillis how long since the agent last heard the peer on this disk's link, -1 if
     *                         never or if the agent does not report it
     */
    public AgentDiskStatus(String disk, String role, boolean peerConnected, long peerSilentMillis) {
        this.disk = Objects.requireNonNull(disk);
        this.role = role;
        this.peerConnected = peerConnected;
        this.peerSilentMillis = peerSilentMillis;
    }

    public String disk() {
        return disk;
    }

    /** PRIMARY or REPLICA, as the agent says; null if it did not say. */
    public String role() {
        return role;
    }

    public boolean peerConnected() {
        return peerConnected;
    }

    public long peerSilentMillis() {
        return peerSilentMillis;
    }

    /** The link to the peer is down, or up but silent for at least {@code silenceMillis}. */
    public boolean peerLost(long silenceMillis) {
        return !peerConnected || peerSilentMillis >= silenceMillis;
    }

    @Override
    public boolean equals(Object o) {
        if (!(o instanceof AgentDiskStatus)) {
            return false;
        }
        AgentDiskStatus s = (AgentDiskStatus) o;
        return disk.equals(s.disk) && Objects.equals(role, s.role) && peerConnected == s.peerConnected
                && peerSilentMillis == s.peerSilentMillis;
    }

    @Override
    public int hashCode() {
        return Objects.hash(disk, role, peerConnected, peerSilentMillis);
    }

    @Override
    public String toString() {
        return disk + " " + role + (peerConnected ? " peer-up" : " peer-down")
                + (peerSilentMillis >= 0 ? " silent " + peerSilentMillis + " ms" : "");
    }
}
