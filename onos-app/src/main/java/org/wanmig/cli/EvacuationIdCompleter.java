package org.wanmig.cli;

import org.apache.karaf.shell.api.action.lifecycle.Service;
import org.onosproject.cli.AbstractChoicesCompleter;
import org.wanmig.api.EvacuationService;

import java.util.List;

import static org.onosproject.cli.AbstractShellCommand.get;

/** Completes evacuation ids, active ones first. */
@Service
public class EvacuationIdCompleter extends AbstractChoicesCompleter {
    @Override
    protected List<String> choices() {
        return EvacuationText.ids(get(EvacuationService.class));
    }
}
