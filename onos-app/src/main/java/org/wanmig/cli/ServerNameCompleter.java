package org.wanmig.cli;

import org.apache.karaf.shell.api.action.lifecycle.Service;
import org.onosproject.cli.AbstractChoicesCompleter;
import org.wanmig.api.MigrationService;

import java.util.List;

import static org.onosproject.cli.AbstractShellCommand.get;

/** Completes virtual server names. */
@Service
public class ServerNameCompleter extends AbstractChoicesCompleter {
    @Override
    protected List<String> choices() {
        return WanmigCli.serverNames(get(MigrationService.class));
    }
}
