package org.wanmig.config;

import org.onosproject.net.ConnectPoint;
import org.onosproject.net.DeviceId;
import org.onosproject.net.PortNumber;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Collections;
import java.util.Comparator;
import java.util.Deque;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;

/**
 * The WAN as a graph of switches joined by the links that are up. Paths are fewest-hop paths
 * taken from a shortest-path tree towards the destination, with ties broken by device id and
 * port, so every switch has one next hop towards a given root and all paths to it agree.
 */
public final class WanGraph {
    private final Map<DeviceId, List<ConnectPoint[]>> adjacency = new HashMap<>();

    public WanGraph(Collection<DeviceId> switches, Collection<WanLink> links) {
        switches.forEach(s -> adjacency.put(s, new ArrayList<>()));
        for (WanLink l : links) {
            if (!l.isUp() || !adjacency.containsKey(l.one().deviceId())
                    || !adjacency.containsKey(l.two().deviceId())) {
                continue;
            }
            adjacency.get(l.one().deviceId()).add(new ConnectPoint[]{l.one(), l.two()});
            adjacency.get(l.two().deviceId()).add(new ConnectPoint[]{l.two(), l.one()});
        }
        Comparator<ConnectPoint[]> order = Comparator
                .comparing((ConnectPoint[] e) -> e[1].deviceId().toString())
                .thenComparingLong(e -> e[0].port().toLong());
        adjacency.values().forEach(edges -> edges.sort(order));
    }

    public static WanGraph of(WanTopology topology) {
        return new WanGraph(topology.allSwitches(), topology.links());
    }

    /**
     * For every switch that can reach {@code root}, the port it sends out of towards the root.
     * The root itself is absent.
     */
    public Map<DeviceId, PortNumber> treeToward(DeviceId root) {
        Map<DeviceId, PortNumber> nextHop = new TreeMap<>(Comparator.comparing(DeviceId::toString));
        treeEdges(root).forEach((device, edge) -> nextHop.put(device, edge[0].port()));
        return nextHop;
    }

    /**
     * The shortest-path tree towards {@code root}: for every other switch that reaches it, the link
     * it sends over as {near end, far end}. Walks follow these edges, not a port lookup, so they end
     * at the root even when a configuration (rejected, but still cross-checked) puts two links on
     * one port.
     */
    private Map<DeviceId, ConnectPoint[]> treeEdges(DeviceId root) {
        Map<DeviceId, ConnectPoint[]> up = new HashMap<>();
        if (!adjacency.containsKey(root)) {
            return up;
        }
        Set<DeviceId> seen = new java.util.HashSet<>(Set.of(root));
        Deque<DeviceId> queue = new ArrayDeque<>(List.of(root));
        while (!queue.isEmpty()) {
            DeviceId at = queue.poll();
            for (ConnectPoint[] edge : adjacency.get(at)) {
                DeviceId neighbour = edge[1].deviceId();
                if (seen.add(neighbour)) {
                    // the neighbour reaches the root by sending back over this edge
                    up.put(neighbour, new ConnectPoint[]{edge[1], edge[0]});
                    queue.add(neighbour);
                }
            }
        }
        return up;
    }

    /**
     * The fewest-hop path from {@code from} to {@code to}: each element is a switch and the port
     * it sends out of; the destination switch itself is not included. Empty path when from == to.
     */
    public Optional<List<ConnectPoint>> path(DeviceId from, DeviceId to) {
        if (from.equals(to)) {
            return adjacency.containsKey(from) ? Optional.of(Collections.emptyList()) : Optional.empty();
        }
        Map<DeviceId, ConnectPoint[]> tree = treeEdges(to);
        if (!tree.containsKey(from)) {
            return Optional.empty();
        }
        List<ConnectPoint> hops = new ArrayList<>();
        DeviceId at = from;
        while (!at.equals(to)) {
            ConnectPoint[] edge = tree.get(at);
            hops.add(edge[0]);
            at = edge[1].deviceId();
        }
        return Optional.of(hops);
    }

    /** The switch at the far end of {@code port} of {@code device}. */
    public DeviceId neighbour(DeviceId device, PortNumber port) {
        for (ConnectPoint[] edge : adjacency.getOrDefault(device, List.of())) {
            if (edge[0].port().equals(port)) {
                return edge[1].deviceId();
            }
        }
        throw new IllegalArgumentException("no link up at " + device + "/" + port);
    }

    /** The port at the far end of the link at {@code end}. */
    public ConnectPoint far(ConnectPoint end) {
        for (ConnectPoint[] edge : adjacency.getOrDefault(end.deviceId(), List.of())) {
            if (edge[0].port().equals(end.port())) {
                return edge[1];
            }
        }
        throw new IllegalArgumentException("no link up at " + end);
    }

    public boolean connected(DeviceId a, DeviceId b) {
        return path(a, b).isPresent();
    }

    /** Switches in a stable order, for reports. */
    public List<DeviceId> switches() {
        List<DeviceId> all = new ArrayList<>(new LinkedHashMap<>(adjacency).keySet());
        all.sort(Comparator.comparing(DeviceId::toString));
        return all;
    }
}
