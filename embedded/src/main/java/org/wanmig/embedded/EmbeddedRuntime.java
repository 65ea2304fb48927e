package org.wanmig.embedded;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.onosproject.codec.CodecService;
import org.onosproject.core.ApplicationId;
import org.onosproject.core.DefaultApplicationId;
import org.onosproject.net.DeviceId;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.wanmig.api.EvacuationService;
import org.wanmig.api.MigrationService;
import org.wanmig.codec.WanmigCodecs;
import org.wanmig.config.ConfigException;
import org.wanmig.config.ConfigProblem;
import org.wanmig.config.LinkStateSettings;
import org.wanmig.config.WanTopology;
import org.wanmig.config.WanTopologyParser;
import org.wanmig.drivers.AgentReplicationClient;
import org.wanmig.drivers.HypervisorDrivers;
import org.wanmig.embedded.http.EmbeddedCodecService;
import org.wanmig.embedded.http.EmbeddedServiceDirectory;
import org.wanmig.embedded.http.EmbeddedWebResource;
import org.wanmig.embedded.http.RestLimits;
import org.wanmig.embedded.http.RestServer;
import org.wanmig.embedded.openflow.ArpPacketHandler;
import org.wanmig.embedded.openflow.OpenFlowConfig;
import org.wanmig.embedded.openflow.OpenFlowController;
import org.wanmig.embedded.openflow.OpenFlowNetworkProgrammer;
import org.wanmig.embedded.openflow.SwitchInfo;
import org.wanmig.embedded.openflow.SwitchListener;
import org.wanmig.embedded.openflow.WanLinkMonitor;
import org.wanmig.embedded.store.FileMigrationStore;
import org.wanmig.embedded.store.StateDirInUseException;
import org.wanmig.embedded.store.StateDirLock;
import org.wanmig.embedded.store.UnreadableStateException;
import org.wanmig.lifecycle.LinkStateTracker;
import org.wanmig.embedded.store.FileEvacuationStore;
import org.wanmig.evacuation.EvacuationHost;
import org.wanmig.lifecycle.MigrationManager;
import org.wanmig.lifecycle.ReplanEvent;
import org.wanmig.net.GatewayArpResponder;
import org.wanmig.net.ServerAnnounceDetector;
import org.wanmig.planner.Cookies;
import org.wanmig.planner.PlannerService;
import org.wanmig.planner.RuleFormatter;
import org.wanmig.spi.Leadership;

import java.io.IOException;
import java.net.URI;
import java.nio.file.Files;
import java.time.Clock;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;

/**
 * The wanmig core in one process: the same MigrationManager, planner and REST resource as the
 * ONOS app, with an OpenFlow 1.3 southbound of its own, records in a local file, and the ONOS REST
 * paths. Only the adapters differ from ONOS; no migration logic lives here.
 */
public final class EmbeddedRuntime implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(EmbeddedRuntime.class);
    private static final ApplicationId APP_ID = new DefaultApplicationId(Cookies.EMBEDDED_APP_ID,
            WanTopologyParser.APP_ID);

    private final WanTopology topology;
    private final OpenFlowController controller;
    private final OpenFlowNetworkProgrammer network;
    private final MigrationManager manager;
    private final LinkStateTracker links;
    private final EvacuationHost evacuations;
    private final RestServer rest;
    private final FileMigrationStore store;
    private final CountDownLatch allSwitches;
    private final StateDirLock stateLock;

    EmbeddedRuntime(RuntimeOptions o) throws IOException, InterruptedException {
        String netcfg = Files.readString(o.config);
        topology = WanTopologyParser.parseNetcfg(netcfg);
        LinkStateSettings linkSettings = LinkStateSettings.fromNetcfg(new ObjectMapper().readTree(netcfg));
        // before any record is read: the take-over below assumes the previous runtime is gone
        stateLock = StateDirLock.acquire(o.stateDir);
        boolean built = false;
        try {
            // first: a record it cannot read stops the start before anything else is built
            store = new FileMigrationStore(o.stateDir);
            controller = new OpenFlowController(OpenFlowConfig.builder().bindAddress(o.openflowAddress)
                    .port(o.openflowPort).build());
            network = new OpenFlowNetworkProgrammer(controller);
            manager = new MigrationManager(topology, APP_ID, network,
                    new HypervisorDrivers(URI.create(o.callbackBase)), new AgentReplicationClient(this::demoteBudget),
                    store, Leadership.STANDALONE, Clock.systemUTC());
            // link failures reach the routes through the tracker: PORT_STATUS / port-desc / disconnects in,
            // the effective topology out to the manager, which moves the baseline make-before-break
            links = new LinkStateTracker(topology, linkSettings, manager::updateTopology, Clock.systemUTC());
            controller.addSwitchListener(new WanLinkMonitor(topology.links(), links));
            // the manager is also what loss detection (failover.detection, off by default) reads
            evacuations = new EvacuationHost(manager, manager, manager, new FileEvacuationStore(o.stateDir), () -> topology,
                    Leadership.STANDALONE, System::currentTimeMillis);
            allSwitches = new CountDownLatch(topology.allSwitches().size());
            controller.addPacketListener(new ArpPacketHandler(new GatewayArpResponder(topology), controller,
                    new ServerAnnounceDetector(topology), manager::serverAnnounced));
            controller.addSwitchListener(new SwitchListener() {
                @Override
                public void switchConnected(SwitchInfo info) {
                    switchUp(info.deviceId());
                }

                @Override
                public void switchDisconnected(DeviceId device) {
                    log.warn("switch {} disconnected", device);
                    manager.switchDisconnected(device);
                }
            });
            EmbeddedServiceDirectory services = new EmbeddedServiceDirectory(Map.of(MigrationService.class, manager,
                    EvacuationService.class, evacuations, PlannerService.class, (PlannerService) manager::planner,
                    CodecService.class, EmbeddedCodecService.of(WanmigCodecs.all())));
            rest = new RestServer(o.httpAddress, o.httpPort, RestLimits.DEFAULTS, o.user, o.password, o.token, services,
                    new EmbeddedWebResource(this::devicesJson, this::flowsJson, this::linksJson));
            built = true;
        } finally {
            if (!built) {   // the lock goes with the failed start, not with the JVM (an in-JVM caller)
                releaseQuietly();
            }
        }
    }

    void start(RuntimeOptions o) throws InterruptedException, IOException {
        controller.start();
        rest.start();
        log.info("OpenFlow 1.3 on {}:{}; waiting for {} switches", o.openflowAddress, o.openflowPort,
                topology.allSwitches().size());
        if (!allSwitches.await(o.switchWait.toMillis(), TimeUnit.MILLISECONDS)) {
            log.warn("not every switch connected within {} s; missing {}", o.switchWait.toSeconds(), missing());
        }
        // one runtime per state directory (stateLock): whoever drove these records before is gone
        manager.takeOver(MigrationManager.Predecessors.GONE).whenComplete((x, e) -> {
            if (e != null) {
                log.warn("baseline not confirmed everywhere yet: {}", e.getMessage());
            } else {
                log.info("baseline installed; ready to migrate");
            }
        });
        // the one instance runs evacuations; after a restart it goes on with the recorded ones
        evacuations.takeOver();
    }

    private final Set<DeviceId> seen = java.util.concurrent.ConcurrentHashMap.newKeySet();

    /**
     * A (re)connected switch is read and brought in line with the desired state by the core's
     * reconciler, on the lifecycle thread: only the difference changes, nothing is deleted blindly.
     */
    private void switchUp(DeviceId device) {
        if (!topology.allSwitches().contains(device)) {
            log.warn("switch {} is not in the configuration; leaving it alone", device);
            return;
        }
        log.info("switch {} connected", device);
        if (seen.add(device)) {
            allSwitches.countDown();
        }
        manager.switchConnected(device);
    }

    /** Where the records persist (tests read it). */
    FileMigrationStore store() {
        return store;
    }

    /** The demote budget of the configuration in force, sent to the replication agents. */
    private java.time.Duration demoteBudget() {
        return topology.settings().demoteTimeout();
    }

    private List<DeviceId> missing() {
        return topology.allSwitches().stream().filter(d -> !network.isAvailable(d)).collect(Collectors.toList());
    }

    private JsonNode devicesJson() {
        ObjectNode root = new ObjectMapper().createObjectNode();
        ArrayNode list = root.putArray("devices");
        for (DeviceId d : topology.allSwitches()) {
            list.addObject().put("id", d.toString()).put("available", network.isAvailable(d))
                    .put("rules", manager.desiredRules(d).size());
        }
        return root;
    }

    private JsonNode flowsJson() {
        ObjectNode root = new ObjectMapper().createObjectNode();
        ObjectNode byDevice = root.putObject("flows");
        for (DeviceId d : topology.allSwitches()) {
            ArrayNode list = byDevice.putArray(d.toString());
            manager.desiredRules(d).forEach(r -> list.add(RuleFormatter.format(r)));
        }
        return root;
    }

    /** The declared links and their state, and the re-plans so far (times in epoch seconds). */
    private JsonNode linksJson() {
        ObjectNode root = new ObjectMapper().createObjectNode();
        LinkStateSettings settings = links.settings();
        root.put("holdDownSeconds", settings.holdDown().toMillis() / 1000.0).put("reroute", settings.reroute());
        ArrayNode list = root.putArray("links");
        links.links().forEach((l, state) -> list.addObject().put("one", l.one().toString())
                .put("two", l.two().toString()).put("state", state.name()));
        ArrayNode replans = root.putArray("replans");
        for (ReplanEvent e : links.events()) {
            ObjectNode n = replans.addObject().put("sequence", e.sequence())
                    .put("triggeredAt", seconds(e.triggeredAt())).put("startedAt", seconds(e.startedAt()))
                    .put("finishedAt", seconds(e.finishedAt())).put("confirmed", e.confirmed());
            if (e.error() != null) {
                n.put("error", e.error());
            }
            e.causes().forEach(n.putArray("causes")::add);
            e.linksOut().forEach(n.putArray("linksOut")::add);
            e.unreachable().forEach(n.putArray("unreachable")::add);
        }
        return root;
    }

    private static double seconds(java.time.Instant t) {
        return t.getEpochSecond() + t.getNano() / 1e9;
    }

    @Override
    public void close() {
        links.close();
        rest.close();
        evacuations.close();
        manager.shutdown();
        store.flush();   // a mark still waiting for its write
        network.close();
        controller.close();
        releaseQuietly();
    }

    private void releaseQuietly() {
        try {
            stateLock.close();
        } catch (IOException e) {
            log.warn("state directory lock: {}", e.toString());
        }
    }

    public static void main(String[] args) throws Exception {
        RuntimeOptions o;
        try {
            o = RuntimeOptions.parse(args);
        } catch (IllegalArgumentException e) {
            if (!e.getMessage().isEmpty()) {
                System.err.println("error: " + e.getMessage());
            }
            System.err.println(RuntimeOptions.USAGE);
            System.exit(2);
            return;
        }
        EmbeddedRuntime runtime;
        try {
            runtime = new EmbeddedRuntime(o);
        } catch (ConfigException e) {
            System.err.println("error: " + o.config + " is not a valid wanmig configuration:");
            for (ConfigProblem p : e.problems()) {
                System.err.println("  " + p);
            }
            System.exit(2);
            return;
        } catch (StateDirInUseException e) {
            System.err.println("error: " + e.getMessage());
            System.exit(1);
            return;
        } catch (UnreadableStateException e) {
            System.err.println("error: the state directory " + o.stateDir + " holds a record this runtime cannot read; "
                    + "nothing was changed.\n  " + e.getMessage() + "\n  Mend the file, or move it out of the "
                    + "directory to start without it: a migration it recorded is then forgotten, so check its "
                    + "rules on the switches and its storage roles at the agents by hand.");
            System.exit(1);
            return;
        }
        Runtime.getRuntime().addShutdownHook(new Thread(runtime::close, "wanmig-shutdown"));
        runtime.start(o);
        Thread.currentThread().join();
    }
}
