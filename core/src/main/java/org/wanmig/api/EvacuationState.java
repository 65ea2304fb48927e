package org.wanmig.api;

/**
 * States of a whole evacuation. RUNNING starts servers as the plan allows; ABORTING waits for the
 * migrations in flight to roll back. The last three are terminal.
 */
public enum EvacuationState {
    RUNNING,
    ABORTING,
    /** Every server moved. */
    COMPLETED,
    /** Every server was tried; some failed (they still run at the source) and are reported. */
    COMPLETED_WITH_FAILURES,
    /** Aborted: servers that had moved stay moved, the others run at the source. */
    ABORTED;

    public boolean isTerminal() {
        return this == COMPLETED || this == COMPLETED_WITH_FAILURES || this == ABORTED;
    }
}
