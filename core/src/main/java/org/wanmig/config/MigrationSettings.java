package org.wanmig.config;


import java.net.URI;
import java.time.Duration;
import java.util.Objects;

/**
 * Timing and driver settings of the lifecycle. Every phase has a budget of its own: PREPARING
 * (prepareTimeout), MIGRATING (migrateTimeout), CUTOVER (switchTimeout: the redirect confirmed), the
 * route update (routeUpdateTimeout: all of its confirmed steps together), DRAINING (drain). The
 * demote budget is what a replication agent is given for the handover of the primary role; the
 * HTTP call that asks for it waits that long plus a margin, never less.
 */
public final class MigrationSettings {
    public static final Duration DEFAULT_ROUTE_UPDATE_TIMEOUT = Duration.ofSeconds(30);
    public static final Duration DEFAULT_DEMOTE_TIMEOUT = Duration.ofSeconds(15);
    public static final Duration DEFAULT_RETENTION = Duration.ofDays(7);
    /**
     * Pause between two confirmed steps of a route change: a packet a switch sent the old way just
     * before its step is still on a WAN link when the next switch changes, and may find that switch
     * pointing back the way it came (an output to its ingress port, which OpenFlow drops). At least
     * the largest one-way delay of a WAN link, queue included.
     */
    public static final Duration DEFAULT_ROUTE_STEP_GAP = Duration.ofMillis(100);
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
    private final QemuOptions qemu;
    private final Duration routeUpdateTimeout;
    private final Duration demoteTimeout;
    private final Duration retention;
    private final EvacuationSettings evacuation;
    private final Duration routeStepGap;

    public MigrationSettings(Duration prepareTimeout, Duration migrateTimeout, Duration switchTimeout,
                             Duration drain, String hypervisorDriver, URI hypervisorUrl, boolean bicast) {
        this(prepareTimeout, migrateTimeout, switchTimeout, drain, hypervisorDriver, hypervisorUrl, bicast,
                DEFAULT_ROUTE_UPDATE_TIMEOUT, DEFAULT_DEMOTE_TIMEOUT, DEFAULT_RETENTION, QemuOptions.NONE,
                EvacuationSettings.DEFAULTS);
    }

    public MigrationSettings(Duration prepareTimeout, Duration migrateTimeout, Duration switchTimeout,
                             Duration drain, String hypervisorDriver, URI hypervisorUrl, boolean bicast,
                             EvacuationSettings evacuation) {
        this(prepareTimeout, migrateTimeout, switchTimeout, drain, hypervisorDriver, hypervisorUrl, bicast,
                DEFAULT_ROUTE_UPDATE_TIMEOUT, DEFAULT_DEMOTE_TIMEOUT, DEFAULT_RETENTION, QemuOptions.NONE, evacuation);
    }

    public MigrationSettings(Duration prepareTimeout, Duration migrateTimeout, Duration switchTimeout,
                             Duration drain, String hypervisorDriver, URI hypervisorUrl, boolean bicast,
                             Duration routeUpdateTimeout, Duration demoteTimeout, Duration retention,
                             QemuOptions qemu, EvacuationSettings evacuation) {
        this(prepareTimeout, migrateTimeout, switchTimeout, drain, hypervisorDriver, hypervisorUrl, bicast,
                routeUpdateTimeout, demoteTimeout, retention, qemu, evacuation, DEFAULT_ROUTE_STEP_GAP);
    }

    public MigrationSettings(Duration prepareTimeout, Duration migrateTimeout, Duration switchTimeout,
                             Duration drain, String hypervisorDriver, URI hypervisorUrl, boolean bicast,
                             Duration routeUpdateTimeout, Duration demoteTimeout, Duration retention,
                             QemuOptions qemu, EvacuationSettings evacuation, Duration routeStepGap) {
        this.routeStepGap = Objects.requireNonNull(routeStepGap);
        this.qemu = Objects.requireNonNull(qemu);
        this.routeUpdateTimeout = Objects.requireNonNull(routeUpdateTimeout);
        this.demoteTimeout = Objects.requireNonNull(demoteTimeout);
        this.retention = Objects.requireNonNull(retention);
        this.evacuation = Objects.requireNonNull(evacuation);
        this.prepareTimeout = Objects.requireNonNull(prepareTimeout);
        this.migrateTimeout = Objects.requireNonNull(migrateTimeout);
        this.switchTimeout = Objects.requireNonNull(switchTimeout);
        this.drain = Objects.requireNonNull(drain);
        this.hypervisorDriver = Objects.requireNonNull(hypervisorDriver);
        this.hypervisorUrl = hypervisorUrl;
        this.bicast = bicast;
    }

    /** Longest wait for the tunnel to be confirmed and storage to report in sync. */
    public Duration prepareTimeout() {
        return prepareTimeout;
    }

    /** Pause between two confirmed steps of a route change (see {@link #DEFAULT_ROUTE_STEP_GAP}). */
    public Duration routeStepGap() {
        return routeStepGap;
    }

    /** Longest wait for the hypervisor's completion report. */
    public Duration migrateTimeout() {
        return migrateTimeout;
    }

    /** Longest wait for the switches to confirm the cutover's redirect. */
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
    /** The qemu driver's agents and migration parameters ({@link QemuOptions#NONE} for other drivers). */
    public QemuOptions qemu() {
        return qemu;
    }

    public boolean bicast() {
        return bicast;
    }

    /** Longest wait for every confirmed step of the route update (and of its undoing in a rollback). */
    public Duration routeUpdateTimeout() {
        return routeUpdateTimeout;
    }

    /** What a replication agent is given to hand the primary role over (demote); sent to it. */
    public Duration demoteTimeout() {
        return demoteTimeout;
    }

    /** How long finished migrations (COMPLETED, FAILED, ROLLED_BACK) are kept before they are pruned. */
    public Duration retention() {
        return retention;
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
                && bicast == s.bicast && routeUpdateTimeout.equals(s.routeUpdateTimeout)
                && demoteTimeout.equals(s.demoteTimeout) && retention.equals(s.retention) && qemu.equals(s.qemu)
                && evacuation.equals(s.evacuation) && routeStepGap.equals(s.routeStepGap);
    }

    @Override
    public int hashCode() {
        return Objects.hash(prepareTimeout, migrateTimeout, switchTimeout, drain, hypervisorDriver);
    }
}
