package org.wanmig.cli;

import com.fasterxml.jackson.core.JsonProcessingException;
import org.onosproject.cli.AbstractShellCommand;
import org.wanmig.api.EvacuationService;
import org.wanmig.api.MigrationService;
import org.wanmig.api.WanmigException;
import org.wanmig.planner.PlannerService;
import org.wanmig.planner.NetworkPlanner;
import org.wanmig.rest.ApiResponse;
import org.wanmig.rest.EvacuationApi;
import org.wanmig.rest.WanmigApi;

import java.util.List;
import java.util.function.Supplier;

/** Common plumbing of the wanmig commands: services, refusals as one error line, JSON output. */
public abstract class WanmigCommand extends AbstractShellCommand {

    protected MigrationService service() {
        return get(MigrationService.class);
    }

    protected EvacuationService evacuations() {
        return get(EvacuationService.class);
    }

    /** The REST API's evacuation operations, so --json prints what REST would answer. */
    protected EvacuationApi evacuationApi() {
        return new EvacuationApi(evacuations(), this, System::currentTimeMillis);
    }

    protected Supplier<NetworkPlanner> planner() {
        PlannerService planners = get(PlannerService.class);
        return planners::planner;
    }

    /** The REST API's operations, so --json prints what REST would answer. */
    protected WanmigApi api() {
        return WanmigCli.api(service(), this, planner());
    }

    protected void printLines(List<String> lines) {
        lines.forEach(l -> print("%s", l));
    }

    protected void printJson(ApiResponse response) {
        if (response.status() >= 300) {
            error("%s%s", response.body().path("error").asText(),
                    response.body().path("field").isTextual() ? " (" + response.body().path("field").asText() + ")" : "");
            return;
        }
        try {
            print("%s", mapper().writerWithDefaultPrettyPrinter().writeValueAsString(response.body()));
        } catch (JsonProcessingException e) {
            error("%s", e.getMessage());
        }
    }

    /** Runs the command's action; a refusal is printed as its reason, not as a stack trace. */
    protected void refusable(Runnable action) {
        try {
            action.run();
        } catch (WanmigException e) {
            error("%s%s", e.reason(), e.field() == null ? "" : " (" + e.field() + ")");
        }
    }
}
