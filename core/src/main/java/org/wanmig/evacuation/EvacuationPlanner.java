package org.wanmig.evacuation;

import org.wanmig.api.WanmigException;
import org.wanmig.config.Capacity;
import org.wanmig.config.DataCenter;
import org.wanmig.config.EvacuationSettings;
import org.wanmig.config.VirtualServer;
import org.wanmig.config.WanTopology;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;

/**
 * Plans the evacuation of a data center (or of some of its servers). Pure: the same topology,
 * placements and request give the same plan. It decides
 * <ol>
 *   <li><b>destinations</b> within each data center's capacity (memory and slots, counting what
 *       already runs there), largest server first, each to the destination with the most headroom
 *       left, so load spreads and big servers are not left without room;</li>
 *   <li><b>order</b>: groups in migration.evacuation.groupOrder (a later group waits for the earlier
 *       ones), higher priority first within a group;</li>
 *   <li><b>concurrency</b> under each DC pair's WAN budget: a pair runs maxConcurrentPerPair
 *       migrations at once, each with an equal share; the pre-copy model gives each server's
 *       duration at that share. A server that would not converge at a share but would with the
 *       whole budget runs alone on its pair; one that converges with neither is flagged.</li>
 * </ol>
 * The start offsets come from running {@link Admission} over the estimated durations: the ETA.
 */
public final class EvacuationPlanner {
    private final WanTopology topology;
    private final EvacuationSettings settings;

    public EvacuationPlanner(WanTopology topology) {
        this.topology = topology;
        this.settings = topology.settings().evacuation();
    }

    /**
     * @param placements server to the data center it runs in now; servers missing from it run
     *                   where the configuration puts them
     * @throws WanmigException BAD_REQUEST or NOT_FOUND for a request that names wrong things,
     *                         CONFLICT when the servers do not fit in the destinations
     */
    public EvacuationPlan plan(Map<String, String> placements, EvacuationRequest request) {
        DataCenter source = topology.dataCenter(request.source()).orElseThrow(() ->
                WanmigException.notFound("source", "unknown data center " + request.source()));
        List<DataCenter> destinations = destinations(source, request);
        List<VirtualServer> moving = servers(source, placements, request);
        Map<String, String> destinationOf = assign(moving, destinations, placements);

        Map<String, Integer> slots = new LinkedHashMap<>();
        Map<String, Double> budgets = new LinkedHashMap<>();
        for (DataCenter d : destinations) {
            String pair = EvacuationSettings.pairKey(source.name(), d.name());
            slots.put(pair, settings.maxConcurrentPerPair());
            budgets.put(pair, settings.bandwidthMbps(source.name(), d.name()));
        }
        List<PlannedMove> moves = new ArrayList<>();
        for (VirtualServer v : ordered(moving)) {
            moves.add(estimate(v, source.name(), destinationOf.get(v.name()), budgets, slots));
        }
        return new EvacuationPlan(request, destinations.stream().map(DataCenter::name).collect(Collectors.toList()),
                simulate(moves, slots), slots, budgets, 1 + settings.retries());
    }

    // ---- what moves where ------------------------------------------------------------------

    private List<DataCenter> destinations(DataCenter source, EvacuationRequest request) {
        List<DataCenter> out = new ArrayList<>();
        if (request.destinations().isEmpty()) {
            topology.dataCenters().stream().filter(d -> !d.equals(source)).forEach(out::add);
        } else {
            for (String name : new LinkedHashSet<>(request.destinations())) {
                DataCenter d = topology.dataCenter(name).orElseThrow(() ->
                        WanmigException.notFound("destinations", "unknown data center " + name));
                if (d.equals(source)) {
                    throw WanmigException.badRequest("destinations", name + " is the data center being evacuated");
                }
                out.add(d);
            }
        }
        if (out.isEmpty()) {
            throw WanmigException.badRequest("destinations", "no other data center to evacuate " + source.name() + " to");
        }
        return out;
    }

    private static String location(VirtualServer v, Map<String, String> placements) {
        return placements.getOrDefault(v.name(), v.dc());
    }

    private List<VirtualServer> servers(DataCenter source, Map<String, String> placements, EvacuationRequest request) {
        List<VirtualServer> out = new ArrayList<>();
        if (request.servers().isEmpty()) {
            topology.servers().stream().filter(v -> location(v, placements).equals(source.name())).forEach(out::add);
            if (out.isEmpty()) {
                throw WanmigException.badRequest("source", "no server runs in " + source.name());
            }
            return out;
        }
        for (String name : new LinkedHashSet<>(request.servers())) {
            VirtualServer v = topology.server(name).orElseThrow(() ->
                    WanmigException.notFound("servers", "unknown server " + name));
            if (!location(v, placements).equals(source.name())) {
                throw WanmigException.badRequest("servers", name + " runs in " + location(v, placements)
                        + ", not in " + source.name());
            }
            out.add(v);
        }
        return out;
    }

    /** What a destination still has room for. */
    private static final class Room {
        final DataCenter dc;
        long freeMiB;
        long freeSlots;
        int assigned;

        Room(DataCenter dc, long usedMiB, long usedSlots) {
            this.dc = dc;
            Capacity c = dc.capacity();
            this.freeMiB = c.memoryMiB().isPresent() ? c.memoryMiB().getAsLong() - usedMiB : Long.MAX_VALUE;
            this.freeSlots = c.slots().isPresent() ? c.slots().getAsInt() - usedSlots : Long.MAX_VALUE;
        }

        boolean fits(VirtualServer v) {
            return freeMiB >= v.memoryMiB() && freeSlots >= 1;
        }

        void take(VirtualServer v) {
            if (freeMiB != Long.MAX_VALUE) {
                freeMiB -= v.memoryMiB();
            }
            if (freeSlots != Long.MAX_VALUE) {
                freeSlots--;
            }
            assigned++;
        }

        /** The smallest fraction of any limit left after taking {@code v}: 1 for unlimited. */
        double headroomAfter(VirtualServer v) {
            Capacity c = dc.capacity();
            double mem = c.memoryMiB().isPresent()
                    ? (double) (freeMiB - v.memoryMiB()) / c.memoryMiB().getAsLong() : 1;
            double slots = c.slots().isPresent() ? (double) (freeSlots - 1) / c.slots().getAsInt() : 1;
            return Math.min(mem, slots);
        }

        String describe() {
            return dc.name() + " " + (freeMiB == Long.MAX_VALUE ? "unlimited memory" : Math.max(0, freeMiB) + " MiB")
                    + " and " + (freeSlots == Long.MAX_VALUE ? "unlimited slots" : Math.max(0, freeSlots) + " slots");
        }
    }

    private Map<String, String> assign(List<VirtualServer> moving, List<DataCenter> destinations,
                                       Map<String, String> placements) {
        Map<String, long[]> used = new HashMap<>();
        Set<String> movingNames = moving.stream().map(VirtualServer::name).collect(Collectors.toSet());
        for (VirtualServer v : topology.servers()) {
            if (!movingNames.contains(v.name())) {
                long[] u = used.computeIfAbsent(location(v, placements), k -> new long[2]);
                u[0] += v.memoryMiB();
                u[1]++;
            }
        }
        List<Room> rooms = new ArrayList<>();
        for (DataCenter d : destinations) {
            long[] u = used.getOrDefault(d.name(), new long[2]);
            rooms.add(new Room(d, u[0], u[1]));
        }
        // a server whose disk has its other copy in one DC can go only there: those are placed first
        List<VirtualServer> bySize = new ArrayList<>(moving);
        bySize.sort(Comparator.comparing((VirtualServer v) -> v.replicaAt().isEmpty())
                .thenComparing(Comparator.comparingLong(VirtualServer::memoryMiB).reversed())
                .thenComparing(VirtualServer::name));
        Map<String, String> out = new HashMap<>();
        List<String> unplaced = new ArrayList<>();
        for (VirtualServer v : bySize) {
            String from = location(v, placements);
            Room best = null;
            for (Room r : rooms) {
                if (r.fits(v) && v.storageAllows(from, r.dc.name()) && (best == null || better(r, best, v))) {
                    best = r;
                }
            }
            if (best == null) {
                unplaced.add(v.name() + " (" + v.memoryMiB() + " MiB" + (v.replicaAt().isPresent()
                        ? "; its disk's other copy is at " + v.otherCopy(from).orElse("none outside " + from)
                        : "") + ")");
                continue;
            }
            best.take(v);
            out.put(v.name(), best.dc.name());
        }
        if (!unplaced.isEmpty()) {
            throw WanmigException.conflict("destinations", "capacity exceeded: " + unplaced.size() + " of "
                    + moving.size() + " servers do not fit: " + String.join(", ", unplaced) + "; room left: "
                    + rooms.stream().map(Room::describe).collect(Collectors.joining(", ")));
        }
        return out;
    }

    /** More headroom wins; on a tie (e.g. both unlimited) the one given fewer servers, then list order. */
    private static boolean better(Room candidate, Room best, VirtualServer v) {
        int byRoom = Double.compare(candidate.headroomAfter(v), best.headroomAfter(v));
        return byRoom > 0 || byRoom == 0 && candidate.assigned < best.assigned;
    }

    // ---- in what order, how fast -----------------------------------------------------------

    private int rank(VirtualServer v) {
        int i = v.group() == null ? -1 : settings.groupOrder().indexOf(v.group());
        return i < 0 ? settings.groupOrder().size() : i;
    }

    private List<VirtualServer> ordered(List<VirtualServer> moving) {
        List<VirtualServer> out = new ArrayList<>(moving);
        out.sort(Comparator.comparingInt(this::rank).thenComparing(Comparator.comparingInt(VirtualServer::priority)
                .reversed()).thenComparing(VirtualServer::name));
        return out;
    }

    private PlannedMove estimate(VirtualServer v, String source, String destination, Map<String, Double> budgets,
                                 Map<String, Integer> slots) {
        String pair = EvacuationSettings.pairKey(source, destination);
        double budget = budgets.get(pair);
        double share = budget / slots.get(pair);
        PreCopyModel.Estimate e = estimateAt(v, share);
        boolean exclusive = false;
        if (!e.converges() && slots.get(pair) > 1) {
            // the whole budget may let it converge; if not, it still runs alone for the shortest pause
            e = estimateAt(v, budget);
            share = budget;
            exclusive = true;
        }
        Duration duration = settings.overhead().plus(e.total());
        return new PlannedMove(v.name(), source, destination, v.group(), rank(v), v.priority(), v.memoryMiB(),
                v.dirtyRateMiBps(), share, exclusive, e.rounds(), e.bytes(), duration, e.stopCopy(), e.converges(),
                Duration.ZERO);
    }

    private PreCopyModel.Estimate estimateAt(VirtualServer v, double mbps) {
        return PreCopyModel.estimate(v.memoryMiB() * PreCopyModel.MIB, v.dirtyRateMiBps() * PreCopyModel.MIB,
                PreCopyModel.bytesPerSecond(mbps), settings.stopCopyMiB() * PreCopyModel.MIB, settings.maxRounds());
    }

    /** Start offsets: admission run over the estimated durations. */
    private static List<PlannedMove> simulate(List<PlannedMove> moves, Map<String, Integer> slots) {
        List<Admission.Item> items = new ArrayList<>(moves.size());
        long[] durations = new long[moves.size()];
        for (int i = 0; i < moves.size(); i++) {
            PlannedMove m = moves.get(i);
            items.add(new Admission.Item(m.pair(), m.rank(), m.exclusive(), Admission.Phase.QUEUED));
            durations[i] = m.estimatedDuration().toMillis();
        }
        long[] start = Admission.simulate(items, durations, slots, 0)[0];
        List<PlannedMove> out = new ArrayList<>(moves.size());
        for (int i = 0; i < moves.size(); i++) {
            out.add(moves.get(i).startingAt(Duration.ofMillis(start[i])));
        }
        return out;
    }
}
