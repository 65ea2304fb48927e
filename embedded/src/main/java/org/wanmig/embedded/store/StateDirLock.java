package org.wanmig.embedded.store;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * One runtime per state directory. Two would overwrite each other's records, and a runtime that
 * starts takes over from its predecessor on the assumption that the predecessor is gone (it acts
 * on what the records say it did, and bounds how long it waits by its own start). The lock is an
 * OS record lock on {@code <stateDir>/runtime.lock}: the kernel drops it when the holder exits,
 * SIGKILL included, so a crash never leaves it stale.
 */
public final class StateDirLock implements AutoCloseable {
    static final String FILE = "runtime.lock";

    private final FileChannel channel;
    private final FileLock lock;

    private StateDirLock(FileChannel channel, FileLock lock) {
        this.channel = channel;
        this.lock = lock;
    }

    /**
     * Takes the state directory (made if missing), or fails at once naming the process that holds
     * it; nothing in the directory is read or changed then.
     *
     * @throws StateDirInUseException when another runtime holds it
     */
    public static StateDirLock acquire(Path stateDir) throws IOException {
        Files.createDirectories(stateDir);
        Path file = stateDir.resolve(FILE);
        FileChannel channel = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.READ,
                StandardOpenOption.WRITE);
        FileLock lock;
        try {
            lock = channel.tryLock();
        } catch (OverlappingFileLockException e) {
            lock = null;   // held by this JVM already
        } catch (IOException e) {
            channel.close();
            throw e;
        }
        if (lock == null) {
            String holder = new String(Files.readAllBytes(file), StandardCharsets.UTF_8).trim();
            channel.close();
            throw new StateDirInUseException("state directory " + stateDir + " is in use by another wanmig"
                    + " runtime" + (holder.isEmpty() ? "" : " (" + holder + ")")
                    + "; stop it first, or give this one another --state-dir");
        }
        channel.truncate(0);
        byte[] pid = ("pid " + ProcessHandle.current().pid() + "\n").getBytes(StandardCharsets.UTF_8);
        channel.write(ByteBuffer.wrap(pid), 0);
        channel.force(false);
        return new StateDirLock(channel, lock);
    }

    @Override
    public void close() throws IOException {
        try {
            lock.release();
        } finally {
            channel.close();
        }
    }
}
