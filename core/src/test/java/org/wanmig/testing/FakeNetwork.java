package org.wanmig.testing;

import org.onosproject.net.DeviceId;
import org.onosproject.net.flow.FlowRule;
import org.wanmig.planner.Cookies;
import org.wanmig.planner.RuleKey;
import org.wanmig.spi.NetworkProgrammer;
import org.wanmig.spi.SwitchException;

import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Predicate;
import java.util.stream.Collectors;

/**
 * The switches, as the lifecycle sees them through its port. Rules reach the tables when they are
 * sent (in call order, as over one connection per switch); what the test controls is the
 * confirmation: a batch may be held until the test releases or fails it, and a switch may refuse
 * every rule sent to it. Outlives a manager, so a restarted manager finds the tables as they were.
 */
public final class FakeNetwork implements NetworkProgrammer {
    private volatile boolean holdingRemovals;
    private final RuleTable tables = new RuleTable();
    private final List<List<FlowRule>> installs = new CopyOnWriteArrayList<>();
    /** System.nanoTime() of each install batch, in the order of {@link #installs}. */
    private final List<Long> installTimes = new CopyOnWriteArrayList<>();
    private final List<List<FlowRule>> removes = new CopyOnWriteArrayList<>();
    private final List<List<FlowRule>> prepares = new CopyOnWriteArrayList<>();
    /** Per key, the removals sent since the last install sent for it. */
    private final Map<RuleKey, Integer> removalsSinceInstall = new ConcurrentHashMap<>();
    private final List<FlowRule> repeatedRemovals = new CopyOnWriteArrayList<>();
    private final List<Hold> holds = new CopyOnWriteArrayList<>();
    private final List<CompletableFuture<Void>> held = new CopyOnWriteArrayList<>();
    private final Set<DeviceId> refusing = ConcurrentHashMap.newKeySet();
    private final Set<DeviceId> unavailable = ConcurrentHashMap.newKeySet();
    private final List<DeviceId> reads = new CopyOnWriteArrayList<>();
    private volatile CompletableFuture<Void> readGate = CompletableFuture.completedFuture(null);

    private static final class Hold {
        final Predicate<Collection<FlowRule>> which;
        final boolean once;

        Hold(Predicate<Collection<FlowRule>> which, boolean once) {
            this.which = which;
            this.once = once;
        }
    }

    // ---- what the test controls ---------------------------------------------------------------------

    /** The next install batch matching {@code which} is not confirmed until released or failed. */
    public void holdNext(Predicate<Collection<FlowRule>> which) {
        holds.add(new Hold(which, true));
    }

    /** Every install batch matching {@code which} is held. */
    public void holdEvery(Predicate<Collection<FlowRule>> which) {
        holds.add(new Hold(which, false));
    }

    /** Removals are applied at once but confirmed only on {@link #releaseHeld()} (a slow barrier reply). */
    public void holdRemovals() {
        holdingRemovals = true;
    }

    public void stopHolding() {
        holds.clear();
    }

    public int heldCount() {
        return (int) held.stream().filter(f -> !f.isDone()).count();
    }

    public void releaseHeld() {
        held.forEach(f -> f.complete(null));
    }

    public void failHeld(RuntimeException error) {
        held.forEach(f -> f.completeExceptionally(error));
    }

    /** The switch refuses every rule it is sent from now on. */
    public void refuseRulesOn(DeviceId device) {
        refusing.add(device);
    }

    public void disconnect(DeviceId device) {
        unavailable.add(device);
    }

    // ---- predicates on batches ------------------------------------------------------------------------

    public static Predicate<Collection<FlowRule>> anyRuleOfMigration(long id) {
        return batch -> batch.stream().anyMatch(r -> Cookies.ofMigration(r.id().value(), id));
    }

    public static Predicate<Collection<FlowRule>> anyServerRoute() {
        return batch -> batch.stream().anyMatch(r -> Cookies.kind(r.id().value()) == Cookies.KIND_SERVER_ROUTE);
    }

    // ---- what the test reads ---------------------------------------------------------------------------

    public RuleTable tables() {
        return tables;
    }

    /** Rules of migration {@code id} still in the switches. */
    public List<FlowRule> rulesOfMigration(long id) {
        return tables.rules(r -> Cookies.ofMigration(r.id().value(), id));
    }

    /** Label rules of shared DC-pair tunnels still in the switches (any pair, any labels). */
    public List<FlowRule> pairTunnelRules() {
        return tables.rules(r -> Cookies.kind(r.id().value()) == Cookies.KIND_TUNNEL);
    }

    /** The rule sets announced by prepare, in order (they change no table). */
    public List<List<FlowRule>> prepares() {
        return prepares;
    }

    public List<List<FlowRule>> installs() {
        return new ArrayList<>(installs);
    }

    /** When each batch of {@link #installs()} was sent (System.nanoTime()), same order. */
    public List<Long> installTimes() {
        synchronized (installs) {
            return new ArrayList<>(installTimes);
        }
    }

    public List<List<FlowRule>> removes() {
        return new ArrayList<>(removes);
    }

    /** Rules sent for removal again with no install of their key in between: each was removed twice. */
    public List<FlowRule> repeatedRemovals() {
        return new ArrayList<>(repeatedRemovals);
    }

    // ---- the port ----------------------------------------------------------------------------------------

    @Override
    public void prepare(Collection<FlowRule> rules) {
        prepares.add(List.copyOf(rules));
    }

    @Override
    public CompletableFuture<Void> install(Collection<FlowRule> rules) {
        List<FlowRule> batch = List.copyOf(rules);
        synchronized (installs) {
            installTimes.add(System.nanoTime());
            installs.add(batch);
        }
        batch.forEach(r -> removalsSinceInstall.remove(RuleKey.of(r)));
        for (FlowRule r : batch) {
            if (unavailable.contains(r.deviceId())) {
                return CompletableFuture.failedFuture(new SwitchException(r.deviceId(), 0, "switch not connected"));
            }
        }
        List<FlowRule> refused = batch.stream().filter(r -> refusing.contains(r.deviceId())).collect(Collectors.toList());
        tables.install(batch.stream().filter(r -> !refusing.contains(r.deviceId())).collect(Collectors.toList()));
        if (!refused.isEmpty()) {
            FlowRule r = refused.get(0);
            return CompletableFuture.failedFuture(new SwitchException(r.deviceId(), r.id().value(),
                    "rule refused (OFPET_BAD_MATCH)"));
        }
        for (Hold h : holds) {
            if (h.which.test(batch)) {
                if (h.once) {
                    holds.remove(h);
                }
                CompletableFuture<Void> f = new CompletableFuture<>();
                held.add(f);
                return f;
            }
        }
        return CompletableFuture.completedFuture(null);
    }

    @Override
    public CompletableFuture<Void> remove(Collection<FlowRule> rules) {
        List<FlowRule> batch = List.copyOf(rules);
        removes.add(batch);
        for (FlowRule r : batch) {
            if (removalsSinceInstall.merge(RuleKey.of(r), 1, Integer::sum) > 1) {
                repeatedRemovals.add(r);
            }
        }
        // a disconnected switch keeps its rules: they go when the reconciler reads it again
        tables.remove(batch.stream().filter(r -> !unavailable.contains(r.deviceId())).collect(Collectors.toList()));
        if (holdingRemovals) {
            CompletableFuture<Void> f = new CompletableFuture<>();
            held.add(f);
            return f;
        }
        return CompletableFuture.completedFuture(null);
    }

    @Override
    public CompletableFuture<List<FlowRule>> read(DeviceId device) {
        reads.add(device);
        if (unavailable.contains(device)) {
            return CompletableFuture.failedFuture(new SwitchException(device, 0, "switch not connected"));
        }
        // this application's rules only, as both adapters report them
        return readGate.thenApply(x -> tables.rules(r -> r.deviceId().equals(device)
                && (r.id().value() >>> 48) == (Topologies.APP_ID.id() & 0xffff)));
    }

    /** Table reads are answered only once {@link #releaseReads()} is called (slow flow-stats replies). */
    public void holdReads() {
        readGate = new CompletableFuture<>();
    }

    public void releaseReads() {
        readGate.complete(null);
    }

    /** Switches whose tables were read, in order. */
    public List<DeviceId> reads() {
        return new ArrayList<>(reads);
    }

    public void reconnect(DeviceId device) {
        unavailable.remove(device);
    }

    @Override
    public boolean isAvailable(DeviceId device) {
        return !unavailable.contains(device);
    }
}
