package org.wanmig.testing;

import java.util.concurrent.atomic.AtomicBoolean;

/**
 * Real processes a test starts (QEMU) go with the test JVM when it is stopped from outside:
 * surefire's timeout or a Ctrl-C ends the JVM before any {@code @AfterEach}, and a QEMU the test
 * had stopped with SIGSTOP would otherwise stay behind.
 */
public final class ChildProcesses {
    private static final AtomicBoolean HOOKED = new AtomicBoolean();

    private ChildProcesses() {
    }

    /** Kills every process this JVM started, and theirs, when the JVM exits (not on SIGKILL). */
    public static void killAtExit() {
        if (HOOKED.compareAndSet(false, true)) {
            Runtime.getRuntime().addShutdownHook(new Thread(
                    () -> ProcessHandle.current().descendants().forEach(ProcessHandle::destroyForcibly),
                    "kill-test-children"));
        }
    }
}
