package org.wanmig.drivers;

import com.fasterxml.jackson.databind.node.ObjectNode;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.wanmig.api.Migration;
import org.wanmig.config.DataCenter;
import org.wanmig.config.VirtualServer;
import org.wanmig.spi.HypervisorDriver;
import org.wanmig.spi.HypervisorListener;

import java.net.URI;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;

/**
 * Asks a hypervisor controller over HTTP to move a server ({@code POST {url}/migrations}) and to
 * stop or undo it ({@code POST {url}/migrations/{id}/abort}). The hypervisor reports completion to
 * the callback URL it is given, which is this MMS's REST API; a refused request fails the migration.
 * A failover restarts a server at another data center with {@code POST {url}/servers/{name}/restart},
 * answered once it runs there.
 */
public final class HttpHypervisorDriver implements HypervisorDriver {
    private static final Logger log = LoggerFactory.getLogger(HttpHypervisorDriver.class);
    private static final Duration TIMEOUT = Duration.ofSeconds(10);

    private final URI url;
    private final URI callbackBase;
    private final JsonHttp http = new JsonHttp(null);

    /**
     * @param url          the hypervisor controller
     * @param callbackBase this MMS's REST base, e.g. http://127.0.0.1:8181/onos/wanmig
     */
    public HttpHypervisorDriver(URI url, URI callbackBase) {
        this.url = url;
        this.callbackBase = callbackBase;
    }

    @Override
    public String name() {
        return "http";
    }

    @Override
    public void migrate(Migration m, VirtualServer server, DataCenter from, DataCenter to, HypervisorListener listener) {
        ObjectNode body = JsonHttp.mapper().createObjectNode()
                .put("migration", m.id().value()).put("server", server.name())
                .put("ip", server.ip().toString()).put("mac", server.mac().toString())
                .put("source", from.name()).put("destination", to.name())
                .put("sourcePe", from.pe().toString()).put("destinationPe", to.pe().toString())
                .put("destinationPort", m.destinationPort())
                .put("callback", callbackBase + "/migrations/" + m.id() + "/hypervisor");
        http.post(resolve("migrations"), body, TIMEOUT).whenComplete((ok, error) -> {
            if (error != null) {
                listener.failed(m.id(), "hypervisor controller " + url + " refused: " + error.getMessage());
            }
        });
    }

    @Override
    public void abort(Migration m, VirtualServer server, DataCenter from, DataCenter to, boolean moved) {
        ObjectNode body = JsonHttp.mapper().createObjectNode().put("serverMoved", moved);
        http.post(resolve("migrations/" + m.id() + "/abort"), body, TIMEOUT).whenComplete((ok, error) -> {
            if (error != null) {
                log.warn("hypervisor abort of migration {} failed: {}", m.id(), error.getMessage());
            }
        });
    }

    @Override
    public CompletableFuture<String> restart(VirtualServer server, DataCenter at, long port) {
        ObjectNode body = JsonHttp.mapper().createObjectNode().put("server", server.name())
                .put("ip", server.ip().toString()).put("mac", server.mac().toString())
                .put("destination", at.name()).put("destinationPe", at.pe().toString()).put("destinationPort", port);
        return http.post(resolve("servers/" + server.name() + "/restart"), body, TIMEOUT)
                .thenApply(answer -> "hypervisor (http): " + answer.path("detail").asText("running at " + at.name()));
    }

    private URI resolve(String path) {
        String base = url.toString().endsWith("/") ? url.toString() : url + "/";
        return URI.create(base + path);
    }
}
