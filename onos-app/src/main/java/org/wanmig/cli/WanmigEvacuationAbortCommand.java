package org.wanmig.cli;

import org.apache.karaf.shell.api.action.Argument;
import org.apache.karaf.shell.api.action.Command;
import org.apache.karaf.shell.api.action.Completion;
import org.apache.karaf.shell.api.action.lifecycle.Service;

/** Aborts an evacuation: queued servers never start, in-flight ones roll back, done ones stay. */
@Service
@Command(scope = "onos", name = "wanmig-evacuation-abort",
        description = "Aborts a wanmig evacuation (what is done stays, what is in flight rolls back)")
public class WanmigEvacuationAbortCommand extends WanmigCommand {
    @Argument(index = 0, name = "id", description = "Evacuation id", required = true)
    @Completion(EvacuationIdCompleter.class)
    String id = null;

    @Override
    protected void doExecute() {
        if (outputJson()) {
            printJson(evacuationApi().abort(id));
        } else {
            refusable(() -> printLines(EvacuationText.abort(evacuations(), id, System.currentTimeMillis())));
        }
    }
}
