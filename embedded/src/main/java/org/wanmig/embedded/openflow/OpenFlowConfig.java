package org.wanmig.embedded.openflow;

import java.time.Duration;
import java.util.Objects;

/** Settings of the OpenFlow controller. Immutable; build with {@link #builder()}. */
public final class OpenFlowConfig {
    /** IANA's OpenFlow port. */
    public static final int DEFAULT_PORT = 6653;

    private final String bindAddress;
    private final int port;
    private final Duration echoInterval;
    private final Duration confirmTimeout;
    private final Duration handshakeTimeout;

    private OpenFlowConfig(Builder b) {
        this.bindAddress = b.bindAddress;
        this.port = b.port;
        this.echoInterval = b.echoInterval;
        this.confirmTimeout = b.confirmTimeout;
        this.handshakeTimeout = b.handshakeTimeout;
    }

    public static Builder builder() {
        return new Builder();
    }

    public static OpenFlowConfig defaults() {
        return builder().build();
    }

    /** Address to listen on; 0.0.0.0 for all. */
    public String bindAddress() {
        return bindAddress;
    }

    /** TCP port to listen on; 0 picks a free one (tests). */
    public int port() {
        return port;
    }

    /** A switch silent this long gets an ECHO_REQUEST; silent twice as long, it is disconnected. */
    public Duration echoInterval() {
        return echoInterval;
    }

    /** How long a barrier or statistics reply may take before the request fails. */
    public Duration confirmTimeout() {
        return confirmTimeout;
    }

    /** How long a new connection may take from TCP accept to the end of the handshake. */
    public Duration handshakeTimeout() {
        return handshakeTimeout;
    }

    @Override
    public String toString() {
        return "OpenFlowConfig{" + bindAddress + ":" + port + ", echo " + echoInterval + ", confirm "
                + confirmTimeout + ", handshake " + handshakeTimeout + "}";
    }

    public static final class Builder {
        private String bindAddress = "0.0.0.0";
        private int port = DEFAULT_PORT;
        private Duration echoInterval = Duration.ofSeconds(5);
        private Duration confirmTimeout = Duration.ofSeconds(5);
        private Duration handshakeTimeout = Duration.ofSeconds(10);

        private Builder() {
        }

        public Builder bindAddress(String address) {
            this.bindAddress = Objects.requireNonNull(address);
            return this;
        }

        public Builder port(int port) {
            if (port < 0 || port > 65535) {
                throw new IllegalArgumentException("bad TCP port " + port);
            }
            this.port = port;
            return this;
        }

        public Builder echoInterval(Duration interval) {
            this.echoInterval = positive(interval, "echo interval");
            return this;
        }

        public Builder confirmTimeout(Duration timeout) {
            this.confirmTimeout = positive(timeout, "confirm timeout");
            return this;
        }

        public Builder handshakeTimeout(Duration timeout) {
            this.handshakeTimeout = positive(timeout, "handshake timeout");
            return this;
        }

        public OpenFlowConfig build() {
            return new OpenFlowConfig(this);
        }

        private static Duration positive(Duration d, String what) {
            if (d.isNegative() || d.isZero()) {
                throw new IllegalArgumentException(what + " must be positive: " + d);
            }
            return d;
        }
    }
}
