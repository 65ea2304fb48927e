package org.wanmig.replication.disk;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/** Durability of directory entries: a rename or a new file is only certain to survive power loss
 *  once the directory holding it has been fsync'd as well (Linux: fsync on a directory descriptor). */
public final class Directories {
    private Directories() {
    }

    /** Forces the directory that holds file, so its creation or rename into place is durable. */
    public static void syncParent(Path file) throws IOException {
        Path dir = file.toAbsolutePath().getParent();
        try (FileChannel ch = FileChannel.open(dir, StandardOpenOption.READ)) {
            ch.force(true);
        }
    }
}
