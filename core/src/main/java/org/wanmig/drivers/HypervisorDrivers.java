package org.wanmig.drivers;

import org.wanmig.config.MigrationSettings;
import org.wanmig.config.WanTopology;
import org.wanmig.spi.HypervisorDriver;

import java.net.URI;
import java.util.function.Function;

/**
 * The hypervisor drivers the configuration names: migration.hypervisor.driver for every server,
 * or a server's own servers[].hypervisor (a netcfg can hold emulated servers and real VMs). Each
 * driver is made once and kept while its settings stay the same; more drivers plug in here.
 */
public final class HypervisorDrivers implements Function<WanTopology, HypervisorDriver> {
    private final URI callbackBase;
    private final RestReportedHypervisor rest = new RestReportedHypervisor();
    private volatile HttpHypervisorDriver http;
    private volatile URI httpUrl;
    private volatile QemuHypervisorDriver qemu;

    public HypervisorDrivers(URI callbackBase) {
        this.callbackBase = callbackBase;
    }

    /**
     * The default driver when no server names another (as before per-server drivers), else a
     * {@link PerServerHypervisorDriver} over the drivers of this topology.
     */
    @Override
    public HypervisorDriver apply(WanTopology topology) {
        MigrationSettings s = topology.settings();
        boolean perServer = topology.servers().stream().anyMatch(v -> v.hypervisor().isPresent()
                && !v.hypervisor().get().equals(s.hypervisorDriver()));
        if (!perServer) {
            return driver(s.hypervisorDriver(), s);
        }
        return new PerServerHypervisorDriver(s.hypervisorDriver(), name -> driver(name, s));
    }

    /** The driver called {@code name} with the settings {@code s}. */
    synchronized HypervisorDriver driver(String name, MigrationSettings s) {
        switch (name) {
            case "qemu":
                if (qemu == null || !qemu.options().equals(s.qemu())) {
                    qemu = new QemuHypervisorDriver(s.qemu());
                }
                return qemu;
            case "http":
                if (http == null || !s.hypervisorUrl().equals(httpUrl)) {
                    httpUrl = s.hypervisorUrl();
                    http = new HttpHypervisorDriver(httpUrl, callbackBase);
                }
                return http;
            default:
                return rest;
        }
    }
}
