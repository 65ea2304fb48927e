package org.wanmig.testing;

import org.wanmig.api.Migration;
import org.wanmig.api.MigrationId;
import org.wanmig.config.DataCenter;
import org.wanmig.config.VirtualServer;
import org.wanmig.spi.HypervisorDriver;
import org.wanmig.spi.HypervisorListener;

import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;

/** Records what the MMS asks of the hypervisor; the test reports completion through the service. */
public final class FakeHypervisor implements HypervisorDriver {
    private final List<MigrationId> migrations = new CopyOnWriteArrayList<>();
    private final List<Migration> asked = new CopyOnWriteArrayList<>();
    private final List<String> aborts = new CopyOnWriteArrayList<>();
    private volatile RuntimeException refusal;
    private volatile boolean switchesOverInPause;
    private volatile boolean keepsMovedServers;
    private final List<String> diskWritable = new CopyOnWriteArrayList<>();
    private volatile String writableDetail;
    private final List<String> restarts = new CopyOnWriteArrayList<>();
    private final Map<String, RuntimeException> restartErrors = new ConcurrentHashMap<>();
    private final Map<String, CompletableFuture<String>> heldRestarts = new ConcurrentHashMap<>();

    /** Restarting {@code server} fails with {@code error}. */
    public void refuseRestart(String server, RuntimeException error) {
        restartErrors.put(server, error);
    }

    /** Restarting {@code server} answers only when the test completes the returned future (or never). */
    public CompletableFuture<String> holdRestart(String server) {
        CompletableFuture<String> f = new CompletableFuture<>();
        heldRestarts.put(server, f);
        return f;
    }

    /** "vs1 dcB port 2" for every restart asked. */
    public List<String> restarts() {
        return restarts;
    }

    /** Says it switches over in its pause (as the qemu driver in "pause" mode); the test calls preSwitchover. */
    public void switchOverInPause(boolean on) {
        switchesOverInPause = on;
    }

    @Override
    public boolean switchesOverInPause(VirtualServer server) {
        return switchesOverInPause;
    }

    /** "vs1 dcB" for every diskWritable asked; each answers {@code writableDetail}. */
    public List<String> diskWritableCalls() {
        return diskWritable;
    }

    public void answerDiskWritable(String detail) {
        writableDetail = detail;
    }

    @Override
    public CompletableFuture<String> diskWritable(VirtualServer server, DataCenter at) {
        diskWritable.add(server.name() + " " + at.name());
        return CompletableFuture.completedFuture(writableDetail);
    }

    /** Says, as the qemu driver does, that a server that resumed at the destination stays there on abort. */
    public void keepMovedServers() {
        keepsMovedServers = true;
    }

    @Override
    public boolean returnsMovedServer(VirtualServer server) {
        return !keepsMovedServers;
    }

    public void refuse(RuntimeException error) {
        this.refusal = error;
    }

    /** Ids of the migrations the hypervisor was asked to perform. */
    public List<MigrationId> migrations() {
        return migrations;
    }

    /** The records the hypervisor was asked to migrate with, in order. */
    public List<Migration> asked() {
        return asked;
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
        asked.add(migration);
        if (refusal != null) {
            throw refusal;
        }
    }

    @Override
    public void abort(Migration migration, VirtualServer server, DataCenter from, DataCenter to, boolean moved) {
        aborts.add(migration.id() + " moved=" + moved);
    }

    @Override
    public CompletableFuture<String> restart(VirtualServer server, DataCenter at, long port) {
        restarts.add(server.name() + " " + at.name() + " port " + port);
        RuntimeException error = restartErrors.get(server.name());
        if (error != null) {
            return CompletableFuture.failedFuture(error);
        }
        CompletableFuture<String> held = heldRestarts.get(server.name());
        return held != null ? held : CompletableFuture.completedFuture("fake: running at " + at.name());
    }
}
