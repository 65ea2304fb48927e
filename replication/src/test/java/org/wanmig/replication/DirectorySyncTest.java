package org.wanmig.replication;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.wanmig.replication.core.DiskMeta;
import org.wanmig.replication.core.Mode;
import org.wanmig.replication.core.Role;
import org.wanmig.replication.disk.UndoJournal;

import java.io.File;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * Crash consistency of the replica's metadata and undo journal: a rename or a newly created file
 * survives power loss only once its directory is fsync'd too. What the JVM asks of the kernel is
 * read with strace (the system calls are the behaviour here; power loss cannot be staged in a
 * test): after DiskMeta.save renames its temporary file into place, and after UndoJournal.open
 * creates the journal, the directory holding them is opened and fsync'd.
 */
@Timeout(120)
class DirectorySyncTest {
    @TempDir
    Path dir;

    /** Runs in the traced JVM: the two operations, then a marker so the trace can be cut there. */
    public static final class Probe {
        public static void main(String[] args) throws Exception {
            Path d = Path.of(args[0]);
            Path image = d.resolve("vs1.img");
            DiskMeta m = new DiskMeta(Role.REPLICA, Mode.ASYNC, "sync-1", false, false);
            m.save(DiskMeta.fileFor(image));                        // creates the file
            m.withConsistent(false).save(DiskMeta.fileFor(image));  // replaces it: the "inconsistent" mark
            try (UndoJournal j = UndoJournal.open(UndoJournal.fileFor(image), 1 << 20, 64 * 1024)) {
                System.out.println("journal bytes " + j.bytes());
            }
        }
    }

    /** One traced system call: thread, name, arguments as printed, result. */
    private static final class Call {
        final String tid;
        final String name;
        final String args;
        final String result;

        Call(String tid, String name, String args, String result) {
            this.tid = tid;
            this.name = name;
            this.args = args;
            this.result = result.trim();
        }

        boolean opens(Path p) {
            return (name.equals("openat") || name.equals("open")) && args.contains("\"" + p + "\"");
        }

        int fd() {
            return Integer.parseInt(result.replaceAll("^=\\s*", "").split("\\s")[0]);
        }
    }

    private static final Pattern LINE = Pattern.compile("^(\\d+)\\s+(\\w+)\\((.*)\\)\\s+(=\\s+-?\\d+.*)$");
    // strace -f splits a call when another thread's call comes in between: "fsync(5 <unfinished ...>"
    // and later "<... fsync resumed>) = 0"
    private static final Pattern UNFINISHED = Pattern.compile("^(\\d+)\\s+(.*) <unfinished \\.\\.\\.>$");
    private static final Pattern RESUMED = Pattern.compile("^(\\d+)\\s+<\\.\\.\\. \\w+ resumed>(.*)$");

    @Test
    void metadataRenameAndJournalCreationAreFollowedByADirectoryFsync() throws Exception {
        Tools.require("strace");
        Path data = Files.createDirectories(dir.resolve("data")).toRealPath();
        Path trace = dir.resolve("trace.txt");
        String java = System.getProperty("java.home") + File.separator + "bin" + File.separator + "java";
        Tools.run(Duration.ofSeconds(90), "strace", "-f", "-qq", "-o", trace.toString(),
                "-e", "trace=open,openat,rename,renameat,renameat2,fsync,fdatasync",
                java, "-Xmx64m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
                "-cp", System.getProperty("java.class.path"), Probe.class.getName(), data.toString()).ok();

        List<Call> calls = new ArrayList<>();
        Map<String, String> unfinished = new HashMap<>(); // thread -> start of a call another thread interrupted
        for (String line : Files.readAllLines(trace)) {
            Matcher u = UNFINISHED.matcher(line);
            Matcher r = RESUMED.matcher(line);
            if (u.matches()) {
                unfinished.put(u.group(1), u.group(2));
                continue;
            }
            if (r.matches() && unfinished.containsKey(r.group(1))) {
                line = r.group(1) + " " + unfinished.remove(r.group(1)) + r.group(2);
            }
            Matcher m = LINE.matcher(line);
            if (m.matches()) {
                calls.add(new Call(m.group(1), m.group(2), m.group(3), m.group(4)));
            }
        }
        Path meta = DiskMeta.fileFor(data.resolve("vs1.img"));
        Path journal = UndoJournal.fileFor(data.resolve("vs1.img"));
        int renames = 0;
        for (int i = 0; i < calls.size(); i++) {
            Call c = calls.get(i);
            if (c.name.startsWith("rename") && c.args.endsWith("\"" + meta + "\"")) {
                renames++;
                assertDirectorySyncedAfter(calls, i, data, "rename of " + meta.getFileName() + " #" + renames);
            }
        }
        assertEquals(2, renames, "DiskMeta.save renames its temporary file into place each time");
        int created = -1;
        for (int i = 0; i < calls.size() && created < 0; i++) {
            if (calls.get(i).opens(journal) && calls.get(i).args.contains("O_CREAT")) {
                created = i;
            }
        }
        assertTrue(created >= 0, "UndoJournal.open did not create " + journal);
        assertDirectorySyncedAfter(calls, created, data, "creation of " + journal.getFileName());
    }

    /**
     * After calls[from], on the same thread and before its next rename or file creation, the
     * directory is opened and that descriptor fsync'd.
     */
    private static void assertDirectorySyncedAfter(List<Call> calls, int from, Path dir, String what) {
        String tid = calls.get(from).tid;
        int dirFd = -1;
        for (int i = from + 1; i < calls.size(); i++) {
            Call c = calls.get(i);
            if (!c.tid.equals(tid)) {
                continue;
            }
            if (c.name.startsWith("rename") || (c.name.startsWith("open") && c.args.contains("O_CREAT"))) {
                break; // the next durable step began without the directory being synced
            }
            if (c.opens(dir) && !c.result.startsWith("= -")) {
                dirFd = c.fd();
            } else if (dirFd >= 0 && c.name.equals("fsync") && c.args.equals(Integer.toString(dirFd))) {
                return;
            }
        }
        fail("no fsync of directory " + dir + " after the " + what);
    }
}
