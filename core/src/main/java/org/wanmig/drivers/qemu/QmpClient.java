package org.wanmig.drivers.qemu;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.BufferedReader;
import java.io.Closeable;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.lang.reflect.Method;
import java.net.InetSocketAddress;
import java.net.ProtocolFamily;
import java.net.Socket;
import java.net.SocketAddress;
import java.net.StandardProtocolFamily;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;

/**
 * A QEMU Machine Protocol client: one JSON object per line each way. Commands carry an "id" and
 * complete their future with "return" or fail with "error"; everything with an "event" goes to
 * the event consumer. One daemon reader thread per connection, so no caller ever blocks on QEMU.
 */
public final class QmpClient implements Closeable {
    private static final Logger log = LoggerFactory.getLogger(QmpClient.class);
    private static final ObjectMapper MAPPER = new ObjectMapper();
    /** Bounds one line from QEMU: query-migrate and events are a few hundred bytes. */
    private static final int MAX_LINE = 1 << 20;

    private final String address;
    private final Closeable channel;
    private final OutputStream out;
    private final BufferedReader in;
    private final Consumer<JsonNode> events;
    /**
     * Events go to their handler on a thread of their own, in order: a handler may then run a
     * command and wait for its answer, which only the reader thread can deliver.
     */
    private final ExecutorService eventThread;
    private final Map<Long, CompletableFuture<JsonNode>> pending = new ConcurrentHashMap<>();
    private final AtomicLong ids = new AtomicLong();
    private final CompletableFuture<Void> closed = new CompletableFuture<>();

    private QmpClient(String address, Closeable channel, OutputStream out, BufferedReader in,
                      Consumer<JsonNode> events) {
        this.address = address;
        this.channel = channel;
        this.out = out;
        this.in = in;
        this.events = events;
        this.eventThread = Executors.newSingleThreadExecutor(r -> {
            Thread t = new Thread(r, "qmp-events-" + address);
            t.setDaemon(true);
            return t;
        });
    }

    /**
     * Connects to {@code tcp:HOST:PORT} or {@code unix:PATH}, reads the greeting and leaves
     * capabilities negotiation mode, all within {@code timeout} (a peer that accepts and says
     * nothing is cut then, on either kind of socket). Blocks: call it off any lifecycle thread.
     */
    public static QmpClient connect(String address, Duration timeout, Consumer<JsonNode> events) throws IOException {
        Closeable channel;
        OutputStream out;
        BufferedReader in;
        if (address.startsWith("tcp:")) {
            String hostPort = address.substring(4);
            int colon = hostPort.lastIndexOf(':');
            if (colon < 0) {
                throw new IOException("QMP address " + address + ": expected tcp:HOST:PORT");
            }
            Socket s = new Socket();
            s.connect(new InetSocketAddress(hostPort.substring(0, colon),
                    Integer.parseInt(hostPort.substring(colon + 1))), (int) timeout.toMillis());
            s.setTcpNoDelay(true);
            channel = s;
            out = s.getOutputStream();
            in = new BufferedReader(new InputStreamReader(s.getInputStream(), StandardCharsets.UTF_8));
        } else if (address.startsWith("unix:")) {
            SocketChannel ch = openUnix(address.substring(5));
            channel = ch;
            // not Channels.newInputStream/newOutputStream: both take the channel's blocking lock, so
            // the reader thread waiting for an event would block every command sent
            out = new OutputStream() {
                @Override
                public void write(int b) throws IOException {
                    write(new byte[] {(byte) b}, 0, 1);
                }

                @Override
                public void write(byte[] b, int off, int len) throws IOException {
                    ByteBuffer buf = ByteBuffer.wrap(b, off, len);
                    while (buf.hasRemaining()) {
                        ch.write(buf);
                    }
                }
            };
            in = new BufferedReader(new InputStreamReader(new InputStream() {
                @Override
                public int read() throws IOException {
                    byte[] one = new byte[1];
                    return read(one, 0, 1) < 0 ? -1 : one[0] & 0xff;
                }

                @Override
                public int read(byte[] b, int off, int len) throws IOException {
                    return len == 0 ? 0 : ch.read(ByteBuffer.wrap(b, off, len));
                }
            }, StandardCharsets.UTF_8));
        } else {
            throw new IOException("QMP address " + address + ": expected tcp:HOST:PORT or unix:PATH");
        }
        QmpClient c = new QmpClient(address, channel, out, in, events);
        // the deadline closes the socket, which ends a blocked read on either kind of channel
        CompletableFuture<Void> handshake = new CompletableFuture<>();
        handshake.orTimeout(timeout.toMillis(), TimeUnit.MILLISECONDS).whenComplete((x, e) -> {
            if (e != null) {
                c.closeQuietly();
            }
        });
        try {
            JsonNode greeting = c.readLine();
            // QEMU does not clear a monitor's output when its client goes: events queued for a
            // client that died (a predecessor's) reach the next one before its greeting
            while (greeting != null && greeting.has("event") && !greeting.has("QMP")) {
                greeting = c.readLine();
            }
            if (greeting == null || !greeting.has("QMP")) {
                throw new IOException("QMP " + address + ": no greeting, got " + greeting);
            }
            c.send("qmp_capabilities", null, 0);
            JsonNode reply = c.readLine();
            while (reply != null && reply.has("event")) {
                reply = c.readLine();
            }
            if (reply == null || !reply.has("return")) {
                throw new IOException("QMP " + address + ": qmp_capabilities refused: " + reply);
            }
        } catch (IOException | RuntimeException e) {
            c.closeQuietly();
            if (handshake.isCompletedExceptionally()) {
                throw new IOException("QMP " + address + ": no handshake within " + timeout, e);
            }
            throw e;
        }
        if (!handshake.complete(null)) {
            c.closeQuietly();   // the deadline fired just as the handshake ended
            throw new IOException("QMP " + address + ": no handshake within " + timeout);
        }
        Thread reader = new Thread(c::readLoop, "qmp-" + address);
        reader.setDaemon(true);
        reader.start();
        return c;
    }

    /** Unix sockets arrived in Java 16; ONOS 2.7 runs on 11, where only tcp: addresses work. */
    private static SocketChannel openUnix(String path) throws IOException {
        try {
            Class<?> addressClass = Class.forName("java.net.UnixDomainSocketAddress");
            Method of = addressClass.getMethod("of", String.class);
            SocketAddress address = (SocketAddress) of.invoke(null, path);
            ProtocolFamily unix = StandardProtocolFamily.valueOf("UNIX");
            Method open = SocketChannel.class.getMethod("open", ProtocolFamily.class);
            SocketChannel ch = (SocketChannel) open.invoke(null, unix);
            ch.connect(address);
            return ch;
        } catch (ReflectiveOperationException | IllegalArgumentException e) {
            throw new IOException("unix:" + path + ": unix sockets need Java 16 or later; use a tcp: QMP address", e);
        }
    }

    /** Runs a command; the future completes with its "return" value or fails with QEMU's error. */
    public CompletableFuture<JsonNode> execute(String command, ObjectNode arguments) {
        long id = ids.incrementAndGet();
        CompletableFuture<JsonNode> reply = new CompletableFuture<>();
        pending.put(id, reply);
        if (closed.isDone()) {
            pending.remove(id);
            reply.completeExceptionally(new IOException("QMP " + address + " is closed"));
            return reply;
        }
        try {
            send(command, arguments, id);
        } catch (IOException e) {
            pending.remove(id);
            reply.completeExceptionally(e);
        }
        return reply;
    }

    /** Like {@link #execute} but waits, for callers on their own threads (tests, agents). */
    public JsonNode call(String command, ObjectNode arguments, Duration timeout) throws IOException {
        try {
            return execute(command, arguments).get(timeout.toMillis(), TimeUnit.MILLISECONDS);
        } catch (java.util.concurrent.ExecutionException e) {
            throw new IOException(command + ": " + e.getCause().getMessage(), e.getCause());
        } catch (java.util.concurrent.TimeoutException e) {
            throw new IOException(command + ": no answer from " + address + " within " + timeout);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException(command + ": interrupted");
        }
    }

    /** Completes when the connection ends (QEMU quit, or {@link #close()}). */
    public CompletableFuture<Void> closed() {
        return closed;
    }

    public static ObjectNode args() {
        return MAPPER.createObjectNode();
    }

    private synchronized void send(String command, ObjectNode arguments, long id) throws IOException {
        ObjectNode msg = MAPPER.createObjectNode().put("execute", command);
        if (arguments != null) {
            msg.set("arguments", arguments);
        }
        if (id > 0) {
            msg.put("id", id);
        }
        out.write((msg + "\n").getBytes(StandardCharsets.UTF_8));
        out.flush();
    }

    private JsonNode readLine() throws IOException {
        StringBuilder line = new StringBuilder();
        int c;
        while ((c = in.read()) != -1 && c != '\n') {
            if (line.length() >= MAX_LINE) {
                throw new IOException("QMP " + address + ": line longer than " + MAX_LINE);
            }
            line.append((char) c);
        }
        if (c == -1 && line.length() == 0) {
            return null;
        }
        return MAPPER.readTree(line.toString());
    }

    private void readLoop() {
        IOException failure = null;
        try {
            JsonNode msg;
            while ((msg = readLine()) != null) {
                if (msg.has("event")) {
                    JsonNode event = msg;
                    try {
                        eventThread.execute(() -> {
                            try {
                                events.accept(event);
                            } catch (RuntimeException e) {
                                log.warn("QMP {}: event handler failed on {}", address, event.path("event").asText(), e);
                            }
                        });
                    } catch (RejectedExecutionException e) {
                        log.debug("QMP {}: {} after close, dropped", address, event.path("event").asText());
                    }
                    continue;
                }
                CompletableFuture<JsonNode> reply = msg.has("id") ? pending.remove(msg.get("id").asLong()) : null;
                if (reply == null) {
                    continue;
                }
                if (msg.has("error")) {
                    JsonNode err = msg.get("error");
                    reply.completeExceptionally(new QmpException(err.path("class").asText(),
                            err.path("desc").asText()));
                } else {
                    reply.complete(msg.path("return"));
                }
            }
        } catch (IOException e) {
            failure = e;
        } finally {
            IOException why = failure != null ? failure : new IOException("QMP " + address + " closed");
            pending.values().forEach(f -> f.completeExceptionally(why));
            pending.clear();
            closed.complete(null);
            closeQuietly();
        }
    }

    @Override
    public void close() {
        closeQuietly();
    }

    private void closeQuietly() {
        eventThread.shutdown();   // events already read are still handed over
        try {
            channel.close();
        } catch (IOException e) {
            log.debug("QMP {}: close: {}", address, e.getMessage());
        }
    }

    /** An error QEMU answered with, e.g. class GenericError. */
    public static final class QmpException extends IOException {
        private final String errorClass;

        public QmpException(String errorClass, String description) {
            super(errorClass + ": " + description);
            this.errorClass = errorClass;
        }

        public String errorClass() {
            return errorClass;
        }
    }
}
