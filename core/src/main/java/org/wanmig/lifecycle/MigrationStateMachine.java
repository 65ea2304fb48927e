package org.wanmig.lifecycle;

import org.wanmig.api.MigrationState;

import java.util.EnumMap;
import java.util.EnumSet;
import java.util.Map;
import java.util.Set;

import static org.wanmig.api.MigrationState.COMPLETED;
import static org.wanmig.api.MigrationState.CUTOVER;
import static org.wanmig.api.MigrationState.DRAINING;
import static org.wanmig.api.MigrationState.FAILED;
import static org.wanmig.api.MigrationState.MIGRATING;
import static org.wanmig.api.MigrationState.PREPARING;
import static org.wanmig.api.MigrationState.REQUESTED;
import static org.wanmig.api.MigrationState.ROLLED_BACK;
import static org.wanmig.api.MigrationState.ROUTES_UPDATED;

/** The transitions a migration may take; anything else is a bug and is refused. */
public final class MigrationStateMachine {
    private static final Map<MigrationState, Set<MigrationState>> NEXT = new EnumMap<>(MigrationState.class);

    static {
        NEXT.put(REQUESTED, EnumSet.of(PREPARING, FAILED, ROLLED_BACK));
        NEXT.put(PREPARING, EnumSet.of(MIGRATING, FAILED, ROLLED_BACK));
        NEXT.put(MIGRATING, EnumSet.of(CUTOVER, FAILED, ROLLED_BACK));
        NEXT.put(CUTOVER, EnumSet.of(ROUTES_UPDATED, FAILED, ROLLED_BACK));
        NEXT.put(ROUTES_UPDATED, EnumSet.of(DRAINING, FAILED, ROLLED_BACK));
        NEXT.put(DRAINING, EnumSet.of(COMPLETED, FAILED, ROLLED_BACK));
        NEXT.put(COMPLETED, EnumSet.noneOf(MigrationState.class));
        NEXT.put(FAILED, EnumSet.noneOf(MigrationState.class));
        NEXT.put(ROLLED_BACK, EnumSet.noneOf(MigrationState.class));
    }

    private MigrationStateMachine() {
    }

    public static boolean allowed(MigrationState from, MigrationState to) {
        return NEXT.get(from).contains(to);
    }

    public static void check(MigrationState from, MigrationState to) {
        if (!allowed(from, to)) {
            throw new IllegalStateException("illegal migration transition " + from + " -> " + to);
        }
    }
}
