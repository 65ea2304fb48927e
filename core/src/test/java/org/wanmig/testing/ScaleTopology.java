package org.wanmig.testing;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.wanmig.config.WanTopologyParser;

import java.util.function.IntUnaryOperator;

/**
 * Generated configurations of any size: {@code dcs} data centers and {@code sites} client sites
 * around a ring of core switches (one per DC, at least three), and {@code servers} servers that
 * each have a port at every DC. Used by the evacuation tests and by scripts/bench-scale.
 * <p>
 * Switches: PE of DC d is of:0000000000000100+d (WAN port 1, server ports 2..servers+1); core
 * switch c is of:0000000000000200+c (ring ports 1 and 2, then one port per attached PE or site);
 * site s has its own edge switch of:0000000000000300+s (site on port 1, uplink on port 2).
 */
public final class ScaleTopology {
    private ScaleTopology() {
    }

    public static String dcName(int d) {
        return "dc" + (char) ('A' + d);
    }

    public static String serverName(int i) {
        return "vs" + i;
    }

    private static String dev(int n) {
        return String.format("of:%016x", n);
    }

    /** The "wanmig" object; server i runs in DC {@code dcOf(i)} (0-based). */
    public static ObjectNode config(int servers, int dcs, int sites, IntUnaryOperator dcOf) {
        return config(servers, dcs, sites, dcOf, false);
    }

    /**
     * As {@link #config(int, int, int, IntUnaryOperator)}; with {@code prefixes}, DC d has the
     * prefix 10.(2+d).0.0/16 and each server's address is taken from its home DC's block, so the
     * baseline aggregates (one route per DC and switch, the PE delivering per server).
     */
    public static ObjectNode config(int servers, int dcs, int sites, IntUnaryOperator dcOf, boolean prefixes) {
        if (dcs > 26 || sites > 200 || servers > 60_000) {
            throw new IllegalArgumentException("too large for the address plan");
        }
        ObjectNode c = Topologies.MAPPER.createObjectNode();
        int cores = Math.max(3, dcs);
        int[] nextPort = new int[cores];
        java.util.Arrays.fill(nextPort, 3);
        ArrayNode dcList = c.putArray("dataCenters");
        ArrayNode wan = c.putArray("wanSwitches");
        ArrayNode links = c.putArray("links");
        for (int k = 0; k < cores; k++) {
            wan.add(dev(0x200 + k));
            links.addObject().put("one", dev(0x200 + k) + "/2").put("two", dev(0x200 + (k + 1) % cores) + "/1");
        }
        for (int d = 0; d < dcs; d++) {
            ObjectNode dc = dcList.addObject().put("name", dcName(d)).put("pe", dev(0x100 + d));
            if (prefixes) {
                dc.put("prefix", "10." + (2 + d) + ".0.0/16");
            }
            dc.putArray("wanPorts").add(1);
            ArrayNode ports = dc.putArray("serverPorts");
            for (int i = 0; i < servers; i++) {
                ports.add(2 + i);
            }
            links.addObject().put("one", dev(0x100 + d) + "/1").put("two", dev(0x200 + d) + "/" + nextPort[d]++);
        }
        ArrayNode siteList = c.putArray("clientSites");
        for (int s = 0; s < sites; s++) {
            int core = s % cores;
            wan.add(dev(0x300 + s));
            links.addObject().put("one", dev(0x300 + s) + "/2").put("two", dev(0x200 + core) + "/" + nextPort[core]++);
            ObjectNode site = siteList.addObject().put("name", "site" + (s + 1)).put("switch", dev(0x300 + s))
                    .put("port", 1).put("gateway", "10.100." + s + ".254")
                    .put("mac", String.format("00:00:00:00:01:%02x", s));
            site.putArray("prefixes").add("10.100." + s + ".0/24");
        }
        ArrayNode serverList = c.putArray("servers");
        int[] inDc = new int[dcs];
        for (int i = 0; i < servers; i++) {
            int home = dcOf.applyAsInt(i);
            int k = inDc[home]++;
            String ip = prefixes ? "10." + (2 + home) + "." + (k / 250 % 250) + "." + (k % 250 + 1)
                    : "10." + (2 + i / 62_500) + "." + (i / 250 % 250) + "." + (i % 250 + 1);
            ObjectNode v = serverList.addObject().put("name", serverName(i))
                    .put("ip", ip)
                    .put("mac", String.format("00:00:00:02:%02x:%02x", i >> 8, i & 0xff))
                    .put("gateway", "10.1.255.254").put("dc", dcName(home)).put("port", 2 + i);
            ObjectNode ports = v.putObject("ports");
            for (int d = 0; d < dcs; d++) {
                if (d != home) {
                    ports.put(dcName(d), 2 + i);
                }
            }
        }
        c.putObject("migration").putObject("hypervisor").put("driver", "rest");
        return c;
    }

    /** The whole network-configuration file around {@link #config}. */
    public static ObjectNode netcfg(int servers, int dcs, int sites, IntUnaryOperator dcOf) {
        return netcfg(servers, dcs, sites, dcOf, false);
    }

    public static ObjectNode netcfg(int servers, int dcs, int sites, IntUnaryOperator dcOf, boolean prefixes) {
        ObjectNode root = Topologies.MAPPER.createObjectNode();
        root.putObject("apps").putObject(WanTopologyParser.APP_ID).set(WanTopologyParser.CONFIG_KEY,
                config(servers, dcs, sites, dcOf, prefixes));
        return root;
    }
}
