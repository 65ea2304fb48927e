package org.wanmig.cli;

import org.apache.karaf.shell.api.action.Argument;
import org.apache.karaf.shell.api.action.Command;
import org.apache.karaf.shell.api.action.Completion;
import org.apache.karaf.shell.api.action.Option;
import org.apache.karaf.shell.api.action.lifecycle.Service;

/** Declares a data center lost and fails its servers over to their replicas. */
@Service
@Command(scope = "onos", name = "wanmig-failover",
        description = "Declares a data center lost: each of its servers' replicas is promoted, the server restarted "
                + "at the destination and routed there directly (follow it with wanmig-evacuations ID)")
public class WanmigFailoverCommand extends WanmigCommand {
    @Argument(index = 0, name = "dc", description = "The lost data center", required = true)
    @Completion(DataCenterCompleter.class)
    String dc = null;

    @Option(name = "--to", description = "Destination of every server (default: the DC holding each one's replica)")
    @Completion(DataCenterCompleter.class)
    String to = null;

    @Override
    protected void doExecute() {
        if (outputJson()) {
            com.fasterxml.jackson.databind.node.ObjectNode body = mapper().createObjectNode();
            if (to != null) {
                body.put("to", to);
            }
            printJson(evacuationApi().failover(dc, body.toString()));
        } else {
            refusable(() -> printLines(EvacuationText.failover(evacuations(), dc, to, System.currentTimeMillis())));
        }
    }
}
