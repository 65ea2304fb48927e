package org.wanmig.spi;

import org.wanmig.api.MigrationId;

/** What a hypervisor reports about a migration it was asked to perform. */
public interface HypervisorListener {

    /** The server runs at the destination: the trigger for the cutover. */
    void completed(MigrationId id, String detail);

    /** The hypervisor gave up; the server still runs at the source. */
    void failed(MigrationId id, String reason);
}
