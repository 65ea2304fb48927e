package org.wanmig.cli;

import org.apache.karaf.shell.api.action.Argument;
import org.apache.karaf.shell.api.action.Command;
import org.apache.karaf.shell.api.action.Completion;
import org.apache.karaf.shell.api.action.lifecycle.Service;

/** Lists evacuations with their progress, or shows one with every server and its timeline. */
@Service
@Command(scope = "onos", name = "wanmig-evacuations",
        description = "Lists wanmig evacuations with progress and ETA, or shows one")
public class WanmigEvacuationsCommand extends WanmigCommand {
    @Argument(index = 0, name = "id", description = "Evacuation id", required = false)
    @Completion(EvacuationIdCompleter.class)
    String id = null;

    @Override
    protected void doExecute() {
        if (outputJson()) {
            printJson(id == null ? evacuationApi().evacuations() : evacuationApi().evacuation(id));
        } else {
            long now = System.currentTimeMillis();
            refusable(() -> printLines(id == null ? EvacuationText.evacuations(evacuations(), now)
                    : EvacuationText.evacuation(evacuations(), id, now)));
        }
    }
}
