package org.wanmig.config;

import com.fasterxml.jackson.databind.JsonNode;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * How the core reacts to links going down and up, from the optional {@code linkState} object of the
 * wanmig configuration:
 * <pre>
 *   "linkState": { "holdDownSeconds": 5, "reroute": true }
 * </pre>
 * A failed link is routed around at once; a recovered link is used again only after it has stayed
 * up for the hold-down (unless it reconnects a part of the WAN that has no path at all), so a
 * flapping link never moves the routes back and forth. {@code reroute: false} ignores link events
 * altogether (routes stay on the configured links), the behaviour before link tracking existed.
 */
public final class LinkStateSettings {
    public static final String KEY = "linkState";
    public static final Duration DEFAULT_HOLD_DOWN = Duration.ofSeconds(5);
    public static final LinkStateSettings DEFAULTS = new LinkStateSettings(DEFAULT_HOLD_DOWN, true);

    private final Duration holdDown;
    private final boolean reroute;

    public LinkStateSettings(Duration holdDown, boolean reroute) {
        this.holdDown = Objects.requireNonNull(holdDown);
        if (holdDown.isNegative()) {
            throw new IllegalArgumentException("hold-down must not be negative: " + holdDown);
        }
        this.reroute = reroute;
    }

    /** Reads {@code linkState} from the app's config object (the value of "wanmig"); absent means defaults. */
    public static LinkStateSettings fromConfig(JsonNode wanmig) {
        JsonNode n = wanmig == null ? null : wanmig.get(KEY);
        if (n == null || n.isNull()) {
            return DEFAULTS;
        }
        List<ConfigProblem> problems = new ArrayList<>();
        if (!n.isObject()) {
            throw new ConfigException(List.of(new ConfigProblem(KEY, "must be a JSON object")));
        }
        Duration holdDown = DEFAULT_HOLD_DOWN;
        JsonNode h = n.get("holdDownSeconds");
        if (h != null && !h.isNull()) {
            if (!h.isNumber() || h.asDouble() < 0) {
                problems.add(new ConfigProblem(KEY + ".holdDownSeconds", "must be a non-negative number of seconds"));
            } else {
                holdDown = Duration.ofMillis(Math.round(h.asDouble() * 1000));
            }
        }
        boolean reroute = true;
        JsonNode r = n.get("reroute");
        if (r != null && !r.isNull()) {
            if (!r.isBoolean()) {
                problems.add(new ConfigProblem(KEY + ".reroute", "must be true or false"));
            } else {
                reroute = r.asBoolean();
            }
        }
        if (!problems.isEmpty()) {
            throw new ConfigException(problems);
        }
        return new LinkStateSettings(holdDown, reroute);
    }

    /** Reads {@code linkState} from a whole network-configuration file. */
    public static LinkStateSettings fromNetcfg(JsonNode netcfg) {
        return fromConfig(netcfg.path("apps").path(WanTopologyParser.APP_ID).path(WanTopologyParser.CONFIG_KEY));
    }

    /** How long a recovered link must stay up before routes may use it again. */
    public Duration holdDown() {
        return holdDown;
    }

    /** Whether link events change the routes at all. */
    public boolean reroute() {
        return reroute;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof LinkStateSettings && ((LinkStateSettings) o).holdDown.equals(holdDown)
                && ((LinkStateSettings) o).reroute == reroute;
    }

    @Override
    public int hashCode() {
        return Objects.hash(holdDown, reroute);
    }

    @Override
    public String toString() {
        return "holdDown " + holdDown.toMillis() + " ms, reroute " + reroute;
    }
}
