package org.wanmig.cli;

import org.apache.karaf.shell.api.action.Argument;
import org.apache.karaf.shell.api.action.Command;
import org.apache.karaf.shell.api.action.Completion;
import org.apache.karaf.shell.api.action.Option;
import org.apache.karaf.shell.api.action.lifecycle.Service;

/**
 * Reports the hypervisor's outcome by hand, for hypervisors that cannot call the REST API:
 * completion triggers the cutover at once; --failed rolls the migration back.
 */
@Service
@Command(scope = "onos", name = "wanmig-hypervisor-done",
        description = "Reports that the hypervisor finished (or, with --failed, gave up) a migration")
public class WanmigHypervisorDoneCommand extends WanmigCommand {
    @Argument(index = 0, name = "id", description = "Migration id", required = true)
    @Completion(MigrationIdCompleter.class)
    String id = null;

    @Option(name = "--failed", aliases = "-f", description = "The hypervisor failed, for this reason")
    String failedReason = null;

    @Override
    protected void doExecute() {
        refusable(() -> printLines(WanmigCli.hypervisorReport(service(), id, failedReason)));
    }
}
