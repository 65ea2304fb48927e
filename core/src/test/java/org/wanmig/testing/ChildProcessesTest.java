package org.wanmig.testing;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** A JVM stopped with SIGTERM takes a process it started, and stopped with SIGSTOP, with it. */
class ChildProcessesTest {

    /** The test JVM's stand-in: starts a sleep, stops it, prints its pid, waits. */
    public static final class Child {
        public static void main(String[] args) throws Exception {
            if (args.length > 0) {
                ChildProcesses.killAtExit();
            }
            Process sleep = new ProcessBuilder("sleep", "300").start();
            new ProcessBuilder("kill", "-STOP", Long.toString(sleep.pid())).start().waitFor();
            System.out.println(sleep.pid());
            System.out.flush();
            Thread.sleep(300_000);
        }
    }

    private static long grandchildOfAJvmEndedWithSigterm(boolean hooked) throws Exception {
        String java = ProcessHandle.current().info().command().orElse("java");
        ProcessBuilder b = hooked
                ? new ProcessBuilder(java, "-cp", System.getProperty("java.class.path"), Child.class.getName(), "hook")
                : new ProcessBuilder(java, "-cp", System.getProperty("java.class.path"), Child.class.getName());
        Process jvm = b.redirectErrorStream(true).start();
        try (BufferedReader out = new BufferedReader(new InputStreamReader(jvm.getInputStream(),
                StandardCharsets.UTF_8))) {
            long pid = Long.parseLong(out.readLine().trim());
            jvm.destroy();   // SIGTERM
            assertTrue(jvm.waitFor(30, TimeUnit.SECONDS), "the child JVM ended");
            return pid;
        }
    }

    @Test
    @Timeout(120)
    void aStoppedGrandchildGoesWithTheJvmThatStartedIt() throws Exception {
        long pid = grandchildOfAJvmEndedWithSigterm(true);
        long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false) && System.nanoTime() < end) {
            Thread.sleep(50);
        }
        assertFalse(ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false), "sleep " + pid + " killed");
    }

    @Test
    @Timeout(120)
    void withoutItTheGrandchildStaysBehind() throws Exception {
        long pid = grandchildOfAJvmEndedWithSigterm(false);
        try {
            Thread.sleep(500);
            assertTrue(ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false),
                    "what the hook is for: the stopped sleep outlives its JVM");
        } finally {
            ProcessHandle.of(pid).ifPresent(ProcessHandle::destroyForcibly);
        }
    }
}
