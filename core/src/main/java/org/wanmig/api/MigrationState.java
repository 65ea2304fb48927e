package org.wanmig.api;

/**
 * States of one migration. The happy path runs top to bottom; FAILED and ROLLED_BACK end a
 * migration that did not complete, after the source routes are restored.
 */
public enum MigrationState {
    REQUESTED,
    /** Tunnel installed and confirmed on every hop; storage going synchronous. */
    PREPARING,
    /** The hypervisor copies the virtual server. */
    MIGRATING,
    /** Redirect at PE_A installed the moment the hypervisor reported completion. */
    CUTOVER,
    /** Client routes point at PE_B; storage roles reversed. */
    ROUTES_UPDATED,
    /** Tunnel kept while in-flight traffic drains. */
    DRAINING,
    COMPLETED,
    FAILED,
    ROLLED_BACK;

    public boolean isTerminal() {
        return this == COMPLETED || this == FAILED || this == ROLLED_BACK;
    }

    /** True once the virtual server runs at the destination (its hypervisor reported completion). */
    public boolean serverMoved() {
        return this == CUTOVER || this == ROUTES_UPDATED || this == DRAINING || this == COMPLETED;
    }
}
