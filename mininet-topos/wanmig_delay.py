#!/usr/bin/python3
"""
WAN links with a one-way delay for the Mininet testbed, without netem (these kernels have none).

    DelayLink(node1, node2, port1=, port2=, delay=10, bw=100, queue_ms=5, bulk_ports=(4444,))

A DelayLink looks like an ordinary Mininet link to both switches: node1 gets interface
`intfName1` as OpenFlow port `port1`, node2 gets `intfName2` as `port2`, exactly as with
Link/TCLink, so the switches' ports (and the controller's config) do not change. Inside, the
link is two veth pairs and a network namespace of its own between them:

    node1 [intf1] ==veth== [dla] relay namespace [dlb] ==veth== [intf2] node2
      shaped to bw            wanmig-delay dla dlb DELAY           shaped to bw
      (egress into the relay)    (AF_PACKET, constant delay)     (egress into the relay)

- `wanmig-delay` (wanmig_delay.c, built on first use with gcc into /var/cache/wanmig-net/)
  holds every frame DELAY ms, in both directions.
- The rate limit (`bw`, Mbit/s) is a qdisc on the switch-side ends (shape()), so frames queue
  *before* the delay line and the delay stays constant under load. With QoS (the default,
  `bulk_ports=(4444,)`) it is an htb with two classes, same total rate bw: the QEMU migration
  stream (TCP with source or destination port in bulk_ports) in a low-priority bulk class, and
  everything else (service traffic, replication, MPLS, ARP, probes) in the normal class, served
  first; the bulk class borrows whatever the normal class leaves, as a real WAN's QoS keeps a
  bulk transfer behind service traffic. `bulk_ports=()` gives the one FIFO of before (a tbf),
  for comparison. Each queue holds at most `queue_ms` of traffic at `bw` (default 5 ms): RTT of
  service traffic under full load is at most 2 x delay + max_queue_ms() (plus forwarding time),
  and a migration stream alone adds no queue to it. With `delay` and no `bw`, bw=1000.
- delay=0 (or None) makes no relay: the caller should then use Link/TCLink (see wan_link()).

The relay dies with the Mininet process (PR_SET_PDEATHSIG) and when its interfaces go away;
link.stop() (net.stop()) stops it, deletes the veths and the namespace.
"""

import hashlib
import os
import subprocess

from mininet.link import Intf, Link, TCIntf, TCLink
from mininet.log import debug, warn
from mininet.node import Node
from mininet.util import quietRun

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE = os.path.join(HERE, 'wanmig_delay.c')
CACHE = os.environ.get('WANMIG_NET_CACHE', '/var/cache/wanmig-net')
LOGS = os.environ.get('WANMIG_NET_LOGS', '/var/log/wanmig-net')   # not /tmp: `mn -c` deletes /tmp/*.log
DEFAULT_BW = 1000      # Mbit/s when a delay is asked for without a rate
DEFAULT_QUEUE_MS = 5
MTU = 1514             # bytes of the largest frame on the wire (no FCS)
# IP MTU of every switch-to-switch (WAN) interface: the hosts' 1500 plus two MPLS labels, so the
# tunnel carries a full-size packet of the VS (with 1500, OVS cannot send it: "Message too long",
# and a TCP segment of a full MSS is lost each time it is redirected). A provider's MPLS core
# is configured the same way (its MTU above the customers').
WAN_MTU = 1508
# TCP ports of the QEMU migration stream (wanmig_hvagent.INCOMING_PORT): its own low-priority class
BULK_PORTS = (4444,)
# Of bw, guaranteed to the normal class; the bulk class is guaranteed the rest, so a migration
# still converges when service traffic fills the link.
NORMAL_SHARE = 0.9
# SCHED_FIFO priority of the relay with WANMIG_SCHED=fifo (the switches' too: wanmig_testbed)
RT_PRIORITY = 20


def relay_binary():
    """Path of the compiled relay, built from wanmig_delay.c if this source was not built yet."""
    with open(SOURCE, 'rb') as f:
        digest = hashlib.sha256(f.read()).hexdigest()[:16]
    path = os.path.join(CACHE, 'wanmig-delay-' + digest)
    if not os.path.exists(path):
        os.makedirs(CACHE, exist_ok=True)
        tmp = '%s.%d' % (path, os.getpid())
        subprocess.run(['gcc', '-O2', '-pthread', '-Wall', '-o', tmp, SOURCE], check=True)
        os.rename(tmp, path)
    return path


def _sizes(bw, queue_ms):
    """Bytes/s of bw, the tokens of about 1 ms (at least two frames) and the queue of queue_ms
    at bw (at least four frames)."""
    rate = float(bw) * 1e6 / 8
    burst = max(2 * MTU, int(rate * 0.001))
    return rate, burst, max(4 * MTU, int(rate * queue_ms / 1000.0))


def max_queue_ms(bw, queue_ms=DEFAULT_QUEUE_MS, bulk_ports=BULK_PORTS):
    """The longest shape() can queue a frame of the normal class (service traffic), in ms: with
    bulk_ports=() the one FIFO (tbf), else the normal class, drained at no less than its
    guaranteed share and in front of the bulk class (plus one bulk frame already on its way).
    The bulk class holds as many bytes but drains at what the normal class leaves."""
    rate, burst, queue = _sizes(bw, queue_ms)
    if not bulk_ports:
        return (queue + burst) / rate * 1000
    normal_rate = rate * NORMAL_SHARE
    return (_normal_queue(bw, queue_ms) + burst + MTU) / normal_rate * 1000


def _normal_queue(bw, queue_ms):
    """The normal class's bfifo: queue_ms at its guaranteed rate."""
    return max(4 * MTU, int(float(bw) * 1e6 / 8 * NORMAL_SHARE * queue_ms / 1000.0))


def shape(run, intf, bw, queue_ms, bulk_ports=BULK_PORTS):
    """intf's egress shaped to bw Mbit/s, at most queue_ms of queue per class.

    bulk_ports=() : one FIFO, a tbf (the links of before, for comparison).
    else          : htb with two classes under one parent (rate = ceil = bw):
                    1:10 normal (default): prio 0, rate NORMAL_SHARE x bw, ceil bw
                    1:20 bulk: TCP with source or destination port in bulk_ports (the migration
                         stream), prio 1, the rest of bw guaranteed, ceil bw
                    normal: a bfifo of queue_ms at its guaranteed rate; bulk: a head-drop
                    FIFO of queue_ms at bw, in full-size frames (see below).
    htb serves prio 0 first at every level, so a service frame waits at most for the frame
    already leaving, and the bulk class borrows whatever the normal class does not use. The
    port filter follows the IP header length (u32 `offset` from the IHL into a hash table keyed
    on the TCP header), skips non-first fragments, and leaves MPLS, ARP, UDP and ICMP in 1:10."""
    rate, burst, queue = _sizes(bw, queue_ms)
    bits = int(float(bw) * 1e6)
    if not bulk_ports:
        commands = ['tc qdisc replace dev %s root tbf rate %dbit burst %d limit %d'
                    % (intf, bits, burst, queue + burst)]
    else:
        normal_bits = int(bits * NORMAL_SHARE)
        normal_queue = _normal_queue(bw, queue_ms)
        # explicit quantum: only the rates matter here (different prios), and the r2q default
        # makes the kernel warn at high rates
        htb = 'burst %d cburst %d quantum %d' % (burst, burst, 2 * MTU)
        commands = [
            # del first: OVS may have cleared it, or a tbf / an older htb may be there
            'tc qdisc del dev %s root >/dev/null 2>&1; tc qdisc add dev %s root handle 1: htb default 10'
            % (intf, intf),
            'tc class add dev %s parent 1: classid 1:1 htb rate %dbit ceil %dbit %s'
            % (intf, bits, bits, htb),
            'tc class add dev %s parent 1:1 classid 1:10 htb rate %dbit ceil %dbit prio 0 %s'
            % (intf, normal_bits, bits, htb),
            'tc class add dev %s parent 1:1 classid 1:20 htb rate %dbit ceil %dbit prio 1 %s'
            % (intf, bits - normal_bits, bits, htb),
            'tc qdisc add dev %s parent 1:10 handle 10: bfifo limit %d' % (intf, normal_queue),
            # head drop: a full bulk queue drops its oldest frame and accepts the new one, which
            # the sender sees as success (NET_XMIT_CN). A tail drop returns ENOBUFS, and OVS's
            # userspace datapath then discards the rest of its output batch (sendmmsg stops at
            # the error): service frames batched behind a dropped bulk frame were lost with it.
            'tc qdisc add dev %s parent 1:20 handle 20: pfifo_head_drop limit %d'
            % (intf, max(4, queue // MTU)),
            # hash table 2: looks at the TCP header, wherever the IP header ends
            'tc filter add dev %s parent 1: prio 1 handle 2: protocol ip u32 divisor 1' % intf,
        ]
        for port in bulk_ports:
            for field in ('src', 'dst'):
                commands.append('tc filter add dev %s parent 1: prio 1 protocol ip u32 ht 2: '
                                'match tcp %s %d 0xffff flowid 1:20' % (intf, field, int(port)))
        # TCP, fragment offset 0: jump IHL x 4 bytes ahead into table 2
        commands.append('tc filter add dev %s parent 1: prio 1 protocol ip u32 ht 800: '
                        'match ip protocol 6 0xff match u16 0 0x1fff at 6 '
                        'offset at 0 mask 0x0f00 shift 6 link 2:' % intf)
    for command in commands:
        out = run(command)
        if out.strip():
            raise RuntimeError('shaping %s: %s: %s' % (intf, command, out.strip()))


class ShapedIntf(TCIntf):
    """The switch-side end of a WAN link: shape() instead of TCIntf's htb/netem. A TCIntf so
    that OVSSwitch.batchStartup / attach re-apply it after OVS cleared the port's qdisc."""

    def config(self, wan_bw=None, wan_queue_ms=DEFAULT_QUEUE_MS, wan_bulk_ports=BULK_PORTS,
               **params):
        result = Intf.config(self, **params)
        self.cmd('ethtool -K %s rx off tx off sg off tso off gso off gro off >/dev/null 2>&1'
                 % self.name)
        out = self.cmd('ip link set dev %s mtu %d' % (self.name, WAN_MTU))
        if out.strip():
            raise RuntimeError('%s: mtu %d: %s' % (self.name, WAN_MTU, out.strip()))
        if wan_bw:
            shape(self.cmd, self.name, wan_bw, wan_queue_ms, wan_bulk_ports)
        return result


class DelayLink(Link):
    """A switch-to-switch link with a one-way delay (ms) and an optional rate (Mbit/s)."""

    count = 0

    def __init__(self, node1, node2, delay=10, bw=None, queue_ms=DEFAULT_QUEUE_MS,
                 delay_back=None, bulk_ports=BULK_PORTS, **params):
        self.delay = float(delay)
        self.delay_back = float(delay_back if delay_back is not None else delay)
        self.bw = float(bw) if bw else DEFAULT_BW
        self.queue_ms = float(queue_ms)
        for unsupported in ('loss', 'jitter', 'max_queue_size', 'use_htb'):
            params.pop(unsupported, None)
        DelayLink.count += 1
        # The relay's namespace, a Node that is not part of the net (net.hosts stays as it was).
        self.relay = Node('dl%d-%s-%s' % (DelayLink.count, node1.name, node2.name)[:60],
                          inNamespace=True)
        self.proc = None
        try:
            self.relay.cmd('sysctl -qw net.ipv6.conf.all.disable_ipv6=1 '
                           'net.ipv6.conf.default.disable_ipv6=1')
            params.update(cls1=ShapedIntf, cls2=ShapedIntf, wan_bw=self.bw,
                          wan_queue_ms=self.queue_ms, wan_bulk_ports=tuple(bulk_ports))
            super().__init__(node1, node2, **params)
            self._configure()
        except BaseException:
            self._cleanup()
            raise

    def makeIntfPair(self, intfname1, intfname2, addr1=None, addr2=None, node1=None,
                     node2=None, deleteIntfs=True):
        """Two veth pairs instead of one: intfname1 <-> a and intfname2 <-> b, a and b in the
        relay's namespace. (Link.__init__ calls this; the interface objects follow as usual.)"""
        for intf, node, peer in ((intfname1, node1, 'dla'), (intfname2, node2, 'dlb')):
            run = node.cmd if node else quietRun
            if deleteIntfs:
                run('ip link del ' + intf)
            out = run('ip link add name %s type veth peer name %s netns %d'
                      % (intf, peer, self.relay.pid))
            if out.strip():
                raise RuntimeError('DelayLink: cannot create %s: %s' % (intf, out.strip()))

    def _configure(self):
        offloads = 'rx off tx off sg off tso off gso off gro off'
        for end in ('dla', 'dlb'):
            out = self.relay.cmd('ethtool -K %s %s >/dev/null 2>&1; ip link set dev %s mtu %d up'
                                 % (end, offloads, end, WAN_MTU))
            if out.strip():
                raise RuntimeError('DelayLink: %s: %s' % (end, out.strip()))
        os.makedirs(LOGS, exist_ok=True)
        self.log_path = os.path.join(LOGS, '%s.log' % self.relay.name)
        self.log = open(self.log_path, 'w')
        # WANMIG_SCHED=fifo (the testbed's realtime mode): the delay line is part of the network
        rt = ['chrt', '-f', str(RT_PRIORITY)] if os.environ.get('WANMIG_SCHED') == 'fifo' else []
        self.proc = self.relay.popen(rt + [relay_binary(), 'dla', 'dlb', '%g' % self.delay,
                                      '%g' % self.delay_back],
                                     stdin=subprocess.DEVNULL, stdout=self.log, stderr=self.log)
        debug('*** %s: delay %g/%g ms, %g Mbit/s, pid %d\n'
              % (self, self.delay, self.delay_back, self.bw, self.proc.pid))

    def stats(self):
        """The relay's counters per direction (SIGUSR1 makes it print them): relayed, dropped,
        errors, late_mean_us / late_max_us (how much later than the configured delay frames
        left), late_over_1ms, depth_max (frames held at once)."""
        import re
        import signal
        import time
        if self.proc is None or self.proc.poll() is not None:
            return {}
        self.proc.send_signal(signal.SIGUSR1)
        time.sleep(0.2)
        result = {}
        with open(self.log_path) as f:
            for line in f:
                m = re.match(r'wanmig-delay (\S+): (.*)', line.strip())
                if m and 'relayed' in m.group(2):
                    words = m.group(2).split()
                    result[m.group(1)] = {k: float(v) for k, v in zip(words[::2], words[1::2])}
        return result

    def _cleanup(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None
        if self.relay is not None and self.relay.shell:
            self.relay.terminate()
        self.relay = None

    def delete(self):
        self._cleanup()
        if getattr(self, 'intf1', None) is not None:
            super().delete()

    def status(self):
        alive = self.proc is not None and self.proc.poll() is None
        return '%s delay=%gms bw=%gMbit relay=%s' % (super().status(), self.delay, self.bw,
                                                     'up' if alive else 'DOWN')


class ShapedLink(Link):
    """A plain veth link whose two ends have the DelayLink's shaping (rate bw, at most queue_ms
    of queue per class, see shape()). TCLink's htb queues up to txqueuelen (1000) frames: 120 ms
    at 100 Mbit/s, which would add far more than the WAN delay under load."""

    def __init__(self, node1, node2, bw=None, queue_ms=DEFAULT_QUEUE_MS, bulk_ports=BULK_PORTS,
                 **params):
        for unsupported in ('delay', 'loss', 'jitter', 'max_queue_size', 'use_htb'):
            params.pop(unsupported, None)
        params.update(cls1=ShapedIntf, cls2=ShapedIntf, wan_bw=bw, wan_queue_ms=queue_ms,
                      wan_bulk_ports=tuple(bulk_ports))
        super().__init__(node1, node2, **params)


def wan_link(bw=None, delay=None, queue_ms=DEFAULT_QUEUE_MS, bulk_ports=BULK_PORTS):
    """addLink() options for a WAN link: DelayLink when there is a delay, else ShapedLink (a
    plain veth pair, shaped when there is a rate); both ends get WAN_MTU. bulk_ports: TCP ports
    of the low-priority class (the migration stream); () shapes with one FIFO (tbf) as before."""
    if delay:
        return dict(cls=DelayLink, delay=delay, bw=bw, queue_ms=queue_ms,
                    bulk_ports=tuple(bulk_ports))
    # without a rate: a ShapedLink that shapes nothing, for its ends' WAN_MTU
    return dict(cls=ShapedLink, bw=bw, queue_ms=queue_ms, bulk_ports=tuple(bulk_ports))


def as_bool(value):
    """A topology option as a bool: `mn --topo x,qos=False` passes the string 'False'."""
    if isinstance(value, str):
        return value.strip().lower() not in ('false', '0', 'no', 'off', '')
    return bool(value)


def check_relays(net):
    """Names of DelayLinks whose relay process is not running (empty when all are fine)."""
    dead = []
    for link in net.links:
        if isinstance(link, DelayLink) and (link.proc is None or link.proc.poll() is not None):
            dead.append(str(link))
    if dead:
        warn('*** relays not running: %s\n' % ', '.join(dead))
    return dead
