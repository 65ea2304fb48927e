package org.wanmig.testing;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.onosproject.core.ApplicationId;
import org.onosproject.core.DefaultApplicationId;
import org.onosproject.net.DeviceId;
import org.onosproject.net.flow.FlowRule;
import org.wanmig.config.WanTopology;
import org.wanmig.config.WanTopologyParser;
import org.wanmig.drivers.AgentReplicationClient;
import org.wanmig.drivers.HypervisorDrivers;
import org.wanmig.lifecycle.MigrationManager;
import org.wanmig.spi.Leadership;
import org.wanmig.spi.MigrationStore;
import org.wanmig.spi.NetworkProgrammer;
import org.wanmig.spi.SwitchException;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.util.Collection;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CopyOnWriteArraySet;
import java.util.stream.Collectors;
import java.util.concurrent.TimeUnit;

/** The sample 2-DC configuration and a MigrationManager on a recording network, for the ONOS-side tests. */
public final class WanmigFixtures {
    public static final ObjectMapper MAPPER = new ObjectMapper();
    public static final ApplicationId APP_ID = new DefaultApplicationId(7, WanTopologyParser.APP_ID);
    /** The sample configuration shipped with the mininet testbed (surefire runs in onos-app/). */
    public static final Path SAMPLE = Path.of("../mininet-topos/wanmig-2dc.json");

    private WanmigFixtures() {
    }

    /** The "wanmig" object of the sample, as shipped (hypervisor driver "http"). */
    public static ObjectNode sampleConfig() {
        try {
            return (ObjectNode) MAPPER.readTree(Files.readString(SAMPLE)).path("apps")
                    .path(WanTopologyParser.APP_ID).path(WanTopologyParser.CONFIG_KEY);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** The sample with the "rest" hypervisor driver: the hypervisor reports through the REST API. */
    public static ObjectNode restDriverConfig() {
        ObjectNode config = sampleConfig();
        ObjectNode hypervisor = (ObjectNode) config.path("migration").path("hypervisor");
        hypervisor.put("driver", "rest");
        hypervisor.remove("url");
        return config;
    }

    public static WanTopology restDriverTopology() {
        return WanTopologyParser.parse(restDriverConfig());
    }

    /**
     * A manager in the direct mode (no replication agents, hypervisor reports by REST), driving
     * and with its baseline installed, as after {@code takeOver()} on the leader.
     */
    public static MigrationManager drivingManager(WanTopology topology, NetworkProgrammer network,
                                                  MigrationStore store) {
        MigrationManager manager = new MigrationManager(topology, APP_ID, network,
                new HypervisorDrivers(URI.create("http://127.0.0.1:8181/onos/wanmig")),
                new AgentReplicationClient(), store, Leadership.STANDALONE, Clock.systemUTC());
        try {
            manager.takeOver().get(5, TimeUnit.SECONDS);
        } catch (Exception e) {
            throw new IllegalStateException("baseline not installed", e);
        }
        return manager;
    }

    /** Confirms everything at once and records what it was asked to do. */
    public static final class RecordingNetwork implements NetworkProgrammer {
        public final List<FlowRule> installed = new CopyOnWriteArrayList<>();
        public final List<FlowRule> removed = new CopyOnWriteArrayList<>();
        public final Set<DeviceId> down = new CopyOnWriteArraySet<>();
        private final RuleTable table = new RuleTable();

        @Override
        public CompletableFuture<Void> install(Collection<FlowRule> rules) {
            installed.addAll(rules);
            CompletableFuture<Void> result = refuseIfDown(rules);
            if (!result.isCompletedExceptionally()) {
                table.install(rules);
            }
            return result;
        }

        @Override
        public CompletableFuture<Void> remove(Collection<FlowRule> rules) {
            removed.addAll(rules);
            table.remove(rules.stream().filter(r -> !down.contains(r.deviceId())).collect(Collectors.toList()));
            return CompletableFuture.completedFuture(null);
        }

        @Override
        public CompletableFuture<List<FlowRule>> read(DeviceId device) {
            return down.contains(device)
                    ? CompletableFuture.failedFuture(new SwitchException(device, 0, "not connected"))
                    : CompletableFuture.completedFuture(table.rules(r -> r.deviceId().equals(device)));
        }

        @Override
        public boolean isAvailable(DeviceId device) {
            return !down.contains(device);
        }

        private CompletableFuture<Void> refuseIfDown(Collection<FlowRule> rules) {
            return rules.stream().map(FlowRule::deviceId).filter(down::contains).findFirst()
                    .map(d -> CompletableFuture.<Void>failedFuture(new SwitchException(d, 0, "not connected")))
                    .orElse(CompletableFuture.completedFuture(null));
        }

        public void clear() {
            installed.clear();
            removed.clear();
        }
    }
}
