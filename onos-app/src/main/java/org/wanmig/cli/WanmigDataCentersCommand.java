package org.wanmig.cli;

import org.apache.karaf.shell.api.action.Command;
import org.apache.karaf.shell.api.action.lifecycle.Service;

/** Lists the data centers and the servers running in each. */
@Service
@Command(scope = "onos", name = "wanmig-dcs", description = "Lists wanmig data centers")
public class WanmigDataCentersCommand extends WanmigCommand {
    @Override
    protected void doExecute() {
        if (outputJson()) {
            printJson(api().dataCenters());
        } else {
            refusable(() -> printLines(WanmigCli.dataCenters(service())));
        }
    }
}
