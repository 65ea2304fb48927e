package org.wanmig.replication.control;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import jakarta.servlet.AsyncContext;
import jakarta.servlet.ReadListener;
import jakarta.servlet.ServletInputStream;
import jakarta.servlet.http.HttpServlet;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import org.eclipse.jetty.http.HttpFields;
import org.eclipse.jetty.http.UriCompliance;
import org.eclipse.jetty.io.Connection;
import org.eclipse.jetty.server.ConnectionLimit;
import org.eclipse.jetty.server.HttpConfiguration;
import org.eclipse.jetty.server.HttpConnection;
import org.eclipse.jetty.server.HttpConnectionFactory;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.SecureRequestCustomizer;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import org.eclipse.jetty.server.SslConnectionFactory;
import org.eclipse.jetty.server.handler.ErrorHandler;
import org.eclipse.jetty.servlet.ServletContextHandler;
import org.eclipse.jetty.servlet.ServletHolder;
import org.eclipse.jetty.util.ssl.SslContextFactory;
import org.eclipse.jetty.util.thread.QueuedThreadPool;
import org.wanmig.replication.core.DiskStatus;
import org.wanmig.replication.core.Mode;
import org.wanmig.replication.net.LogSafe;
import org.wanmig.replication.net.SafeJson;

import javax.net.ssl.SSLContext;
import java.io.ByteArrayOutputStream;
import java.io.Closeable;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.Locale;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.SynchronousQueue;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Supplier;
import java.util.logging.Level;
import java.util.logging.Logger;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * HTTP/JSON control API (the contract the MMS client calls), served by embedded Jetty. Every request
 * needs "Authorization: Bearer &lt;token&gt;". Routing and validation live here; the operations are
 * delegated to {@link ReplicationControl}.
 *
 * <p>Limits: a connection cap; request headers (8 KiB) must be complete within the header timeout
 * of a connection's first request, bodies (64 KiB) within the body timeout, and idle connections
 * are closed. Bodies are read asynchronously, so a slow sender holds no worker thread. Operations
 * that can wait (wait-sync, promote, demote) run on their own pool, never on a Jetty worker, so
 * status calls are answered whatever is waiting. Paths are decoded strictly: encoded separators
 * ("%2F", "%5C") and other ambiguous forms are refused with 400. JSON bodies are parsed with a
 * bounded nesting depth and trailing content is rejected.
 */
public final class ControlServer implements Closeable {
    private static final Logger LOG = Logger.getLogger(ControlServer.class.getName());
    private static final ObjectMapper JSON = SafeJson.MAPPER;
    private static final Pattern DISK = Pattern.compile("^/v1/disks/([^/]+)$");
    private static final Pattern ACTION = Pattern.compile("^/v1/disks/([^/]+)/(mode|wait-sync|promote|demote)$");
    private static final Pattern AMBIGUOUS = Pattern.compile("%(2f|5c|00|25)|\\\\", Pattern.CASE_INSENSITIVE);
    private static final Pattern TAKEOVER_ID = Pattern.compile("[A-Za-z0-9._:@-]{1,128}");
    static final int MAX_BODY = 64 * 1024;
    /**
     * A body over MAX_BODY but under this is read to its end and dropped before the 400: answering
     * while the client still sends, then closing, resets the connection, and the reset can reach
     * the client before it has read the answer (seen: "header parser received no bytes"). Larger
     * ones are answered at once.
     */
    static final int MAX_DRAINED_BODY = 1 << 20;
    private static final long MAX_WAIT_MS = 3_600_000;
    private static final int HEADER_BYTES = 8 * 1024;

    private final Server server;
    private final ServerConnector connector;
    private final ThreadPoolExecutor longOps;
    private final ScheduledExecutorService timer;
    private final ReplicationControl control;
    private final byte[] token;
    private final Options options;
    private final Supplier<Integer> takeOverPort;

    /** Limits and TLS of the control API. */
    public static final class Options {
        final int maxConnections;
        final int idleTimeoutMs;
        final int headerTimeoutMs;
        final int bodyTimeoutMs;
        final SSLContext tls;

        public Options(int maxConnections, int idleTimeoutMs, int headerTimeoutMs, int bodyTimeoutMs, SSLContext tls) {
            this.maxConnections = maxConnections;
            this.idleTimeoutMs = idleTimeoutMs;
            this.headerTimeoutMs = headerTimeoutMs;
            this.bodyTimeoutMs = bodyTimeoutMs;
            this.tls = tls;
        }

        public static Options defaults() {
            return new Options(64, 30_000, 10_000, 10_000, null);
        }

        /** From the agent's transport settings: HTTPS if controlTls, deadlines from the shared keys. */
        public static Options of(org.wanmig.replication.agent.TransportConfig t) {
            return new Options(t.maxControlConnections(), t.controlIdleTimeoutMs(), t.handshakeTimeoutMs(),
                    t.frameTimeoutMs(), t.controlTls() ? t.tls() : null);
        }
    }

    public ControlServer(InetSocketAddress bind, String token, ReplicationControl control) throws IOException {
        this(bind, token, control, Options.defaults());
    }

    public ControlServer(InetSocketAddress bind, String token, ReplicationControl control, Options options)
            throws IOException {
        this(bind, token, control, options, () -> null);
    }

    /**
     * takeOverPort: the take-over channel's port, or null while it is off; the take-over check
     * answers it as "takeOverPort", which is how the MMS learns it.
     */
    public ControlServer(InetSocketAddress bind, String token, ReplicationControl control, Options options,
                         Supplier<Integer> takeOverPort) throws IOException {
        this.control = control;
        this.takeOverPort = takeOverPort;
        this.options = options;
        this.token = ("Bearer " + token).getBytes(StandardCharsets.UTF_8);
        // Long operations: one thread each, as many as connections can carry them; never a Jetty worker.
        // Two stay started: the checks before a move need not wait for a thread to be made.
        longOps = new ThreadPoolExecutor(Math.min(2, options.maxConnections), options.maxConnections, 30,
                TimeUnit.SECONDS, new SynchronousQueue<>(), r -> {
                    Thread t = new Thread(r, "control-wait");
                    t.setDaemon(true);
                    return t;
                });
        longOps.prestartAllCoreThreads();
        ScheduledThreadPoolExecutor st = new ScheduledThreadPoolExecutor(1, r -> {
            Thread t = new Thread(r, "control-deadlines");
            t.setDaemon(true);
            return t;
        });
        st.setRemoveOnCancelPolicy(true);
        timer = st;

        QueuedThreadPool pool = new QueuedThreadPool(24, 4);
        pool.setName("control-http");
        pool.setDaemon(true);
        server = new Server(pool);
        HttpConfiguration hc = new HttpConfiguration();
        hc.setRequestHeaderSize(HEADER_BYTES);
        hc.setSendServerVersion(false);
        hc.setSendXPoweredBy(false);
        hc.setUriCompliance(UriCompliance.DEFAULT); // no ambiguous separators, segments, encodings
        HttpConnectionFactory http = new HttpConnectionFactory(hc);
        if (options.tls != null) {
            SecureRequestCustomizer src = new SecureRequestCustomizer();
            src.setSniHostCheck(false); // clients reach agents by IP address; the CA decides trust
            hc.addCustomizer(src);
            SslContextFactory.Server ssl = new SslContextFactory.Server();
            ssl.setSslContext(options.tls);
            ssl.setIncludeProtocols("TLSv1.3");
            connector = new ServerConnector(server, 1, 1, new SslConnectionFactory(ssl, http.getProtocol()), http);
        } else {
            connector = new ServerConnector(server, 1, 1, http);
        }
        connector.setHost(bind.getAddress() == null ? bind.getHostString() : bind.getAddress().getHostAddress());
        connector.setPort(bind.getPort());
        connector.setIdleTimeout(options.idleTimeoutMs);
        connector.setAcceptQueueSize(64);
        connector.addBean(new HeaderDeadline());
        server.addConnector(connector);
        server.addBean(new ConnectionLimit(options.maxConnections, connector));
        server.setErrorHandler(new JsonErrorHandler());

        ServletContextHandler ctx = new ServletContextHandler(ServletContextHandler.NO_SESSIONS);
        ctx.setContextPath("/");
        ctx.setErrorHandler(new JsonErrorHandler());
        ServletHolder holder = new ServletHolder(new ApiServlet());
        holder.setAsyncSupported(true);
        ctx.addServlet(holder, "/*");
        server.setHandler(ctx);
        server.setStopTimeout(1000);
        try {
            server.start();
        } catch (Exception e) {
            close();
            throw new IOException("control API cannot listen on " + bind + ": " + e.getMessage(), e);
        }
        LOG.info("control API listening on " + bind.getHostString() + ":" + port()
                + (options.tls != null ? " (HTTPS)" : ""));
    }

    public int port() {
        return connector.getLocalPort();
    }

    /** Closes a connection whose first request's header is not complete within the header timeout. */
    private final class HeaderDeadline implements Connection.Listener {
        @Override
        public void onOpened(Connection c) {
            if (!(c instanceof HttpConnection)) {
                return;
            }
            HttpConnection hc = (HttpConnection) c;
            timer.schedule(() -> {
                if (hc.getMessagesIn() == 0 && hc.getEndPoint().isOpen()) {
                    LOG.fine("control: request header not complete in time from " + hc.getEndPoint().getRemoteSocketAddress());
                    hc.getEndPoint().close();
                }
            }, options.headerTimeoutMs, TimeUnit.MILLISECONDS);
        }

        @Override
        public void onClosed(Connection c) {
            // nothing: the check above finds the endpoint closed
        }
    }

    /** Jetty's own errors (bad URI, header too large, ...) as the API's JSON error shape. */
    private static final class JsonErrorHandler extends ErrorHandler {
        @Override
        public ByteBuffer badMessageError(int status, String reason, HttpFields.Mutable fields) {
            fields.put("Content-Type", "application/json");
            return ByteBuffer.wrap(errorBody(reason == null ? "bad request" : reason, null));
        }

        @Override
        public void handle(String target, Request baseRequest, HttpServletRequest request,
                           HttpServletResponse response) throws IOException {
            int code = response.getStatus();
            Object msg = request.getAttribute("jakarta.servlet.error.message");
            byte[] b = errorBody(msg == null ? "error " + code : msg.toString(), null);
            response.setContentType("application/json");
            response.setContentLength(b.length);
            response.getOutputStream().write(b);
            baseRequest.setHandled(true);
        }
    }

    private static byte[] errorBody(String msg, String field) {
        ObjectNode o = JSON.createObjectNode();
        o.put("error", msg);
        if (field != null) {
            o.put("field", field);
        }
        try {
            return JSON.writeValueAsBytes(o);
        } catch (IOException e) {
            return "{\"error\":\"internal\"}".getBytes(StandardCharsets.UTF_8);
        }
    }

    static final class BadRequest extends RuntimeException {
        final String field;

        BadRequest(String msg, String field) {
            super(msg);
            this.field = field;
        }
    }

    private static final class MethodNotAllowed extends RuntimeException {
        MethodNotAllowed(String msg) {
            super(msg);
        }
    }

    private interface Action {
        void run() throws IOException, InterruptedException;
    }

    /** One request in flight: answered exactly once, then completed. */
    private final class Call {
        final AsyncContext ac;
        final HttpServletRequest req;
        final HttpServletResponse resp;
        final AtomicBoolean answered = new AtomicBoolean();
        final long arrived = System.nanoTime();

        Call(AsyncContext ac) {
            this.ac = ac;
            this.req = (HttpServletRequest) ac.getRequest();
            this.resp = (HttpServletResponse) ac.getResponse();
        }

        /** Runs an action that answers; maps the API's exceptions to status codes. */
        void guarded(Action a) {
            try {
                a.run();
            } catch (ReplicationControl.NoSuchDiskException e) {
                error(404, e.getMessage(), null);
            } catch (ReplicationControl.ConflictException e) {
                error(409, e.getMessage(), null);
            } catch (MethodNotAllowed e) {
                resp.setHeader("Allow", e.getMessage());
                error(405, "method not allowed", null);
            } catch (BadRequest e) {
                error(400, e.getMessage(), e.field);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                error(503, "interrupted", null);
            } catch (IOException | RuntimeException e) {
                LOG.log(Level.WARNING, "control request failed: " + LogSafe.escape(e.toString()));
                error(500, "internal error: " + e, null);
            }
        }

        void json(int code, JsonNode body) {
            try {
                send(code, "application/json", JSON.writeValueAsBytes(body));
            } catch (IOException e) {
                send(500, "application/json", errorBody("cannot encode response", null));
            }
        }

        void error(int code, String msg, String field) {
            send(code, "application/json", errorBody(msg, field));
        }

        void send(int code, String type, byte[] body) {
            if (!answered.compareAndSet(false, true)) {
                return;
            }
            try {
                resp.setStatus(code);
                resp.setContentType(type);
                resp.setContentLength(body.length);
                resp.getOutputStream().write(body);
            } catch (IOException | IllegalStateException e) {
                LOG.fine("control: cannot answer: " + e);
            } finally {
                try {
                    ac.complete();
                } catch (IllegalStateException ignored) {
                    // already completed (connection gone)
                }
            }
        }
    }

    private final class ApiServlet extends HttpServlet {
        @Override
        protected void service(HttpServletRequest req, HttpServletResponse resp) {
            AsyncContext ac = req.startAsync();
            ac.setTimeout(0); // our own deadlines below; wait-sync may legitimately take an hour
            Call call = new Call(ac);
            call.guarded(() -> begin(call));
        }
    }

    private void begin(Call call) throws IOException {
        HttpServletRequest req = call.req;
        String auth = req.getHeader("Authorization");
        if (auth == null || !MessageDigest.isEqual(auth.getBytes(StandardCharsets.UTF_8), token)) {
            call.resp.setHeader("WWW-Authenticate", "Bearer");
            call.error(401, "unauthorized", null);
            return;
        }
        String raw = req.getRequestURI();
        if (raw == null || AMBIGUOUS.matcher(raw).find()) {
            call.error(400, "ambiguous path: encoded separators are not accepted", null);
            return;
        }
        String path = (req.getServletPath() == null ? "" : req.getServletPath())
                + (req.getPathInfo() == null ? "" : req.getPathInfo());
        String method = req.getMethod();
        if (path.equals("/metrics")) {
            requireMethod(method, "GET");
            call.send(200, "text/plain; version=0.0.4; charset=utf-8",
                    Metrics.render(control.counters()).getBytes(StandardCharsets.UTF_8));
            return;
        }
        if (path.equals("/v1/disks")) {
            requireMethod(method, "GET");
            call.json(200, JSON.valueToTree(control.list()));
            return;
        }
        Matcher m = DISK.matcher(path);
        if (m.matches()) {
            requireMethod(method, "GET");
            call.json(200, JSON.valueToTree(control.status(m.group(1))));
            return;
        }
        m = ACTION.matcher(path);
        if (!m.matches()) {
            call.error(404, "no such resource: " + path, null);
            return;
        }
        requireMethod(method, "POST");
        String disk = m.group(1);
        String action = m.group(2);
        control.status(disk); // 404 before looking at the body
        String field = action.equals("mode") ? "mode" : null;
        long declared = req.getContentLengthLong();
        if (declared > MAX_DRAINED_BODY) {
            throw new BadRequest("request body too large", field);
        }
        readBody(call, field, body -> act(call, disk, action, body));
    }

    private interface BodyHandler {
        void accept(JsonNode body) throws IOException, InterruptedException;
    }

    /** Reads the body without holding a thread while bytes trickle in; bounded in size and time. */
    private void readBody(Call call, String field, BodyHandler then) throws IOException {
        ServletInputStream in = call.req.getInputStream();
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        ScheduledFuture<?> deadline = timer.schedule(() -> call.error(408, "request body not received in time", field),
                options.bodyTimeoutMs, TimeUnit.MILLISECONDS);
        in.setReadListener(new ReadListener() {
            private final byte[] chunk = new byte[8192];
            private long dropped;   // bytes read past MAX_BODY: too large, read on to the end (MAX_DRAINED_BODY)

            @Override
            public void onDataAvailable() throws IOException {
                while (in.isReady() && !in.isFinished()) {
                    int n = in.read(chunk);
                    if (n < 0) {
                        break;
                    }
                    if (dropped == 0 && buf.size() + n <= MAX_BODY) {
                        buf.write(chunk, 0, n);
                        continue;
                    }
                    dropped += n;
                    if (buf.size() + dropped > MAX_DRAINED_BODY) {
                        deadline.cancel(false);
                        call.error(400, "request body too large", field);
                        return;
                    }
                }
            }

            @Override
            public void onAllDataRead() {
                deadline.cancel(false);
                if (call.answered.get()) {
                    return;
                }
                if (dropped > 0) {
                    call.error(400, "request body too large", field);
                    return;
                }
                call.guarded(() -> then.accept(parseBody(buf.toByteArray(), field)));
            }

            @Override
            public void onError(Throwable t) {
                deadline.cancel(false);
                if (t instanceof java.util.concurrent.TimeoutException) { // the idle timeout came first
                    call.error(408, "request body not received in time", field);
                } else {
                    call.error(400, "request body not received: " + LogSafe.escape(String.valueOf(t.getMessage())), field);
                }
            }
        });
    }

    private void act(Call call, String disk, String action, JsonNode body) throws InterruptedException {
        switch (action) {
            case "mode": {
                JsonNode mv = body.get("mode");
                Mode mode = mv != null && mv.isTextual() ? Mode.parse(mv.asText()) : null;
                if (mode == null) {
                    throw new BadRequest("mode must be \"SYNC\" or \"ASYNC\"", "mode");
                }
                call.json(200, JSON.valueToTree(control.setMode(disk, mode)));
                return;
            }
            case "wait-sync": {
                long timeout = 30_000;
                JsonNode t = body.get("timeoutMs");
                if (t != null) {
                    if (!t.canConvertToLong() || !t.isIntegralNumber() || t.asLong() < 0 || t.asLong() > MAX_WAIT_MS) {
                        throw new BadRequest("timeoutMs must be an integer between 0 and " + MAX_WAIT_MS, "timeoutMs");
                    }
                    timeout = t.asLong();
                }
                long wait = timeout;
                // The connection is quiet while we wait: keep Jetty's idle timeout from closing it.
                Request base = Request.getBaseRequest(call.req);
                if (base != null) {
                    base.getHttpChannel().getEndPoint().setIdleTimeout(wait + options.idleTimeoutMs);
                }
                onLongPool(call, () -> {
                    DiskStatus s = control.waitSync(disk, wait);
                    if (base != null) {
                        base.getHttpChannel().getEndPoint().setIdleTimeout(options.idleTimeoutMs);
                    }
                    if (s.inSync()) {
                        call.json(200, JSON.valueToTree(s));
                    } else {
                        ObjectNode o = JSON.createObjectNode();
                        o.put("error", "timeout");
                        o.setAll((ObjectNode) JSON.valueToTree(s));
                        call.json(408, o);
                    }
                });
                return;
            }
            case "promote": {
                JsonNode f = body.get("force");
                if (f != null && !f.isBoolean()) {
                    throw new BadRequest("force must be a boolean", "force");
                }
                boolean force = f != null && f.asBoolean();
                // takeover: the switchover inside a hypervisor's pause (see ReplicationControl.takeOver)
                JsonNode t = body.get("takeover");
                if (t != null && !t.isBoolean()) {
                    throw new BadRequest("takeover must be a boolean", "takeover");
                }
                boolean takeover = t != null && t.asBoolean();
                if (force && takeover) {
                    throw new BadRequest("force and takeover exclude each other", "takeover");
                }
                // check: the take-over's checks before the move, changing nothing
                JsonNode c = body.get("check");
                if (c != null && !c.isBoolean()) {
                    throw new BadRequest("check must be a boolean", "check");
                }
                boolean check = c != null && c.asBoolean();
                if (check && !takeover) {
                    throw new BadRequest("check needs takeover", "check");
                }
                // takeoverId: names the take-over, so that the same one asked again is answered as done
                JsonNode id = body.get("takeoverId");
                if (id != null && (!id.isTextual() || !TAKEOVER_ID.matcher(id.asText()).matches())) {
                    throw new BadRequest("takeoverId must be 1 to 128 of A-Z a-z 0-9 . _ : @ -", "takeoverId");
                }
                if (id != null && !takeover) {
                    throw new BadRequest("takeoverId needs takeover", "takeoverId");
                }
                String takeOverId = id == null ? null : id.asText();
                if (check) {
                    onLongPool(call, () -> {
                        ObjectNode o = JSON.valueToTree(control.checkTakeOver(disk));
                        o.put("takeoverReady", true);
                        Integer channel = takeOverPort.get();
                        if (channel != null) {
                            o.put("takeOverPort", channel.intValue());
                        }
                        call.json(200, o);
                    });
                    return;
                }
                // aboveTakeOver: back to primary after a pause that was rolled back (ReplicationControl.promote)
                JsonNode a = body.get("aboveTakeOver");
                if (a != null && !a.isBoolean()) {
                    throw new BadRequest("aboveTakeOver must be a boolean", "aboveTakeOver");
                }
                boolean aboveTakeOver = a != null && a.asBoolean();
                if (aboveTakeOver && (force || takeover)) {
                    throw new BadRequest("aboveTakeOver excludes force and takeover", "aboveTakeOver");
                }
                if (!takeover) {
                    onLongPool(call, () -> call.json(200, JSON.valueToTree(control.promote(disk, force, aboveTakeOver))));
                    return;
                }
                // The take-over runs here, on the thread that read the request: it is inside a
                // guest's pause and waits for nothing (its persist and the new stream come after
                // the answer), and a hand-off to the long-operation pool cost milliseconds on a busy host.
                long read = System.nanoTime();
                CompletableFuture<Void> answered = new CompletableFuture<>();
                long done;
                long encoded;
                try {
                    DiskStatus took = control.takeOver(disk, takeOverId, answered);
                    done = System.nanoTime();
                    JsonNode answer = JSON.valueToTree(took);
                    encoded = System.nanoTime();
                    call.json(200, answer);
                } finally {
                    answered.complete(null);   // written, or failed: the follow-up runs either way
                }
                long written = System.nanoTime();
                // where the MMS's call time goes: reading the request, the take-over, the answer
                LOG.info(String.format("%s: take-over answered %.1f ms after the request arrived: body read after"
                        + " %.1f, taken over after %.1f, encoded after %.1f ms", disk,
                        (written - call.arrived) / 1e6, (read - call.arrived) / 1e6, (done - call.arrived) / 1e6,
                        (encoded - call.arrived) / 1e6));
                return;
            }
            default: {
                // the MMS sends its demote budget; without one the agent's own default applies
                JsonNode t = body.get("timeoutMs");
                if (t != null && (!t.canConvertToLong() || t.asLong() <= 0)) {
                    throw new BadRequest("timeoutMs must be a positive number of milliseconds", "timeoutMs");
                }
                onLongPool(call, () -> call.json(200, JSON.valueToTree(
                        t == null ? control.demote(disk) : control.demote(disk, t.asLong()))));
            }
        }
    }

    private void onLongPool(Call call, Action a) {
        try {
            longOps.execute(() -> call.guarded(a));
        } catch (RejectedExecutionException e) {
            call.error(503, "too many operations in progress", null);
        }
    }

    private static void requireMethod(String actual, String m) {
        if (!actual.equals(m)) {
            throw new MethodNotAllowed(m);
        }
    }

    /** Empty body means {}; anything else must be one JSON object and nothing after it. */
    static JsonNode parseBody(byte[] raw, String field) {
        if (raw.length > MAX_BODY) {
            throw new BadRequest("request body too large", field);
        }
        if (raw.length == 0 || new String(raw, StandardCharsets.UTF_8).isBlank()) {
            return JSON.createObjectNode();
        }
        JsonNode n;
        try {
            n = JSON.readTree(raw);
        } catch (IOException e) {
            String why = e.getMessage() == null ? "" : e.getMessage().toLowerCase(Locale.ROOT);
            throw new BadRequest(why.contains("nesting depth") ? "body is not valid JSON: nested too deeply"
                    : why.contains("trailing token") ? "body is not valid JSON: content after the object"
                    : "body is not valid JSON", field);
        }
        if (n == null || !n.isObject()) {
            throw new BadRequest("body must be a JSON object", field);
        }
        return n;
    }

    @Override
    public void close() {
        try {
            server.stop();
        } catch (Exception e) {
            LOG.fine("control API stop: " + e);
        }
        longOps.shutdownNow();
        timer.shutdownNow();
    }
}
