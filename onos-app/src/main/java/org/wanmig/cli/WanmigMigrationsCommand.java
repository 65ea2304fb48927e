package org.wanmig.cli;

import org.apache.karaf.shell.api.action.Command;
import org.apache.karaf.shell.api.action.lifecycle.Service;

/** Lists every migration, one line each. */
@Service
@Command(scope = "onos", name = "wanmig-migrations", description = "Lists wanmig migrations")
public class WanmigMigrationsCommand extends WanmigCommand {
    @Override
    protected void doExecute() {
        if (outputJson()) {
            printJson(api().migrations());
        } else {
            refusable(() -> printLines(WanmigCli.migrations(service())));
        }
    }
}
