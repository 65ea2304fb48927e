package org.wanmig.config;


import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.onlab.packet.Ip4Address;
import org.onlab.packet.Ip4Prefix;
import org.onlab.packet.MacAddress;
import org.onosproject.net.ConnectPoint;
import org.onosproject.net.DeviceId;
import org.onosproject.net.PortNumber;

import java.io.IOException;
import java.net.URI;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.function.Function;
import java.util.regex.Pattern;

/**
 * Reads and validates the wanmig configuration (the JSON under apps.org.wanmig.app.wanmig of
 * ONOS network configuration). Collects every problem before giving up, so an operator fixes a
 * file in one round; a configuration with any problem is rejected whole.
 */
public final class WanTopologyParser {
    /** The application id, which is also the key of the app's network configuration. */
    public static final String APP_ID = "org.wanmig.app";
    public static final String CONFIG_KEY = "wanmig";
    public static final MacAddress DEFAULT_GATEWAY_MAC = MacAddress.valueOf("00:00:5e:00:01:01");

    private static final Pattern OF_DEVICE = Pattern.compile("of:[0-9a-f]{16}");
    private static final Set<String> DRIVERS = Set.of("rest", "http", "qemu");

    private final List<ConfigProblem> problems = new ArrayList<>();
    /** Where each budget of migration.evacuation.bandwidth was written, for problems found later. */
    private final Map<String, String> budgetPaths = new HashMap<>();
    /** servers[i].hypervisor's path per server naming its own driver, for the checks in {@link #settings}. */
    private final Map<String, String> driverPaths = new LinkedHashMap<>();

    private WanTopologyParser() {
    }

    /** Parses the app's config object (the value of "wanmig"). */
    public static WanTopology parse(JsonNode config) {
        return new WanTopologyParser().read(config);
    }

    /** Parses a whole network-configuration file as given to onos-netcfg. */
    public static WanTopology parseNetcfg(JsonNode netcfg) {
        JsonNode app = netcfg.path("apps").path(APP_ID).path(CONFIG_KEY);
        if (app.isMissingNode()) {
            throw new ConfigException(List.of(new ConfigProblem("apps." + APP_ID + "." + CONFIG_KEY,
                    "missing: the file has no wanmig configuration")));
        }
        return parse(app);
    }

    public static WanTopology parseNetcfg(String json) {
        try {
            return parseNetcfg(new ObjectMapper().readTree(json));
        } catch (IOException e) {
            throw new ConfigException(List.of(new ConfigProblem("$", "not valid JSON: " + e.getMessage())));
        }
    }

    private WanTopology read(JsonNode root) {
        if (root == null || !root.isObject()) {
            fail("$", "must be a JSON object");
            throw new ConfigException(problems);
        }
        MacAddress gatewayMac = root.has("gatewayMac") ? mac(root, "gatewayMac", "gatewayMac")
                : DEFAULT_GATEWAY_MAC;
        LabelRange labels = labelRange(root.path("labels"));
        List<DataCenter> dcs = list(root, "dataCenters", this::dataCenter, true);
        List<DeviceId> wanSwitches = list(root, "wanSwitches", (n, p) -> device(n, p), false);
        List<WanLink> links = list(root, "links", this::link, false);
        List<ClientSite> sites = list(root, "clientSites", this::clientSite, false);
        List<VirtualServer> servers = list(root, "servers", this::server, false);
        MigrationSettings settings = settings(root.path("migration"), dcs, servers);
        FailoverDetection detection = failoverDetection(root.get(FailoverDetection.KEY), dcs);
        if (!problems.isEmpty()) {
            // structural problems first: cross-references over half-read entries would only add noise
            throw new ConfigException(problems);
        }
        new Crosscheck(dcs, wanSwitches, links, sites, servers, labels).run();
        checkEvacuation(dcs, servers, settings.evacuation());
        if (!problems.isEmpty()) {
            throw new ConfigException(problems);
        }
        return new WanTopology(dcs, wanSwitches, links, sites, servers, labels, gatewayMac, settings, detection);
    }

    // ---- structure -------------------------------------------------------------------------

    private interface EntryReader<T> {
        T read(JsonNode node, String path);
    }

    private <T> List<T> list(JsonNode root, String field, EntryReader<T> reader, boolean required) {
        List<T> out = new ArrayList<>();
        JsonNode array = root.get(field);
        if (array == null || array.isNull()) {
            if (required) {
                fail(field, "missing: at least one entry is required");
            }
            return out;
        }
        if (!array.isArray()) {
            fail(field, "must be an array");
            return out;
        }
        for (int i = 0; i < array.size(); i++) {
            T item = reader.read(array.get(i), field + "[" + i + "]");
            if (item != null) {
                out.add(item);
            }
        }
        if (required && array.size() == 0) {
            fail(field, "must not be empty");
        }
        return out;
    }

    private DataCenter dataCenter(JsonNode n, String p) {
        String name = text(n, "name", p);
        DeviceId pe = device(n.get("pe"), p + ".pe");
        List<PortNumber> wan = ports(n, "wanPorts", p, true);
        List<PortNumber> servers = ports(n, "serverPorts", p, true);
        URI agent = null;
        if (n.hasNonNull("agent")) {
            try {
                agent = URI.create(n.get("agent").asText());
                if (!"http".equals(agent.getScheme()) && !"https".equals(agent.getScheme())) {
                    fail(p + ".agent", "must be an http(s) URL: " + n.get("agent").asText());
                }
            } catch (IllegalArgumentException e) {
                fail(p + ".agent", "not a URL: " + n.get("agent").asText());
            }
        }
        String token = n.hasNonNull("agentToken") ? n.get("agentToken").asText() : null;
        Set<PortNumber> overlap = new HashSet<>(wan);
        overlap.retainAll(servers);
        if (!overlap.isEmpty()) {
            fail(p, "ports " + overlap + " are both WAN and server ports");
        }
        Capacity capacity = capacity(n.get("capacity"), p + ".capacity");
        // optional: the DC's address block, routed in aggregate (servers elsewhere get exceptions)
        Ip4Prefix prefix = n.hasNonNull("prefix") ? prefix(n.get("prefix"), p + ".prefix") : null;
        return name == null || pe == null ? null
                : new DataCenter(name, pe, wan, servers, agent, token, capacity, prefix);
    }

    private WanLink link(JsonNode n, String p) {
        ConnectPoint one = connectPoint(n, "one", p);
        ConnectPoint two = connectPoint(n, "two", p);
        boolean up = !n.has("up") || n.get("up").asBoolean(true);
        if (one != null && two != null && one.deviceId().equals(two.deviceId())) {
            fail(p, "a link must join two different switches");
            return null;
        }
        return one == null || two == null ? null : new WanLink(one, two, up);
    }

    private ClientSite clientSite(JsonNode n, String p) {
        String name = text(n, "name", p);
        DeviceId edge = device(n.get("switch"), p + ".switch");
        PortNumber port = port(n.get("port"), p + ".port");
        List<Ip4Prefix> prefixes = new ArrayList<>();
        JsonNode pf = n.get("prefixes");
        if (pf == null || !pf.isArray() || pf.size() == 0) {
            fail(p + ".prefixes", "missing: at least one IPv4 prefix is required");
        } else {
            for (int i = 0; i < pf.size(); i++) {
                Ip4Prefix prefix = prefix(pf.get(i), p + ".prefixes[" + i + "]");
                if (prefix != null) {
                    prefixes.add(prefix);
                }
            }
        }
        Ip4Address gateway = ip(n, "gateway", p);
        MacAddress mac = mac(n, "mac", p + ".mac");
        if (gateway != null && !prefixes.isEmpty() && prefixes.stream().noneMatch(x -> x.contains(gateway))) {
            fail(p + ".gateway", gateway + " is in none of the site's prefixes");
        }
        boolean ok = name != null && edge != null && port != null && gateway != null && mac != null
                && pf != null && prefixes.size() == pf.size();
        return ok ? new ClientSite(name, edge, port, prefixes, gateway, mac) : null;
    }

    private VirtualServer server(JsonNode n, String p) {
        String name = text(n, "name", p);
        Ip4Address ip = ip(n, "ip", p);
        MacAddress mac = mac(n, "mac", p + ".mac");
        Ip4Address gateway = ip(n, "gateway", p);
        String dc = text(n, "dc", p);
        PortNumber port = port(n.get("port"), p + ".port");
        Map<String, PortNumber> others = new LinkedHashMap<>();
        JsonNode portsNode = n.get("ports");
        if (portsNode != null && !portsNode.isNull()) {
            if (!portsNode.isObject()) {
                fail(p + ".ports", "must be an object of data center name to port");
            } else {
                Iterator<Map.Entry<String, JsonNode>> it = portsNode.fields();
                while (it.hasNext()) {
                    Map.Entry<String, JsonNode> e = it.next();
                    PortNumber other = port(e.getValue(), p + ".ports." + e.getKey());
                    if (other != null) {
                        others.put(e.getKey(), other);
                    }
                }
            }
        }
        if (ip != null && gateway != null && ip.equals(gateway)) {
            fail(p + ".gateway", "must differ from the server's own address");
        }
        Number memory = number(n, "memoryMiB", p, true, false);
        Number dirty = number(n, "dirtyRateMiBps", p, false, true);
        Number priority = number(n, "priority", p, true, true);
        if (priority != null && priority.longValue() > Integer.MAX_VALUE) {
            fail(p + ".priority", "must be at most " + Integer.MAX_VALUE);
            priority = null;
        }
        String group = null;
        if (n.has("group") && !n.get("group").isNull()) {
            group = n.get("group").isTextual() && !n.get("group").asText().isBlank() ? n.get("group").asText() : null;
            if (group == null) {
                fail(p + ".group", "must be a non-empty string");
            }
        }
        String hypervisor = null;
        if (n.has("hypervisor") && !n.get("hypervisor").isNull()) {
            hypervisor = n.get("hypervisor").asText();
            if (!n.get("hypervisor").isTextual() || !DRIVERS.contains(hypervisor)) {
                fail(p + ".hypervisor", "unknown driver '" + n.get("hypervisor") + "', expected one of " + DRIVERS);
                hypervisor = null;
            } else if (name != null) {
                driverPaths.put(name, p + ".hypervisor");
            }
        }
        JsonNode replicated = n.get("replicated");
        if (replicated != null && !replicated.isNull() && !replicated.isBoolean()) {
            fail(p + ".replicated", "must be true or false");
        }
        String replicaAt = null;
        if (n.has("replicaAt") && !n.get("replicaAt").isNull()) {
            replicaAt = n.get("replicaAt").isTextual() && !n.get("replicaAt").asText().isBlank()
                    ? n.get("replicaAt").asText() : null;
            if (replicaAt == null) {
                fail(p + ".replicaAt", "must be a data center name");
            }
        }
        boolean ok = name != null && ip != null && mac != null && gateway != null && dc != null && port != null;
        return ok ? new VirtualServer(name, ip, mac, gateway, dc, port, others,
                memory == null ? VirtualServer.DEFAULT_MEMORY_MIB : memory.longValue(),
                dirty == null ? VirtualServer.DEFAULT_DIRTY_RATE_MIBPS : dirty.doubleValue(),
                priority == null ? VirtualServer.DEFAULT_PRIORITY : priority.intValue(), group, hypervisor,
                replicated == null || replicated.asBoolean(true)).withReplicaAt(replicaAt) : null;
    }

    private LabelRange labelRange(JsonNode n) {
        if (n.isMissingNode() || n.isNull()) {
            return new LabelRange(1000, 1999);
        }
        Integer min = integer(n, "min", "labels");
        Integer max = integer(n, "max", "labels");
        if (min == null || max == null) {
            return new LabelRange(1000, 1999);
        }
        if (min < LabelRange.FIRST_UNRESERVED) {
            fail("labels.min", "labels below " + LabelRange.FIRST_UNRESERVED + " are reserved (RFC 3032)");
        }
        if (max > LabelRange.MAX_LABEL) {
            fail("labels.max", "must be at most " + LabelRange.MAX_LABEL + " (20-bit label)");
        }
        if (min > max) {
            fail("labels", "min " + min + " is above max " + max);
        }
        return new LabelRange(min, max);
    }

    private MigrationSettings settings(JsonNode n, List<DataCenter> dcs, List<VirtualServer> servers) {
        MigrationSettings d = MigrationSettings.DEFAULTS;
        if (n.isMissingNode() || n.isNull()) {
            usersOf("qemu", servers).forEach((server, path) -> fail(path, "the qemu driver needs "
                    + "migration.hypervisor.agents (a hypervisor agent per data center)"));
            usersOf("http", servers).forEach((server, path) -> fail(path, "the http driver needs "
                    + "migration.hypervisor.url (the hypervisor controller)"));
            return d;
        }
        Duration prepare = seconds(n, "prepareTimeoutSeconds", d.prepareTimeout(), false);
        Duration migrate = seconds(n, "migrateTimeoutSeconds", d.migrateTimeout(), false);
        Duration sw = seconds(n, "switchTimeoutSeconds", d.switchTimeout(), false);
        Duration drain = seconds(n, "drainSeconds", d.drain(), true);
        Duration routes = seconds(n, "routeUpdateTimeoutSeconds", d.routeUpdateTimeout(), false);
        Duration stepGap = duration(n, "routeStepGapMs", d.routeStepGap(), true, Duration.ofMillis(1), "milliseconds");
        if (stepGap.compareTo(Duration.ofSeconds(5)) > 0) {
            fail("migration.routeStepGapMs", "at most 5000 (a WAN link's one-way delay, queue included), not "
                    + stepGap.toMillis());
        }
        Duration demote = seconds(n, "demoteTimeoutSeconds", d.demoteTimeout(), false);
        Duration retention = duration(n, "retentionHours", d.retention(), false, Duration.ofHours(1), "hours");
        JsonNode hv = n.path("hypervisor");
        String driver = hv.path("driver").asText(d.hypervisorDriver());
        URI url = null;
        if (!DRIVERS.contains(driver)) {
            fail("migration.hypervisor.driver", "unknown driver '" + driver + "', expected one of " + DRIVERS);
        }
        if (hv.hasNonNull("url")) {
            try {
                url = URI.create(hv.get("url").asText());
            } catch (IllegalArgumentException e) {
                fail("migration.hypervisor.url", "not a URL: " + hv.get("url").asText());
            }
        } else if ("http".equals(driver)) {
            fail("migration.hypervisor.url", "missing: the http driver needs the hypervisor controller's URL");
        } else {
            usersOf("http", servers).forEach((server, path) -> fail(path, "the http driver needs "
                    + "migration.hypervisor.url (the hypervisor controller)"));
        }
        JsonNode bicast = n.get("bicast");
        if (bicast != null && !bicast.isNull() && !bicast.isBoolean()) {
            fail("migration.bicast", "must be true or false");
        }
        // the qemu options are read when the default driver or any server's own driver is qemu
        Map<String, String> qemuServers = usersOf("qemu", servers);
        QemuOptions qemu = QemuOptions.NONE;
        if ("qemu".equals(driver)) {
            qemu = qemuOptions(hv, dcs, sw);
        } else if (!qemuServers.isEmpty() && !hv.path("agents").isObject()) {
            qemuServers.forEach((server, path) -> fail(path, "the qemu driver needs migration.hypervisor.agents"
                    + " (a hypervisor agent per data center), which is missing"));
        } else if (!qemuServers.isEmpty()) {
            qemu = qemuOptions(hv, dcs, sw);
        }
        return new MigrationSettings(prepare, migrate, sw, drain, driver, url, bicast != null && bicast.asBoolean(false),
                routes, demote, retention, qemu, evacuation(n.path("evacuation")), stepGap);
    }

    /** Servers whose own driver (servers[].hypervisor) is {@code driver}: name to the setting's path. */
    private Map<String, String> usersOf(String driver, List<VirtualServer> servers) {
        Map<String, String> out = new LinkedHashMap<>();
        for (VirtualServer v : servers) {
            if (v.hypervisor().filter(driver::equals).isPresent() && driverPaths.containsKey(v.name())) {
                out.put(v.name(), driverPaths.get(v.name()));
            }
        }
        return out;
    }

    /** migration.hypervisor for the qemu driver: an agent per DC and QEMU's migration parameters. */
    private QemuOptions qemuOptions(JsonNode hv, List<DataCenter> dcs, Duration switchTimeout) {
        String p = "migration.hypervisor";
        QemuOptions d = QemuOptions.NONE;
        Map<String, URI> agents = new LinkedHashMap<>();
        JsonNode a = hv.path("agents");
        if (!a.isObject()) {
            fail(p + ".agents", "missing: the qemu driver needs {\"<dc>\": \"http://hypervisor-agent\"} for every data center");
        } else {
            a.fields().forEachRemaining(e -> {
                if (dcs.stream().noneMatch(dc -> dc.name().equals(e.getKey()))) {
                    fail(p + ".agents." + e.getKey(), "unknown data center");
                }
                try {
                    URI u = URI.create(e.getValue().asText());
                    if (!"http".equals(u.getScheme()) && !"https".equals(u.getScheme())) {
                        throw new IllegalArgumentException();
                    }
                    agents.put(e.getKey(), u);
                } catch (IllegalArgumentException x) {
                    fail(p + ".agents." + e.getKey(), "not an http(s) URL: " + e.getValue());
                }
            });
            dcs.stream().filter(dc -> !a.has(dc.name())).forEach(dc ->
                    fail(p + ".agents", "missing the hypervisor agent of data center " + dc.name()));
        }
        QemuOptions.Switchover switchover = d.switchover();
        if (hv.has("switchover")) {
            try {
                switchover = QemuOptions.Switchover.valueOf(hv.get("switchover").asText().toUpperCase(java.util.Locale.ROOT));
            } catch (IllegalArgumentException e) {
                fail(p + ".switchover", "expected \"pause\" (inside QEMU's pause) or \"paper\" (after completion)");
            }
        }
        long downtime = whole(hv, "downtimeLimitMs", p, false, d.downtimeLimit().toMillis());
        long bandwidth = whole(hv, "maxBandwidthMbps", p, true, d.maxBandwidthMbps());
        long compress = whole(hv, "compressBelowMbps", p, true, d.compressBelowMbps());
        Duration downtimeLimit = Duration.ofMillis(downtime);
        Duration budget = QemuOptions.defaultCompletionBudget(downtimeLimit);
        long ms = whole(hv, "completionBudgetMs", p, false, -1);
        // QEMU aims at the downtime-limit for the whole rest; the switch timeout bounds hook and rest together
        if (ms > 0 && ms <= downtime) {
            fail(p + ".completionBudgetMs", "must be longer than downtimeLimitMs (" + downtime
                    + "), which QEMU aims at for the rest it sends after the pause, not " + ms);
        } else if (ms > 0 && ms >= switchTimeout.toMillis()) {
            fail(p + ".completionBudgetMs", "must be shorter than migration.switchTimeoutSeconds ("
                    + switchTimeout.toSeconds() + " s), which bounds the whole switchover, not " + ms);
        } else if (ms > 0) {
            budget = Duration.ofMillis(ms);
        }
        return new QemuOptions(agents, switchover, downtimeLimit, bandwidth, compress, budget);
    }

    /** An optional whole number ({@link #number}'s checks), or {@code dflt} when absent or refused. */
    private long whole(JsonNode n, String field, String p, boolean zeroAllowed, long dflt) {
        Number v = number(n, field, p, true, zeroAllowed);
        return v == null ? dflt : v.longValue();
    }

    // ---- failover detection ----------------------------------------------------------------

    private static final Set<String> FAILOVER_KEYS = Set.of("detection");
    private static final Set<String> DETECTION_KEYS = Set.of("enabled", "afterSeconds", "pollSeconds",
            "peerSilenceSeconds", "to");

    /**
     * failover.detection: unknown keys are refused (a misspelt key of a safety feature must not
     * pass silently), and when enabled it needs what it watches with: agents at two DCs at least.
     */
    private FailoverDetection failoverDetection(JsonNode n, List<DataCenter> dcs) {
        FailoverDetection d = FailoverDetection.DISABLED;
        String top = FailoverDetection.KEY;
        if (n == null || n.isNull()) {
            return d;
        }
        if (!n.isObject()) {
            fail(top, "must be an object, e.g. {\"detection\": {\"enabled\": true}}");
            return d;
        }
        n.fieldNames().forEachRemaining(k -> {
            if (!FAILOVER_KEYS.contains(k)) {
                fail(top + "." + k, "unknown key; expected one of " + FAILOVER_KEYS);
            }
        });
        JsonNode det = n.get("detection");
        String p = top + ".detection";
        if (det == null || det.isNull()) {
            return d;
        }
        if (!det.isObject()) {
            fail(p, "must be an object with enabled, afterSeconds, pollSeconds, peerSilenceSeconds, to");
            return d;
        }
        det.fieldNames().forEachRemaining(k -> {
            if (!DETECTION_KEYS.contains(k)) {
                fail(p + "." + k, "unknown key; expected one of " + new java.util.TreeSet<>(DETECTION_KEYS));
            }
        });
        boolean enabled = false;
        JsonNode e = det.get("enabled");
        if (e != null && !e.isNull()) {
            if (!e.isBoolean()) {
                fail(p + ".enabled", "must be true or false");
            } else {
                enabled = e.asBoolean();
            }
        }
        Number after = number(det, "afterSeconds", p, false, false);
        Number poll = number(det, "pollSeconds", p, false, false);
        Number silence = number(det, "peerSilenceSeconds", p, false, false);
        Duration afterD = after == null ? d.after() : millis(after);
        Duration pollD = poll == null ? d.poll() : millis(poll);
        Duration silenceD = silence == null ? d.peerSilence() : millis(silence);
        if (pollD.compareTo(afterD) > 0) {
            fail(p + ".pollSeconds", "must not exceed afterSeconds (" + afterD.toMillis() / 1000.0
                    + "): the signals are sampled every pollSeconds");
        }
        String to = null;
        JsonNode t = det.get("to");
        if (t != null && !t.isNull()) {
            if (!t.isTextual() || t.asText().isBlank()) {
                fail(p + ".to", "must be a data center name");
            } else {
                to = t.asText();
                String name = to;
                Optional<DataCenter> dc = dcs.stream().filter(x -> x.name().equals(name)).findFirst();
                if (dc.isEmpty()) {
                    fail(p + ".to", "unknown data center '" + to + "'");
                } else if (dc.get().agent() == null) {
                    fail(p + ".to", "data center " + to + " has no replication agent: it can be neither the"
                            + " witness nor hold the replicas");
                }
            }
        }
        if (enabled && dcs.stream().filter(x -> x.agent() != null).count() < 2) {
            fail(p + ".enabled", "detection needs replication agents in two data centers at least: a lost DC's"
                    + " loss is confirmed by another DC's agent, not by the controller alone");
        }
        if (afterD.isZero() || pollD.isZero() || silenceD.isZero()) {
            fail(p, "durations must be at least 1 ms");
            return d;
        }
        return new FailoverDetection(enabled, afterD, pollD, silenceD, to);
    }

    private static Duration millis(Number seconds) {
        return Duration.ofMillis(Math.round(seconds.doubleValue() * 1000));
    }

    // ---- evacuation ------------------------------------------------------------------------

    private Capacity capacity(JsonNode n, String p) {
        if (n == null || n.isNull()) {
            return Capacity.UNLIMITED;
        }
        if (!n.isObject()) {
            fail(p, "must be an object with memoryMiB and/or slots");
            return Capacity.UNLIMITED;
        }
        Number memory = number(n, "memoryMiB", p, true, false);
        Number slots = number(n, "slots", p, true, false);
        if (slots != null && slots.longValue() > Integer.MAX_VALUE) {
            fail(p + ".slots", "must be at most " + Integer.MAX_VALUE);
            slots = null;
        }
        return new Capacity(memory == null ? null : memory.longValue(), slots == null ? null : slots.intValue());
    }

    private EvacuationSettings evacuation(JsonNode n) {
        EvacuationSettings d = EvacuationSettings.DEFAULTS;
        if (n.isMissingNode() || n.isNull()) {
            return d;
        }
        String p = "migration.evacuation";
        if (!n.isObject()) {
            fail(p, "must be an object");
            return d;
        }
        List<String> groups = new ArrayList<>();
        JsonNode order = n.get("groupOrder");
        if (order != null && !order.isNull()) {
            if (!order.isArray()) {
                fail(p + ".groupOrder", "must be an array of group names, first to move first");
            } else {
                for (int i = 0; i < order.size(); i++) {
                    JsonNode g = order.get(i);
                    if (!g.isTextual() || g.asText().isBlank()) {
                        fail(p + ".groupOrder[" + i + "]", "must be a non-empty string");
                    } else if (groups.contains(g.asText())) {
                        fail(p + ".groupOrder[" + i + "]", "duplicate group '" + g.asText() + "'");
                    } else {
                        groups.add(g.asText());
                    }
                }
            }
        }
        Number dflt = number(n, "defaultBandwidthMbps", p, false, false);
        Map<String, Double> budgets = new LinkedHashMap<>();
        JsonNode bw = n.get("bandwidth");
        if (bw != null && !bw.isNull()) {
            if (!bw.isArray()) {
                fail(p + ".bandwidth", "must be an array of {\"between\": [dc, dc], \"mbps\": n}");
            } else {
                for (int i = 0; i < bw.size(); i++) {
                    String q = p + ".bandwidth[" + i + "]";
                    JsonNode between = bw.get(i).get("between");
                    Number mbps = number(bw.get(i), "mbps", q, false, false);
                    if (mbps == null && !bw.get(i).has("mbps")) {
                        fail(q + ".mbps", "missing: the pair's budget in Mbit/s is required");
                    }
                    if (between == null || !between.isArray() || between.size() != 2
                            || !between.get(0).isTextual() || !between.get(1).isTextual()) {
                        fail(q + ".between", "must name two data centers, e.g. [\"dcA\", \"dcB\"]");
                        continue;
                    }
                    String a = between.get(0).asText();
                    String b = between.get(1).asText();
                    if (a.equals(b)) {
                        fail(q + ".between", "must name two different data centers");
                        continue;
                    }
                    String key = EvacuationSettings.pairKey(a, b);
                    if (budgets.containsKey(key)) {
                        fail(q + ".between", "duplicate budget for " + key);
                    } else if (mbps != null) {
                        budgets.put(key, mbps.doubleValue());
                        budgetPaths.put(key, q + ".between");
                    }
                }
            }
        }
        Number concurrent = number(n, "maxConcurrentPerPair", p, true, false);
        Number rounds = number(n, "maxRounds", p, true, false);
        Number stopCopy = number(n, "stopCopyMiB", p, false, false);
        Number overhead = number(n, "overheadSeconds", p, false, true);
        Number retries = number(n, "retries", p, true, true);
        return new EvacuationSettings(groups,
                dflt == null ? d.defaultBandwidthMbps() : dflt.doubleValue(), budgets,
                concurrent == null ? d.maxConcurrentPerPair() : (int) Math.min(concurrent.longValue(), 1 << 16),
                rounds == null ? d.maxRounds() : (int) Math.min(rounds.longValue(), 1 << 16),
                stopCopy == null ? d.stopCopyMiB() : stopCopy.doubleValue(),
                overhead == null ? d.overhead() : Duration.ofMillis(Math.round(overhead.doubleValue() * 1000)),
                retries == null ? d.retries() : (int) Math.min(retries.longValue(), 100));
    }

    /** Evacuation keys that refer to other parts: budgets name known data centers, groups are ordered. */
    private void checkEvacuation(List<DataCenter> dcs, List<VirtualServer> servers, EvacuationSettings evacuation) {
        Set<String> names = new HashSet<>();
        dcs.forEach(d -> names.add(d.name()));
        for (String pair : evacuation.bandwidthByPair().keySet()) {
            for (String dc : pair.split("<->")) {
                if (!names.contains(dc)) {
                    fail(budgetPaths.get(pair), "unknown data center '" + dc + "'");
                }
            }
        }
        if (evacuation.groupOrder().isEmpty()) {
            return;
        }
        for (int s = 0; s < servers.size(); s++) {
            String group = servers.get(s).group();
            if (group != null && !evacuation.groupOrder().contains(group)) {
                fail("servers[" + s + "].group", "group '" + group + "' is not in migration.evacuation.groupOrder "
                        + evacuation.groupOrder());
            }
        }
    }

    // ---- scalars ---------------------------------------------------------------------------

    private String text(JsonNode n, String field, String p) {
        JsonNode v = n == null ? null : n.get(field);
        if (v == null || v.isNull() || !v.isTextual() || v.asText().isBlank()) {
            fail(p + "." + field, "missing: a non-empty string is required");
            return null;
        }
        return v.asText();
    }

    private DeviceId device(JsonNode v, String p) {
        if (v == null || !v.isTextual()) {
            fail(p, "missing: an OpenFlow device id such as of:000000000000000a is required");
            return null;
        }
        String s = v.asText().toLowerCase();
        if (!OF_DEVICE.matcher(s).matches()) {
            fail(p, "'" + v.asText() + "' is not an OpenFlow device id (of: and 16 hex digits)");
            return null;
        }
        return DeviceId.deviceId(s);
    }

    private PortNumber port(JsonNode v, String p) {
        if (v == null || !v.canConvertToLong() || v.asLong() < 1 || v.asLong() > 0xffffff00L) {
            fail(p, "must be a port number from 1 to 4294967040");
            return null;
        }
        return PortNumber.portNumber(v.asLong());
    }

    private List<PortNumber> ports(JsonNode n, String field, String p, boolean required) {
        List<PortNumber> out = new ArrayList<>();
        JsonNode v = n.get(field);
        if (v == null || !v.isArray() || (required && v.size() == 0)) {
            fail(p + "." + field, "must be a non-empty array of port numbers");
            return out;
        }
        for (int i = 0; i < v.size(); i++) {
            PortNumber port = port(v.get(i), p + "." + field + "[" + i + "]");
            if (port != null) {
                out.add(port);
            }
        }
        return out;
    }

    private ConnectPoint connectPoint(JsonNode n, String field, String p) {
        JsonNode v = n.get(field);
        String s = v == null ? "" : v.asText();
        int slash = s.lastIndexOf('/');
        if (slash < 0) {
            fail(p + "." + field, "must be 'device/port', e.g. of:0000000000000001/2");
            return null;
        }
        DeviceId dev = device(new com.fasterxml.jackson.databind.node.TextNode(s.substring(0, slash)),
                p + "." + field);
        PortNumber port;
        try {
            port = port(new com.fasterxml.jackson.databind.node.LongNode(Long.parseLong(s.substring(slash + 1))),
                    p + "." + field);
        } catch (NumberFormatException e) {
            fail(p + "." + field, "port '" + s.substring(slash + 1) + "' is not a number");
            return null;
        }
        return dev == null || port == null ? null : new ConnectPoint(dev, port);
    }

    private Ip4Address ip(JsonNode n, String field, String p) {
        JsonNode v = n.get(field);
        try {
            if (v != null && v.isTextual()) {
                return Ip4Address.valueOf(v.asText());
            }
        } catch (IllegalArgumentException e) {
            // reported below
        }
        fail(p + "." + field, "must be an IPv4 address" + (v == null ? "" : ", got '" + v.asText() + "'"));
        return null;
    }

    private Ip4Prefix prefix(JsonNode v, String p) {
        try {
            if (v != null && v.isTextual() && v.asText().contains("/")) {
                Ip4Prefix prefix = Ip4Prefix.valueOf(v.asText());
                if (!prefix.toString().equals(v.asText())) {
                    fail(p, "'" + v.asText() + "' has host bits set; did you mean " + prefix + "?");
                    return null;
                }
                return prefix;
            }
        } catch (IllegalArgumentException e) {
            // reported below
        }
        fail(p, "must be an IPv4 prefix such as 10.0.1.0/24" + (v == null ? "" : ", got '" + v.asText() + "'"));
        return null;
    }

    private MacAddress mac(JsonNode n, String field, String p) {
        JsonNode v = n.get(field);
        try {
            if (v != null && v.isTextual()) {
                return MacAddress.valueOf(v.asText());
            }
        } catch (IllegalArgumentException e) {
            // reported below
        }
        fail(p, "must be a MAC address such as 00:00:00:00:01:01" + (v == null ? "" : ", got '" + v.asText() + "'"));
        return null;
    }

    private Integer integer(JsonNode n, String field, String p) {
        JsonNode v = n.get(field);
        if (v == null || !v.canConvertToInt()) {
            fail(p + "." + field, "must be an integer");
            return null;
        }
        return v.asInt();
    }

    /**
     * An optional number field: null when absent (the caller's default applies) or invalid (reported).
     * {@code integral} asks for a whole number; {@code zeroAllowed} admits 0; negatives never pass.
     */
    private Number number(JsonNode n, String field, String p, boolean integral, boolean zeroAllowed) {
        JsonNode v = n == null ? null : n.get(field);
        if (v == null || v.isNull()) {
            return null;
        }
        boolean whole = v.canConvertToLong() && (v.isIntegralNumber() || v.asDouble() == Math.rint(v.asDouble()));
        if (!v.isNumber() || integral && !whole || v.asDouble() < 0 || !zeroAllowed && v.asDouble() == 0
                || Double.isInfinite(v.asDouble())) {
            fail(p + "." + field, "must be a " + (zeroAllowed ? "non-negative " : "positive ")
                    + (integral ? "integer" : "number") + ", got " + v);
            return null;
        }
        return integral ? (Number) v.asLong() : (Number) v.asDouble();
    }

    private Duration seconds(JsonNode n, String field, Duration dflt, boolean zeroAllowed) {
        return duration(n, field, dflt, zeroAllowed, Duration.ofSeconds(1), "seconds");
    }

    /** A number of {@code unit}s; absent or null is {@code dflt}. */
    private Duration duration(JsonNode n, String field, Duration dflt, boolean zeroAllowed, Duration unit,
                              String unitName) {
        JsonNode v = n.get(field);
        if (v == null || v.isNull()) {
            return dflt;
        }
        if (!v.isNumber() || v.asDouble() < 0 || (!zeroAllowed && v.asDouble() == 0)) {
            fail("migration." + field, "must be a " + (zeroAllowed ? "non-negative" : "positive")
                    + " number of " + unitName);
            return dflt;
        }
        return Duration.ofMillis(Math.round(v.asDouble() * unit.toMillis()));
    }

    private void fail(String path, String reason) {
        problems.add(new ConfigProblem(path, reason));
    }

    // ---- cross references ------------------------------------------------------------------

    /** Checks what no single entry can: references, uniqueness, overlaps, reachability, labels. */
    private final class Crosscheck {
        private final List<DataCenter> dcs;
        private final List<DeviceId> wanSwitches;
        private final List<WanLink> links;
        private final List<ClientSite> sites;
        private final List<VirtualServer> servers;
        private final LabelRange labels;
        private final Map<ConnectPoint, String> portUse = new HashMap<>();

        Crosscheck(List<DataCenter> dcs, List<DeviceId> wanSwitches, List<WanLink> links,
                   List<ClientSite> sites, List<VirtualServer> servers, LabelRange labels) {
            this.dcs = dcs;
            this.wanSwitches = wanSwitches;
            this.links = links;
            this.sites = sites;
            this.servers = servers;
            this.labels = labels;
        }

        void run() {
            unique(dcs, DataCenter::name, "dataCenters", "name");
            unique(sites, ClientSite::name, "clientSites", "name");
            unique(servers, VirtualServer::name, "servers", "name");
            unique(dcs, d -> d.pe().toString(), "dataCenters", "pe");
            unique(wanSwitches, DeviceId::toString, "wanSwitches", "switch");
            Map<DeviceId, DataCenter> peOf = new HashMap<>();
            dcs.forEach(d -> peOf.put(d.pe(), d));
            for (int i = 0; i < wanSwitches.size(); i++) {
                if (peOf.containsKey(wanSwitches.get(i))) {
                    fail("wanSwitches[" + i + "]", wanSwitches.get(i) + " is already the PE of "
                            + peOf.get(wanSwitches.get(i)).name());
                }
            }
            Set<DeviceId> known = new HashSet<>(wanSwitches);
            known.addAll(peOf.keySet());
            for (int i = 0; i < links.size(); i++) {
                checkLinkEnd(links.get(i).one(), "links[" + i + "].one", known, peOf);
                checkLinkEnd(links.get(i).two(), "links[" + i + "].two", known, peOf);
            }
            Map<String, DataCenter> dcByName = new HashMap<>();
            dcs.forEach(d -> dcByName.put(d.name(), d));
            for (int i = 0; i < sites.size(); i++) {
                ClientSite s = sites.get(i);
                String p = "clientSites[" + i + "]";
                if (!known.contains(s.edge())) {
                    fail(p + ".switch", "unknown switch " + s.edge() + ": not a PE and not in wanSwitches");
                } else {
                    claim(new ConnectPoint(s.edge(), s.port()), p + ".port", "client site " + s.name());
                    DataCenter dc = peOf.get(s.edge());
                    if (dc != null && (dc.wanPorts().contains(s.port()) || dc.serverPorts().contains(s.port()))) {
                        fail(p + ".port", "port " + s.port() + " of " + dc.name() + "'s PE is a WAN or server port");
                    }
                }
            }
            checkPrefixes();
            checkServers(dcByName);
            checkReachability(known);
            int needed = 1 + sites.size();
            if (labels.size() < needed) {
                fail("labels", "label range exhausted: " + labels + " holds " + labels.size()
                        + " labels but one migration needs " + needed + " (1 forward + 1 per client site)");
            }
        }

        private <T> void unique(List<T> items, Function<T, String> key, String list, String field) {
            Map<String, Integer> seen = new HashMap<>();
            for (int i = 0; i < items.size(); i++) {
                Integer first = seen.putIfAbsent(key.apply(items.get(i)), i);
                if (first != null) {
                    fail(list + "[" + i + "]" + ("switch".equals(field) ? "" : "." + field),
                            "duplicate " + field + " '" + key.apply(items.get(i)) + "' (also " + list + "[" + first + "])");
                }
            }
        }

        private void checkLinkEnd(ConnectPoint end, String p, Set<DeviceId> known, Map<DeviceId, DataCenter> peOf) {
            if (!known.contains(end.deviceId())) {
                fail(p, "unknown switch " + end.deviceId() + ": not a PE and not in wanSwitches");
                return;
            }
            DataCenter dc = peOf.get(end.deviceId());
            if (dc != null && !dc.wanPorts().contains(end.port())) {
                fail(p, "unknown port: " + end.port() + " is not a WAN port of " + dc.name() + "'s PE "
                        + dc.wanPorts());
            }
            claim(end, p, "a link");
        }

        private void claim(ConnectPoint cp, String p, String user) {
            String previous = portUse.putIfAbsent(cp, user + " (" + p + ")");
            if (previous != null) {
                fail(p, cp + " is already used by " + previous);
            }
        }

        private void checkPrefixes() {
            List<Ip4Prefix> all = new ArrayList<>();
            List<String> where = new ArrayList<>();
            for (int i = 0; i < sites.size(); i++) {
                for (int j = 0; j < sites.get(i).prefixes().size(); j++) {
                    Ip4Prefix prefix = sites.get(i).prefixes().get(j);
                    String p = "clientSites[" + i + "].prefixes[" + j + "]";
                    for (int k = 0; k < all.size(); k++) {
                        if (all.get(k).contains(prefix) || prefix.contains(all.get(k))) {
                            fail(p, "overlapping prefixes: " + prefix + " overlaps " + all.get(k) + " (" + where.get(k) + ")");
                        }
                    }
                    all.add(prefix);
                    where.add(p);
                }
            }
            // a DC's prefix is routed to its PE below every server route: it may overlap nothing else
            for (int i = 0; i < dcs.size(); i++) {
                Ip4Prefix prefix = dcs.get(i).prefix().orElse(null);
                if (prefix == null) {
                    continue;
                }
                String p = "dataCenters[" + i + "].prefix";
                for (int k = 0; k < all.size(); k++) {
                    if (all.get(k).contains(prefix) || prefix.contains(all.get(k))) {
                        fail(p, "overlapping prefixes: " + prefix + " overlaps " + all.get(k) + " (" + where.get(k) + ")");
                    }
                }
                all.add(prefix);
                where.add(p);
            }
        }

        private void checkServers(Map<String, DataCenter> dcByName) {
            Map<Ip4Address, String> addressUse = new HashMap<>();
            for (int i = 0; i < sites.size(); i++) {
                addressUse.put(sites.get(i).gateway(), "gateway of client site " + sites.get(i).name());
            }
            Map<MacAddress, String> macUse = new HashMap<>();
            for (int i = 0; i < servers.size(); i++) {
                VirtualServer v = servers.get(i);
                String p = "servers[" + i + "]";
                String previous = addressUse.putIfAbsent(v.ip(), "server " + v.name());
                if (previous != null) {
                    fail(p + ".ip", "duplicate IP " + v.ip() + " (also " + previous + ")");
                }
                String gwUser = addressUse.get(v.gateway());
                if (gwUser != null && gwUser.startsWith("server ")) {
                    fail(p + ".gateway", "gateway " + v.gateway() + " is the address of " + gwUser);
                }
                String macPrevious = macUse.putIfAbsent(v.mac(), v.name());
                if (macPrevious != null) {
                    fail(p + ".mac", "duplicate MAC " + v.mac() + " (also server " + macPrevious + ")");
                }
                for (ClientSite s : sites) {
                    s.prefixes().stream().filter(x -> x.contains(v.ip())).findFirst().ifPresent(x ->
                            fail(p + ".ip", v.ip() + " lies in prefix " + x + " of client site " + s.name()));
                }
                for (Map.Entry<String, PortNumber> e : v.ports().entrySet()) {
                    String where = e.getKey().equals(v.dc()) ? p + ".dc" : p + ".ports." + e.getKey();
                    DataCenter dc = dcByName.get(e.getKey());
                    if (dc == null) {
                        fail(where, "unknown data center '" + e.getKey() + "'");
                    } else if (!dc.serverPorts().contains(e.getValue())) {
                        fail(e.getKey().equals(v.dc()) ? p + ".port" : where, "unknown port: " + e.getValue()
                                + " is not a server port of " + dc.name() + " " + dc.serverPorts());
                    }
                }
            }
            for (int i = 0; i < servers.size(); i++) {
                VirtualServer v = servers.get(i);
                String p = "servers[" + i + "].replicaAt";
                String at = v.replicaAt().orElse(null);
                DataCenter dc = at == null ? null : dcByName.get(at);
                DataCenter home = dcByName.get(v.dc());
                if (at == null) {
                    continue;
                } else if (dc == null) {
                    fail(p, "unknown data center '" + at + "'");
                } else if (at.equals(v.dc())) {
                    fail(p, "is the server's own data center " + at + ": name the DC of its disk's other copy");
                } else if (!v.replicated()) {
                    fail(p, v.name() + " is not replicated (servers[" + i + "].replicated is false)");
                } else if (v.portAt(at).isEmpty()) {
                    fail(p, v.name() + " has no port at " + at + " (servers[" + i + "].ports): it could not run there");
                } else if (dc.agent() == null || home != null && home.agent() == null) {   // (an unknown home is reported above)
                    fail(p, "the disk pair " + v.dc() + "/" + at + " needs a replication agent in both data centers");
                }
            }
            // two servers may share an attachment port only if they are never in the same DC at once;
            // the MMS cannot know that, so require distinct ports per DC.
            Map<String, String> attach = new HashMap<>();
            for (int i = 0; i < servers.size(); i++) {
                for (Map.Entry<String, PortNumber> e : servers.get(i).ports().entrySet()) {
                    String key = e.getKey() + "/" + e.getValue();
                    String prev = attach.putIfAbsent(key, servers.get(i).name());
                    if (prev != null) {
                        fail("servers[" + i + "].ports", "port " + e.getValue() + " of " + e.getKey()
                                + " is already the port of server " + prev);
                    }
                }
            }
        }

        private void checkReachability(Set<DeviceId> known) {
            WanGraph graph = new WanGraph(known, links);
            for (int i = 0; i < dcs.size(); i++) {
                for (int j = i + 1; j < dcs.size(); j++) {
                    if (!graph.connected(dcs.get(i).pe(), dcs.get(j).pe())) {
                        fail("links", "no WAN path between " + dcs.get(i).name() + " and " + dcs.get(j).name()
                                + " over the links that are up");
                    }
                }
            }
            for (ClientSite s : sites) {
                if (!known.contains(s.edge())) {
                    continue;
                }
                for (DataCenter d : dcs) {
                    if (!graph.connected(s.edge(), d.pe())) {
                        fail("links", "no WAN path between client site " + s.name() + " and " + d.name());
                    }
                }
            }
        }
    }
}
