package org.wanmig.replication;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.BufferedReader;
import java.io.File;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** One agent as a real process (so it can be killed with SIGKILL), its log appended to a file. */
final class AgentProcess implements AutoCloseable {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Pattern UP = Pattern.compile("agent up: nbd=(\\d+) peer=(\\d+) control=(\\d+)");
    private static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

    private final Path dir;
    private final String role;
    private final long size;
    private final int peerProxyPort;
    private Process process;
    int nbd;
    int peer;
    int control;

    AgentProcess(Path dir, String role, long size, int peerProxyPort) {
        this.dir = dir;
        this.role = role;
        this.size = size;
        this.peerProxyPort = peerProxyPort;
    }

    Path image() { return dir.resolve("vs1.img"); }
    Path log() { return dir.resolve("agent.log"); }

    void start() throws IOException, InterruptedException {
        Files.createDirectories(dir);
        String java = System.getProperty("java.home") + File.separator + "bin" + File.separator + "java";
        process = new ProcessBuilder(java, "-Xmx192m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
                "-cp", System.getProperty("java.class.path"), "org.wanmig.replication.agent.AgentMain",
                "--nbd", "127.0.0.1:0", "--peer-listen", "127.0.0.1:0", "--control", "127.0.0.1:0",
                "--peer", "127.0.0.1:" + peerProxyPort, "--token", AgentPair.TOKEN, "--psk", AgentPair.PSK,
                "--disk", "name=vs1,image=" + image() + ",size=" + size + ",role=" + role)
                .redirectErrorStream(true).start();
        BufferedReader r = new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8));
        OutputStream logOut = Files.newOutputStream(log(), StandardOpenOption.CREATE, StandardOpenOption.APPEND);
        logOut.write(("---- start " + role + " ----\n").getBytes(StandardCharsets.UTF_8));
        Matcher m = null;
        for (String line; (line = r.readLine()) != null; ) {
            logOut.write((line + "\n").getBytes(StandardCharsets.UTF_8));
            Matcher x = UP.matcher(line);
            if (x.find()) {
                m = x;
                break;
            }
        }
        logOut.flush();
        if (m == null) {
            logOut.close();
            throw new IOException("agent did not start, see " + log());
        }
        nbd = Integer.parseInt(m.group(1));
        peer = Integer.parseInt(m.group(2));
        control = Integer.parseInt(m.group(3));
        Thread drain = new Thread(() -> {
            try (logOut; r) {
                for (String line; (line = r.readLine()) != null; ) {
                    logOut.write((line + "\n").getBytes(StandardCharsets.UTF_8));
                    logOut.flush();
                }
            } catch (IOException ignored) {
                // process gone
            }
        }, "agent-log-" + dir.getFileName());
        drain.setDaemon(true);
        drain.start();
    }

    /** SIGKILL: no shutdown hook runs, nothing is flushed or saved. */
    void kill9() throws InterruptedException {
        process.destroyForcibly();
        process.waitFor(20, TimeUnit.SECONDS);
    }

    /** (status code, JSON body) of a control call. */
    JsonNode call(String method, String path, String body, int expect) throws IOException, InterruptedException {
        HttpRequest.Builder rb = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + control + path))
                .timeout(Duration.ofSeconds(60)).header("Authorization", "Bearer " + AgentPair.TOKEN);
        rb = body == null ? rb.method(method, HttpRequest.BodyPublishers.noBody())
                : rb.method(method, HttpRequest.BodyPublishers.ofString(body));
        HttpResponse<String> resp = HTTP.send(rb.build(), HttpResponse.BodyHandlers.ofString());
        if (resp.statusCode() != expect) {
            throw new AssertionError(method + " " + path + " -> " + resp.statusCode() + " " + resp.body());
        }
        return JSON.readTree(resp.body());
    }

    JsonNode status() throws IOException, InterruptedException {
        return call("GET", "/v1/disks/vs1", null, 200);
    }

    @Override
    public void close() throws InterruptedException {
        if (process != null && process.isAlive()) {
            process.destroy();
            if (!process.waitFor(15, TimeUnit.SECONDS)) {
                process.destroyForcibly();
                process.waitFor(10, TimeUnit.SECONDS);
            }
        }
    }
}
