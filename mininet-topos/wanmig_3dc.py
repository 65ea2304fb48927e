#!/usr/bin/python3
"""
wanmig3dc: two client sites and three data centers on a triangular WAN core.

Matches mininet-topos/wanmig-3dc.json port for port (see README.md):

              h1                                       h2
  core1-core2, core2-core3, core1-core3 carry `delay=` (one-way ms, default 10)
              |1                                       |1
            [cs1]                                    [cs2]
              |2                                       |2
              1                                        3
  vs1 --2[peA]1 ---2[core1]3 ---------1[core2]3 ---1[core3]2 ---1[peC]2,3,4 .. vs1, vs2, vs3
  vs2 --3            4                  2              4
  vs3 --4            |                  1              |
 (vs4 --5            |                [peB]2,3,4 .. vs1, vs2, vs3
  vs5 --6            +---------------------------------+
  vs6 --7)  with servers=6 only; their slots are port 5, 6, 7 at peB and peC too

servers=3 (default) matches wanmig-3dc.json; servers=6 matches wanmig-3dc-6vs.json (the evacuation
demo, scripts/demo --evacuate). vs1..vs3 keep their addresses and ports either way.
storage=True adds the replication hosts storA (peA port 8, 10.3.1.10) and storB (peB port 8,
10.3.2.10), as in wanmig2dc (the failover demo, scripts/demo --failover, adds them to the netcfg).
vm=True (with servers=6 and storage=True: wanmig-3dc-6vs-vm.json, scripts/demo --evacuate --vm)
adds the real VM's hypervisor hosts hvA, hvB and hvC at port 10 of peA, peB and peC; the VM's tap
is attached to port 9 of its PE at run time (wanmig_qemu).

With `bw=`, WAN ports keep the QEMU migration stream (TCP port 4444) in a low-priority class behind
everything else (wanmig_delay.shape()); `qos=False` shapes with one FIFO instead.

Run it with:
    mn --custom wanmig_3dc.py --topo wanmig3dc[,servers=6][,bw=100,qos=False] --controller remote
The WAN core has a loop: use it with the wanmig controller, never in standalone (learning) mode.
"""

import inspect
import os
import sys
from functools import partial

from mininet.link import Link, TCLink
from mininet.net import Mininet
from mininet.node import RemoteController
from mininet.topo import Topo

# `mn --custom` execs this file without its folder on sys.path: find the folder from the code itself
sys.path.insert(0, os.path.dirname(os.path.abspath(inspect.getsourcefile(lambda: 0))))
from wanmig_2dc import DEFAULT_DELAY_MS, WanmigHost, server_link_names, switch_opts  # noqa: E402
from wanmig_delay import BULK_PORTS, as_bool, wan_link  # noqa: E402

DPIDS = {  # name: dpid
    'cs1': '0000000000000001', 'core1': '0000000000000002', 'core2': '0000000000000003',
    'cs2': '0000000000000004', 'core3': '0000000000000005',
    'peA': '000000000000000a', 'peB': '000000000000000b', 'peC': '000000000000000c',
}
WAN_LINKS = [  # (switch, port, switch, port)
    ('cs1', 2, 'core1', 1),
    ('core1', 2, 'peA', 1),
    ('core1', 3, 'core2', 1),
    ('core2', 2, 'peB', 1),
    ('core2', 3, 'core3', 1),
    ('core3', 2, 'peC', 1),
    ('core3', 3, 'cs2', 2),
    ('core1', 4, 'core3', 4),
]
CLIENT_HOSTS = [  # (host, ip/prefix, mac, gateway, switch, port)
    ('h1', '10.0.1.1/24', '00:00:00:00:01:01', '10.0.1.254', 'cs1', 1),
    ('h2', '10.0.2.1/24', '00:00:00:00:01:02', '10.0.2.254', 'cs2', 1),
]
SERVER_HOSTS = [  # (host, ip/prefix, mac, gateway, pe, port); all start in DC A
    ('vs1', '10.2.0.10/24', '00:00:00:00:02:10', '10.2.0.254', 'peA', 2),
    ('vs2', '10.2.0.20/24', '00:00:00:00:02:20', '10.2.0.254', 'peA', 3),
    ('vs3', '10.2.0.30/24', '00:00:00:00:02:30', '10.2.0.254', 'peA', 4),
]
STORAGE_HOSTS = [  # storage=True only: (host, ip/prefix, mac, gateway, pe, port), one agent per DC
    ('storA', '10.3.1.10/24', '00:00:00:00:03:01', '10.3.1.254', 'peA', 8),
    ('storB', '10.3.2.10/24', '00:00:00:00:03:02', '10.3.2.254', 'peB', 8),
]
HYPERVISOR_HOSTS = [  # vm=True only: (host, ip/prefix, mac, gateway, pe, port), one per DC
    ('hvA', '10.4.1.10/24', '00:00:00:00:04:01', '10.4.1.254', 'peA', 10),
    ('hvB', '10.4.2.10/24', '00:00:00:00:04:02', '10.4.2.254', 'peB', 10),
    ('hvC', '10.4.3.10/24', '00:00:00:00:04:03', '10.4.3.254', 'peC', 10),
]
EXTRA_SERVER_HOSTS = [  # servers=6 only (evacuation demo): also in DC A, on new ports
    ('vs4', '10.2.0.40/24', '00:00:00:00:02:40', '10.2.0.254', 'peA', 5),
    ('vs5', '10.2.0.50/24', '00:00:00:00:02:50', '10.2.0.254', 'peA', 6),
    ('vs6', '10.2.0.60/24', '00:00:00:00:02:60', '10.2.0.254', 'peA', 7),
]


def server_hosts(servers=3):
    """The server hosts of a testbed with `servers` servers (3 or 6)."""
    if servers not in (3, 6):
        raise ValueError('servers must be 3 or 6, not %r' % servers)
    return SERVER_HOSTS + (EXTRA_SERVER_HOSTS if servers == 6 else [])


class WanMig3DC(Topo):
    """Client sites 1 and 2, WAN core1..3, DCs A, B, C; vs1, vs2 and vs3 (servers=6: up to vs6)
    start in A."""

    def build(self, bw=None, fail_mode='secure', delay=DEFAULT_DELAY_MS, queue_ms=5, servers=3, storage=False,
              vm=False, qos=True):
        # Only the WAN links are shaped; access links run at veth speed. The core-to-core links
        # (the triangle) carry the delay between DCs: every pair of DCs is `delay` ms apart.
        for name, dpid in DPIDS.items():
            self.addSwitch(name, **switch_opts(dpid, fail_mode))
        for one, port1, two, port2 in WAN_LINKS:
            core_to_core = one.startswith('core') and two.startswith('core')
            wan = wan_link(bw=bw, delay=float(delay or 0) if core_to_core else 0,
                           queue_ms=float(queue_ms), bulk_ports=BULK_PORTS if as_bool(qos) else ())
            self.addLink(one, two, port1=port1, port2=port2, **wan)
        for host, ip, mac, gateway, switch, port in CLIENT_HOSTS:
            self.addHost(host, cls=WanmigHost, ip=ip, mac=mac, defaultRoute='via ' + gateway)
            self.addLink(host, switch, port2=port)
        for host, ip, mac, gateway, pe, port in server_hosts(int(servers)):
            self.addHost(host, cls=WanmigHost, ip=ip, mac=mac, defaultRoute='via ' + gateway)
            self.addLink(host, pe, port2=port, **server_link_names(host))
        for host, ip, mac, gateway, pe, port in (STORAGE_HOSTS if storage else []) + (HYPERVISOR_HOSTS if vm else []):
            self.addHost(host, cls=WanmigHost, ip=ip, mac=mac, defaultRoute='via ' + gateway)
            self.addLink(host, pe, port2=port)


def make_net(bw=None, controller_ip='127.0.0.1', controller_port=6653, delay=DEFAULT_DELAY_MS, servers=3,
             storage=False, vm=False, qos=True):
    """A Mininet net (not started) with the topology and the remote controller; delay: one-way
    ms between every two DCs (0: none); servers: 3 (wanmig-3dc.json) or 6 (wanmig-3dc-6vs.json);
    storage: storA and storB on port 8 of peA and peB; vm: hvA..hvC on port 10 of every PE;
    qos=False: WAN ports shape with one FIFO instead of keeping the migration stream behind."""
    return Mininet(topo=WanMig3DC(bw=bw, delay=delay, servers=servers, storage=storage, vm=vm, qos=qos),
                   link=Link,
                   autoSetMacs=False,
                   controller=partial(RemoteController, ip=controller_ip, port=controller_port))


topos = {'wanmig3dc': WanMig3DC}
controllers = {'wanmig': partial(RemoteController, ip='127.0.0.1', port=6653)}


if __name__ == '__main__':
    from mininet.cli import CLI
    from mininet.log import setLogLevel
    setLogLevel('info')
    net = make_net()
    net.start()
    CLI(net)
    net.stop()
