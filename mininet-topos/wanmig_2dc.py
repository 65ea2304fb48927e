#!/usr/bin/python3
"""
wanmig2dc: one client site and two data centers across a small WAN core.

Matches mininet-topos/wanmig-2dc.json port for port (see README.md):

   site1                 WAN core                      DC B
 h1 --1[cs1]2 ----1[core1]3 ---------1[core2]2 ----1[peB]2 .. vs1 after migration
                      2                                3 -- storB (storage=True)
                      |                                4 -- hvB (vm=True)
                      1
      DC A         [peA]2 -- vs1 (vm=True: the VM's tap)
                      3 -- storA (storage=True)
                      4 -- hvA (vm=True)

The core1-core2 link carries the delay between the DCs (`delay=`, one-way ms, default 10; a
DelayLink, see wanmig_delay.py); WAN links are rate limited with `bw=` (Mbit/s). delay=0 gives
the plain veth / htb links of before. With `bw=`, every WAN port keeps the QEMU migration stream
(TCP port 4444, wanmig_hvagent.INCOMING_PORT) in a low-priority class behind everything else, as a
real WAN's QoS keeps a bulk transfer behind service traffic; `qos=False` shapes with one FIFO (tbf)
instead, for comparison.

Run it with:
    mn --custom wanmig_2dc.py --topo wanmig2dc --controller remote
    mn --custom wanmig_2dc.py --topo wanmig2dc,bw=100,delay=25,storage=True --controller remote
    mn --custom wanmig_2dc.py --topo wanmig2dc,bw=100,delay=10,qos=False --controller remote
or from Python: net = wanmig_2dc.make_net(bw=100, delay=10).
"""

import inspect
import os
import sys

from functools import partial

from mininet.link import Link, TCLink
from mininet.net import Mininet
from mininet.node import Host, OVSSwitch, RemoteController
from mininet.topo import Topo
from mininet.log import warn

# `mn --custom` execs this file without its folder on sys.path: find the folder from the code itself
sys.path.insert(0, os.path.dirname(os.path.abspath(inspect.getsourcefile(lambda: 0))))
from wanmig_delay import BULK_PORTS, as_bool, wan_link  # noqa: E402

GATEWAY_MAC = '00:00:5e:00:01:01'   # answered by the controller for every gateway IP
DEFAULT_DELAY_MS = 10               # one-way delay between the data centers
# Hypervisor hosts (vm=True): (host, ip/prefix, mac, gateway, pe, port)
HYPERVISOR_HOSTS = [
    ('hvA', '10.4.1.10/24', '00:00:00:00:04:01', '10.4.1.254', 'peA', 4),
    ('hvB', '10.4.2.10/24', '00:00:00:00:04:02', '10.4.2.254', 'peB', 4),
]


class WanmigHost(Host):
    """A host whose NIC fills in its own checksums. OVS's userspace datapath forwards
    checksum-offloaded veth packets with the checksum unfilled, so the receiver drops every
    TCP and UDP packet (ping still works). Needs ethtool."""

    def config(self, **params):
        result = super().config(**params)
        for intf in self.intfList():
            if intf.name != 'lo' and self.cmd('ethtool -K %s tx off >/dev/null 2>&1; echo $?' % intf).strip() != '0':
                warn('*** %s: cannot switch off checksum offload on %s (install ethtool)\n' % (self, intf))
        return result


def switch_opts(dpid, fail_mode='secure'):
    """OVS in user space (the machines have no openvswitch kernel module), OpenFlow 1.3."""
    return dict(cls=OVSSwitch, dpid=dpid, datapath='user', protocols='OpenFlow13',
                failMode=fail_mode)


def server_link_names(server):
    """Interface names of a server's uplink: its own end and the end that is the switch port.
    The switch-side end keeps its name when the hypervisor moves it to another PE."""
    return dict(intfName1='%s-eth0' % server, intfName2='%s-sw' % server)


class WanMig2DC(Topo):
    """Client site 1 (cs1, h1), WAN core (core1, core2), DC A (peA, vs1), DC B (peB)."""

    def build(self, bw=None, storage=False, fail_mode='secure', delay=DEFAULT_DELAY_MS, vm=False,
              queue_ms=5, qos=True):
        # Only the WAN links are shaped; access links run at veth speed. The delay between the
        # DCs sits on core1-core2 (a DelayLink: same ports, a delay relay inside).
        bulk = BULK_PORTS if as_bool(qos) else ()
        wan = wan_link(bw=bw, queue_ms=float(queue_ms), bulk_ports=bulk)
        inter_dc = wan_link(bw=bw, delay=float(delay or 0), queue_ms=float(queue_ms), bulk_ports=bulk)
        sw = partial(switch_opts, fail_mode=fail_mode)

        cs1 = self.addSwitch('cs1', **sw('0000000000000001'))
        core1 = self.addSwitch('core1', **sw('0000000000000002'))
        core2 = self.addSwitch('core2', **sw('0000000000000003'))
        peA = self.addSwitch('peA', **sw('000000000000000a'))
        peB = self.addSwitch('peB', **sw('000000000000000b'))

        h1 = self.addHost('h1', cls=WanmigHost, ip='10.0.1.1/24', mac='00:00:00:00:01:01',
                          defaultRoute='via 10.0.1.254')
        self.addLink(h1, cs1, port2=1)
        self.addLink(cs1, core1, port1=2, port2=1, **wan)
        self.addLink(core1, peA, port1=2, port2=1, **wan)
        self.addLink(core1, core2, port1=3, port2=1, **inter_dc)
        self.addLink(core2, peB, port1=2, port2=1, **wan)
        if not vm:
            # vm=True: vs1 is a QEMU guest whose tap wanmig_qemu attaches to peA port 2 at run time
            vs1 = self.addHost('vs1', cls=WanmigHost, ip='10.2.0.10/24', mac='00:00:00:00:02:10',
                               defaultRoute='via 10.2.0.254')
            self.addLink(vs1, peA, port2=2, **server_link_names('vs1'))
        else:
            for host, ip, mac, gateway, pe, port in HYPERVISOR_HOSTS:
                self.addHost(host, cls=WanmigHost, ip=ip, mac=mac, defaultRoute='via ' + gateway)
                self.addLink(host, pe, port2=port)

        if storage:
            # Replication endpoints, one per DC; the controller config does not route them yet.
            storA = self.addHost('storA', cls=WanmigHost, ip='10.3.1.10/24', mac='00:00:00:00:03:01',
                                 defaultRoute='via 10.3.1.254')
            storB = self.addHost('storB', cls=WanmigHost, ip='10.3.2.10/24', mac='00:00:00:00:03:02',
                                 defaultRoute='via 10.3.2.254')
            self.addLink(storA, peA, port2=3)
            self.addLink(storB, peB, port2=3)


def make_net(bw=None, storage=False, fail_mode='secure', remote=True,
             controller_ip='127.0.0.1', controller_port=6653, delay=DEFAULT_DELAY_MS, vm=False,
             queue_ms=5, qos=True):
    """A Mininet net (not started). remote=False: no controller at all, e.g. for
    fail_mode='standalone' (L2 learning) or for hand-installed rules. delay: one-way ms
    between the DCs (0: none); vm=True: hypervisor hosts hvA/hvB instead of the vs1 host;
    qos=False: WAN ports shape with one FIFO instead of keeping the migration stream behind."""
    controller = partial(RemoteController, ip=controller_ip, port=controller_port) if remote else None
    return Mininet(topo=WanMig2DC(bw=bw, storage=storage, fail_mode=fail_mode, delay=delay, vm=vm,
                                  queue_ms=queue_ms, qos=qos),
                   controller=controller, link=Link, autoSetMacs=False)


topos = {'wanmig2dc': WanMig2DC}
controllers = {'wanmig': partial(RemoteController, ip='127.0.0.1', port=6653)}


if __name__ == '__main__':
    from mininet.cli import CLI
    from mininet.log import setLogLevel
    setLogLevel('info')
    net = make_net()
    net.start()
    CLI(net)
    net.stop()
