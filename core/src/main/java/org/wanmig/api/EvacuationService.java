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

    /**
     * Unplanned failover: declares data center {@code lost} gone and starts moving every server
     * placed there to {@code to} (when null: the data center holding each server's replica). For
     * each server: any migration involving {@code lost} is given up without waiting on it, its
     * replica is promoted with a new generation (the RPO lost is recorded), the server is restarted
     * at the destination by its hypervisor driver, and its address is routed there directly.
     *
     * @return the record as started ({@link Evacuation.Kind#FAILOVER}), listed with the evacuations
     */
    Evacuation failover(String lost, String to);

    Collection<Evacuation> evacuations();

    Optional<Evacuation> evacuation(EvacuationId id);

    /**
     * Aborts an active evacuation: queued servers are cancelled, in-flight migrations rolled back,
     * done servers kept. Returns once the abort is under way (ABORTING, or ABORTED when nothing was in flight).
     */
    Evacuation abort(EvacuationId id);
}
