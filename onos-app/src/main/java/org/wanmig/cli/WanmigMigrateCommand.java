package org.wanmig.cli;

import org.apache.karaf.shell.api.action.Argument;
import org.apache.karaf.shell.api.action.Command;
import org.apache.karaf.shell.api.action.Completion;
import org.apache.karaf.shell.api.action.lifecycle.Service;

/** Starts moving a virtual server to another data center. */
@Service
@Command(scope = "onos", name = "wanmig-migrate", description = "Starts a live migration of a server to a data center")
public class WanmigMigrateCommand extends WanmigCommand {
    @Argument(index = 0, name = "server", description = "Virtual server name", required = true)
    @Completion(ServerNameCompleter.class)
    String server = null;

    @Argument(index = 1, name = "dc", description = "Destination data center", required = true)
    @Completion(DataCenterCompleter.class)
    String destination = null;

    @Override
    protected void doExecute() {
        refusable(() -> printLines(WanmigCli.start(service(), server, destination)));
    }
}
