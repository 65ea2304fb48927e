package org.wanmig.replication.agent;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.wanmig.replication.core.Role;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashSet;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * Agent configuration (JSON file and/or command-line flags). Immutable once built; every problem is
 * reported with the offending key so an operator can fix the file.
 */
public final class AgentConfig {
    public static final int DEFAULT_NBD_PORT = 10809;
    public static final int DEFAULT_PEER_PORT = 10900;
    public static final int DEFAULT_CONTROL_PORT = 7070;
    private static final Pattern DISK_NAME = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]{0,63}");
    private static final Set<String> KNOWN_KEYS = Set.of("nbdListen", "peerListen", "controlListen", "peerAddress",
            "token", "tokenFile", "psk", "pskFile", "maxBacklogBytes", "blockSize", "disks", "takeOverListen");
    /** takeOverListen's value that keeps the take-over channel off. */
    public static final String OFF = "off";

    private final InetSocketAddress nbdListen;
    private final InetSocketAddress peerListen;
    private final InetSocketAddress controlListen;
    private final InetSocketAddress peerAddress; // may be null: no outbound replication
    private final String token;
    private final byte[] psk;
    private final long maxBacklogBytes;
    private final int blockSize;
    private final List<DiskConfig> disks;
    private final TransportConfig transport;
    private final InetSocketAddress takeOverListen; // null: the take-over channel is off

    public AgentConfig(InetSocketAddress nbdListen, InetSocketAddress peerListen, InetSocketAddress controlListen,
                       InetSocketAddress peerAddress, String token, byte[] psk, long maxBacklogBytes, int blockSize,
                       List<DiskConfig> disks) {
        this(nbdListen, peerListen, controlListen, peerAddress, token, psk, maxBacklogBytes, blockSize, disks,
                TransportConfig.DEFAULT);
    }

    /** The take-over channel on the control API's host, at a port the system picks. */
    public AgentConfig(InetSocketAddress nbdListen, InetSocketAddress peerListen, InetSocketAddress controlListen,
                       InetSocketAddress peerAddress, String token, byte[] psk, long maxBacklogBytes, int blockSize,
                       List<DiskConfig> disks, TransportConfig transport) {
        this(nbdListen, peerListen, controlListen, peerAddress, token, psk, maxBacklogBytes, blockSize, disks,
                transport, onControlHost(controlListen, 0));
    }

    /** takeOverListen: where the take-over channel listens, null for off. */
    public AgentConfig(InetSocketAddress nbdListen, InetSocketAddress peerListen, InetSocketAddress controlListen,
                       InetSocketAddress peerAddress, String token, byte[] psk, long maxBacklogBytes, int blockSize,
                       List<DiskConfig> disks, TransportConfig transport, InetSocketAddress takeOverListen) {
        this.nbdListen = nbdListen;
        this.peerListen = peerListen;
        this.controlListen = controlListen;
        this.peerAddress = peerAddress;
        this.token = token;
        this.psk = psk.clone();
        this.maxBacklogBytes = maxBacklogBytes;
        this.blockSize = blockSize;
        this.disks = Collections.unmodifiableList(new ArrayList<>(disks));
        this.transport = transport;
        this.takeOverListen = takeOverListen;
        validate();
    }

    public InetSocketAddress nbdListen() { return nbdListen; }
    public InetSocketAddress peerListen() { return peerListen; }
    public InetSocketAddress controlListen() { return controlListen; }
    public InetSocketAddress peerAddress() { return peerAddress; }
    public String token() { return token; }
    public byte[] psk() { return psk.clone(); }
    public long maxBacklogBytes() { return maxBacklogBytes; }
    public int blockSize() { return blockSize; }
    public List<DiskConfig> disks() { return disks; }
    /** TLS and connection limits/deadlines of the three ports. */
    public TransportConfig transport() { return transport; }
    /**
     * Where the take-over channel listens (the MMS learns the port from the take-over check and
     * reaches it at the control API's host), or null if "takeOverListen" is "off". The agent does
     * not start it anyway while the control API runs HTTPS.
     */
    public InetSocketAddress takeOverListen() { return takeOverListen; }

    private void validate() {
        if (token == null || token.length() < 8) {
            throw new ConfigException("token: a bearer token of at least 8 characters is required");
        }
        if (psk.length == 0 && transport.tls() == null) {
            throw new ConfigException("psk: a pre-shared key (psk/pskFile) or TLS (tlsCert/tlsKey/tlsCa or "
                    + "tlsKeystore/tlsTruststore) is required for the peer link");
        }
        if (psk.length > 0 && psk.length < 16) {
            throw new ConfigException("psk: a pre-shared key of at least 16 bytes is required");
        }
        if (Integer.bitCount(blockSize) != 1 || blockSize < 4096 || blockSize > (1 << 20)) {
            throw new ConfigException("blockSize: must be a power of two between 4096 and 1048576");
        }
        if (maxBacklogBytes < (1 << 20)) {
            throw new ConfigException("maxBacklogBytes: must be at least 1 MiB");
        }
        if (disks.isEmpty()) {
            throw new ConfigException("disks: at least one disk is required");
        }
        if (takeOverListen != null && !sameHostOrWildcard(takeOverListen, controlListen)) {
            throw new ConfigException("takeOverListen: must be on the control API's host "
                    + controlListen.getHostString() + " (or a wildcard address): the MMS reaches it there, not at "
                    + takeOverListen.getHostString());
        }
        Set<String> names = new HashSet<>();
        for (DiskConfig d : disks) {
            if (!names.add(d.name())) {
                throw new ConfigException("disks: duplicate disk name " + d.name());
            }
        }
    }

    /** Thrown for any invalid configuration; the message names the key. */
    public static final class ConfigException extends RuntimeException {
        public ConfigException(String msg) {
            super(msg);
        }
    }

    // ---- parsing ------------------------------------------------------------------------------

    /** Mutable collector used by the JSON and flag parsers before building the immutable config. */
    public static final class Builder {
        String nbdListen = "127.0.0.1:" + DEFAULT_NBD_PORT;
        String peerListen = "0.0.0.0:" + DEFAULT_PEER_PORT;
        String controlListen = "127.0.0.1:" + DEFAULT_CONTROL_PORT;
        String takeOverListen; // null: the control host, port 0
        String peerAddress;
        String token;
        byte[] psk;
        long maxBacklogBytes = 64L << 20;
        int blockSize = 64 * 1024;
        final List<DiskConfig> disks = new ArrayList<>();
        Path baseDir = Path.of(".");
        /** TLS and the limits of the three ports. */
        public final TransportConfig.Builder transport = new TransportConfig.Builder();

        public Builder nbdListen(String v) { nbdListen = v; return this; }
        public Builder peerListen(String v) { peerListen = v; return this; }
        public Builder controlListen(String v) { controlListen = v; return this; }
        /** "host:port" (or "host": a port the system picks) of the take-over channel, or "off". */
        public Builder takeOverListen(String v) { takeOverListen = v; return this; }
        public Builder peerAddress(String v) { peerAddress = v; return this; }
        public Builder token(String v) { token = v; return this; }
        public Builder psk(String v) { psk = v.getBytes(StandardCharsets.UTF_8); return this; }
        public Builder pskFile(Path p) { psk = readSecret(p, "pskFile"); return this; }
        public Builder tokenFile(Path p) {
            token = new String(readSecret(p, "tokenFile"), StandardCharsets.UTF_8);
            return this;
        }
        public Builder maxBacklogBytes(long v) { maxBacklogBytes = v; return this; }
        public Builder blockSize(int v) { blockSize = v; return this; }
        public Builder disk(String name, Path image, long size, Role role) {
            if (name == null || !DISK_NAME.matcher(name).matches()) {
                throw new ConfigException("disks[].name: invalid disk name '" + name + "'");
            }
            if (image == null) {
                throw new ConfigException("disks[" + name + "].image: required");
            }
            disks.add(new DiskConfig(name, baseDir.resolve(image).normalize(), size, role));
            return this;
        }

        public AgentConfig build() {
            if (psk == null && !transport.hasTls()) {
                throw new ConfigException("psk or pskFile: required (or TLS: tlsCert/tlsKey/tlsCa or "
                        + "tlsKeystore/tlsTruststore)");
            }
            InetSocketAddress control = address(controlListen, DEFAULT_CONTROL_PORT, "controlListen");
            return new AgentConfig(address(nbdListen, DEFAULT_NBD_PORT, "nbdListen"),
                    address(peerListen, DEFAULT_PEER_PORT, "peerListen"),
                    control,
                    peerAddress == null || peerAddress.isEmpty() ? null
                            : address(peerAddress, DEFAULT_PEER_PORT, "peerAddress"),
                    token, psk == null ? new byte[0] : psk, maxBacklogBytes, blockSize, disks, transport.build(),
                    takeOverListen == null ? onControlHost(control, 0)
                            : takeOverListen.equals(OFF) ? null
                            : address(takeOverListen, 0, "takeOverListen"));
        }
    }

    private static byte[] readSecret(Path p, String key) {
        try {
            String s = Files.readString(p, StandardCharsets.UTF_8).trim();
            return s.getBytes(StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new ConfigException(key + ": cannot read " + p + ": " + e.getMessage());
        }
    }

    private static boolean sameHostOrWildcard(InetSocketAddress a, InetSocketAddress control) {
        if (a.getAddress() == null || control.getAddress() == null) { // unresolved: by name
            return a.getHostString().equals(control.getHostString());
        }
        return a.getAddress().isAnyLocalAddress() || a.getAddress().equals(control.getAddress());
    }

    /** The control API's host at port. */
    static InetSocketAddress onControlHost(InetSocketAddress control, int port) {
        return control.getAddress() != null ? new InetSocketAddress(control.getAddress(), port)
                : new InetSocketAddress(control.getHostString(), port);
    }

    /** host:port, [v6]:port, or host (default port). */
    public static InetSocketAddress address(String s, int defaultPort, String key) {
        String host = s;
        int port = defaultPort;
        try {
            if (s.startsWith("[")) {
                int end = s.indexOf(']');
                host = s.substring(1, end);
                if (end + 1 < s.length()) {
                    port = Integer.parseInt(s.substring(end + 2));
                }
            } else if (s.lastIndexOf(':') > 0 && s.indexOf(':') == s.lastIndexOf(':')) {
                host = s.substring(0, s.indexOf(':'));
                port = Integer.parseInt(s.substring(s.indexOf(':') + 1));
            }
        } catch (RuntimeException e) {
            throw new ConfigException(key + ": cannot parse address '" + s + "'");
        }
        if (port < 0 || port > 65535) {
            throw new ConfigException(key + ": port out of range in '" + s + "'");
        }
        return new InetSocketAddress(host, port);
    }

    /** Sizes: 1048576, "512M", "10G", "1T" (binary units). */
    public static long parseSize(String s, String key) {
        String t = s.trim().toUpperCase(Locale.ROOT);
        long mul = 1;
        if (t.endsWith("IB")) {
            t = t.substring(0, t.length() - 2);
        } else if (t.endsWith("B")) {
            t = t.substring(0, t.length() - 1);
        }
        if (!t.isEmpty()) {
            char c = t.charAt(t.length() - 1);
            int shift = "KMGT".indexOf(c);
            if (shift >= 0) {
                mul = 1L << (10 * (shift + 1));
                t = t.substring(0, t.length() - 1);
            }
        }
        try {
            long v = Long.parseLong(t);
            if (v < 0) {
                throw new NumberFormatException();
            }
            return Math.multiplyExact(v, mul);
        } catch (RuntimeException e) {
            throw new ConfigException(key + ": invalid size '" + s + "'");
        }
    }

    public static Role parseRole(String s, String key) {
        if (s == null) {
            return Role.REPLICA;
        }
        try {
            return Role.valueOf(s.toUpperCase(Locale.ROOT));
        } catch (IllegalArgumentException e) {
            throw new ConfigException(key + ": role must be PRIMARY or REPLICA, not '" + s + "'");
        }
    }

    /** Reads the JSON config file into a builder (flags may then override). */
    public static Builder fromJson(Path file) {
        JsonNode root;
        try {
            root = new ObjectMapper().readTree(file.toFile());
        } catch (IOException e) {
            throw new ConfigException("config " + file + ": " + e.getMessage());
        }
        if (root == null || !root.isObject()) {
            throw new ConfigException("config " + file + ": top level must be a JSON object");
        }
        for (Iterator<String> it = root.fieldNames(); it.hasNext(); ) {
            String k = it.next();
            if (!KNOWN_KEYS.contains(k) && !TransportConfig.KEYS.contains(k)) {
                throw new ConfigException("config " + file + ": unknown key '" + k + "'");
            }
        }
        Builder b = new Builder();
        b.baseDir = file.toAbsolutePath().getParent();
        if (root.hasNonNull("nbdListen")) b.nbdListen(root.get("nbdListen").asText());
        if (root.hasNonNull("peerListen")) b.peerListen(root.get("peerListen").asText());
        if (root.hasNonNull("controlListen")) b.controlListen(root.get("controlListen").asText());
        if (root.hasNonNull("takeOverListen")) {
            JsonNode v = root.get("takeOverListen");
            if (!v.isTextual() || v.asText().isEmpty()) {
                throw new ConfigException("takeOverListen: must be \"host:port\" or \"off\"");
            }
            b.takeOverListen(v.asText());
        }
        if (root.hasNonNull("peerAddress")) b.peerAddress(root.get("peerAddress").asText());
        if (root.hasNonNull("token")) b.token(root.get("token").asText());
        if (root.hasNonNull("tokenFile")) b.tokenFile(b.baseDir.resolve(root.get("tokenFile").asText()));
        if (root.hasNonNull("psk")) b.psk(root.get("psk").asText());
        if (root.hasNonNull("pskFile")) b.pskFile(b.baseDir.resolve(root.get("pskFile").asText()));
        if (root.hasNonNull("maxBacklogBytes")) {
            b.maxBacklogBytes(parseSize(root.get("maxBacklogBytes").asText(), "maxBacklogBytes"));
        }
        if (root.hasNonNull("blockSize")) b.blockSize((int) parseSize(root.get("blockSize").asText(), "blockSize"));
        b.transport.parse(root, b.baseDir);
        JsonNode disks = root.get("disks");
        if (disks != null) {
            if (!disks.isArray()) {
                throw new ConfigException("disks: must be an array");
            }
            for (JsonNode d : disks) {
                String name = d.path("name").asText(null);
                String image = d.path("image").asText(null);
                long size = d.hasNonNull("size") ? parseSize(d.get("size").asText(), "disks[" + name + "].size") : 0;
                b.disk(name, image == null ? null : Path.of(image), size,
                        parseRole(d.path("role").asText(null), "disks[" + name + "].role"));
            }
        }
        return b;
    }
}
