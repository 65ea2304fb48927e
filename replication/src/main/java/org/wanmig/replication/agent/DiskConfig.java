package org.wanmig.replication.agent;

import org.wanmig.replication.core.Role;

import java.nio.file.Path;

/** One configured disk; immutable and validated by AgentConfig. */
public final class DiskConfig {
    private final String name;
    private final Path image;
    private final long sizeBytes;
    private final Role role;

    public DiskConfig(String name, Path image, long sizeBytes, Role role) {
        this.name = name;
        this.image = image;
        this.sizeBytes = sizeBytes;
        this.role = role;
    }

    public String name() { return name; }
    public Path image() { return image; }
    public long sizeBytes() { return sizeBytes; }
    public Role role() { return role; }
}
