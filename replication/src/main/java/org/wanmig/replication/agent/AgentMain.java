package org.wanmig.replication.agent;

import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.CountDownLatch;

/**
 * java -jar wanmig-replication-agent.jar --config agent.json [overrides]
 * or entirely by flags, e.g.
 * --nbd 127.0.0.1:10809 --peer-listen 0.0.0.0:10900 --control 127.0.0.1:7070 --peer 10.0.0.2:10900
 * --token T --psk-file key --disk name=vs1,image=/var/lib/wanmig/vs1.img,size=10G,role=PRIMARY
 */
public final class AgentMain {
    private AgentMain() {
    }

    static final String USAGE = String.join("\n",
            "usage: wanmig-replication-agent [--config FILE] [options]",
            "  --config FILE          JSON config (see README); flags below override it",
            "  --nbd HOST:PORT        NBD listen address (default 127.0.0.1:10809)",
            "  --peer-listen HOST:PORT  peer replication listen address (default 0.0.0.0:10900)",
            "  --control HOST:PORT    control API listen address (default 127.0.0.1:7070)",
            "  --peer HOST:PORT       the peer agent (other data center)",
            "  --token TOKEN | --token-file FILE   bearer token for the control API",
            "  --psk KEY | --psk-file FILE         pre-shared key for the peer link",
            "  --tls-cert PEM --tls-key PEM --tls-ca PEM   TLS 1.3 with mutual certificates on the peer link",
            "  --control-tls true     serve the control API over HTTPS (same certificate; the take-over channel is then TLS)",
            "  --take-over-listen HOST[:PORT] | off   the take-over channel (default: the control host, a free port)",
            "  --max-backlog SIZE     async backlog bound, e.g. 64M (default 64M)",
            "  --block-size SIZE      dirty-bitmap / hash extent size (default 64K)",
            "  --max-frame-payload SIZE  largest peer frame payload announced (default 32M+4K; the link uses the smaller side's)",
            "  --disk name=N,image=PATH[,size=10G][,role=PRIMARY|REPLICA]   (repeatable)");

    public static void main(String[] args) throws Exception {
        if (System.getProperty("java.util.logging.SimpleFormatter.format") == null) {
            System.setProperty("java.util.logging.SimpleFormatter.format", "%1$tF %1$tT %4$s %3$s: %5$s%6$s%n");
        }
        AgentConfig cfg;
        try {
            cfg = parse(args);
        } catch (AgentConfig.ConfigException | IllegalArgumentException e) {
            System.err.println("error: " + e.getMessage());
            System.err.println(USAGE);
            System.exit(2);
            return;
        }
        Agent agent = new Agent(cfg);
        System.out.println("wanmig replication agent up: nbd=" + agent.nbdPort() + " peer=" + agent.peerPort()
                + " control=" + agent.controlPort()
                + " takeover=" + (agent.takeOverPort() == null ? "off" : agent.takeOverPort()));
        CountDownLatch done = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            agent.close();
            done.countDown();
        }, "agent-shutdown"));
        done.await();
    }

    static AgentConfig parse(String[] args) {
        Map<String, String> single = new HashMap<>();
        AgentConfig.Builder b = null;
        java.util.List<String> disks = new java.util.ArrayList<>();
        for (int i = 0; i < args.length; i++) {
            String a = args[i];
            if (a.equals("-h") || a.equals("--help")) {
                System.out.println(USAGE);
                System.exit(0);
            }
            if (!a.startsWith("--") || i + 1 >= args.length) {
                throw new IllegalArgumentException("unexpected argument '" + a + "'");
            }
            String v = args[++i];
            if (a.equals("--disk")) {
                disks.add(v);
            } else {
                single.put(a, v);
            }
        }
        if (single.containsKey("--config")) {
            b = AgentConfig.fromJson(Path.of(single.remove("--config")));
        } else {
            b = new AgentConfig.Builder();
        }
        for (Map.Entry<String, String> e : single.entrySet()) {
            String v = e.getValue();
            switch (e.getKey()) {
                case "--nbd": b.nbdListen(v); break;
                case "--peer-listen": b.peerListen(v); break;
                case "--control": b.controlListen(v); break;
                case "--take-over-listen": b.takeOverListen(v); break;
                case "--peer": b.peerAddress(v); break;
                case "--token": b.token(v); break;
                case "--token-file": b.tokenFile(Path.of(v)); break;
                case "--psk": b.psk(v); break;
                case "--psk-file": b.pskFile(Path.of(v)); break;
                case "--tls-cert": b.transport.tlsCert(Path.of(v)); break;
                case "--tls-key": b.transport.tlsKey(Path.of(v)); break;
                case "--tls-ca": b.transport.tlsCa(Path.of(v)); break;
                case "--control-tls":
                    if (!v.equals("true") && !v.equals("false")) {
                        throw new AgentConfig.ConfigException("--control-tls: must be true or false, not '" + v + "'");
                    }
                    b.transport.controlTls(Boolean.parseBoolean(v));
                    break;
                case "--max-backlog": b.maxBacklogBytes(AgentConfig.parseSize(v, "--max-backlog")); break;
                case "--block-size": b.blockSize((int) AgentConfig.parseSize(v, "--block-size")); break;
                case "--max-frame-payload":
                    b.transport.maxFramePayload(AgentConfig.parseSize(v, "--max-frame-payload"));
                    break;
                default: throw new IllegalArgumentException("unknown option " + e.getKey());
            }
        }
        for (String d : disks) {
            Map<String, String> kv = new HashMap<>();
            for (String part : d.split(",")) {
                int eq = part.indexOf('=');
                if (eq <= 0) {
                    throw new IllegalArgumentException("--disk: expected key=value in '" + part + "'");
                }
                kv.put(part.substring(0, eq), part.substring(eq + 1));
            }
            b.disk(kv.get("name"), kv.containsKey("image") ? Path.of(kv.get("image")) : null,
                    kv.containsKey("size") ? AgentConfig.parseSize(kv.get("size"), "--disk size") : 0,
                    AgentConfig.parseRole(kv.get("role"), "--disk role"));
        }
        return b.build();
    }
}
