package org.wanmig.embedded;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.List;

/** Command-line options of the embedded runtime, with the defaults a one-machine testbed wants. */
final class RuntimeOptions {
    Path config;
    String openflowAddress = "127.0.0.1";
    int openflowPort = 6653;
    String httpAddress = "127.0.0.1";
    int httpPort = 8181;
    Path stateDir = Path.of("wanmig-state");
    String user = "onos";
    String password = "rocks";
    String token;
    Duration switchWait = Duration.ofSeconds(60);
    String callbackBase;

    static final String USAGE = String.join("\n",
            "usage: java -jar wanmig-embedded.jar --config NETCFG.json [options]",
            "  --config FILE            ONOS network configuration holding apps.org.wanmig.app.wanmig",
            "  --openflow-port N        OpenFlow 1.3 listen port (6653)",
            "  --openflow-address A     OpenFlow listen address (127.0.0.1)",
            "  --http-port N            REST port (8181); API under /onos/wanmig like ONOS",
            "  --http-address A         REST listen address (127.0.0.1)",
            "  --state-dir DIR          where migration records persist (./wanmig-state)",
            "  --user U --password P    HTTP basic auth (onos / rocks, ONOS's defaults)",
            "  --token T                also accept 'Authorization: Bearer T'",
            "  --switch-wait SECONDS    wait this long for every switch before driving anyway (60)",
            "  --callback-base URL      REST base the hypervisor reports to (http://127.0.0.1:PORT/onos/wanmig)");

    static RuntimeOptions parse(String[] args) {
        RuntimeOptions o = new RuntimeOptions();
        Deque<String> rest = new ArrayDeque<>(List.of(args));
        while (!rest.isEmpty()) {
            String flag = rest.poll();
            if ("--help".equals(flag) || "-h".equals(flag)) {
                throw new IllegalArgumentException("");
            }
            String value = rest.poll();
            if (value == null) {
                throw new IllegalArgumentException(flag + " needs a value");
            }
            switch (flag) {
                case "--config": o.config = Path.of(value); break;
                case "--openflow-port": o.openflowPort = port(flag, value); break;
                case "--openflow-address": o.openflowAddress = value; break;
                case "--http-port": o.httpPort = port(flag, value); break;
                case "--http-address": o.httpAddress = value; break;
                case "--state-dir": o.stateDir = Path.of(value); break;
                case "--user": o.user = value; break;
                case "--password": o.password = value; break;
                case "--token": o.token = value; break;
                case "--switch-wait": o.switchWait = Duration.ofSeconds(number(flag, value)); break;
                case "--callback-base": o.callbackBase = value; break;
                default: throw new IllegalArgumentException("unknown option " + flag);
            }
        }
        if (o.config == null) {
            throw new IllegalArgumentException("--config is required");
        }
        if (o.callbackBase == null) {
            o.callbackBase = "http://" + o.httpAddress + ":" + o.httpPort + "/onos/wanmig";
        }
        return o;
    }

    private static int port(String flag, String value) {
        int p = number(flag, value);
        if (p < 0 || p > 65535) {
            throw new IllegalArgumentException(flag + " must be a port number: " + value);
        }
        return p;
    }

    private static int number(String flag, String value) {
        try {
            return Integer.parseInt(value);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException(flag + " must be a number: " + value);
        }
    }
}
