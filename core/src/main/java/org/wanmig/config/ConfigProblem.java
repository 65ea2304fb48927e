package org.wanmig.config;

import java.util.Objects;

/** One reason a configuration is rejected: where (a JSON path such as servers[1].ip) and why. */
public final class ConfigProblem {
    private final String path;
    private final String reason;

    public ConfigProblem(String path, String reason) {
        this.path = Objects.requireNonNull(path);
        this.reason = Objects.requireNonNull(reason);
    }

    public String path() {
        return path;
    }

    public String reason() {
        return reason;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof ConfigProblem && ((ConfigProblem) o).path.equals(path)
                && ((ConfigProblem) o).reason.equals(reason);
    }

    @Override
    public int hashCode() {
        return Objects.hash(path, reason);
    }

    @Override
    public String toString() {
        return path + ": " + reason;
    }
}
