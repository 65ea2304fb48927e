package org.wanmig.embedded.http;

import com.fasterxml.jackson.databind.JsonNode;

import javax.ws.rs.GET;
import javax.ws.rs.Path;
import javax.ws.rs.Produces;
import javax.ws.rs.core.MediaType;
import javax.ws.rs.core.Response;
import java.util.function.Supplier;

/**
 * Read-only views the embedded runtime adds beside the ONOS paths, where ONOS has its own device
 * and flow APIs: the switches with their connection state, and the rules wanmig wants on each.
 */
@Path("")
public final class EmbeddedWebResource {
    private final Supplier<JsonNode> devices;
    private final Supplier<JsonNode> flows;

    public EmbeddedWebResource(Supplier<JsonNode> devices, Supplier<JsonNode> flows) {
        this.devices = devices;
        this.flows = flows;
    }

    @GET
    @Path("devices")
    @Produces(MediaType.APPLICATION_JSON)
    public Response getDevices() {
        return Response.ok(devices.get().toString(), MediaType.APPLICATION_JSON).build();
    }

    @GET
    @Path("flows")
    @Produces(MediaType.APPLICATION_JSON)
    public Response getFlows() {
        return Response.ok(flows.get().toString(), MediaType.APPLICATION_JSON).build();
    }
}
