package org.wanmig.cli;

import org.apache.karaf.shell.api.action.Argument;
import org.apache.karaf.shell.api.action.Command;
import org.apache.karaf.shell.api.action.Completion;
import org.apache.karaf.shell.api.action.Option;
import org.apache.karaf.shell.api.action.lifecycle.Service;

/** Shows one migration with its timeline, and optionally its planned rules. */
@Service
@Command(scope = "onos", name = "wanmig-migration", description = "Shows a wanmig migration and its timeline")
public class WanmigMigrationCommand extends WanmigCommand {
    @Argument(index = 0, name = "id", description = "Migration id", required = true)
    @Completion(MigrationIdCompleter.class)
    String id = null;

    @Option(name = "--rules", aliases = "-r", description = "Also print the migration's rules hop by hop")
    boolean rules = false;

    @Override
    protected void doExecute() {
        if (outputJson()) {
            printJson(rules ? api().rules(id) : api().migration(id));
        } else {
            refusable(() -> printLines(WanmigCli.migration(service(), planner(), id, rules)));
        }
    }
}
