package org.wanmig.config;

import java.net.URI;
import java.time.Duration;
import java.util.Objects;

/** Timing and driver settings of the lifecycle. */
public final class MigrationSettings {
    public static final MigrationSettings DEFAULTS = new MigrationSettings(
            Duration.ofSeconds(60), Duration.ofMinutes(10), Duration.ofSeconds(15), Duration.ofSeconds(5),
            "rest", null, false);

    private final Duration prepareTimeout;
    private final Duration migrateTimeout;
    private final Duration switchTimeout;
    private final Duration drain;
    private final String hypervisorDriver;
    private final URI hypervisorUrl;
    private final boolean bicast;
    private final EvacuationSettings evacuation;

    public MigrationSettings(Duration prepareTimeout, Duration migrateTimeout, Duration switchTimeout,
                             Duration drain, String hypervisorDriver, URI hypervisorUrl, boolean bicast) {
        this(prepareTimeout, migrateTimeout, switchTimeout, drain, hypervisorDriver, hypervisorUrl, bicast,
                EvacuationSettings.DEFAULTS);
    }

    public MigrationSettings(Duration prepareTimeout, Duration migrateTimeout, Duration switchTimeout,
                             Duration drain, String hypervisorDriver, URI hypervisorUrl, boolean bicast,
                             EvacuationSettings evacuation) {
        this.prepareTimeout = Objects.requireNonNull(prepareTimeout);
        this.migrateTimeout = Objects.requireNonNull(migrateTimeout);
        this.switchTimeout = Objects.requireNonNull(switchTimeout);
        this.drain = Objects.requireNonNull(drain);
        this.hypervisorDriver = Objects.requireNonNull(hypervisorDriver);
        this.hypervisorUrl = hypervisorUrl;
        this.bicast = bicast;
        this.evacuation = Objects.requireNonNull(evacuation);
    }

    /** Longest wait for the tunnel to be confirmed and storage to report in sync. */
    public Duration prepareTimeout() {
        return prepareTimeout;
    }

    /** Longest wait for the hypervisor's completion report. */
    public Duration migrateTimeout() {
        return migrateTimeout;
    }

    /** Longest wait for switches to confirm the cutover or route-update rules. */
    public Duration switchTimeout() {
        return switchTimeout;
    }

    /** How long the tunnel stays after the route update, for traffic still in flight. */
    public Duration drain() {
        return drain;
    }

    /** Name of the hypervisor driver: "rest" (the hypervisor reports to the REST API) or "http". */
    public String hypervisorDriver() {
        return hypervisorDriver;
    }

    /** Endpoint of the "http" driver's hypervisor controller; null for "rest". */
    public URI hypervisorUrl() {
        return hypervisorUrl;
    }

    /**
     * Whether PE_A also copies server-bound traffic into the tunnel from PREPARING on, so the
     * server is reachable at the destination the instant it resumes there, before the cutover.
     * Costs WAN bandwidth (server-bound traffic crosses twice) for the length of the migration;
     * off by default, as in the paper, where nothing is redirected before completion.
     */
    public boolean bicast() {
        return bicast;
    }

    /** How whole-DC evacuations are planned: group order, WAN budgets, pre-copy model. */
    public EvacuationSettings evacuation() {
        return evacuation;
    }

    @Override
    public boolean equals(Object o) {
        if (!(o instanceof MigrationSettings)) {
            return false;
        }
        MigrationSettings s = (MigrationSettings) o;
        return prepareTimeout.equals(s.prepareTimeout) && migrateTimeout.equals(s.migrateTimeout)
                && switchTimeout.equals(s.switchTimeout) && drain.equals(s.drain)
                && hypervisorDriver.equals(s.hypervisorDriver) && Objects.equals(hypervisorUrl, s.hypervisorUrl)
                && bicast == s.bicast && evacuation.equals(s.evacuation);
    }

    @Override
    public int hashCode() {
        return Objects.hash(prepareTimeout, migrateTimeout, switchTimeout, drain, hypervisorDriver);
    }
}
