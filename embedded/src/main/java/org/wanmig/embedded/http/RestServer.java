package org.wanmig.embedded.http;

import org.eclipse.jetty.http.HttpCompliance;
import org.eclipse.jetty.http.HttpFields;
import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.http.HttpStatus;
import org.eclipse.jetty.server.ConnectionLimit;
import org.eclipse.jetty.server.HttpConfiguration;
import org.eclipse.jetty.server.HttpConnectionFactory;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import org.eclipse.jetty.server.handler.ErrorHandler;
import org.eclipse.jetty.servlet.FilterHolder;
import org.eclipse.jetty.servlet.ServletContextHandler;
import org.eclipse.jetty.servlet.ServletHolder;
import org.eclipse.jetty.util.BlockingArrayQueue;
import org.eclipse.jetty.util.thread.QueuedThreadPool;
import org.glassfish.jersey.server.ResourceConfig;
import org.glassfish.jersey.server.ServerProperties;
import org.glassfish.jersey.servlet.ServletContainer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.wanmig.rest.WanmigWebResource;

import javax.servlet.DispatcherType;
import javax.servlet.http.HttpServletRequest;
import javax.servlet.http.HttpServletResponse;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.EnumSet;

/**
 * wanmig's REST API in the embedded runtime: the very JAX-RS resource ONOS serves
 * ({@link WanmigWebResource}, at /onos/wanmig like ONOS), through Jersey on Jetty, with the
 * services it looks up in an {@link EmbeddedServiceDirectory}. Every request needs basic auth or
 * the bearer token ({@link CredentialsFilter}). {@link RestLimits} bound what a client can hold:
 * header and body deadlines ({@link ConnectionDeadlines}), idle timeout, a connection limit,
 * header and body size (431, 413), a bounded pool with a reserved share
 * ({@link RequestGuardFilter}), and strict paths (Jetty refuses ambiguous URIs, the filter the
 * rest).
 */
public final class RestServer implements AutoCloseable {
    public static final String BASE = "/onos/wanmig";
    private static final Logger log = LoggerFactory.getLogger(RestServer.class);
    /**
     * Jersey warns that a resource registered as an instance "will be ignored" as a provider, and
     * serves it as a resource all the same (the runtime's devices and flows); held here so the level sticks.
     */
    private static final java.util.logging.Logger JERSEY_PROVIDERS =
            java.util.logging.Logger.getLogger("org.glassfish.jersey.internal.inject.Providers");

    static {
        JERSEY_PROVIDERS.setLevel(java.util.logging.Level.SEVERE);
    }

    private final Server server;
    private final ServerConnector connector;
    private final ConnectionDeadlines deadlines;
    private final RestLimits limits;

    /**
     * @param token          also accepted as "Authorization: Bearer TOKEN"; null for basic auth only
     * @param services       what the resource looks up (MigrationService, PlannerService, CodecService)
     * @param extraResources JAX-RS resource instances served beside the ONOS ones (the runtime's
     *                       devices and flows)
     */
    public RestServer(String bindAddress, int port, RestLimits limits, String user, String password, String token,
                      EmbeddedServiceDirectory services, Object... extraResources) {
        this.limits = limits;
        services.install();

        // Jetty's own "reserved threads" (0 here) only take hand-offs and never queued jobs: in a bounded pool
        // they can sit idle while a dispatch waits in the queue. The reserved share is kept free by admission
        // in RequestGuardFilter instead, so those threads always run the next dispatch.
        QueuedThreadPool threads = new QueuedThreadPool(limits.maxThreads(), Math.min(4, limits.maxThreads()),
                60_000, 0, new BlockingArrayQueue<>(limits.maxQueuedJobs()), null);
        threads.setName("wanmig-rest");
        threads.setDaemon(true);
        server = new Server(threads);

        HttpConfiguration http = new HttpConfiguration();
        http.setRequestHeaderSize(limits.maxHeaderBytes());
        http.setSendServerVersion(false);
        http.setSendXPoweredBy(false);
        // a body trickling in slower than this fails the read (and so the request) before the body deadline
        http.setMinRequestDataRate(256);
        connector = new ServerConnector(server, 1, 1,
                new HttpConnectionFactory(http, HttpCompliance.RFC7230_NO_AMBIGUOUS_URIS));
        connector.setHost(bindAddress);
        connector.setPort(port);
        connector.setIdleTimeout(limits.idleTimeout().toMillis());
        connector.setAcceptQueueSize(128);
        deadlines = new ConnectionDeadlines(limits.headerTimeout(), limits.bodyTimeout());
        connector.addBean(deadlines);
        server.addConnector(connector);
        server.addBean(new ConnectionLimit(limits.maxConnections(), connector));

        ResourceConfig app = new ResourceConfig()
                .register(WanmigWebResource.class)
                .register(new CredentialsFilter(user, password, token))
                .register(ErrorMapper.class)
                .property(ServerProperties.WADL_FEATURE_DISABLE, true);
        for (Object resource : extraResources) {
            app.register(resource);
        }
        ServletContextHandler context = new ServletContextHandler(ServletContextHandler.NO_SESSIONS);
        context.setContextPath(BASE);
        context.addServlet(new ServletHolder(new ServletContainer(app)), "/*");
        context.addFilter(new FilterHolder(new RequestGuardFilter(limits)), "/*", EnumSet.of(DispatcherType.REQUEST));
        JsonErrorHandler errors = new JsonErrorHandler();
        context.setErrorHandler(errors);
        server.setErrorHandler(errors);
        server.setHandler(context);
        server.setStopTimeout(2_000);
    }

    public void start() throws IOException {
        try {
            server.start();
        } catch (IOException e) {
            throw e;
        } catch (Exception e) {
            throw new IOException("REST server did not start: " + e.getMessage(), e);
        }
        log.info("REST API on http://{}:{}{} ({})", connector.getHost(), port(), BASE, limits);
    }

    public int port() {
        return connector.getLocalPort();
    }

    /** Connections waiting for a client's header or body now. */
    int waitingConnections() {
        return deadlines.waiting();
    }

    @Override
    public void close() {
        try {
            server.stop();
        } catch (Exception e) {
            log.warn("REST server did not stop cleanly: {}", e.toString());
        }
    }

    /** Jetty's own refusals (431, 400 from the parser, 404 outside the API, 500) in wanmig's error JSON. */
    private static final class JsonErrorHandler extends ErrorHandler {
        @Override
        protected void generateAcceptableResponse(Request baseRequest, HttpServletRequest request,
                                                  HttpServletResponse response, int code, String message)
                throws IOException {
            baseRequest.setHandled(true);
            JsonErrors.send(response, code, code == 404 ? "path" : null, reason(code, message));
        }

        @Override
        public ByteBuffer badMessageError(int status, String reason, HttpFields fields) {
            fields.put(HttpHeader.CONTENT_TYPE, "application/json");
            return ByteBuffer.wrap(JsonErrors.bytes(status == 431 ? "header" : null, reason(status, reason)));
        }

        private static String reason(int code, String message) {
            return message == null || message.isBlank() ? HttpStatus.getMessage(code) : message;
        }
    }
}
