package org.wanmig.embedded.openflow;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Timeout;
import org.onosproject.net.DeviceId;
import org.wanmig.planner.Cookies;
import org.wanmig.spi.NetworkProgrammer;
import org.wanmig.testing.NetworkProgrammerContract;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertTrue;

/** The southbound adapter contract, against real Open vSwitch bridges (userspace datapath). */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class OpenFlowProgrammerContractOvsIT extends NetworkProgrammerContract {
    private OpenFlowController controller;
    private OpenFlowNetworkProgrammer programmer;
    private final List<Ovs.Bridge> bridges = new ArrayList<>();

    @BeforeEach
    void start() throws Exception {
        Ovs.assumeInstalled();
        controller = new OpenFlowController(OpenFlowConfig.builder().bindAddress("127.0.0.1").port(0)
                .confirmTimeout(Duration.ofSeconds(5)).build());
        programmer = new OpenFlowNetworkProgrammer(controller);
        controller.start();
    }

    @AfterEach
    void stop() {
        bridges.forEach(Ovs.Bridge::close);
        if (programmer != null) {
            programmer.close();
        }
        if (controller != null) {
            controller.close();
        }
    }

    @Override
    protected NetworkProgrammer programmer() {
        return programmer;
    }

    @Override
    protected DeviceId connectedSwitch() throws Exception {
        long dpid = 0x5700_0000_0000_0000L | (ThreadLocalRandom.current().nextLong() & 0xffff_ffffL);
        bridges.add(new Ovs.Bridge(dpid, controller.localPort()));
        DeviceId device = FlowRuleTranslator.deviceId(dpid);
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(WAIT_S);
        while (!programmer.isAvailable(device) && System.nanoTime() < deadline) {
            Thread.sleep(20);
        }
        assertTrue(programmer.isAvailable(device), "bridge connected");
        return device;
    }

    @Override
    protected DeviceId absentSwitch() {
        return FlowRuleTranslator.deviceId(0x5700_dead_0000_0002L);
    }

    @Override
    protected long cookieTag() {
        return Cookies.TAG;
    }
}
