package org.wanmig.bench;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.onosproject.net.flow.FlowRule;
import org.wanmig.api.Migration;
import org.wanmig.api.MigrationId;
import org.wanmig.api.TunnelLabels;
import org.wanmig.config.WanTopology;
import org.wanmig.config.WanTopologyParser;
import org.wanmig.evacuation.EvacuationPlan;
import org.wanmig.evacuation.EvacuationPlanner;
import org.wanmig.evacuation.EvacuationRequest;
import org.wanmig.evacuation.PlannedMove;
import org.wanmig.planner.NetworkPlanner;
import org.wanmig.planner.RuleCountReport;
import org.wanmig.testing.ScaleTopology;
import org.wanmig.testing.Topologies;

import java.lang.management.ManagementFactory;
import java.lang.management.MemoryPoolMXBean;
import java.lang.management.MemoryType;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * scripts/bench-scale, first stage: parse a netcfg of N servers (3 DCs, 10 client sites), plan the
 * evacuation of one DC and generate every baseline rule, timing each part and the heap it
 * needs. Prints numbers against baselines measured in the same run (parsing alone; the same work
 * for 100 servers), never asserts on them. Run with -Xmx256m: the target is under 2 s with under
 * 256 MB of heap, measured cold (the first run in a fresh JVM, as an operator meets it).
 * <p>
 * Usage: java -Xmx256m -cp ... org.wanmig.bench.ScaleBench [servers=1000] [small=100] [repeats=5]
 */
public final class ScaleBench {
    private static final int DCS = 3;
    private static final int SITES = 10;

    private ScaleBench() {
    }

    /** The netcfg as text, as onos-netcfg or the embedded runtime would read it. */
    static String netcfg(int servers) {
        // each DC's servers in its own block with the DC's prefix, so the baseline aggregates
        return netcfg(servers, true, i -> i % DCS);
    }

    /** As {@link #netcfg(int)}; without {@code prefixes} every route is per server; server i runs in DC dcOf(i). */
    static String netcfg(int servers, boolean prefixes, java.util.function.IntUnaryOperator dcOf) {
        ObjectNode root = ScaleTopology.netcfg(servers, DCS, SITES, dcOf, prefixes);
        ObjectNode c = (ObjectNode) root.get("apps").get(WanTopologyParser.APP_ID).get(WanTopologyParser.CONFIG_KEY);
        String[] groups = {"database", "app", "web"};
        for (int i = 0; i < servers; i++) {
            Topologies.entry(c, "servers", i).put("memoryMiB", 1024 * (1 + i % 8))
                    .put("dirtyRateMiBps", (i % 10) * 5).put("priority", i % 4).put("group", groups[i / DCS % 3]);
        }
        long memory = 1024L * 8 * servers; // room for everyone anywhere
        for (int d = 0; d < DCS; d++) {
            Topologies.entry(c, "dataCenters", d).putObject("capacity").put("memoryMiB", memory).put("slots", servers);
        }
        ObjectNode ev = ((ObjectNode) c.get("migration")).putObject("evacuation").put("maxConcurrentPerPair", 8);
        ev.putArray("groupOrder").add("database").add("app").add("web");
        ArrayNode bw = ev.putArray("bandwidth");
        bw.addObject().put("mbps", 10_000).putArray("between").add("dcA").add("dcB");
        bw.addObject().put("mbps", 5_000).putArray("between").add("dcA").add("dcC");
        return root.toString();
    }

    /** What one run produced, kept so the JIT cannot drop the work. */
    static final class Result {
        WanTopology topology;
        EvacuationPlan plan;
        List<FlowRule> baseline;
        List<FlowRule> tunnels;
        long parseNanos;
        long planNanos;
        long rulesNanos;
        long tunnelNanos;
    }

    static Result parseOnly(String json) {
        Result r = new Result();
        long t0 = System.nanoTime();
        r.topology = WanTopologyParser.parseNetcfg(json);
        r.parseNanos = System.nanoTime() - t0;
        return r;
    }

    static Result full(String json) {
        Result r = parseOnly(json);
        long t1 = System.nanoTime();
        r.plan = new EvacuationPlanner(r.topology).plan(Map.of(), EvacuationRequest.of("dcA"));
        long t2 = System.nanoTime();
        NetworkPlanner planner = new NetworkPlanner(r.topology, Topologies.APP_ID);
        r.baseline = RuleCountReport.baselineRules(planner, Map.of());
        long t3 = System.nanoTime();
        r.planNanos = t2 - t1;
        r.rulesNanos = t3 - t2;
        // the tunnels of the migrations that run at once when the evacuation starts, planned as the
        // manager plans them (a DC pair's migrations share its tunnel's labels and label rules)
        r.tunnels = new ArrayList<>();
        List<Migration> active = new ArrayList<>();
        long id = 1;
        for (PlannedMove m : r.plan.moves()) {
            if (m.startOffset().isZero()) {
                TunnelLabels labels = planner.tunnelLabels(m.source(), m.destination(), active);
                Migration record = Migration.requested(MigrationId.of(id++), m.server(), m.source(),
                        m.destination(), planner.attachment(r.topology.server(m.server()).orElseThrow(),
                                m.destination()).toLong(), labels, 0);
                record = record.withPlan(planner.migration(record), labels);
                active.add(record);
                r.tunnels.addAll(record.plan().all());
            }
        }
        r.tunnelNanos = System.nanoTime() - t3;
        return r;
    }

    private static List<MemoryPoolMXBean> heapPools() {
        List<MemoryPoolMXBean> pools = new ArrayList<>();
        for (MemoryPoolMXBean p : ManagementFactory.getMemoryPoolMXBeans()) {
            if (p.getType() == MemoryType.HEAP) {
                pools.add(p);
            }
        }
        return pools;
    }

    private static void resetPeaks() {
        System.gc();
        heapPools().forEach(MemoryPoolMXBean::resetPeakUsage);
    }

    /** Sum of each heap pool's peak since the reset: an upper bound of the heap in use at any instant. */
    private static double peakMiB() {
        return heapPools().stream().mapToLong(p -> p.getPeakUsage().getUsed()).sum() / 1048576.0;
    }

    private static double liveMiBAfterGc() {
        System.gc();
        Runtime rt = Runtime.getRuntime();
        return (rt.totalMemory() - rt.freeMemory()) / 1048576.0;
    }

    /** Milliseconds all collectors have spent so far in this JVM. */
    private static long gcMillis() {
        return ManagementFactory.getGarbageCollectorMXBeans().stream()
                .mapToLong(java.lang.management.GarbageCollectorMXBean::getCollectionTime).sum();
    }

    private static double ms(long nanos) {
        return nanos / 1e6;
    }

    private static double median(double[] xs) {
        double[] s = xs.clone();
        Arrays.sort(s);
        return s.length % 2 == 1 ? s[s.length / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
    }

    interface Stage {
        Result run(String json);
    }

    /** Medians of {@code repeats} warm runs, ms: wall, parse, plan, baseline rules, tunnels. */
    private static double[] warm(Stage stage, String json, int repeats) {
        double[][] t = new double[5][repeats];
        for (int i = 0; i < repeats; i++) {
            long t0 = System.nanoTime();
            Result r = stage.run(json);
            t[0][i] = ms(System.nanoTime() - t0);
            t[1][i] = ms(r.parseNanos);
            t[2][i] = ms(r.planNanos);
            t[3][i] = ms(r.rulesNanos);
            t[4][i] = ms(r.tunnelNanos);
        }
        double[] out = new double[5];
        for (int k = 0; k < 5; k++) {
            out[k] = median(t[k]);
        }
        return out;
    }

    /** The cold run in this JVM: "COLD wall-ms cpu-ms peak-MiB", the cold-only child's only output. */
    private static double[] coldRun(String json) {
        resetPeaks();
        java.lang.management.ThreadMXBean threads = ManagementFactory.getThreadMXBean();
        long cpu0 = threads.getCurrentThreadCpuTime();
        long gc0 = gcMillis();
        Result cold = full(json);
        double cpu = ms(threads.getCurrentThreadCpuTime() - cpu0);
        double wall = ms(cold.parseNanos + cold.planNanos + cold.rulesNanos);
        return new double[] {wall, cpu, peakMiB(), ms(cold.parseNanos), ms(cold.planNanos), ms(cold.rulesNanos),
            gcMillis() - gc0};
    }

    /** Cold runs in fresh JVMs with this JVM's options (so -Xmx256m holds for them too). */
    private static List<double[]> coldChildren(int servers, int count) throws Exception {
        List<double[]> out = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            List<String> cmd = new ArrayList<>();
            cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
            cmd.addAll(ManagementFactory.getRuntimeMXBean().getInputArguments());
            cmd.addAll(List.of("-cp", System.getProperty("java.class.path"), ScaleBench.class.getName(),
                    "--cold-only", Integer.toString(servers)));
            Process p = new ProcessBuilder(cmd).redirectError(ProcessBuilder.Redirect.DISCARD).start();
            String line;
            try (java.io.BufferedReader in = new java.io.BufferedReader(new java.io.InputStreamReader(p.getInputStream()))) {
                line = in.lines().filter(l -> l.startsWith("COLD ")).findFirst().orElse(null);
            }
            if (p.waitFor() != 0 || line == null) {
                throw new IllegalStateException("cold run " + i + " failed (exit " + p.exitValue() + ")");
            }
            out.add(Arrays.stream(line.substring(5).trim().split(" ")).mapToDouble(Double::parseDouble).toArray());
        }
        return out;
    }

    private static String loadAverage() {
        try {
            return Files.readString(Path.of("/proc/loadavg")).trim();
        } catch (java.io.IOException e) {
            return "unknown";
        }
    }

    /**
     * Rules per switch (the most any PE, client-site edge or core switch holds) against the number of
     * servers, with and without the DCs' prefixes, and against the number of concurrent migrations
     * of one DC pair (dcA to dcB) on top of the baseline: the numbers behind "core switches carry
     * rules per DC pair, not per server".
     */
    static void rulesPerSwitch(int maxServers) {
        System.out.printf("%nrules per switch (max over each kind; %d DCs, %d client sites, servers spread over the"
                + " DCs)%n", DCS, SITES);
        System.out.printf("%-44s %8s %8s %8s %10s%n", "baseline", "PE", "core", "site edge", "total");
        for (boolean prefixes : new boolean[] {true, false}) {
            for (int n = 10; n <= maxServers; n *= 10) {
                WanTopology t = WanTopologyParser.parse(ScaleTopology.config(n, DCS, SITES, i -> i % DCS, prefixes));
                RuleCountReport r = RuleCountReport.of(new NetworkPlanner(t, Topologies.APP_ID), Map.of(), List.of());
                System.out.printf("%-44s %8d %8d %8d %10d%n", String.format("%5d servers, %s", n,
                        prefixes ? "DC prefixes (aggregated)" : "no DC prefix (per server)"),
                        r.maxBaseline(RuleCountReport.Role.PE), r.maxBaseline(RuleCountReport.Role.CORE),
                        r.maxBaseline(RuleCountReport.Role.SITE_EDGE), r.totalBaseline());
            }
        }
        WanTopology t = WanTopologyParser.parse(ScaleTopology.config(Math.max(maxServers, 300), DCS, SITES,
                i -> 0, true));
        NetworkPlanner planner = new NetworkPlanner(t, Topologies.APP_ID);
        System.out.printf("%-44s %8s %8s %8s %10s %s%n", "migration rules, dcA to dcB at once", "PE", "core",
                "site edge", "total", "(tunnels: label sets)");
        for (int n = 1; n <= Math.min(100, t.servers().size()); n *= 10) {
            List<String> names = new ArrayList<>();
            for (int i = 0; i < n; i++) {
                names.add(ScaleTopology.serverName(i));
            }
            List<Migration> active = RuleCountReport.concurrent(planner, names, "dcA", "dcB", 1);
            RuleCountReport r = RuleCountReport.of(planner, Map.of(), active);
            System.out.printf("%-44s %8d %8d %8d %10d %d%n", String.format("%5d concurrent migrations", n),
                    r.maxMigrations(RuleCountReport.Role.PE), r.maxMigrations(RuleCountReport.Role.CORE),
                    r.maxMigrations(RuleCountReport.Role.SITE_EDGE), r.totalMigrations(),
                    active.stream().map(Migration::labels).distinct().count());
        }
    }

    public static void main(String[] args) throws Exception {
        if (args.length > 0 && args[0].equals("--write-netcfg")) {
            // the Mininet stages (scripts/bench_scale_net.py) run the runtime on this very netcfg
            if (args.length != 5) {
                throw new IllegalArgumentException("--write-netcfg FILE SERVERS prefixes|no-prefixes spread|dcA");
            }
            boolean prefixes = args[3].equals("prefixes");
            java.util.function.IntUnaryOperator dcOf = args[4].equals("dcA") ? i -> 0 : i -> i % DCS;
            Files.writeString(Path.of(args[1]), netcfg(Integer.parseInt(args[2]), prefixes, dcOf));
            return;
        }
        if (args.length > 0 && args[0].equals("--rules-only")) {
            rulesPerSwitch(args.length > 1 ? Integer.parseInt(args[1]) : 1000);
            return;
        }
        if (args.length > 0 && args[0].equals("--cold-only")) {
            double[] c = coldRun(netcfg(Integer.parseInt(args[1])));
            StringBuilder line = new StringBuilder("COLD");
            Arrays.stream(c).forEach(x -> line.append(' ').append(String.format("%.1f", x)));
            System.out.println(line);
            return;
        }
        int servers = args.length > 0 ? Integer.parseInt(args[0]) : 1000;
        int small = args.length > 1 ? Integer.parseInt(args[1]) : 100;
        int repeats = args.length > 2 ? Integer.parseInt(args[2]) : 5;
        int colds = args.length > 3 ? Integer.parseInt(args[3]) : 3;
        double maxHeap = Runtime.getRuntime().maxMemory() / 1048576.0;
        System.out.printf("bench-scale stage 1: %d servers, %d DCs, %d client sites; java %s, max heap %.0f MiB,"
                        + " %d cpus, load average %s%n", servers, DCS, SITES, System.getProperty("java.version"),
                maxHeap, Runtime.getRuntime().availableProcessors(), loadAverage());
        String big = netcfg(servers);
        String little = netcfg(small);
        System.out.printf("netcfg: %.1f KiB for %d servers, %.1f KiB for %d%n", big.length() / 1024.0, servers,
                little.length() / 1024.0, small);

        // cold: the first parse + plan + rules of a fresh JVM, the figure the target is about
        List<double[]> cold = coldChildren(servers, colds);
        System.out.printf("%ncold runs, each in a fresh JVM (%d servers): wall ms (parse + plan + rules), main-thread"
                + " CPU ms, peak heap MiB, GC ms%n", servers);
        for (double[] c : cold) {
            System.out.printf("  %7.0f ms (%.0f + %.0f + %.0f)  cpu %7.0f ms  heap %6.1f MiB  gc %5.0f ms%n", c[0], c[3],
                    c[4], c[5], c[1], c[2], c[6]);
        }
        double coldTarget = median(cold.stream().mapToDouble(c -> c[0]).toArray());
        double coldCpu = median(cold.stream().mapToDouble(c -> c[1]).toArray());
        double coldPeak = cold.stream().mapToDouble(c -> c[2]).max().orElse(0);

        for (int i = 0; i < 2; i++) { // warm-up of both sizes
            full(big);
            full(little);
        }
        resetPeaks();
        double parseBig = warm(ScaleBench::parseOnly, big, repeats)[0];
        long gcBefore = gcMillis();
        double[] fullBig = warm(ScaleBench::full, big, repeats);
        double gcPerFullBig = (gcMillis() - gcBefore) / (double) repeats;
        double peakBig = peakMiB();
        double parseSmall = warm(ScaleBench::parseOnly, little, repeats)[0];
        gcBefore = gcMillis();
        double[] fullSmall = warm(ScaleBench::full, little, repeats);
        double gcPerFullSmall = (gcMillis() - gcBefore) / (double) repeats;
        Result r = full(big);
        double live = liveMiBAfterGc();
        System.out.printf("%nwarm, median of %d runs          %8d servers %8d servers   ratio (servers x%.0f)%n",
                repeats, small, servers, (double) servers / small);
        System.out.printf("parse alone (baseline)          %8.1f ms %8.1f ms   %6.1f%n", parseSmall, parseBig,
                parseBig / parseSmall);
        String[] parts = {"parse + plan + rules + tunnels", "  of which parse", "  of which plan evacuation",
            "  of which every baseline rule", "  of which first-wave tunnels"};
        for (int k = 0; k < parts.length; k++) {
            System.out.printf("%-32s%8.1f ms %8.1f ms   %6.1f%n", parts[k], fullSmall[k], fullBig[k],
                    fullBig[k] / fullSmall[k]);
        }
        System.out.printf("%-32s%8.1f ms %8.1f ms   %6.1f%n", "GC time per full run (mean)", gcPerFullSmall,
                gcPerFullBig, gcPerFullBig / Math.max(gcPerFullSmall, 0.1));
        System.out.printf("full run against parse alone (%d servers): x%.1f%n", servers, fullBig[0] / parseBig);
        System.out.printf("peak heap during the warm runs %.1f MiB (sum of pool peaks); live after GC, results held: %.1f MiB%n",
                peakBig, live);

        RuleCountReport rules = RuleCountReport.of(new NetworkPlanner(r.topology, Topologies.APP_ID), Map.of(), List.of());
        System.out.printf("%nplan: %d servers leave dcA, ETA %.0f s, %.1f GiB, %d not converging, slots %s, peak use %s Mbit/s%n",
                r.plan.moves().size(), r.plan.estimatedDuration().toMillis() / 1000.0,
                r.plan.estimatedBytes() / (1024.0 * 1024 * 1024), r.plan.nonConverging().size(), r.plan.slotsByPair(),
                r.plan.peakMbpsByPair());
        System.out.printf("rules: %d baseline (max per switch: PE %d, core %d, site edge %d); %d rules for the %d"
                        + " tunnels of the first wave%n", rules.totalBaseline(), rules.max(RuleCountReport.Role.PE),
                rules.max(RuleCountReport.Role.CORE), rules.max(RuleCountReport.Role.SITE_EDGE), r.tunnels.size(),
                r.plan.moves().stream().filter(m -> m.startOffset().isZero()).count());

        RuleCountReport few = RuleCountReport.of(new NetworkPlanner(parseOnly(little).topology, Topologies.APP_ID),
                Map.of(), List.of());
        System.out.printf("rules per switch against servers: %d servers: total %d, max PE %d, core %d, site edge %d;"
                        + " %d servers: total %d, max PE %d, core %d, site edge %d%n", small, few.totalBaseline(),
                few.max(RuleCountReport.Role.PE), few.max(RuleCountReport.Role.CORE),
                few.max(RuleCountReport.Role.SITE_EDGE), servers, rules.totalBaseline(),
                rules.max(RuleCountReport.Role.PE), rules.max(RuleCountReport.Role.CORE),
                rules.max(RuleCountReport.Role.SITE_EDGE));

        rulesPerSwitch(servers);

        boolean met = coldTarget < 2000 && coldPeak < 256;
        System.out.printf("%ntarget: parse + plan + every baseline rule under 2 s with under 256 MB of heap: %s"
                + " (cold median %.0f ms wall, %.0f ms main-thread CPU; largest peak heap %.1f MiB; heap limit %.0f MiB;"
                + " load average %s)%n", met ? "MET" : "NOT MET", coldTarget, coldCpu, coldPeak, maxHeap, loadAverage());
        if (r.baseline.isEmpty()) {
            throw new IllegalStateException("no rules generated");
        }
    }
}
