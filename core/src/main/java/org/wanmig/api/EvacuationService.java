package org.wanmig.api;

import java.util.Collection;
import java.util.List;
import java.util.Optional;

/**
 * Whole-DC evacuations as their users see them (REST, CLI). Every refusal is a
 * {@link WanmigException} thrown before anything is changed.
 */
public interface EvacuationService {

    /**
     * Plans and starts moving the servers of {@code source} (all of them when {@code servers} is
     * empty) to {@code destinations} (any other data center when empty).
     *
     * @return the record as started: every server queued with its planned move, and the plan's ETA
     */
    Evacuation evacuate(String source, List<String> destinations, List<String> servers);

    Collection<Evacuation> evacuations();

    Optional<Evacuation> evacuation(EvacuationId id);

    /**
     * Aborts an active evacuation: queued servers are cancelled, in-flight migrations rolled back,
     * done servers kept. Returns once the abort is under way (ABORTING, or ABORTED when nothing was in flight).
     */
    Evacuation abort(EvacuationId id);
}
