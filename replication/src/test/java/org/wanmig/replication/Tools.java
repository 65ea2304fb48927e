package org.wanmig.replication;

import org.junit.jupiter.api.Assertions;
import org.junit.jupiter.api.Assumptions;

import java.io.ByteArrayOutputStream;
import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Arrays;
import java.util.concurrent.TimeUnit;

/** Runs the external (Debian) NBD clients. Missing tool: fail under CI, skip elsewhere. */
final class Tools {
    private Tools() {
    }

    static void require(String tool) {
        for (String dir : System.getenv().getOrDefault("PATH", "/usr/bin:/bin").split(File.pathSeparator)) {
            if (new File(dir, tool).canExecute()) {
                return;
            }
        }
        String msg = tool + " is not installed (Debian package: " + debianPackage(tool) + ")";
        if (System.getenv("CI") != null) {
            Assertions.fail(msg);
        }
        Assumptions.abort(msg);
    }

    private static String debianPackage(String tool) {
        switch (tool) {
            case "qemu-io":
            case "qemu-img": return "qemu-utils";
            case "nbdinfo":
            case "nbdcopy": return "libnbd-bin";
            default: return tool;
        }
    }

    /** Result of one external command; immutable. */
    static final class Result {
        final int exit;
        final String output;

        Result(int exit, String output) {
            this.exit = exit;
            this.output = output;
        }

        Result ok() {
            Assertions.assertEquals(0, exit, "command failed:\n" + output);
            return this;
        }
    }

    static Result run(Duration timeout, String... cmd) throws IOException, InterruptedException {
        require(cmd[0]);
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true);
        pb.environment().put("LANG", "C");
        Process p = pb.start();
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        Thread drain = new Thread(() -> {
            try (InputStream in = p.getInputStream()) {
                in.transferTo(out);
            } catch (IOException ignored) {
                // process gone
            }
        });
        drain.start();
        if (!p.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
            p.destroyForcibly();
            p.waitFor(5, TimeUnit.SECONDS);
            Assertions.fail("timed out after " + timeout + ": " + Arrays.toString(cmd));
        }
        drain.join(5000);
        return new Result(p.exitValue(), out.toString(StandardCharsets.UTF_8));
    }

    static Result qemuIo(String url, String... commands) throws IOException, InterruptedException {
        String[] cmd = new String[4 + 2 * commands.length];
        cmd[0] = "qemu-io";
        cmd[1] = "-f";
        cmd[2] = "raw";
        cmd[3] = url;
        for (int i = 0; i < commands.length; i++) {
            cmd[4 + 2 * i] = "-c";
            cmd[5 + 2 * i] = commands[i];
        }
        return run(Duration.ofSeconds(60), cmd);
    }
}
