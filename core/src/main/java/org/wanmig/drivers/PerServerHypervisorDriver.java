package org.wanmig.drivers;

import org.wanmig.api.Migration;
import org.wanmig.config.DataCenter;
import org.wanmig.config.VirtualServer;
import org.wanmig.spi.HypervisorDriver;
import org.wanmig.spi.HypervisorListener;

import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.function.Function;

/**
 * One netcfg, several hypervisors: routes each call to the driver the server names
 * ({@code servers[].hypervisor}), or to the default ({@code migration.hypervisor.driver}). It only
 * picks; the drivers it routes to keep their own state (a QEMU migration's session stays in the
 * qemu driver), so the same call for the same server always reaches the same driver.
 */
public final class PerServerHypervisorDriver implements HypervisorDriver {
    private final String defaultDriver;
    private final Function<String, HypervisorDriver> drivers;

    /**
     * @param defaultDriver the driver of servers that name none
     * @param drivers       a driver by its configuration name ("rest", "http", "qemu")
     */
    public PerServerHypervisorDriver(String defaultDriver, Function<String, HypervisorDriver> drivers) {
        this.defaultDriver = Objects.requireNonNull(defaultDriver);
        this.drivers = Objects.requireNonNull(drivers);
    }

    /** The default driver's name: what a server that names no driver of its own gets. */
    @Override
    public String name() {
        return defaultDriver;
    }

    @Override
    public String nameFor(VirtualServer server) {
        return driverName(server);
    }

    /** The driver the server's calls go to. */
    public HypervisorDriver driverFor(VirtualServer server) {
        return drivers.apply(driverName(server));
    }

    private String driverName(VirtualServer server) {
        return server.hypervisor().orElse(defaultDriver);
    }

    @Override
    public boolean switchesOverInPause(VirtualServer server) {
        return driverFor(server).switchesOverInPause(server);
    }

    @Override
    public CompletableFuture<String> diskWritable(VirtualServer server, DataCenter at) {
        return driverFor(server).diskWritable(server, at);
    }

    @Override
    public boolean returnsMovedServer(VirtualServer server) {
        return driverFor(server).returnsMovedServer(server);
    }

    @Override
    public void migrate(Migration migration, VirtualServer server, DataCenter from, DataCenter to,
                        HypervisorListener listener) {
        driverFor(server).migrate(migration, server, from, to, listener);
    }

    @Override
    public void abort(Migration migration, VirtualServer server, DataCenter from, DataCenter to, boolean serverMoved) {
        driverFor(server).abort(migration, server, from, to, serverMoved);
    }

    @Override
    public CompletableFuture<String> restart(VirtualServer server, DataCenter at, long port) {
        return driverFor(server).restart(server, at, port);
    }
}
