package org.wanmig.cli;

import org.apache.karaf.shell.api.action.lifecycle.Service;
import org.onosproject.cli.AbstractChoicesCompleter;
import org.wanmig.api.MigrationService;

import java.util.List;

import static org.onosproject.cli.AbstractShellCommand.get;

/** Completes data center names. */
@Service
public class DataCenterCompleter extends AbstractChoicesCompleter {
    @Override
    protected List<String> choices() {
        return WanmigCli.dataCenterNames(get(MigrationService.class));
    }
}
