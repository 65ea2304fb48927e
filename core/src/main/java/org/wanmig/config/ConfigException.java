package org.wanmig.config;

import java.util.List;
import java.util.stream.Collectors;

/** The configuration was rejected as a whole; lists every problem found. */
public class ConfigException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    private final transient List<ConfigProblem> problems;

    public ConfigException(List<ConfigProblem> problems) {
        super("invalid wanmig configuration: " + problems.stream().map(ConfigProblem::toString)
                .collect(Collectors.joining("; ")));
        this.problems = List.copyOf(problems);
    }

    public List<ConfigProblem> problems() {
        return problems;
    }
}
