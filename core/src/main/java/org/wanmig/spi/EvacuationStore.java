package org.wanmig.spi;

import org.wanmig.api.Evacuation;
import org.wanmig.api.EvacuationId;

import java.util.Collection;
import java.util.Optional;

/**
 * Where evacuation records live: a distributed map in ONOS (so a new leader goes on with an
 * evacuation), a local file in the embedded runtime. The runner writes a record after every
 * change; records carry everything needed to resume.
 */
public interface EvacuationStore {

    /** A fresh id, never handed out before by this store. */
    EvacuationId nextId();

    Optional<Evacuation> get(EvacuationId id);

    Collection<Evacuation> all();

    void put(Evacuation evacuation);
}
