package org.wanmig.cli;

import org.apache.karaf.shell.api.action.Command;
import org.apache.karaf.shell.api.action.lifecycle.Service;

/** Lists the virtual servers with where they run now and their active migration. */
@Service
@Command(scope = "onos", name = "wanmig-servers", description = "Lists wanmig virtual servers, their location and migration")
public class WanmigServersCommand extends WanmigCommand {
    @Override
    protected void doExecute() {
        if (outputJson()) {
            printJson(api().servers());
        } else {
            refusable(() -> printLines(WanmigCli.servers(service())));
        }
    }
}
