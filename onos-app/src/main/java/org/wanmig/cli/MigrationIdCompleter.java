package org.wanmig.cli;

import org.apache.karaf.shell.api.action.lifecycle.Service;
import org.onosproject.cli.AbstractChoicesCompleter;
import org.wanmig.api.MigrationService;

import java.util.List;

import static org.onosproject.cli.AbstractShellCommand.get;

/** Completes migration ids, active ones first. */
@Service
public class MigrationIdCompleter extends AbstractChoicesCompleter {
    @Override
    protected List<String> choices() {
        return WanmigCli.migrationIds(get(MigrationService.class));
    }
}
