package org.wanmig.impl;

import org.onosproject.core.ApplicationId;
import org.wanmig.config.ConfigException;
import org.wanmig.config.ConfigProblem;
import org.wanmig.config.WanTopology;
import org.wanmig.config.WanTopologyParser;
import org.onosproject.net.config.Config;
import org.onosproject.net.config.ConfigFactory;
import org.onosproject.net.config.basics.SubjectFactories;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.List;

/**
 * The wanmig configuration as ONOS network configuration: {@code apps."org.wanmig.app".wanmig}.
 * Validation is the parser's whole-config validation, so ONOS rejects exactly what the embedded
 * runtime would reject, and each problem is logged with its JSON path.
 */
public class WanmigConfig extends Config<ApplicationId> {
    private static final Logger log = LoggerFactory.getLogger(WanmigConfig.class);

    /** Registers this class for the app subject under the key "wanmig". */
    public static ConfigFactory<ApplicationId, WanmigConfig> factory() {
        return new ConfigFactory<>(SubjectFactories.APP_SUBJECT_FACTORY, WanmigConfig.class,
                WanTopologyParser.CONFIG_KEY) {
            @Override
            public WanmigConfig createConfig() {
                return new WanmigConfig();
            }
        };
    }

    @Override
    public boolean isValid() {
        List<ConfigProblem> problems = problems();
        problems.forEach(p -> log.warn("wanmig config rejected: {}: {}", p.path(), p.reason()));
        return problems.isEmpty();
    }

    /** Every problem of this configuration; empty when it is valid. */
    public List<ConfigProblem> problems() {
        try {
            WanTopologyParser.parse(node());
            return List.of();
        } catch (ConfigException e) {
            return e.problems();
        } catch (RuntimeException e) {
            // a parser bug must not take netcfg down with it; the config is refused, not half-read
            return List.of(new ConfigProblem("$", "could not be read: " + e));
        }
    }

    /**
     * The topology this configuration describes.
     *
     * @throws ConfigException listing every problem when the configuration is invalid
     */
    public WanTopology topology() {
        return WanTopologyParser.parse(node());
    }
}
