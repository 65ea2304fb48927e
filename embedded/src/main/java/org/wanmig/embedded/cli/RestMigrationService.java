package org.wanmig.embedded.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.wanmig.api.Evacuation;
import org.wanmig.api.EvacuationId;
import org.wanmig.api.EvacuationService;
import org.wanmig.api.Migration;
import org.wanmig.api.MigrationId;
import org.wanmig.api.MigrationListener;
import org.wanmig.api.MigrationService;
import org.wanmig.api.WanmigException;
import org.wanmig.codec.WanmigCodecContext;
import org.wanmig.config.DataCenter;
import org.wanmig.config.VirtualServer;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The MigrationService of a remote MMS (the embedded runtime, or ONOS: same REST paths), so the
 * command-line client runs the very commands the ONOS CLI runs. REST errors come back as the
 * WanmigException the server threw (400, 404, 409, 503).
 */
public final class RestMigrationService implements MigrationService, EvacuationService {
    private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
    private final WanmigCodecContext codecs = new WanmigCodecContext(Map.of());
    private final ObjectMapper mapper = codecs.mapper();
    private final String base;
    private final String auth;

    public RestMigrationService(String base, String user, String password) {
        this.base = base.replaceAll("/+$", "");
        this.auth = "Basic " + Base64.getEncoder().encodeToString((user + ":" + password)
                .getBytes(StandardCharsets.UTF_8));
    }

    @Override
    public Collection<DataCenter> dataCenters() {
        List<DataCenter> list = new ArrayList<>();
        get("/datacenters").path("dataCenters")
                .forEach(n -> list.add(codecs.codec(DataCenter.class).decode((ObjectNode) n, codecs)));
        return list;
    }

    @Override
    public Collection<VirtualServer> servers() {
        List<VirtualServer> list = new ArrayList<>();
        get("/servers").path("servers")
                .forEach(n -> list.add(codecs.codec(VirtualServer.class).decode((ObjectNode) n, codecs)));
        return list;
    }

    @Override
    public String location(String server) {
        return serverJson(server).path("location").asText();
    }

    @Override
    public Optional<Migration> activeMigration(String server) {
        JsonNode id = serverJson(server).path("migration");
        return id.isNumber() ? migration(MigrationId.of(id.asLong())) : Optional.empty();
    }

    @Override
    public Collection<Migration> migrations() {
        List<Migration> list = new ArrayList<>();
        get("/migrations").path("migrations").forEach(n -> list.add(decode(n)));
        return list;
    }

    @Override
    public Optional<Migration> migration(MigrationId id) {
        try {
            return Optional.of(decode(get("/migrations/" + id)));
        } catch (WanmigException e) {
            if (e.kind() == WanmigException.Kind.NOT_FOUND) {
                return Optional.empty();
            }
            throw e;
        }
    }

    @Override
    public Migration startMigration(String server, String destination) {
        return decode(call("POST", "/migrations", mapper.createObjectNode().put("server", server)
                .put("destination", destination)));
    }

    @Override
    public Migration abort(MigrationId id) {
        return decode(call("POST", "/migrations/" + id + "/abort", mapper.createObjectNode()));
    }

    @Override
    public Migration hypervisorCompleted(MigrationId id, String detail) {
        return decode(call("POST", "/migrations/" + id + "/hypervisor",
                mapper.createObjectNode().put("status", "completed").put("detail", detail)));
    }

    @Override
    public Migration hypervisorFailed(MigrationId id, String reason) {
        return decode(call("POST", "/migrations/" + id + "/hypervisor",
                mapper.createObjectNode().put("status", "failed").put("detail", reason)));
    }

    @Override
    public void addListener(MigrationListener listener) {
        throw new UnsupportedOperationException("a remote MMS has no listeners; poll the migration");
    }

    @Override
    public void removeListener(MigrationListener listener) {
        throw new UnsupportedOperationException("a remote MMS has no listeners");
    }

    @Override
    public Evacuation evacuate(String source, List<String> destinations, List<String> servers) {
        ObjectNode body = mapper.createObjectNode().put("source", source);
        if (!destinations.isEmpty()) {
            destinations.forEach(body.putArray("to")::add);
        }
        if (!servers.isEmpty()) {
            servers.forEach(body.putArray("servers")::add);
        }
        return decodeEvacuation(call("POST", "/evacuations", body));
    }

    @Override
    public Collection<Evacuation> evacuations() {
        List<Evacuation> list = new ArrayList<>();
        get("/evacuations").path("evacuations").forEach(n -> list.add(decodeEvacuation(n)));
        return list;
    }

    @Override
    public Optional<Evacuation> evacuation(EvacuationId id) {
        try {
            return Optional.of(decodeEvacuation(get("/evacuations/" + id)));
        } catch (WanmigException e) {
            if (e.kind() == WanmigException.Kind.NOT_FOUND) {
                return Optional.empty();
            }
            throw e;
        }
    }

    @Override
    public Evacuation failover(String lost, String to) {
        ObjectNode body = mapper.createObjectNode();
        if (to != null) {
            body.put("to", to);
        }
        return decodeEvacuation(call("POST", "/datacenters/" + lost + "/failover", body));
    }

    @Override
    public Evacuation abort(EvacuationId id) {
        return decodeEvacuation(call("POST", "/evacuations/" + id + "/abort", mapper.createObjectNode()));
    }

    private Evacuation decodeEvacuation(JsonNode node) {
        return codecs.codec(Evacuation.class).decode((ObjectNode) node, codecs);
    }

    /** GET of any path under the base, for resources the service interface does not cover. */
    public JsonNode get(String path) {
        return call("GET", path, null);
    }

    private JsonNode serverJson(String server) {
        for (JsonNode n : get("/servers").path("servers")) {
            if (n.path("name").asText().equals(server)) {
                return n;
            }
        }
        throw WanmigException.notFound("server", "unknown server '" + server + "'");
    }

    private Migration decode(JsonNode node) {
        return codecs.codec(Migration.class).decode((ObjectNode) node, codecs);
    }

    private JsonNode call(String method, String path, JsonNode body) {
        HttpRequest request = HttpRequest.newBuilder(URI.create(base + path)).timeout(Duration.ofSeconds(30))
                .header("Authorization", auth).header("Content-Type", "application/json")
                .method(method, body == null ? HttpRequest.BodyPublishers.noBody()
                        : HttpRequest.BodyPublishers.ofString(body.toString()))
                .build();
        HttpResponse<String> response;
        try {
            response = http.send(request, HttpResponse.BodyHandlers.ofString());
        } catch (IOException e) {
            throw WanmigException.unavailable("cannot reach " + base + ": " + e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw WanmigException.unavailable("interrupted");
        }
        JsonNode json;
        try {
            json = response.body().isBlank() ? mapper.createObjectNode() : mapper.readTree(response.body());
        } catch (IOException e) {
            throw WanmigException.unavailable(method + " " + path + " answered " + response.statusCode()
                    + " with no JSON: " + response.body());
        }
        int status = response.statusCode();
        if (status / 100 == 2) {
            return json;
        }
        String field = json.path("field").isTextual() ? json.path("field").asText() : null;
        String reason = json.path("error").asText("HTTP " + status);
        switch (status) {
            case 400:
                throw WanmigException.badRequest(field, reason);
            case 404:
                throw WanmigException.notFound(field, reason);
            case 409:
                throw WanmigException.conflict(field, reason);
            default:
                throw WanmigException.unavailable("HTTP " + status + ": " + reason);
        }
    }
}
