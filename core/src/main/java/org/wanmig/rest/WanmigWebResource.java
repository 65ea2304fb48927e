package org.wanmig.rest;

import org.onosproject.rest.AbstractWebResource;
import org.wanmig.api.EvacuationService;
import org.wanmig.api.MigrationService;
import org.wanmig.planner.PlannerService;

import javax.ws.rs.Consumes;
import javax.ws.rs.GET;
import javax.ws.rs.POST;
import javax.ws.rs.Path;
import javax.ws.rs.PathParam;
import javax.ws.rs.Produces;
import javax.ws.rs.core.MediaType;
import javax.ws.rs.core.Response;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;

/**
 * Data centers, virtual servers and live migrations of wanmig. Every operation is {@link WanmigApi}'s,
 * so this API and the embedded runtime's answer the same JSON and the same errors: a JSON object
 * {"error": reason, "field": offending input or null} with 400 (bad input), 404 (unknown server,
 * data center or migration), 409 (conflict, e.g. the server is already migrating) or 503 (this
 * instance does not drive migrations, no configuration, or a switch is not connected).
 */
@Path("")
public class WanmigWebResource extends AbstractWebResource {

    private WanmigApi api() {
        PlannerService planners = get(PlannerService.class);
        return new WanmigApi(get(MigrationService.class), this, planners::planner);
    }

    private EvacuationApi evacuationApi() {
        return new EvacuationApi(get(EvacuationService.class), this, System::currentTimeMillis);
    }

    private static Response toResponse(ApiResponse r) {
        return Response.status(r.status()).entity(r.body().toString()).type(MediaType.APPLICATION_JSON).build();
    }

    private static String read(InputStream stream) throws IOException {
        return stream == null ? "" : new String(stream.readAllBytes(), StandardCharsets.UTF_8);
    }

    /**
     * Lists the data centers: name, PE switch, WAN and server ports, replication agent.
     *
     * @return 200 OK with {"dataCenters": [...]}
     */
    @GET
    @Path("datacenters")
    @Produces(MediaType.APPLICATION_JSON)
    public Response getDataCenters() {
        return toResponse(api().dataCenters());
    }

    /**
     * Lists the virtual servers with the data center each runs in now and its active migration.
     *
     * @return 200 OK with {"servers": [...]}
     */
    @GET
    @Path("servers")
    @Produces(MediaType.APPLICATION_JSON)
    public Response getServers() {
        return toResponse(api().servers());
    }

    /**
     * Lists every migration, active or ended, by id, each with its timeline.
     *
     * @return 200 OK with {"migrations": [...]}
     */
    @GET
    @Path("migrations")
    @Produces(MediaType.APPLICATION_JSON)
    public Response getMigrations() {
        return toResponse(api().migrations());
    }

    /**
     * Starts moving a virtual server to another data center. The tunnel is installed and storage
     * goes synchronous; the hypervisor then copies the server and reports completion.
     *
     * @param stream JSON {"server": name, "destination": data center name}
     * @return 201 CREATED with the migration; 400 for a bad or unknown field or the server's own
     * data center; 404 unknown server or data center; 409 the server is already migrating;
     * 503 not the leader, or a PE is not connected
     * @throws IOException if the body cannot be read
     * @onos.rsModel MigrationRequest
     */
    @POST
    @Path("migrations")
    @Consumes(MediaType.APPLICATION_JSON)
    @Produces(MediaType.APPLICATION_JSON)
    public Response startMigration(InputStream stream) throws IOException {
        return toResponse(api().start(read(stream)));
    }

    /**
     * Shows one migration with its timeline.
     *
     * @param id migration id
     * @return 200 OK with the migration; 400 malformed id; 404 unknown id
     */
    @GET
    @Path("migrations/{id}")
    @Produces(MediaType.APPLICATION_JSON)
    public Response getMigration(@PathParam("id") String id) {
        return toResponse(api().migration(id));
    }

    /**
     * Lists the flow rules of one migration, hop by hop, as the planner computes them: the tunnel,
     * the reverse ingress at the destination PE and the cutover redirect at the source PE.
     *
     * @param id migration id
     * @return 200 OK with {"tunnel": [...], "reverseIngress": [...], "redirect": [...]}; 404 unknown id
     */
    @GET
    @Path("migrations/{id}/rules")
    @Produces(MediaType.APPLICATION_JSON)
    public Response getMigrationRules(@PathParam("id") String id) {
        return toResponse(api().rules(id));
    }

    /**
     * Gives up a migration that has not completed: the server stays in (or returns to) its source
     * data center and every rule of the migration is removed.
     *
     * @param id migration id
     * @return 200 OK with the migration as it is once rolled back; 404 unknown id; 409 no longer active
     */
    @POST
    @Path("migrations/{id}/abort")
    @Produces(MediaType.APPLICATION_JSON)
    public Response abortMigration(@PathParam("id") String id) {
        return toResponse(api().abort(id));
    }

    /**
     * The hypervisor's report on a migration: "completed" (the server runs at the destination,
     * which triggers the cutover at once) or "failed" (the migration is rolled back).
     *
     * @param id     migration id
     * @param stream JSON {"status": "completed" or "failed", "detail": text}
     * @return 200 OK with the migration; 400 bad status or field; 404 unknown id;
     * 409 the migration is not waiting for the hypervisor
     * @throws IOException if the body cannot be read
     * @onos.rsModel HypervisorReport
     */
    @POST
    @Path("migrations/{id}/hypervisor")
    @Consumes(MediaType.APPLICATION_JSON)
    @Produces(MediaType.APPLICATION_JSON)
    public Response hypervisorReport(@PathParam("id") String id, InputStream stream) throws IOException {
        return toResponse(api().hypervisorReport(id, read(stream)));
    }

    /**
     * Lists every evacuation, active or ended, with its progress (done, in flight, queued, failed,
     * bytes) and ETA (the plan's "eta" and the live "projectedEta").
     *
     * @return 200 OK with {"evacuations": [...]}
     */
    @GET
    @Path("evacuations")
    @Produces(MediaType.APPLICATION_JSON)
    public Response getEvacuations() {
        return toResponse(evacuationApi().evacuations());
    }

    /**
     * Plans and starts the evacuation of a data center (or of some of its servers) to others, under
     * the WAN budget per DC pair; migrations start as the plan allows.
     *
     * @param stream JSON {"source": dc, "to": [dc, ...] (optional), "servers": [name, ...] (optional)}
     * @return 201 CREATED with the record (every server's planned move, the plan's ETA); 400 a bad or
     * unknown field; 404 unknown data center or server; 409 capacity exceeded (naming the servers that
     * do not fit) or a server already being evacuated; 503 not the leader
     * @throws IOException if the body cannot be read
     * @onos.rsModel EvacuationRequest
     */
    @POST
    @Path("evacuations")
    @Consumes(MediaType.APPLICATION_JSON)
    @Produces(MediaType.APPLICATION_JSON)
    public Response startEvacuation(InputStream stream) throws IOException {
        return toResponse(evacuationApi().start(read(stream)));
    }

    /**
     * Shows one evacuation: progress, every server's state and the timeline.
     *
     * @param id evacuation id
     * @return 200 OK with the record; 400 malformed id; 404 unknown id
     */
    @GET
    @Path("evacuations/{id}")
    @Produces(MediaType.APPLICATION_JSON)
    public Response getEvacuation(@PathParam("id") String id) {
        return toResponse(evacuationApi().evacuation(id));
    }

    /**
     * Aborts an evacuation: queued servers never start, in-flight migrations are rolled back,
     * servers already moved stay at their destination.
     *
     * @param id evacuation id
     * @return 200 OK with the record (ABORTING, or ABORTED when nothing was in flight); 404 unknown id;
     * 409 the evacuation has ended; 503 not the leader
     */
    @POST
    @Path("evacuations/{id}/abort")
    @Produces(MediaType.APPLICATION_JSON)
    public Response abortEvacuation(@PathParam("id") String id) {
        return toResponse(evacuationApi().abort(id));
    }

    /**
     * Declares a data center lost and fails its servers over: for each server placed there, any
     * migration involving it is given up, its replica is promoted with a new generation (the RPO lost
     * is recorded), the server is restarted at the destination and its address routed there directly.
     * The record is listed with the evacuations (kind FAILOVER) and shows each server's step.
     *
     * @param dc     the lost data center
     * @param stream JSON {"to": dc} (optional; default: each server's replica's data center), or empty
     * @return 201 CREATED with the record; 400 bad field, destination = lost DC, no replica known;
     * 404 unknown data center; 409 already being failed over; 503 not the leader
     * @throws IOException if the body cannot be read
     */
    @POST
    @Path("datacenters/{dc}/failover")
    @Consumes(MediaType.APPLICATION_JSON)
    @Produces(MediaType.APPLICATION_JSON)
    public Response failover(@PathParam("dc") String dc, InputStream stream) throws IOException {
        return toResponse(evacuationApi().failover(dc, read(stream)));
    }
}
