package org.wanmig.testing;

import org.wanmig.api.Migration;
import org.wanmig.api.MigrationId;
import org.wanmig.config.DataCenter;
import org.wanmig.config.VirtualServer;
import org.wanmig.spi.HypervisorDriver;
import org.wanmig.spi.HypervisorListener;

import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

/** Records what the MMS asks of the hypervisor; the test reports completion through the service. */
public final class FakeHypervisor implements HypervisorDriver {
    private final List<MigrationId> migrations = new CopyOnWriteArrayList<>();
    private final List<String> aborts = new CopyOnWriteArrayList<>();
    private volatile RuntimeException refusal;

    public void refuse(RuntimeException error) {
        this.refusal = error;
    }

    /** Ids of the migrations the hypervisor was asked to perform. */
    public List<MigrationId> migrations() {
        return migrations;
    }

    /** "id moved=true|false" for every abort. */
    public List<String> aborts() {
        return aborts;
    }

    @Override
    public String name() {
        return "fake";
    }

    @Override
    public void migrate(Migration migration, VirtualServer server, DataCenter from, DataCenter to,
                        HypervisorListener listener) {
        migrations.add(migration.id());
        if (refusal != null) {
            throw refusal;
        }
    }

    @Override
    public void abort(Migration migration, VirtualServer server, DataCenter from, DataCenter to, boolean moved) {
        aborts.add(migration.id() + " moved=" + moved);
    }
}
