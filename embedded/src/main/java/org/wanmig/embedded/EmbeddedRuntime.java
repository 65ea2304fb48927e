package org.wanmig.embedded;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.onosproject.codec.CodecService;
import org.onosproject.core.ApplicationId;
import org.onosproject.core.DefaultApplicationId;
import org.onosproject.net.DeviceId;
import org.onosproject.net.flow.FlowRule;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.wanmig.api.EvacuationService;
import org.wanmig.api.MigrationService;
import org.wanmig.codec.WanmigCodecs;
import org.wanmig.config.ConfigException;
import org.wanmig.config.ConfigProblem;
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
import org.wanmig.embedded.store.FileEvacuationStore;
import org.wanmig.embedded.store.FileMigrationStore;
import org.wanmig.evacuation.EvacuationHost;
import org.wanmig.lifecycle.MigrationManager;
import org.wanmig.net.GatewayArpResponder;
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
    private final EvacuationHost evacuations;
    private final RestServer rest;
    private final CountDownLatch allSwitches;
    private volatile boolean driving;

    EmbeddedRuntime(RuntimeOptions o) throws IOException, InterruptedException {
        topology = WanTopologyParser.parseNetcfg(Files.readString(o.config));
        controller = new OpenFlowController(OpenFlowConfig.builder().bindAddress(o.openflowAddress)
                .port(o.openflowPort).build());
        network = new OpenFlowNetworkProgrammer(controller);
        manager = new MigrationManager(topology, APP_ID, network, new HypervisorDrivers(URI.create(o.callbackBase)),
                new AgentReplicationClient(), new FileMigrationStore(o.stateDir), Leadership.STANDALONE,
                Clock.systemUTC());
        evacuations = new EvacuationHost(manager, new FileEvacuationStore(o.stateDir), () -> topology,
                Leadership.STANDALONE, System::currentTimeMillis);
        allSwitches = new CountDownLatch(topology.allSwitches().size());
        controller.addPacketListener(new ArpPacketHandler(new GatewayArpResponder(topology), controller));
        controller.addSwitchListener(new SwitchListener() {
            @Override
            public void switchConnected(SwitchInfo info) {
                switchUp(info.deviceId());
            }

            @Override
            public void switchDisconnected(DeviceId device) {
                log.warn("switch {} disconnected", device);
            }
        });
        EmbeddedServiceDirectory services = new EmbeddedServiceDirectory(Map.of(MigrationService.class, manager,
                EvacuationService.class, evacuations, PlannerService.class, (PlannerService) manager::planner,
                CodecService.class, EmbeddedCodecService.of(WanmigCodecs.all())));
        rest = new RestServer(o.httpAddress, o.httpPort, RestLimits.DEFAULTS, o.user, o.password, o.token, services,
                new EmbeddedWebResource(this::devicesJson, this::flowsJson));
    }

    void start(RuntimeOptions o) throws InterruptedException, IOException {
        controller.start();
        rest.start();
        log.info("OpenFlow 1.3 on {}:{}; waiting for {} switches", o.openflowAddress, o.openflowPort,
                topology.allSwitches().size());
        if (!allSwitches.await(o.switchWait.toMillis(), TimeUnit.MILLISECONDS)) {
            log.warn("not every switch connected within {} s; missing {}", o.switchWait.toSeconds(), missing());
        }
        driving = true;
        manager.takeOver().whenComplete((x, e) -> {
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

    /** A (re)connected switch gets its baseline; reconciliation restores everything else desired. */
    private void switchUp(DeviceId device) {
        if (!topology.allSwitches().contains(device)) {
            log.warn("switch {} is not in the configuration; leaving it alone", device);
            return;
        }
        log.info("switch {} connected", device);
        if (seen.add(device)) {
            allSwitches.countDown();
        }
        if (driving) {
            List<FlowRule> baseline = manager.baselineRules().stream().filter(r -> r.deviceId().equals(device))
                    .collect(Collectors.toList());
            network.install(baseline).whenComplete((x, e) -> {
                if (e != null) {
                    log.warn("baseline of {} not confirmed: {}", device, e.getMessage());
                }
            });
        }
    }

    private List<DeviceId> missing() {
        return topology.allSwitches().stream().filter(d -> !network.isAvailable(d)).collect(Collectors.toList());
    }

    private JsonNode devicesJson() {
        ObjectNode root = new ObjectMapper().createObjectNode();
        ArrayNode list = root.putArray("devices");
        for (DeviceId d : topology.allSwitches()) {
            list.addObject().put("id", d.toString()).put("available", network.isAvailable(d))
                    .put("rules", network.desiredRules(d).size());
        }
        return root;
    }

    private JsonNode flowsJson() {
        ObjectNode root = new ObjectMapper().createObjectNode();
        ObjectNode byDevice = root.putObject("flows");
        for (DeviceId d : topology.allSwitches()) {
            ArrayNode list = byDevice.putArray(d.toString());
            network.desiredRules(d).forEach(r -> list.add(RuleFormatter.format(r)));
        }
        return root;
    }

    @Override
    public void close() {
        rest.close();
        evacuations.close();
        manager.shutdown();
        network.close();
        controller.close();
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
        }
        Runtime.getRuntime().addShutdownHook(new Thread(runtime::close, "wanmig-shutdown"));
        runtime.start(o);
        Thread.currentThread().join();
    }
}
