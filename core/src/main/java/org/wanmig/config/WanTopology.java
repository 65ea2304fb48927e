package org.wanmig.config;

import org.onlab.packet.MacAddress;
import org.onosproject.net.DeviceId;

import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;

/**
 * The validated configuration of wanmig: data centers, WAN, client sites and virtual servers.
 * Built only by {@link WanTopologyParser}, so every instance has passed validation.
 */
public final class WanTopology {
    private final Map<String, DataCenter> dataCenters;
    private final Set<DeviceId> wanSwitches;
    private final List<WanLink> links;
    private final Map<String, ClientSite> clientSites;
    private final Map<String, VirtualServer> servers;
    private final LabelRange labels;
    private final MacAddress gatewayMac;
    private final MigrationSettings settings;
    private final FailoverDetection failoverDetection;

    WanTopology(Collection<DataCenter> dataCenters, Collection<DeviceId> wanSwitches, List<WanLink> links,
                Collection<ClientSite> clientSites, Collection<VirtualServer> servers, LabelRange labels,
                MacAddress gatewayMac, MigrationSettings settings, FailoverDetection failoverDetection) {
        this.dataCenters = byName(dataCenters, DataCenter::name);
        this.wanSwitches = Set.copyOf(new LinkedHashSet<>(wanSwitches));
        this.links = List.copyOf(links);
        this.clientSites = byName(clientSites, ClientSite::name);
        this.servers = byName(servers, VirtualServer::name);
        this.labels = Objects.requireNonNull(labels);
        this.gatewayMac = Objects.requireNonNull(gatewayMac);
        this.settings = Objects.requireNonNull(settings);
        this.failoverDetection = Objects.requireNonNull(failoverDetection);
    }

    private static <T> Map<String, T> byName(Collection<T> items, java.util.function.Function<T, String> name) {
        Map<String, T> map = new LinkedHashMap<>();
        items.forEach(i -> map.put(name.apply(i), i));
        return java.util.Collections.unmodifiableMap(map);
    }

    public Collection<DataCenter> dataCenters() {
        return dataCenters.values();
    }

    public Optional<DataCenter> dataCenter(String name) {
        return Optional.ofNullable(dataCenters.get(name));
    }

    public Set<DeviceId> wanSwitches() {
        return wanSwitches;
    }

    /** Every switch the MMS programs: the PEs and the WAN switches. */
    public Set<DeviceId> allSwitches() {
        Set<DeviceId> all = new LinkedHashSet<>();
        dataCenters.values().forEach(d -> all.add(d.pe()));
        all.addAll(wanSwitches);
        return all;
    }

    public List<WanLink> links() {
        return links;
    }

    public Collection<ClientSite> clientSites() {
        return clientSites.values();
    }

    public Optional<ClientSite> clientSite(String name) {
        return Optional.ofNullable(clientSites.get(name));
    }

    public Collection<VirtualServer> servers() {
        return servers.values();
    }

    public Optional<VirtualServer> server(String name) {
        return Optional.ofNullable(servers.get(name));
    }

    public LabelRange labels() {
        return labels;
    }

    /** The MAC with which the MMS answers ARP for every gateway address. */
    public MacAddress gatewayMac() {
        return gatewayMac;
    }

    public MigrationSettings settings() {
        return settings;
    }

    /** Whether and how a lost data center is declared without an operator (failover.detection). */
    public FailoverDetection failoverDetection() {
        return failoverDetection;
    }

    /** The same topology with one link's state changed (links are matched end to end). */
    public WanTopology withLink(WanLink changed) {
        List<WanLink> updated = new java.util.ArrayList<>();
        for (WanLink l : links) {
            boolean same = l.one().equals(changed.one()) && l.two().equals(changed.two())
                    || l.one().equals(changed.two()) && l.two().equals(changed.one());
            updated.add(same ? l.withUp(changed.isUp()) : l);
        }
        return new WanTopology(dataCenters.values(), wanSwitches, updated, clientSites.values(),
                servers.values(), labels, gatewayMac, settings, failoverDetection);
    }

    @Override
    public boolean equals(Object o) {
        if (!(o instanceof WanTopology)) {
            return false;
        }
        WanTopology t = (WanTopology) o;
        return dataCenters.equals(t.dataCenters) && wanSwitches.equals(t.wanSwitches) && links.equals(t.links)
                && clientSites.equals(t.clientSites) && servers.equals(t.servers) && labels.equals(t.labels)
                && gatewayMac.equals(t.gatewayMac) && settings.equals(t.settings)
                && failoverDetection.equals(t.failoverDetection);
    }

    @Override
    public int hashCode() {
        return Objects.hash(dataCenters, wanSwitches, links, clientSites, servers, labels);
    }
}
