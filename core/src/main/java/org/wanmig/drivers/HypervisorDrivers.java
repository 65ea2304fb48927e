package org.wanmig.drivers;

import org.wanmig.config.MigrationSettings;
import org.wanmig.config.WanTopology;
import org.wanmig.spi.HypervisorDriver;

import java.net.URI;
import java.util.function.Function;

/** Picks the hypervisor driver the configuration names; more drivers (QMP, ...) plug in here. */
public final class HypervisorDrivers implements Function<WanTopology, HypervisorDriver> {
    private final URI callbackBase;
    private final RestReportedHypervisor rest = new RestReportedHypervisor();
    private volatile HttpHypervisorDriver http;
    private volatile URI httpUrl;
    private volatile QemuHypervisorDriver qemu;

    public HypervisorDrivers(URI callbackBase) {
        this.callbackBase = callbackBase;
    }

    @Override
    public HypervisorDriver apply(WanTopology topology) {
        MigrationSettings s = topology.settings();
        if ("qemu".equals(s.hypervisorDriver())) {
            if (qemu == null || !qemu.options().equals(s.qemu())) {
                qemu = new QemuHypervisorDriver(s.qemu());
            }
            return qemu;
        }
        if (!"http".equals(s.hypervisorDriver())) {
            return rest;
        }
        if (http == null || !s.hypervisorUrl().equals(httpUrl)) {
            httpUrl = s.hypervisorUrl();
            http = new HttpHypervisorDriver(httpUrl, callbackBase);
        }
        return http;
    }
}
