package org.wanmig.impl;

import org.onosproject.cluster.ClusterService;
import org.onosproject.cluster.LeadershipService;
import org.onosproject.codec.CodecService;
import org.onosproject.codec.JsonCodec;
import org.onosproject.core.ApplicationId;
import org.onosproject.core.CoreService;
import org.onosproject.net.config.ConfigFactory;
import org.onosproject.net.config.NetworkConfigEvent;
import org.onosproject.net.config.NetworkConfigListener;
import org.onosproject.net.config.NetworkConfigRegistry;
import org.onosproject.net.DeviceId;
import org.onosproject.net.device.DeviceEvent;
import org.onosproject.net.device.DeviceListener;
import org.onosproject.net.device.DeviceService;
import org.onosproject.net.flow.FlowRuleService;
import org.onosproject.net.link.LinkService;
import org.onosproject.net.packet.PacketProcessor;
import org.onosproject.net.packet.PacketService;
import org.onosproject.store.service.StorageService;
import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.Deactivate;
import org.osgi.service.component.annotations.Reference;
import org.osgi.service.component.annotations.ReferenceCardinality;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.wanmig.api.Evacuation;
import org.wanmig.api.EvacuationId;
import org.wanmig.api.EvacuationService;
import org.wanmig.api.Promotion;
import org.wanmig.failover.FailoverActions;
import org.wanmig.failover.LossSignals;
import org.wanmig.api.AgentDiskStatus;
import org.wanmig.api.Migration;
import org.wanmig.api.MigrationId;
import org.wanmig.api.MigrationListener;
import org.wanmig.api.MigrationService;
import org.wanmig.api.WanmigException;
import org.wanmig.config.ConfigException;
import org.wanmig.config.DataCenter;
import org.wanmig.config.LinkStateSettings;
import org.wanmig.config.MigrationSettings;
import org.wanmig.config.VirtualServer;
import org.wanmig.config.WanTopology;
import org.wanmig.config.WanTopologyParser;
import org.wanmig.codec.WanmigCodecs;
import org.wanmig.drivers.AgentReplicationClient;
import org.wanmig.drivers.HypervisorDrivers;
import org.wanmig.lifecycle.LinkStateTracker;
import org.wanmig.evacuation.EvacuationHost;
import org.wanmig.lifecycle.MigrationManager;
import org.wanmig.net.GatewayArpResponder;
import org.wanmig.net.ServerAnnounceDetector;
import org.wanmig.planner.NetworkPlanner;
import org.wanmig.planner.PlannerService;

import java.net.URI;
import java.time.Clock;
import java.time.Duration;
import java.util.Collection;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;

/**
 * The wanmig application on ONOS: wires the plain-Java {@link MigrationManager} to FlowRuleService
 * (through {@link FlowRuleNetworkProgrammer}), the cluster's consistent store, leadership and the
 * app's network configuration, and offers it to the CLI and REST as {@link MigrationService}.
 * <p>
 * The manager exists once a valid configuration does; before that, queries answer empty and
 * requests are refused as unavailable. Only the leader of "org.wanmig.app" drives migrations.
 */
@Component(immediate = true, service = {MigrationService.class, PlannerService.class, EvacuationService.class})
public class WanmigComponent implements MigrationService, PlannerService, EvacuationService {
    private static final Logger log = LoggerFactory.getLogger(WanmigComponent.class);

    @Reference(cardinality = ReferenceCardinality.MANDATORY)
    protected CoreService coreService;

    @Reference(cardinality = ReferenceCardinality.MANDATORY)
    protected NetworkConfigRegistry configRegistry;

    @Reference(cardinality = ReferenceCardinality.MANDATORY)
    protected CodecService codecService;

    @Reference(cardinality = ReferenceCardinality.MANDATORY)
    protected FlowRuleService flowRuleService;

    @Reference(cardinality = ReferenceCardinality.MANDATORY)
    protected DeviceService deviceService;

    @Reference(cardinality = ReferenceCardinality.MANDATORY)
    protected StorageService storageService;

    @Reference(cardinality = ReferenceCardinality.MANDATORY)
    protected LeadershipService leadershipService;

    @Reference(cardinality = ReferenceCardinality.MANDATORY)
    protected ClusterService clusterService;

    @Reference(cardinality = ReferenceCardinality.MANDATORY)
    protected PacketService packetService;

    @Reference(cardinality = ReferenceCardinality.MANDATORY)
    protected LinkService linkService;

    private final ConfigFactory<ApplicationId, WanmigConfig> configFactory = WanmigConfig.factory();
    private final NetworkConfigListener configListener = this::configEvent;
    private final DeviceListener switchListener = this::switchEvent;
    private final List<MigrationListener> listeners = new CopyOnWriteArrayList<>();
    private final MigrationListener forward = m -> listeners.forEach(l -> l.transitioned(m));

    private ApplicationId appId;
    private FlowRuleNetworkProgrammer network;
    private DistributedMigrationStore store;
    private HypervisorDrivers hypervisors;
    private OnosLeadership leadership;
    /** Runs evacuations on the leader only, over this component's MigrationService. */
    private EvacuationHost evacuations;
    private GatewayArpProcessor arpProcessor;
    /** Config and leadership changes, one at a time and off ONOS's event threads. */
    private ExecutorService events;

    private volatile MigrationManager manager;
    /** Link state from LinkService/DeviceService; hands the manager the topology without failed links. */
    private LinkStateTracker linkState;
    private OnosLinkStateFeed linkFeed;
    /** The configuration in force, as validated (links as declared, whatever their state). */
    private volatile WanTopology declared;
    /** Whether the current manager was told to take over; touched only on the events thread. */
    private boolean drivingNow;
    private volatile GatewayArpResponder arpResponder;
    private volatile ServerAnnounceDetector announceDetector;

    @Activate
    protected void activate() {
        appId = coreService.registerApplication(WanTopologyParser.APP_ID);
        events = Executors.newSingleThreadExecutor(r -> new Thread(r, "wanmig-events"));
        registerCodecs();
        configRegistry.registerConfigFactory(configFactory);

        network = new FlowRuleNetworkProgrammer(flowRuleService, deviceService, appId, this::switchTimeout);
        store = new DistributedMigrationStore(storageService);
        hypervisors = new HypervisorDrivers(URI.create("http://" + clusterService.getLocalNode().ip()
                + ":8181/onos/wanmig"));
        arpProcessor = new GatewayArpProcessor(packetService, () -> arpResponder, () -> announceDetector, a -> {
            MigrationManager m = manager;
            if (m != null) {
                m.serverAnnounced(a);
            }
        });
        packetService.addProcessor(arpProcessor, PacketProcessor.director(1));

        leadership = new OnosLeadership(leadershipService, clusterService, WanTopologyParser.APP_ID,
                new OnosLeadership.Transitions() {
                    @Override
                    public void becameLeader() {
                        events.execute(WanmigComponent.this::takeOver);
                    }

                    @Override
                    public void lostLeadership() {
                        events.execute(WanmigComponent.this::release);
                    }
                });
        // loss detection (failover.detection, off by default) runs inside the host while this instance leads
        ManagerFailoverActions actions = new ManagerFailoverActions();
        evacuations = new EvacuationHost(this, actions, actions, new DistributedEvacuationStore(storageService),
                this::topologyInForce,
                leadership, System::currentTimeMillis);
        configRegistry.addListener(configListener);
        deviceService.addListener(switchListener);
        WanmigConfig config = configRegistry.getConfig(appId, WanmigConfig.class);
        if (config != null) {
            events.execute(() -> applyConfig(config));
        }
        leadership.start();
        log.info("Started {}", appId);
    }

    @Deactivate
    protected void deactivate() {
        configRegistry.removeListener(configListener);
        deviceService.removeListener(switchListener);
        // ONOS deactivates the app on every instance; one removal of the app's rules is enough
        boolean wasLeader = leadership.isLeader();
        leadership.stop();
        packetService.removeProcessor(arpProcessor);
        events.shutdownNow();
        try {
            events.awaitTermination(5, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        if (linkFeed != null) {
            linkFeed.stop();
            linkState.close();
        }
        evacuations.close();
        MigrationManager m = manager;
        if (m != null) {
            m.removeListener(forward);
            m.shutdown();
            manager = null;
        }
        network.close();
        if (wasLeader) {
            flowRuleService.removeFlowRulesById(appId);
        }
        configRegistry.unregisterConfigFactory(configFactory);
        WanmigCodecs.all().keySet().forEach(codecService::unregisterCodec);
        log.info("Stopped");
    }

    // ---- configuration and leadership ----------------------------------------------------------

    private void configEvent(NetworkConfigEvent event) {
        if (event.configClass() != WanmigConfig.class) {
            return;
        }
        switch (event.type()) {
            case CONFIG_ADDED:
            case CONFIG_UPDATED:
                event.config().map(WanmigConfig.class::cast).ifPresent(c -> events.execute(() -> applyConfig(c)));
                break;
            case CONFIG_REMOVED:
                log.warn("wanmig configuration removed; the topology in force stays until the app is deactivated");
                break;
            default:
                break;
        }
    }

    /** A valid configuration replaces the topology (or brings the manager up); an invalid one is refused. */
    void applyConfig(WanmigConfig config) {
        WanTopology next;
        LinkStateSettings linkSettings;
        try {
            next = config.topology();
            linkSettings = LinkStateSettings.fromConfig(config.node());
        } catch (ConfigException e) {
            e.problems().forEach(p -> log.error("wanmig config refused: {}: {}", p.path(), p.reason()));
            log.error("wanmig config refused with {} problem(s); {}", e.problems().size(),
                    manager == null ? "wanmig stays unconfigured" : "the previous topology stays in force");
            return;
        }
        MigrationManager m = manager;
        if (m == null) {
            m = new MigrationManager(next, appId, network, hypervisors, new AgentReplicationClient(this::demoteBudget), store,
                    leadership, Clock.systemUTC());
            m.addListener(forward);
            arpResponder = new GatewayArpResponder(next);
            declared = next;
            announceDetector = new ServerAnnounceDetector(next);
            manager = m;
            linkState = new LinkStateTracker(next, linkSettings, m::updateTopology, Clock.systemUTC());
            linkFeed = new OnosLinkStateFeed(linkService, deviceService, () -> declared.links(), linkState);
            log.info("wanmig configured: {} data centers, {} servers", next.dataCenters().size(),
                    next.servers().size());
            if (leadership.isLeader()) {
                takeOver();
            }
            linkFeed.start();
        } else {
            arpResponder = new GatewayArpResponder(next);
            declared = next;
            announceDetector = new ServerAnnounceDetector(next);
            // the tracker keeps failed links out of the new configuration too, and logs the re-plan
            linkState.configure(next, linkSettings);
            log.info("wanmig: configuration updated");
        }
    }

    /**
     * A configured switch's controller connection, as ONOS sees it, told to the manager: one that
     * (re)connects is read and brought in line with the desired state, one that is gone is
     * forgotten until it is back. The manager queues both onto its own thread.
     */
    private void switchEvent(DeviceEvent event) {
        MigrationManager m = manager;
        WanTopology t = declared;
        DeviceId device = event.subject().id();
        if (m == null || t == null || !t.allSwitches().contains(device)) {
            return; // unconfigured, or a device that is not ours to program
        }
        switch (event.type()) {
            case DEVICE_ADDED:
            case DEVICE_AVAILABILITY_CHANGED:
                if (deviceService.isAvailable(device)) {
                    m.switchConnected(device);
                } else {
                    m.switchDisconnected(device);
                }
                break;
            case DEVICE_REMOVED:
            case DEVICE_SUSPENDED:
                m.switchDisconnected(device);
                break;
            default:
                break;
        }
    }

    private void takeOver() {
        MigrationManager m = manager;
        if (m == null || drivingNow) {
            return; // without a manager, it takes over when the configuration arrives
        }
        drivingNow = true;
        // a former leader may still run and finish a pause hook it began (release() stops it
        // from driving, not from completing a step under way): no bound from the take-over time
        m.takeOver(MigrationManager.Predecessors.MAY_STILL_RUN).whenComplete((x, e) -> {
            if (e != null) {
                log.warn("wanmig: baseline not confirmed on every switch: {}", e.getMessage());
            } else {
                log.info("wanmig: baseline installed; this instance drives migrations");
            }
        });
        // after the manager's takeOver, whose resume of migrations the runner's resume asks about
        evacuations.takeOver();
    }

    private void release() {
        MigrationManager m = manager;
        drivingNow = false;
        evacuations.release();
        if (m != null) {
            m.release();
        }
    }

    /** The demote budget of the configuration in force, sent to the replication agents. */
    private Duration demoteBudget() {
        MigrationManager m = manager;
        return m == null ? MigrationSettings.DEFAULT_DEMOTE_TIMEOUT : m.topology().settings().demoteTimeout();
    }

    private WanTopology topologyInForce() {
        MigrationManager m = manager;
        return m == null ? null : m.topology();
    }

    private Duration switchTimeout() {
        MigrationManager m = manager;
        return m == null ? MigrationSettings.DEFAULTS.switchTimeout() : m.topology().settings().switchTimeout();
    }

    @SuppressWarnings({"unchecked", "rawtypes"})
    private void registerCodecs() {
        WanmigCodecs.all().forEach((type, codec) -> codecService.registerCodec((Class) type, (JsonCodec) codec));
    }

    // ---- MigrationService, answered by the manager of the configuration in force ----------------

    private MigrationManager requireManager() {
        MigrationManager m = manager;
        if (m == null) {
            throw WanmigException.unavailable("wanmig has no valid configuration yet: push apps."
                    + WanTopologyParser.APP_ID + "." + WanTopologyParser.CONFIG_KEY + " with onos-netcfg");
        }
        return m;
    }

    @Override
    public NetworkPlanner planner() {
        return requireManager().planner();
    }

    @Override
    public Collection<DataCenter> dataCenters() {
        MigrationManager m = manager;
        return m == null ? List.of() : m.dataCenters();
    }

    @Override
    public Collection<VirtualServer> servers() {
        MigrationManager m = manager;
        return m == null ? List.of() : m.servers();
    }

    @Override
    public String location(String server) {
        return requireManager().location(server);
    }

    @Override
    public Optional<Migration> activeMigration(String server) {
        MigrationManager m = manager;
        return m == null ? Optional.empty() : m.activeMigration(server);
    }

    @Override
    public Collection<Migration> migrations() {
        MigrationManager m = manager;
        return m == null ? List.of() : m.migrations();
    }

    @Override
    public Optional<Migration> migration(MigrationId id) {
        MigrationManager m = manager;
        return m == null ? Optional.empty() : m.migration(id);
    }

    @Override
    public Migration startMigration(String server, String destination) {
        return requireManager().startMigration(server, destination);
    }

    @Override
    public Migration abort(MigrationId id) {
        return requireManager().abort(id);
    }

    @Override
    public Migration hypervisorCompleted(MigrationId id, String detail) {
        return requireManager().hypervisorCompleted(id, detail);
    }

    @Override
    public Migration hypervisorFailed(MigrationId id, String reason) {
        return requireManager().hypervisorFailed(id, reason);
    }

    @Override
    public void addListener(MigrationListener listener) {
        listeners.add(listener);
    }

    @Override
    public void removeListener(MigrationListener listener) {
        listeners.remove(listener);
    }

    // ---- EvacuationService, run on the leader only ------------------------------------------------

    @Override
    public Evacuation evacuate(String source, List<String> destinations, List<String> servers) {
        requireManager();
        return evacuations.evacuate(source, destinations, servers);
    }

    @Override
    public Evacuation failover(String lost, String to) {
        requireManager();
        return evacuations.failover(lost, to);
    }

    @Override
    public Collection<Evacuation> evacuations() {
        return evacuations.evacuations();
    }

    @Override
    public Optional<Evacuation> evacuation(EvacuationId id) {
        return evacuations.evacuation(id);
    }

    @Override
    public Evacuation abort(EvacuationId id) {
        return evacuations.abort(id);
    }

    /** The failover's operations on the manager in force (replaced with each configuration). */
    private final class ManagerFailoverActions implements FailoverActions, LossSignals {
        @Override
        public List<Migration> giveUp(String lost, String reason) {
            return requireManager().giveUp(lost, reason);
        }

        @Override
        public CompletableFuture<Promotion> promote(String server, String at, String lost) {
            return requireManager().promote(server, at, lost);
        }

        @Override
        public CompletableFuture<String> restart(String server, String at) {
            return requireManager().restart(server, at);
        }

        @Override
        public CompletableFuture<String> route(String server, String at) {
            return requireManager().route(server, at);
        }

        @Override
        public boolean peConnected(String dc) {
            return requireManager().peConnected(dc);
        }

        @Override
        public CompletableFuture<List<AgentDiskStatus>> agentDisks(String dc, Duration timeout) {
            return requireManager().agentDisks(dc, timeout);
        }
    }
}
