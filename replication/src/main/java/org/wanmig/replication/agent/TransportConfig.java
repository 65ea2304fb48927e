package org.wanmig.replication.agent;

import com.fasterxml.jackson.databind.JsonNode;
import org.wanmig.replication.net.Tls;
import org.wanmig.replication.peer.PeerAuthenticator;
import org.wanmig.replication.peer.PeerCodec;
import org.wanmig.replication.peer.PeerTransport;

import javax.net.ssl.SSLContext;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Set;

/**
 * TLS material and the limits of the agent's three listening ports (peer, NBD, control API).
 * Immutable; built and validated by {@link Builder}, which names the offending key in every error.
 */
public final class TransportConfig {
    static final Set<String> KEYS = Set.of("tlsCert", "tlsKey", "tlsCa", "tlsKeystore", "tlsKeystorePassword",
            "tlsKeystorePasswordFile", "tlsTruststore", "tlsTruststorePassword", "tlsTruststorePasswordFile",
            "tlsVerifyHostname", "controlTls", "maxPeerConnections", "maxNbdConnections", "maxControlConnections",
            "handshakeTimeoutMs", "frameTimeoutMs", "controlIdleTimeoutMs", "maxFramePayload", "peerAckTimeoutMs");

    public static final TransportConfig DEFAULT = new Builder().build();

    private final SSLContext tls; // null: no TLS
    private final String tlsSource;
    private final boolean verifyHostname;
    private final boolean controlTls;
    private final int maxPeerConnections;
    private final int maxNbdConnections;
    private final int maxControlConnections;
    private final int handshakeTimeoutMs;
    private final int frameTimeoutMs;
    private final int controlIdleTimeoutMs;
    private final int maxFramePayload;
    private final int peerAckTimeoutMs;

    private TransportConfig(Builder b, SSLContext tls, String tlsSource) {
        this.tls = tls;
        this.tlsSource = tlsSource;
        this.verifyHostname = b.verifyHostname;
        this.controlTls = b.controlTls;
        this.maxPeerConnections = b.maxPeerConnections;
        this.maxNbdConnections = b.maxNbdConnections;
        this.maxControlConnections = b.maxControlConnections;
        this.handshakeTimeoutMs = b.handshakeTimeoutMs;
        this.frameTimeoutMs = b.frameTimeoutMs;
        this.controlIdleTimeoutMs = b.controlIdleTimeoutMs;
        this.maxFramePayload = (int) b.maxFramePayload;
        this.peerAckTimeoutMs = b.peerAckTimeoutMs;
    }

    /** TLS context for the peer link (and the control API if controlTls), or null. */
    public SSLContext tls() { return tls; }
    /** Where the TLS material came from (for the start-up log). */
    public String tlsSource() { return tlsSource; }
    public boolean verifyHostname() { return verifyHostname; }
    public boolean controlTls() { return controlTls; }
    public int maxPeerConnections() { return maxPeerConnections; }
    public int maxNbdConnections() { return maxNbdConnections; }
    public int maxControlConnections() { return maxControlConnections; }
    public int handshakeTimeoutMs() { return handshakeTimeoutMs; }
    public int frameTimeoutMs() { return frameTimeoutMs; }
    public int controlIdleTimeoutMs() { return controlIdleTimeoutMs; }
    /** Largest peer frame payload this agent announces; the link uses the smaller of both sides'. */
    public int maxFramePayload() { return maxFramePayload; }
    /** How long a replicated write may wait for the peer's acknowledgement, the peer silent, before the link is dead. */
    public int peerAckTimeoutMs() { return peerAckTimeoutMs; }

    /** The peer link's security and deadlines: TLS if configured, the PSK if given (both may be on). */
    public PeerTransport peerTransport(byte[] psk) {
        return new PeerTransport(psk == null || psk.length == 0 ? null : psk, tls, verifyHostname,
                new PeerTransport.Limits(handshakeTimeoutMs, frameTimeoutMs, Math.max(frameTimeoutMs, 30_000),
                        maxFramePayload, peerAckTimeoutMs));
    }

    /** Collects settings from JSON and flags; {@link #build()} validates and loads the TLS files. */
    public static final class Builder {
        Path tlsCert;
        Path tlsKey;
        Path tlsCa;
        Path tlsKeystore;
        char[] tlsKeystorePassword;
        Path tlsTruststore;
        char[] tlsTruststorePassword;
        boolean verifyHostname = true;
        boolean controlTls;
        int maxPeerConnections = 32;
        int maxNbdConnections = 32;
        int maxControlConnections = 64;
        int handshakeTimeoutMs = 10_000;
        int frameTimeoutMs = 30_000;
        int controlIdleTimeoutMs = 30_000;
        long maxFramePayload = PeerCodec.MAX_PAYLOAD;
        int peerAckTimeoutMs = PeerTransport.Limits.DEFAULT_ACK_TIMEOUT_MS;

        public Builder tlsPem(Path cert, Path key, Path ca) {
            tlsCert = cert;
            tlsKey = key;
            tlsCa = ca;
            return this;
        }

        public Builder tlsKeystores(Path keystore, String keystorePassword, Path truststore, String truststorePassword) {
            tlsKeystore = keystore;
            tlsKeystorePassword = keystorePassword == null ? null : keystorePassword.toCharArray();
            tlsTruststore = truststore;
            tlsTruststorePassword = truststorePassword == null ? null : truststorePassword.toCharArray();
            return this;
        }

        public Builder tlsCert(Path p) { tlsCert = p; return this; }
        public Builder tlsKey(Path p) { tlsKey = p; return this; }
        public Builder tlsCa(Path p) { tlsCa = p; return this; }
        public Builder verifyHostname(boolean v) { verifyHostname = v; return this; }
        public Builder controlTls(boolean v) { controlTls = v; return this; }
        public Builder maxPeerConnections(int v) { maxPeerConnections = v; return this; }
        public Builder maxNbdConnections(int v) { maxNbdConnections = v; return this; }
        public Builder maxControlConnections(int v) { maxControlConnections = v; return this; }
        public Builder handshakeTimeoutMs(int v) { handshakeTimeoutMs = v; return this; }
        public Builder frameTimeoutMs(int v) { frameTimeoutMs = v; return this; }
        public Builder controlIdleTimeoutMs(int v) { controlIdleTimeoutMs = v; return this; }
        public Builder maxFramePayload(long v) { maxFramePayload = v; return this; }
        public Builder peerAckTimeoutMs(int v) { peerAckTimeoutMs = v; return this; }

        boolean hasTls() {
            return tlsCert != null || tlsKey != null || tlsCa != null || tlsKeystore != null || tlsTruststore != null;
        }

        public TransportConfig build() {
            range("maxPeerConnections", maxPeerConnections, 2, 10_000);
            range("maxNbdConnections", maxNbdConnections, 1, 10_000);
            range("maxControlConnections", maxControlConnections, 4, 10_000);
            range("handshakeTimeoutMs", handshakeTimeoutMs, 100, 600_000);
            range("frameTimeoutMs", frameTimeoutMs, 100, 600_000);
            range("controlIdleTimeoutMs", controlIdleTimeoutMs, 100, 3_600_000);
            // at least 2 s: above the silence at which a replica stops trusting the stream for a take-over
            range("peerAckTimeoutMs", peerAckTimeoutMs, 2_000, 600_000);
            if (maxFramePayload < PeerAuthenticator.MIN_LIMIT || maxFramePayload > PeerCodec.MAX_PAYLOAD) {
                throw new AgentConfig.ConfigException("maxFramePayload: must be between " + PeerAuthenticator.MIN_LIMIT
                        + " and " + PeerCodec.MAX_PAYLOAD + " bytes, not " + maxFramePayload);
            }
            boolean pem = tlsCert != null || tlsKey != null || tlsCa != null;
            boolean stores = tlsKeystore != null || tlsTruststore != null;
            if (pem && stores) {
                throw new AgentConfig.ConfigException("tlsCert/tlsKey/tlsCa and tlsKeystore/tlsTruststore: "
                        + "give either PEM files or keystores, not both");
            }
            SSLContext ctx = null;
            String source = null;
            try {
                if (pem) {
                    require("tlsCert", tlsCert);
                    require("tlsKey", tlsKey);
                    require("tlsCa", tlsCa);
                    ctx = Tls.fromPem(tlsCert, tlsKey, tlsCa);
                    source = "PEM " + tlsCert;
                } else if (stores) {
                    require("tlsKeystore", tlsKeystore);
                    require("tlsTruststore", tlsTruststore);
                    ctx = Tls.fromKeystores(tlsKeystore, tlsKeystorePassword, tlsTruststore, tlsTruststorePassword);
                    source = "keystore " + tlsKeystore;
                }
            } catch (Tls.TlsConfigException e) {
                throw new AgentConfig.ConfigException((pem ? "tlsCert/tlsKey/tlsCa: " : "tlsKeystore/tlsTruststore: ")
                        + e.getMessage());
            }
            if (controlTls && ctx == null) {
                throw new AgentConfig.ConfigException("controlTls: needs TLS material (tlsCert/tlsKey/tlsCa or "
                        + "tlsKeystore/tlsTruststore)");
            }
            return new TransportConfig(this, ctx, source);
        }

        private static void require(String key, Path p) {
            if (p == null) {
                throw new AgentConfig.ConfigException(key + ": required with the other TLS files");
            }
            if (!Files.isReadable(p)) {
                throw new AgentConfig.ConfigException(key + ": cannot read " + p);
            }
        }

        private static void range(String key, int v, int min, int max) {
            if (v < min || v > max) {
                throw new AgentConfig.ConfigException(key + ": must be between " + min + " and " + max + ", not " + v);
            }
        }

        /** The TLS and limit keys of the JSON config. */
        void parse(JsonNode root, Path baseDir) {
            if (root.hasNonNull("tlsCert")) tlsCert = baseDir.resolve(text(root, "tlsCert"));
            if (root.hasNonNull("tlsKey")) tlsKey = baseDir.resolve(text(root, "tlsKey"));
            if (root.hasNonNull("tlsCa")) tlsCa = baseDir.resolve(text(root, "tlsCa"));
            if (root.hasNonNull("tlsKeystore")) tlsKeystore = baseDir.resolve(text(root, "tlsKeystore"));
            if (root.hasNonNull("tlsTruststore")) tlsTruststore = baseDir.resolve(text(root, "tlsTruststore"));
            if (root.hasNonNull("tlsKeystorePassword")) {
                tlsKeystorePassword = text(root, "tlsKeystorePassword").toCharArray();
            }
            if (root.hasNonNull("tlsKeystorePasswordFile")) {
                tlsKeystorePassword = secret(baseDir.resolve(text(root, "tlsKeystorePasswordFile")),
                        "tlsKeystorePasswordFile");
            }
            if (root.hasNonNull("tlsTruststorePassword")) {
                tlsTruststorePassword = text(root, "tlsTruststorePassword").toCharArray();
            }
            if (root.hasNonNull("tlsTruststorePasswordFile")) {
                tlsTruststorePassword = secret(baseDir.resolve(text(root, "tlsTruststorePasswordFile")),
                        "tlsTruststorePasswordFile");
            }
            if (root.hasNonNull("tlsVerifyHostname")) verifyHostname = bool(root, "tlsVerifyHostname");
            if (root.hasNonNull("controlTls")) controlTls = bool(root, "controlTls");
            if (root.hasNonNull("maxPeerConnections")) maxPeerConnections = integer(root, "maxPeerConnections");
            if (root.hasNonNull("maxNbdConnections")) maxNbdConnections = integer(root, "maxNbdConnections");
            if (root.hasNonNull("maxControlConnections")) maxControlConnections = integer(root, "maxControlConnections");
            if (root.hasNonNull("handshakeTimeoutMs")) handshakeTimeoutMs = integer(root, "handshakeTimeoutMs");
            if (root.hasNonNull("frameTimeoutMs")) frameTimeoutMs = integer(root, "frameTimeoutMs");
            if (root.hasNonNull("controlIdleTimeoutMs")) controlIdleTimeoutMs = integer(root, "controlIdleTimeoutMs");
            if (root.hasNonNull("peerAckTimeoutMs")) peerAckTimeoutMs = integer(root, "peerAckTimeoutMs");
            if (root.hasNonNull("maxFramePayload")) {
                maxFramePayload = AgentConfig.parseSize(root.get("maxFramePayload").asText(), "maxFramePayload");
            }
        }

        private static String text(JsonNode root, String key) {
            JsonNode n = root.get(key);
            if (!n.isTextual() || n.asText().isEmpty()) {
                throw new AgentConfig.ConfigException(key + ": must be a non-empty string");
            }
            return n.asText();
        }

        private static boolean bool(JsonNode root, String key) {
            JsonNode n = root.get(key);
            if (!n.isBoolean()) {
                throw new AgentConfig.ConfigException(key + ": must be true or false");
            }
            return n.asBoolean();
        }

        private static int integer(JsonNode root, String key) {
            JsonNode n = root.get(key);
            if (!n.isIntegralNumber() || !n.canConvertToInt()) {
                throw new AgentConfig.ConfigException(key + ": must be an integer");
            }
            return n.asInt();
        }

        static char[] secret(Path p, String key) {
            try {
                return Files.readString(p, StandardCharsets.UTF_8).trim().toCharArray();
            } catch (IOException e) {
                throw new AgentConfig.ConfigException(key + ": cannot read " + p + ": " + e.getMessage());
            }
        }
    }
}
