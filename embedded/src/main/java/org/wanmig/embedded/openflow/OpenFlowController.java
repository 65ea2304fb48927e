package org.wanmig.embedded.openflow;

import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.nio.NioEventLoopGroup;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.handler.timeout.IdleStateHandler;
import io.netty.util.concurrent.DefaultThreadFactory;
import org.onosproject.net.DeviceId;
import org.onosproject.net.PortNumber;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.wanmig.spi.SwitchException;

import java.net.InetSocketAddress;
import java.util.Collection;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import java.util.stream.Collectors;

/**
 * The OpenFlow 1.3 controller of the embedded runtime: accepts switch connections, keeps the set
 * of connected switches, and tells listeners about switches, ports and packet-ins.
 * <p>
 * Netty's event loops do I/O only. Listener callbacks run one at a time on a single event thread
 * of their own, in the order things happened on the wire for one switch.
 * <pre>
 *   OpenFlowController of = new OpenFlowController(OpenFlowConfig.defaults());
 *   OpenFlowNetworkProgrammer programmer = new OpenFlowNetworkProgrammer(of);  // before start()
 *   of.addPacketListener(new ArpPacketHandler(responder::reply, of));
 *   of.start();
 * </pre>
 */
public final class OpenFlowController implements PacketSender, AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(OpenFlowController.class);

    private enum State { NEW, RUNNING, CLOSED }

    private final OpenFlowConfig config;
    private final Map<DeviceId, OpenFlowSwitch> switches = new ConcurrentHashMap<>();
    private final List<SwitchListener> switchListeners = new CopyOnWriteArrayList<>();
    private final List<PacketListener> packetListeners = new CopyOnWriteArrayList<>();
    private final ExecutorService events =
            Executors.newSingleThreadExecutor(new DefaultThreadFactory("wanmig-of-events", true));

    private State state = State.NEW;
    private EventLoopGroup bossGroup;
    private EventLoopGroup workerGroup;
    private Channel serverChannel;

    public OpenFlowController(OpenFlowConfig config) {
        this.config = config;
    }

    public OpenFlowConfig config() {
        return config;
    }

    /** Binds the listening socket; switches can connect once this returns. */
    public synchronized void start() throws InterruptedException {
        if (state != State.NEW) {
            throw new IllegalStateException("controller is " + state);
        }
        bossGroup = new NioEventLoopGroup(1, new DefaultThreadFactory("wanmig-of-accept", true));
        workerGroup = new NioEventLoopGroup(0, new DefaultThreadFactory("wanmig-of-io", true));
        SwitchAgent agent = new Agent();
        ServerBootstrap bootstrap = new ServerBootstrap()
                .group(bossGroup, workerGroup)
                .channel(NioServerSocketChannel.class)
                .option(ChannelOption.SO_REUSEADDR, true)
                .childOption(ChannelOption.TCP_NODELAY, true)
                .childOption(ChannelOption.SO_KEEPALIVE, true)
                .childHandler(new ChannelInitializer<SocketChannel>() {
                    @Override
                    protected void initChannel(SocketChannel ch) {
                        ch.pipeline()
                                .addLast("idle", new IdleStateHandler(
                                        config.echoInterval().toMillis(), 0, 0, TimeUnit.MILLISECONDS))
                                .addLast("ofDecoder", new OfMessageDecoder())
                                .addLast("ofEncoder", new OfMessageEncoder())
                                .addLast("switch", new SwitchChannelHandler(
                                        agent, config.confirmTimeout(), config.handshakeTimeout()));
                    }
                });
        try {
            serverChannel = bootstrap.bind(new InetSocketAddress(config.bindAddress(), config.port()))
                    .sync().channel();
        } catch (InterruptedException | RuntimeException e) {
            shutdownGroups();
            throw e;
        }
        state = State.RUNNING;
        log.info("OpenFlow 1.3 controller listening on {}", serverChannel.localAddress());
    }

    /** The TCP port actually listened on (differs from the configured one when that was 0). */
    public synchronized int localPort() {
        if (serverChannel == null) {
            throw new IllegalStateException("controller not started");
        }
        return ((InetSocketAddress) serverChannel.localAddress()).getPort();
    }

    /** Stops listening, drops every switch connection and stops the event thread. */
    @Override
    public synchronized void close() {
        if (state == State.CLOSED) {
            return;
        }
        state = State.CLOSED;
        if (serverChannel != null) {
            serverChannel.close().syncUninterruptibly();
        }
        switches.values().forEach(OpenFlowSwitch::close);
        shutdownGroups();
        events.shutdown();
        try {
            events.awaitTermination(5, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        log.info("OpenFlow controller stopped");
    }

    private void shutdownGroups() {
        if (workerGroup != null) {
            workerGroup.shutdownGracefully(0, 2, TimeUnit.SECONDS).syncUninterruptibly();
        }
        if (bossGroup != null) {
            bossGroup.shutdownGracefully(0, 2, TimeUnit.SECONDS).syncUninterruptibly();
        }
    }

    public void addSwitchListener(SwitchListener listener) {
        switchListeners.add(listener);
    }

    public void removeSwitchListener(SwitchListener listener) {
        switchListeners.remove(listener);
    }

    public void addPacketListener(PacketListener listener) {
        packetListeners.add(listener);
    }

    public void removePacketListener(PacketListener listener) {
        packetListeners.remove(listener);
    }

    /** Whether the switch is connected and through the handshake. */
    public boolean isConnected(DeviceId device) {
        OpenFlowSwitch sw = switches.get(device);
        return sw != null && sw.isConnected();
    }

    /** The connected switch, if any. */
    public Optional<OpenFlowSwitch> getSwitch(DeviceId device) {
        return Optional.ofNullable(switches.get(device)).filter(OpenFlowSwitch::isConnected);
    }

    /** Snapshots of the connected switches, sorted by device id. */
    public List<SwitchInfo> switches() {
        return switches.values().stream().filter(OpenFlowSwitch::isConnected).map(OpenFlowSwitch::info)
                .sorted(Comparator.comparing(i -> i.deviceId().toString()))
                .collect(Collectors.toUnmodifiableList());
    }

    /** The connected switches' device ids. */
    public Collection<DeviceId> deviceIds() {
        return switches().stream().map(SwitchInfo::deviceId).collect(Collectors.toUnmodifiableList());
    }

    @Override
    public void sendPacket(DeviceId device, PortNumber outPort, byte[] frame) {
        getSwitch(device).orElseThrow(() -> new SwitchException(device, 0, "switch not connected"))
                .sendPacket(outPort, frame);
    }

    /** Runs each listener's callback on the event thread; one failing listener does not starve the others. */
    private <L> void dispatch(String what, List<L> listeners, Consumer<L> call) {
        try {
            events.execute(() -> {
                for (L listener : listeners) {
                    try {
                        call.accept(listener);
                    } catch (RuntimeException e) {
                        log.warn("Listener {} failed on {}", listener, what, e);
                    }
                }
            });
        } catch (RejectedExecutionException e) {
            log.debug("Controller closed, {} not delivered", what);
        }
    }

    /** Receives the connections' reports on the event loop and hands them to the event thread. */
    private final class Agent implements SwitchAgent {
        @Override
        public void switchConnected(OpenFlowSwitch sw) {
            OpenFlowSwitch old = switches.put(sw.deviceId(), sw);
            if (old != null && old != sw) {
                // The switch reconnected before we noticed the old connection die: the new one wins.
                log.info("Switch {} reconnected; closing its previous connection {}", sw.deviceId(), old);
                old.close();
            }
            SwitchInfo info = sw.info();
            dispatch("switchConnected " + sw.deviceId(), switchListeners, l -> l.switchConnected(info));
        }

        @Override
        public void switchDisconnected(OpenFlowSwitch sw) {
            if (switches.remove(sw.deviceId(), sw)) {
                dispatch("switchDisconnected " + sw.deviceId(), switchListeners,
                        l -> l.switchDisconnected(sw.deviceId()));
            }
        }

        @Override
        public void packetIn(OpenFlowSwitch sw, PortNumber inPort, byte[] frame) {
            dispatch("packetIn " + sw.deviceId(), packetListeners, l -> l.packetIn(sw.deviceId(), inPort, frame));
        }

        @Override
        public void portChanged(OpenFlowSwitch sw, PortInfo port, SwitchListener.PortChange change) {
            dispatch("portChanged " + sw.deviceId(), switchListeners, l -> l.portChanged(sw.deviceId(), port, change));
        }
    }
}
