package org.wanmig.replication.bench;

import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.Arrays;

/**
 * Measures the round-trip time of a LinkProxy-shaped link (baseline for SYNC write latency):
 * a 1-byte ping-pong through a proxy with the given one-way delay to a local echo server.
 * Prints "rtt_ms_median=X rtt_ms_p90=Y".
 */
public final class RttProbe {
    private RttProbe() {
    }

    public static void main(String[] args) throws Exception {
        double delayMs = args.length > 0 ? Double.parseDouble(args[0]) : 0;
        int rounds = args.length > 1 ? Integer.parseInt(args[1]) : 200;
        try (ServerSocket echo = new ServerSocket()) {
            echo.bind(new InetSocketAddress("127.0.0.1", 0));
            Thread t = new Thread(() -> {
                try (Socket s = echo.accept()) {
                    s.setTcpNoDelay(true);
                    InputStream in = s.getInputStream();
                    OutputStream out = s.getOutputStream();
                    int b;
                    while ((b = in.read()) >= 0) {
                        out.write(b);
                        out.flush();
                    }
                } catch (Exception ignored) {
                    // probe done
                }
            });
            t.setDaemon(true);
            t.start();
            try (LinkProxy proxy = new LinkProxy(new InetSocketAddress("127.0.0.1", 0),
                    new InetSocketAddress("127.0.0.1", echo.getLocalPort()));
                 Socket s = new Socket("127.0.0.1", proxy.port())) {
                proxy.delayMs(delayMs);
                s.setTcpNoDelay(true);
                double[] ms = new double[rounds];
                for (int i = 0; i < rounds; i++) {
                    long t0 = System.nanoTime();
                    s.getOutputStream().write(1);
                    s.getOutputStream().flush();
                    if (s.getInputStream().read() < 0) {
                        throw new IllegalStateException("echo closed");
                    }
                    ms[i] = (System.nanoTime() - t0) / 1e6;
                }
                Arrays.sort(ms);
                System.out.printf(java.util.Locale.ROOT, "rtt_ms_median=%.3f rtt_ms_p90=%.3f%n",
                        ms[rounds / 2], ms[rounds * 9 / 10]);
            }
        }
    }
}
