package org.wanmig.replication.bench;

import org.wanmig.replication.agent.Agent;
import org.wanmig.replication.agent.AgentConfig;
import org.wanmig.replication.core.DiskStatus;
import org.wanmig.replication.core.ReplicatedDisk;
import org.wanmig.replication.core.Role;
import org.wanmig.replication.net.Tls;
import org.wanmig.replication.peer.PeerCodec;
import org.wanmig.replication.peer.PeerFrame;
import org.wanmig.replication.peer.PeerTransport;

import javax.net.ssl.SSLContext;
import java.lang.management.ManagementFactory;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Locale;
import java.util.Random;
import java.util.concurrent.CompletableFuture;

/**
 * What TLS costs the peer link, PSK (plain TCP + HMAC handshake) against TLS 1.3 with mutual
 * certificates, measured in one run with the two interleaved:
 * <ul>
 * <li>link: the peer codec alone over loopback, 1 MiB and 4 KiB WRITE frames, until the receiver
 * confirmed the last one;</li>
 * <li>agents: two agents in this JVM, ASYNC, writes straight into the primary disk (no NBD client),
 * sequential 1 MiB and random 4 KiB, timed until the primary reports nothing left to ship.</li>
 * </ul>
 * CPU is this process's CPU time (both sides run in it), per GiB moved.
 *
 * <pre>scripts/gen-test-pki /tmp/pki &amp;&amp; java -cp replication/target/wanmig-replication-agent.jar \
 *     org.wanmig.replication.bench.PeerLinkBench /tmp/pki [MiB=256] [rounds=3]</pre>
 */
public final class PeerLinkBench {
    private static final String PSK = "bench-pre-shared-key-0123456789abcdef";
    private static volatile String suite;

    private PeerLinkBench() {
    }

    /** One measurement: seconds and CPU seconds for a number of bytes. */
    private static final class Sample {
        final double secs;
        final double cpu;
        final long bytes;

        Sample(double secs, double cpu, long bytes) {
            this.secs = secs;
            this.cpu = cpu;
            this.bytes = bytes;
        }

        double mbps() {
            return bytes * 8 / 1e6 / secs;
        }

        double cpuPerGiB() {
            return cpu / (bytes / (double) (1L << 30));
        }
    }

    private static long cpuNanos() {
        return ((com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean())
                .getProcessCpuTime();
    }

    public static void main(String[] args) throws Exception {
        if (args.length < 1) {
            System.err.println("usage: PeerLinkBench PKI_DIR [MiB] [rounds]   (PKI_DIR from scripts/gen-test-pki)");
            System.exit(2);
        }
        Path pki = Path.of(args[0]);
        int mib = args.length > 1 ? Integer.parseInt(args[1]) : 256;
        int rounds = args.length > 2 ? Integer.parseInt(args[2]) : 3;
        SSLContext ctxA = Tls.fromPem(pki.resolve("agent-a.pem"), pki.resolve("agent-a.key"), pki.resolve("ca.pem"));
        SSLContext ctxB = Tls.fromPem(pki.resolve("agent-b.pem"), pki.resolve("agent-b.key"), pki.resolve("ca.pem"));
        byte[] psk = PSK.getBytes(StandardCharsets.UTF_8);
        PeerTransport pskT = PeerTransport.psk(psk);
        PeerTransport tlsA = new PeerTransport(null, ctxA, true, PeerTransport.Limits.DEFAULT);
        PeerTransport tlsB = new PeerTransport(null, ctxB, true, PeerTransport.Limits.DEFAULT);
        System.out.printf(Locale.ROOT, "== peer link cost of TLS 1.3 (%s, %d cores, %d MiB per case, %d rounds, "
                + "PSK and TLS interleaved; load average %s)%n", System.getProperty("java.version"),
                Runtime.getRuntime().availableProcessors(), mib, rounds,
                Files.readString(Path.of("/proc/loadavg")).trim());
        String[] cases = {"link 1MiB frames", "link 4KiB frames", "agents seq 1MiB writes", "agents rand 4KiB writes"};
        List<List<Sample>> pskS = new ArrayList<>();
        List<List<Sample>> tlsS = new ArrayList<>();
        for (int i = 0; i < cases.length; i++) {
            pskS.add(new ArrayList<>());
            tlsS.add(new ArrayList<>());
        }
        Path work = Files.createTempDirectory("wanmig-tls-bench");
        try {
            for (int r = 0; r < rounds; r++) {
                for (int tls = 0; tls < 2; tls++) {
                    List<List<Sample>> to = tls == 1 ? tlsS : pskS;
                    PeerTransport client = tls == 1 ? tlsA : pskT;
                    PeerTransport server = tls == 1 ? tlsB : pskT;
                    to.get(0).add(link(client, server, mib, 1 << 20));
                    to.get(1).add(link(client, server, Math.max(16, mib / 4), 4096));
                    to.get(2).add(agents(work.resolve(r + "-" + tls + "-seq"), pki, tls == 1, mib, 1 << 20, false));
                    to.get(3).add(agents(work.resolve(r + "-" + tls + "-rnd"), pki, tls == 1, Math.max(16, mib / 4),
                            4096, true));
                }
            }
        } finally {
            deleteTree(work);
        }
        System.out.println("TLS cipher suite: " + suite + "; load average after: "
                + Files.readString(Path.of("/proc/loadavg")).trim());
        System.out.printf(Locale.ROOT, "%-26s %14s %14s %8s | %14s %14s %8s%n", "case (median)", "PSK Mbit/s",
                "CPU s/GiB", "", "TLS Mbit/s", "CPU s/GiB", "TLS/PSK");
        for (int i = 0; i < cases.length; i++) {
            Sample p = median(pskS.get(i));
            Sample t = median(tlsS.get(i));
            System.out.printf(Locale.ROOT, "%-26s %14.0f %14.2f %8s | %14.0f %14.2f %7.0f%%   (CPU +%.0f%%)%n",
                    cases[i], p.mbps(), p.cpuPerGiB(), "", t.mbps(), t.cpuPerGiB(), 100 * t.mbps() / p.mbps(),
                    100 * (t.cpuPerGiB() / p.cpuPerGiB() - 1));
        }
    }

    private static Sample median(List<Sample> l) {
        List<Sample> s = new ArrayList<>(l);
        s.sort((x, y) -> Double.compare(x.mbps(), y.mbps()));
        return s.get(s.size() / 2);
    }

    /** Sends mib MiB as frames of frameBytes through an authenticated connection; waits for the last ACK. */
    private static Sample link(PeerTransport client, PeerTransport server, int mib, int frameBytes) throws Exception {
        try (ServerSocket ss = new ServerSocket()) {
            ss.bind(new InetSocketAddress("127.0.0.1", 0));
            CompletableFuture<Void> done = CompletableFuture.runAsync(() -> {
                try (Socket s = ss.accept()) {
                    PeerTransport.Connection c = server.accept(s);
                    PeerCodec codec = c.established(1 << 20, 64 * 1024);
                    while (true) {
                        PeerFrame f = codec.read();
                        if (f.type() == PeerFrame.FLUSH) {
                            codec.write(new PeerFrame(PeerFrame.ACK, 0, f.seq(), 0, null));
                            codec.flush();
                            return;
                        }
                    }
                } catch (Exception e) {
                    throw new IllegalStateException(e);
                }
            });
            try (Socket s = new Socket()) {
                PeerTransport.Connection c = client.connect(s, (InetSocketAddress) ss.getLocalSocketAddress(), 5000);
                if (c.socket() instanceof javax.net.ssl.SSLSocket && suite == null) {
                    suite = ((javax.net.ssl.SSLSocket) c.socket()).getSession().getCipherSuite();
                }
                PeerCodec codec = c.established(64 * 1024, 1 << 20);
                byte[] data = new byte[frameBytes];
                new Random(1).nextBytes(data);
                long frames = ((long) mib << 20) / frameBytes;
                long cpu0 = cpuNanos();
                long t0 = System.nanoTime();
                for (long i = 1; i <= frames; i++) {
                    codec.write(PeerFrame.WRITE, 0, i, (i * frameBytes) % (1L << 30), ByteBuffer.wrap(data));
                }
                codec.write(new PeerFrame(PeerFrame.FLUSH, 0, frames + 1, 0, null));
                codec.flush();
                PeerFrame ack = codec.read();
                long t1 = System.nanoTime();
                done.get();
                if (ack.type() != PeerFrame.ACK) {
                    throw new IllegalStateException("no ACK");
                }
                return new Sample((t1 - t0) / 1e9, (cpuNanos() - cpu0) / 1e9, frames * frameBytes);
            }
        }
    }

    /** Two in-process agents; writes into the primary's disk, timed until everything was shipped. */
    private static Sample agents(Path dir, Path pki, boolean tls, int mib, int writeBytes, boolean random)
            throws Exception {
        long size = Math.max(256L << 20, (long) mib << 20);
        Files.createDirectories(dir.resolve("a"));
        Files.createDirectories(dir.resolve("b"));
        LinkProxy ab = new LinkProxy(new InetSocketAddress("127.0.0.1", 0), null); // unshaped, only to learn B's port late
        Agent b = new Agent(config(dir.resolve("b"), size, Role.REPLICA, 1, pki, "agent-b", tls));
        Agent a = null;
        try {
            ab.target(new InetSocketAddress("127.0.0.1", b.peerPort()));
            a = new Agent(config(dir.resolve("a"), size, Role.PRIMARY, b.peerPort(), pki, "agent-a", tls));
            ReplicatedDisk d = a.disk("vs1");
            await(d, true);
            byte[] data = new byte[writeBytes];
            Random rnd = new Random(7);
            rnd.nextBytes(data);
            long n = ((long) mib << 20) / writeBytes;
            long cpu0 = cpuNanos();
            long t0 = System.nanoTime();
            for (long i = 0; i < n; i++) {
                long off = random ? (long) rnd.nextInt((int) (size / writeBytes)) * writeBytes : (i * writeBytes) % size;
                d.write(off, ByteBuffer.wrap(data), false);
            }
            await(d, false);
            long t1 = System.nanoTime();
            return new Sample((t1 - t0) / 1e9, (cpuNanos() - cpu0) / 1e9, n * writeBytes);
        } finally {
            if (a != null) {
                a.close();
            }
            b.close();
            ab.close();
        }
    }

    private static void await(ReplicatedDisk d, boolean justConnected) throws InterruptedException {
        long deadline = System.nanoTime() + 300_000_000_000L;
        while (System.nanoTime() < deadline) {
            DiskStatus s = d.status();
            if (d.isLinkUp() && s.lagBytes() == 0 && s.resyncRemainingBytes() == 0 && (justConnected || d.backlog().isEmpty())) {
                return;
            }
            Thread.sleep(justConnected ? 20 : 1);
        }
        throw new IllegalStateException("replication did not drain");
    }

    private static AgentConfig config(Path d, long size, Role role, int peerPort, Path pki, String name, boolean tls) {
        AgentConfig.Builder b = new AgentConfig.Builder()
                .nbdListen("127.0.0.1:0").peerListen("127.0.0.1:0").controlListen("127.0.0.1:0")
                .peerAddress("127.0.0.1:" + peerPort).token("bench-token-0123456789")
                .maxBacklogBytes(256L << 20)
                .disk("vs1", d.resolve("vs1.img"), size, role);
        if (tls) {
            b.transport.tlsPem(pki.resolve(name + ".pem"), pki.resolve(name + ".key"), pki.resolve("ca.pem"));
        } else {
            b.psk(PSK);
        }
        return b.build();
    }

    private static void deleteTree(Path p) throws java.io.IOException {
        if (!Files.exists(p)) {
            return;
        }
        List<Path> all = new ArrayList<>();
        try (java.util.stream.Stream<Path> s = Files.walk(p)) {
            s.forEach(all::add);
        }
        Collections.reverse(all);
        for (Path x : all) {
            Files.deleteIfExists(x);
        }
    }
}
