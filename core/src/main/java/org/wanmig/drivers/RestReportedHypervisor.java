package org.wanmig.drivers;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.wanmig.api.Migration;
import org.wanmig.config.DataCenter;
import org.wanmig.config.VirtualServer;
import org.wanmig.spi.HypervisorDriver;
import org.wanmig.spi.HypervisorListener;

import java.util.concurrent.CompletableFuture;

/**
 * The driver the paper describes: the hypervisor (or its orchestrator) moves the server on its
 * own schedule and reports completion or failure to the MMS through the REST API
 * ({@code POST /migrations/{id}/hypervisor}). The MMS only records that it is waiting.
 */
public final class RestReportedHypervisor implements HypervisorDriver {
    private static final Logger log = LoggerFactory.getLogger(RestReportedHypervisor.class);

    @Override
    public String name() {
        return "rest";
    }

    @Override
    public void migrate(Migration migration, VirtualServer server, DataCenter from, DataCenter to,
                        HypervisorListener listener) {
        log.info("migration {}: waiting for the hypervisor to move {} from {} to {} and report it",
                migration.id(), server.name(), from.name(), to.name());
    }

    @Override
    public void abort(Migration migration, VirtualServer server, DataCenter from, DataCenter to, boolean moved) {
        log.warn("migration {} given up; the hypervisor must {} {}", migration.id(),
                moved ? "move back to " + from.name() : "stop moving", server.name());
    }

    /** This driver has no hypervisor to call: the orchestrator starts the server, as it moves it. */
    @Override
    public CompletableFuture<String> restart(VirtualServer server, DataCenter at, long port) {
        log.warn("failover: the orchestrator must start {} at {} (port {}) from its promoted disk",
                server.name(), at.name(), port);
        return CompletableFuture.completedFuture("hypervisor (rest): not called; the orchestrator starts "
                + server.name() + " at " + at.name());
    }
}
