package org.wanmig.embedded.openflow;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.onosproject.net.ConnectPoint;
import org.onosproject.net.DeviceId;
import org.projectfloodlight.openflow.protocol.OFMessage;
import org.projectfloodlight.openflow.protocol.OFPortConfig;
import org.projectfloodlight.openflow.protocol.OFPortDesc;
import org.projectfloodlight.openflow.protocol.OFPortReason;
import org.projectfloodlight.openflow.protocol.OFPortState;
import org.projectfloodlight.openflow.types.DatapathId;
import org.projectfloodlight.openflow.types.MacAddress;
import org.projectfloodlight.openflow.types.OFPort;
import org.projectfloodlight.openflow.types.U32;
import org.wanmig.config.WanLink;
import org.wanmig.spi.NetworkStateListener;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.Socket;
import java.time.Duration;
import java.util.List;
import java.util.Set;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.wanmig.embedded.openflow.FlowRuleTranslator.OF13;

/**
 * Link state from the wire: two scripted switches speak real OpenFlow 1.3 (messages built with
 * openflowj and sent as bytes over loopback TCP) to the controller; the monitor turns their port
 * descriptions, PORT_STATUS messages and disconnects into link and switch reports.
 */
class WanLinkMonitorTest {
    private static final long DPID_A = 0x2;
    private static final long DPID_B = 0x5;
    private static final ConnectPoint A4 = ConnectPoint.deviceConnectPoint("of:0000000000000002/4");
    private static final ConnectPoint B4 = ConnectPoint.deviceConnectPoint("of:0000000000000005/4");
    private static final ConnectPoint A3 = ConnectPoint.deviceConnectPoint("of:0000000000000002/3");
    private static final ConnectPoint C1 = ConnectPoint.deviceConnectPoint("of:0000000000000003/1");

    private final BlockingQueue<String> reports = new LinkedBlockingQueue<>();
    private OpenFlowController controller;

    @BeforeEach
    void start() throws Exception {
        controller = new OpenFlowController(OpenFlowConfig.builder().bindAddress("127.0.0.1").port(0)
                .echoInterval(Duration.ofSeconds(30)).build());
        // A4-B4 between the two scripted switches; A3-C1 to a switch that never connects
        controller.addSwitchListener(new WanLinkMonitor(List.of(new WanLink(A4, B4, true), new WanLink(A3, C1, true)),
                new NetworkStateListener() {
                    @Override
                    public void linkUp(ConnectPoint one, ConnectPoint two) {
                        reports.add("up " + one + " " + two);
                    }

                    @Override
                    public void linkDown(ConnectPoint one, ConnectPoint two) {
                        reports.add("down " + one + " " + two);
                    }

                    @Override
                    public void switchUp(DeviceId device) {
                        reports.add("switch up " + device);
                    }

                    @Override
                    public void switchDown(DeviceId device) {
                        reports.add("switch down " + device);
                    }
                }));
        controller.start();
    }

    @AfterEach
    void stop() {
        controller.close();
    }

    private String next() throws InterruptedException {
        String r = reports.poll(5, TimeUnit.SECONDS);
        return r == null ? "nothing reported" : r;
    }

    private void assertQuiet() throws InterruptedException {
        assertNull(reports.poll(300, TimeUnit.MILLISECONDS), "no further report");
    }

    private static OFPortDesc port(int number, boolean adminUp, boolean linkUp) {
        return OF13.buildPortDesc().setPortNo(OFPort.of(number)).setName("s-eth" + number)
                .setHwAddr(MacAddress.of(0x020000000000L + number))
                .setConfig(adminUp ? Set.of() : Set.of(OFPortConfig.PORT_DOWN))
                .setState(linkUp ? Set.of(OFPortState.LIVE) : Set.of(OFPortState.LINK_DOWN)).build();
    }

    /** A switch as OVS is to the controller: bytes on a TCP connection. */
    private final class ScriptedSwitch implements AutoCloseable {
        private final Socket socket;
        private final OutputStream out;

        ScriptedSwitch(long dpid, OFPortDesc... ports) throws IOException {
            socket = new Socket(InetAddress.getLoopbackAddress(), controller.localPort());
            out = socket.getOutputStream();
            Thread drain = new Thread(() -> {
                try (InputStream in = socket.getInputStream()) {
                    in.transferTo(OutputStream.nullOutputStream());
                } catch (IOException ignored) {
                    // closed by the test
                }
            }, "scripted-switch-drain");
            drain.setDaemon(true);
            drain.start();
            send(OF13.buildHello().setXid(1).setElements(
                    List.of(OF13.helloElemVersionbitmap(List.of(U32.of(1 << 4))))).build());
            send(OF13.buildFeaturesReply().setXid(2).setDatapathId(DatapathId.of(dpid)).setNTables((short) 254).build());
            send(OF13.buildPortDescStatsReply().setXid(4).setEntries(List.of(ports)).build());
        }

        void send(OFMessage m) throws IOException {
            ByteBuf buf = Unpooled.buffer();
            m.writeTo(buf);
            byte[] bytes = new byte[buf.readableBytes()];
            buf.readBytes(bytes);
            out.write(bytes);
            out.flush();
        }

        void portStatus(OFPortReason reason, OFPortDesc desc) throws IOException {
            send(OF13.buildPortStatus().setXid(0).setReason(reason).setDesc(desc).build());
        }

        @Override
        public void close() throws IOException {
            socket.close();
        }
    }

    @Test
    void portStatusAndDisconnectsMarkTheConfiguredLink() throws Exception {
        try (ScriptedSwitch a = new ScriptedSwitch(DPID_A, port(3, true, true), port(4, true, true))) {
            assertEquals("switch up of:0000000000000002", next());
            assertQuiet(); // the far ends have not connected: nothing known about either link yet

            try (ScriptedSwitch b = new ScriptedSwitch(DPID_B, port(4, true, true))) {
                assertEquals("switch up of:0000000000000005", next());
                assertEquals("up " + A4 + " " + B4, next());

                // ip link set ... down on one end: OVS reports no carrier
                b.portStatus(OFPortReason.MODIFY, port(4, true, false));
                assertEquals("down " + A4 + " " + B4, next());
                // the other end follows (both veth ends lose carrier): already down, nothing new
                a.portStatus(OFPortReason.MODIFY, port(4, true, false));
                assertQuiet();
                // one end back is not enough
                b.portStatus(OFPortReason.MODIFY, port(4, true, true));
                assertQuiet();
                a.portStatus(OFPortReason.MODIFY, port(4, true, true));
                assertEquals("up " + A4 + " " + B4, next());

                // administratively down (OFPPC_PORT_DOWN) with carrier still there
                a.portStatus(OFPortReason.MODIFY, port(4, false, true));
                assertEquals("down " + A4 + " " + B4, next());
                a.portStatus(OFPortReason.MODIFY, port(4, true, true));
                assertEquals("up " + A4 + " " + B4, next());

                // the port is deleted from the bridge
                b.portStatus(OFPortReason.DELETE, port(4, true, true));
                assertEquals("down " + A4 + " " + B4, next());
                b.portStatus(OFPortReason.ADD, port(4, true, true));
                assertEquals("up " + A4 + " " + B4, next());
            }
            assertEquals("switch down of:0000000000000005", next());

            // it comes back with the port down in its description
            try (ScriptedSwitch b = new ScriptedSwitch(DPID_B, port(4, true, false))) {
                assertEquals("switch up of:0000000000000005", next());
                assertEquals("down " + A4 + " " + B4, next());
            }
            assertEquals("switch down of:0000000000000005", next());
        }
        assertEquals("switch down of:0000000000000002", next());
        assertQuiet();
    }

    /**
     * While one end is disconnected, the connected end still reports its port: down there is the
     * link down (a PE that died, not one that only lost the controller); up there tells nothing.
     */
    @Test
    void theConnectedEndReportsTheLinkDownWhileTheOtherIsDisconnected() throws Exception {
        try (ScriptedSwitch a = new ScriptedSwitch(DPID_A, port(3, true, true), port(4, true, true))) {
            assertEquals("switch up of:0000000000000002", next());
            try (ScriptedSwitch b = new ScriptedSwitch(DPID_B, port(4, true, true))) {
                assertEquals("switch up of:0000000000000005", next());
                assertEquals("up " + A4 + " " + B4, next());
            }
            assertEquals("switch down of:0000000000000005", next());
            assertQuiet(); // only the controller lost B: the link is not reported down
            a.portStatus(OFPortReason.MODIFY, port(4, true, false));
            assertEquals("down " + A4 + " " + B4, next());
            a.portStatus(OFPortReason.MODIFY, port(4, true, true));
            assertQuiet(); // B's end unknown: not up yet
            try (ScriptedSwitch b = new ScriptedSwitch(DPID_B, port(4, true, true))) {
                assertEquals("switch up of:0000000000000005", next());
                assertEquals("up " + A4 + " " + B4, next());
            }
            assertEquals("switch down of:0000000000000005", next());
        }
        assertEquals("switch down of:0000000000000002", next());
        assertQuiet();
    }
}
