package org.wanmig.evacuation;

import java.util.List;
import java.util.Objects;

/**
 * What an operator asks for: move the servers of {@code source} (all of them, or the ones named)
 * to some of the other data centers (the ones named, or any).
 */
public final class EvacuationRequest {
    private final String source;
    private final List<String> destinations;
    private final List<String> servers;

    public EvacuationRequest(String source, List<String> destinations, List<String> servers) {
        this.source = Objects.requireNonNull(source);
        this.destinations = List.copyOf(destinations);
        this.servers = List.copyOf(servers);
    }

    /** Every server of {@code source}, to any other data center. */
    public static EvacuationRequest of(String source) {
        return new EvacuationRequest(source, List.of(), List.of());
    }

    public String source() {
        return source;
    }

    /** The data centers servers may go to; empty means every other one. */
    public List<String> destinations() {
        return destinations;
    }

    /** The servers to move; empty means every server that runs in the source now. */
    public List<String> servers() {
        return servers;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof EvacuationRequest && ((EvacuationRequest) o).source.equals(source)
                && ((EvacuationRequest) o).destinations.equals(destinations)
                && ((EvacuationRequest) o).servers.equals(servers);
    }

    @Override
    public int hashCode() {
        return Objects.hash(source, destinations, servers);
    }

    @Override
    public String toString() {
        return "evacuate " + source + (destinations.isEmpty() ? "" : " to " + destinations)
                + (servers.isEmpty() ? "" : " servers " + servers);
    }
}
