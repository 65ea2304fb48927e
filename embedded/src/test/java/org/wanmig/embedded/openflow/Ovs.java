package org.wanmig.embedded.openflow;

import org.junit.jupiter.api.Assertions;
import org.junit.jupiter.api.Assumptions;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;

/**
 * Drives the local Open vSwitch for tests: userspace (netdev) bridges, OpenFlow 1.3 only,
 * fail-mode secure, pointed at a controller on 127.0.0.1. Every bridge, veth pair and network
 * namespace a test creates has a unique name and is deleted by {@link Bridge#close()}.
 */
final class Ovs {
    private static final long COMMAND_TIMEOUT_S = 30;

    private Ovs() {
    }

    /** Skips the test when OVS is not installed, except on CI, where that is a failure. */
    static void assumeInstalled() {
        boolean installed = Files.isExecutable(Path.of("/usr/bin/ovs-vsctl"))
                || Files.isExecutable(Path.of("/usr/local/bin/ovs-vsctl"));
        if (!installed && System.getenv("CI") != null) {
            Assertions.fail("ovs-vsctl not installed, but CI is set: OVS tests must run");
        }
        Assumptions.assumeTrue(installed, "Open vSwitch not installed");
        if (run(false, "ovs-vsctl", "--timeout=5", "show").rc != 0) {
            // The machine has no kernel datapath: the userspace one needs only the daemons.
            run(true, "/usr/share/openvswitch/scripts/ovs-ctl", "start", "--system-id=random");
        }
    }

    static Result run(boolean check, String... command) {
        try {
            Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
            p.getOutputStream().close();
            InputStream in = p.getInputStream();
            byte[][] out = new byte[1][];
            Thread reader = new Thread(() -> {
                try {
                    out[0] = in.readAllBytes();
                } catch (IOException e) {
                    out[0] = new byte[0];
                }
            });
            reader.start();
            if (!p.waitFor(COMMAND_TIMEOUT_S, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                throw new AssertionError("timed out: " + String.join(" ", command));
            }
            reader.join(5000);
            Result r = new Result(p.exitValue(), out[0] == null ? "" : new String(out[0], StandardCharsets.UTF_8));
            if (check && r.rc != 0) {
                throw new AssertionError(String.join(" ", command) + " -> rc " + r.rc + ": " + r.output);
            }
            return r;
        } catch (IOException e) {
            throw new AssertionError("cannot run " + Arrays.toString(command), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError("interrupted", e);
        }
    }

    static final class Result {
        final int rc;
        final String output;

        Result(int rc, String output) {
            this.rc = rc;
            this.output = output;
        }
    }

    /** A test bridge; close() removes it and everything made for it. */
    static final class Bridge implements AutoCloseable {
        final String name;
        final long dpid;
        private final List<String> namespaces = new ArrayList<>();
        private final List<String> links = new ArrayList<>();

        Bridge(long dpid, int controllerPort) {
            // Interface names are at most 15 characters; ports get a 2-character suffix.
            this.name = String.format("wmt%08x", ThreadLocalRandom.current().nextInt());
            this.dpid = dpid;
            run(true, "ovs-vsctl", "--timeout=20", "add-br", name,
                    "--", "set", "bridge", name, "datapath_type=netdev", "protocols=OpenFlow13",
                    "fail-mode=secure", String.format("other-config:datapath-id=%016x", dpid),
                    "other-config:disable-in-band=true");
            setController(controllerPort);
        }

        /** Whether the bridge still exists: Mininet's cleanup (mn -c) deletes every bridge on the machine. */
        boolean exists() {
            return run(false, "ovs-vsctl", "--timeout=5", "br-exists", name).rc == 0;
        }

        void setController(int port) {
            run(true, "ovs-vsctl", "--timeout=20", "set-controller", name, "tcp:127.0.0.1:" + port);
        }

        void delController() {
            run(true, "ovs-vsctl", "--timeout=20", "del-controller", name);
        }

        /** The flows as ovs-ofctl shows them, one string per flow, without the counters. */
        List<String> flows() {
            String out = run(true, "ovs-ofctl", "-O", "OpenFlow13", "dump-flows", name).output;
            return out.lines().filter(l -> l.contains("cookie="))
                    .map(l -> l.replaceAll(" (duration|n_packets|n_bytes|idle_age|hard_age)=[^,]*,", ""))
                    .map(String::trim)
                    .collect(Collectors.toList());
        }

        /** The flow with this cookie, or null. */
        String flow(long cookie) {
            String tag = "cookie=0x" + Long.toHexString(cookie) + ",";
            return flows().stream().filter(f -> f.startsWith(tag)).findFirst().orElse(null);
        }

        void addFlow(String flow) {
            run(true, "ovs-ofctl", "-O", "OpenFlow13", "add-flow", name, flow);
        }

        void delFlowStrict(String match) {
            run(true, "ovs-ofctl", "-O", "OpenFlow13", "--strict", "del-flows", name, match);
        }

        void modFlowStrict(String flow) {
            run(true, "ovs-ofctl", "-O", "OpenFlow13", "--strict", "mod-flows", name, flow);
        }

        /**
         * A veth pair: one end on the bridge as OpenFlow port {@code ofport}, the other inside a new
         * network namespace with the given address. Returns the namespace name.
         */
        String addHost(int ofport, String cidr) {
            String ns = name + "h" + ofport;
            String sw = name + "p" + ofport;
            String host = name + "v" + ofport;
            run(true, "ip", "netns", "add", ns);
            namespaces.add(ns);
            run(true, "ip", "link", "add", sw, "type", "veth", "peer", "name", host);
            links.add(sw);
            run(true, "ip", "link", "set", host, "netns", ns);
            run(true, "ip", "-n", ns, "addr", "add", cidr, "dev", host);
            run(true, "ip", "-n", ns, "link", "set", host, "up");
            run(true, "ip", "-n", ns, "link", "set", "lo", "up");
            run(true, "ip", "link", "set", sw, "up");
            run(true, "ovs-vsctl", "--timeout=20", "add-port", name, sw,
                    "--", "set", "interface", sw, "ofport_request=" + ofport);
            return ns;
        }

        @Override
        public void close() {
            run(false, "ovs-vsctl", "--timeout=20", "--if-exists", "del-br", name);
            links.forEach(l -> run(false, "ip", "link", "del", l));
            namespaces.forEach(ns -> run(false, "ip", "netns", "del", ns));
        }
    }
}
