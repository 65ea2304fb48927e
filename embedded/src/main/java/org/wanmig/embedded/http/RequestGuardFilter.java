package org.wanmig.embedded.http;

import javax.servlet.Filter;
import javax.servlet.FilterChain;
import javax.servlet.FilterConfig;
import javax.servlet.ReadListener;
import javax.servlet.ServletException;
import javax.servlet.ServletInputStream;
import javax.servlet.ServletRequest;
import javax.servlet.ServletResponse;
import javax.servlet.http.HttpServletRequest;
import javax.servlet.http.HttpServletRequestWrapper;
import javax.servlet.http.HttpServletResponse;
import java.io.IOException;
import java.util.concurrent.Semaphore;
import java.util.regex.Pattern;

/**
 * What every request passes before Jersey sees it: a strict path (no percent-encoding, no dot or
 * empty segments, no path parameters: wanmig's paths need none, and each is a classic way to make
 * a router and a filter disagree), a bounded body (Content-Length over the limit is refused at
 * once, a chunked body when it crosses the limit), and admission (at most
 * {@link RestLimits#maxConcurrentRequests()} requests in handling; beyond that 503 at once, so the
 * reserved threads stay free to accept, parse and refuse).
 */
final class RequestGuardFilter implements Filter {
    /** Path characters of RFC 3986 less '%' and ';'. */
    private static final Pattern PATH = Pattern.compile("(/[A-Za-z0-9._~!$&'()*+,=:@-]+)*/?");

    private final long maxBodyBytes;
    private final Semaphore handling;

    RequestGuardFilter(RestLimits limits) {
        this.maxBodyBytes = limits.maxBodyBytes();
        this.handling = new Semaphore(limits.maxConcurrentRequests());
    }

    @Override
    public void init(FilterConfig config) {
    }

    @Override
    public void destroy() {
    }

    @Override
    public void doFilter(ServletRequest req, ServletResponse res, FilterChain chain)
            throws IOException, ServletException {
        HttpServletRequest request = (HttpServletRequest) req;
        HttpServletResponse response = (HttpServletResponse) res;
        String problem = pathProblem(request.getRequestURI());
        if (problem != null) {
            JsonErrors.send(response, 400, "path", problem);
            return;
        }
        if (request.getContentLengthLong() > maxBodyBytes) {
            response.setHeader("Connection", "close"); // do not read the body it announced
            JsonErrors.send(response, 413, "body", "request body over " + maxBodyBytes + " bytes");
            return;
        }
        if (!handling.tryAcquire()) {
            response.setHeader("Retry-After", "1");
            JsonErrors.send(response, 503, null, "server busy: too many requests in progress");
            return;
        }
        try {
            chain.doFilter(new BoundedBodyRequest(request, maxBodyBytes), response);
        } finally {
            handling.release();
        }
    }

    /** Why a raw (undecoded) request path is refused, or null. */
    static String pathProblem(String rawPath) {
        if (rawPath == null || rawPath.isEmpty() || rawPath.charAt(0) != '/') {
            return "path must be absolute";
        }
        if (!PATH.matcher(rawPath).matches()) {
            return "path has characters, percent-encoding, path parameters or empty segments that no resource uses";
        }
        for (String segment : rawPath.split("/")) {
            if (segment.equals(".") || segment.equals("..")) {
                return "path has dot segments";
            }
        }
        return null;
    }

    /** Thrown by the body stream when a body crosses the limit; mapped to 413. */
    static final class BodyTooLargeException extends IOException {
        private static final long serialVersionUID = 1L;

        BodyTooLargeException(long limit) {
            super("request body over " + limit + " bytes");
        }
    }

    /** The request with a body stream that refuses to read past the limit. */
    private static final class BoundedBodyRequest extends HttpServletRequestWrapper {
        private final long limit;
        private ServletInputStream bounded;

        BoundedBodyRequest(HttpServletRequest request, long limit) {
            super(request);
            this.limit = limit;
        }

        @Override
        public ServletInputStream getInputStream() throws IOException {
            if (bounded == null) {
                bounded = new BoundedInputStream(super.getInputStream(), limit);
            }
            return bounded;
        }
    }

    private static final class BoundedInputStream extends ServletInputStream {
        private final ServletInputStream in;
        private final long limit;
        private long count;

        BoundedInputStream(ServletInputStream in, long limit) {
            this.in = in;
            this.limit = limit;
        }

        private int counted(int n) throws IOException {
            if (n > 0) {
                count += n;
                if (count > limit) {
                    throw new BodyTooLargeException(limit);
                }
            }
            return n;
        }

        @Override
        public int read() throws IOException {
            int b = in.read();
            if (b >= 0) {
                counted(1);
            }
            return b;
        }

        @Override
        public int read(byte[] buffer, int offset, int length) throws IOException {
            return counted(in.read(buffer, offset, length));
        }

        @Override
        public boolean isFinished() {
            return in.isFinished();
        }

        @Override
        public boolean isReady() {
            return in.isReady();
        }

        @Override
        public void setReadListener(ReadListener listener) {
            in.setReadListener(listener);
        }
    }
}
