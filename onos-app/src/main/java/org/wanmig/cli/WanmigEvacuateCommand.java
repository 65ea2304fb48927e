package org.wanmig.cli;

import org.apache.karaf.shell.api.action.Argument;
import org.apache.karaf.shell.api.action.Command;
import org.apache.karaf.shell.api.action.Completion;
import org.apache.karaf.shell.api.action.Option;
import org.apache.karaf.shell.api.action.lifecycle.Service;

/** Plans and starts the evacuation of a data center (or of some of its servers). */
@Service
@Command(scope = "onos", name = "wanmig-evacuate",
        description = "Evacuates a data center: plans destinations, order and concurrency under the WAN budget, then runs it")
public class WanmigEvacuateCommand extends WanmigCommand {
    @Argument(index = 0, name = "source", description = "Data center to evacuate", required = true)
    @Completion(DataCenterCompleter.class)
    String source = null;

    @Option(name = "--to", description = "Destination data centers, comma-separated (default: every other one)")
    @Completion(DataCenterCompleter.class)
    String to = null;

    @Option(name = "--servers", description = "Servers to move, comma-separated (default: all of the source's)")
    @Completion(ServerNameCompleter.class)
    String servers = null;

    @Override
    protected void doExecute() {
        if (outputJson()) {
            com.fasterxml.jackson.databind.node.ObjectNode body = mapper().createObjectNode().put("source", source);
            if (to != null) {
                EvacuationText.list(to).forEach(body.putArray("to")::add);
            }
            if (servers != null) {
                EvacuationText.list(servers).forEach(body.putArray("servers")::add);
            }
            printJson(evacuationApi().start(body.toString()));
        } else {
            refusable(() -> printLines(EvacuationText.start(evacuations(), source, EvacuationText.list(to),
                    EvacuationText.list(servers), System.currentTimeMillis())));
        }
    }
}
