package org.wanmig.cli;

import org.apache.karaf.shell.api.action.Argument;
import org.apache.karaf.shell.api.action.Command;
import org.apache.karaf.shell.api.action.Completion;
import org.apache.karaf.shell.api.action.lifecycle.Service;

/** Gives up a migration; the server stays in, or returns to, its source data center. */
@Service
@Command(scope = "onos", name = "wanmig-abort", description = "Aborts a wanmig migration and rolls it back")
public class WanmigAbortCommand extends WanmigCommand {
    @Argument(index = 0, name = "id", description = "Migration id", required = true)
    @Completion(MigrationIdCompleter.class)
    String id = null;

    @Override
    protected void doExecute() {
        refusable(() -> printLines(WanmigCli.abort(service(), id)));
    }
}
