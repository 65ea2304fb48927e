#!/usr/bin/python3
"""
WAN delay test: the DelayLink of the 2-DC testbed (mininet-topos/wanmig_delay.py).

    flock /tmp/wanmig-net.lock /usr/bin/python3 scripts/delay_test.py [--delay 10] [--bw 20]
          [--seconds 8] [--qos-seconds 10] [--out results.json]

First: the OpenFlow ports of every switch-to-switch link are those of wanmig-2dc-storage.json
(and with --check-3dc, of wanmig-3dc.json for wanmig3dc with delays; no traffic there).
No controller: standalone (L2 learning) switches, with on-link routes so storA (DC A) and storB
(DC B) reach each other across peA - core1 -(delay)- core2 - peB. Checks:
  1. idle ping RTT: the minimum within [2 x delay - 0.5, 2 x delay + 3] ms (the median also
     holds the userspace OVS's latency on a busy machine: reported, not checked);
  2. iperf3 storA -> storB for --seconds: throughput >= 70 % of bw;
  3. ping RTT (median) during that load exceeds the idle RTT by at most the longest queue
     (max_queue_ms(): port 5201 is in the normal class, queue_ms at its share + 1 ms of burst, in
     front of the relay) + --slack-ms (10) for a busy 2-core machine.
     A queue in the relay (or in TCLink's htb: 1000 frames) would add tens of ms.
  4. the relay itself (SCHED_FIFO threads) sends frames on time: mean lateness after the deadline
     below 0.5 ms, fewer than 3 % of frames more than 1 ms late.
  5. QoS (wanmig_delay.shape()): a bulk TCP stream on the migration port (iperf3 -p 4444,
     --qos-seconds) saturates the same path while storA sends UDP probes (wanmig_probe.py, 100/s)
     and pings (10/s) to storB: no probe lost, no frame dropped in any normal class, UDP RTT median
     at most the idle median + --qos-slack-ms (4, less than queue_ms: the FIFO's queue is what
     QoS removes), the bulk stream >= 70 % of bw, and >= 90 % of its bytes in the bulk class of
     peA's WAN port (so a filter that misses the stream fails here).
  6. the same links reshaped as one FIFO (bulk_ports=(), the tbf of before) under the same load:
     reported only (`qosVsFifo`: loss and RTT percentiles with QoS and with the FIFO).
  7. (first, idle) every switch-to-switch link carries the tunnel's largest frame both ways: a
     full-size packet of 1,514 bytes under two MPLS labels (1,522), 5 by packet-out at one end,
     all 5 counted by a rule at the other (wanmig_delay.WAN_MTU on the WAN links' ends).
Prints a JSON summary; exits 1 when a check fails. Bounded (about 1.5 minutes); stops the net
and its processes on failure. Needs root, OVS running, gcc, iperf3.
"""

import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

TOPOS = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'mininet-topos')
sys.path.insert(0, TOPOS)
import wanmig_2dc  # noqa: E402
from wanmig_delay import BULK_PORTS, ShapedIntf, check_relays, max_queue_ms, shape  # noqa: E402
from mininet.log import setLogLevel  # noqa: E402


def check_ports(net, config_path):
    """Every switch-to-switch link of the net (DelayLinks included) joins the ports that the
    controller's config lists as a link, and every link of the config exists: the delay changes
    no OpenFlow port. Returns a list of problems."""
    with open(config_path) as f:
        cfg = json.load(f)['apps']['org.wanmig.app']['wanmig']
    want = {frozenset((l['one'], l['two'])) for l in cfg['links']}
    have = set()
    for link in net.links:
        ends = []
        for intf in (link.intf1, link.intf2):
            node = intf.node
            if node not in net.switches:
                break
            ofport = int(subprocess.run(['ovs-vsctl', 'get', 'Interface', intf.name, 'ofport'],
                                        capture_output=True, text=True).stdout.strip() or -1)
            ends.append('of:%s/%d' % (node.dpid, ofport))
        if len(ends) == 2:
            have.add(frozenset(ends))
    problems = ['link %s not in the net' % sorted(l) for l in want - have]
    problems += ['net link %s not in %s' % (sorted(l), os.path.basename(config_path))
                 for l in have - want]
    return problems


def ports_3dc(delay):
    """wanmig3dc with delays on the core triangle: ports as in wanmig-3dc.json (no traffic: the
    triangle must not run in standalone mode)."""
    import wanmig_3dc
    from mininet.net import Mininet
    from mininet.link import Link
    # fail mode secure and no controller: the switches forward nothing (no flooding loop)
    net = Mininet(topo=wanmig_3dc.WanMig3DC(delay=delay, fail_mode='secure', bw=100),
                  controller=None, link=Link, autoSetMacs=False)
    try:
        net.start()
        problems = check_ports(net, os.path.join(TOPOS, 'wanmig-3dc.json'))
        relays = [l for l in net.links if type(l).__name__ == 'DelayLink']
        if len(relays) != 3:
            problems.append('%d DelayLinks in wanmig3dc, expected 3' % len(relays))
        problems += check_relays(net)
        return problems
    finally:
        net.stop()


def flat_l2(net):
    """Standalone switches have no router: make every 10/8 address on-link on every host."""
    for host in net.hosts:
        host.cmd('ip route replace 10.0.0.0/8 dev %s' % host.defaultIntf())
        host.cmd('sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1')


def ping_stats(host, ip, count, interval=0.2):
    out = host.cmd('ping -n -c %d -i %g -W 2 %s' % (count, interval, ip))
    times = sorted(float(t) for t in re.findall(r'time=([\d.]+) ms', out))
    if not times:
        return {'sent': count, 'received': 0, 'raw': out.strip()[-300:]}
    pick = lambda q: times[min(len(times) - 1, int(q * len(times)))]
    return {'sent': count, 'received': len(times), 'min': times[0], 'median': pick(0.5),
            'p90': pick(0.9), 'max': times[-1], 'avg': round(sum(times) / len(times), 3)}


def ofctl(*args):
    return subprocess.run(('ovs-ofctl', '-O', 'OpenFlow13') + args, capture_output=True, text=True, timeout=10)


def mpls_frame(label, ip_len=1500):
    """An IPv4 packet of ip_len bytes under two MPLS labels, outer `label` (hex for packet-out).
    With 1,500: a full-size frame (1,514 bytes) as the tunnel carries it with a second label,
    1,522 bytes."""
    ip = bytes.fromhex('4500%04x00004000401100000a0300010a030002' % ip_len) + bytes(ip_len - 20)
    shim = lambda lab, bos: (lab << 12 | bos << 8 | 64).to_bytes(4, 'big')
    return ('020000000002' '020000000001' '8847' + (shim(label, 0) + shim(label + 1, 1) + ip).hex())


def mpls_across_links(net, count=5):
    """7. Every switch-to-switch link carries the tunnel's largest frames, both ways: `count`
    frames of mpls_frame() sent out of one end's port by packet-out must all match a counting
    rule at the other end. A WAN port with the hosts' MTU (1500) cannot send them (OVS logs
    "Message too long") nor take them in. Frames of 1,000 bytes go first on each link: they
    must cross whatever the MTU, or the check itself is broken. Returns ({link: counts}, problems)."""
    seen, problems = {}, []
    label = 4000
    for link in net.links:
        ends = [(link.intf1.node, link.intf1), (link.intf2.node, link.intf2)]
        if not all(type(node).__name__ == 'OVSSwitch' for node, _ in ends):
            continue
        for (tx, tx_intf), (rx, rx_intf), ip_len in [(ends[0], ends[1], 978), (ends[0], ends[1], 1500),
                                                     (ends[1], ends[0], 978), (ends[1], ends[0], 1500)]:
            label += 2
            port_tx, port_rx = tx.ports[tx_intf], rx.ports[rx_intf]
            cookie = '0x5e%06x' % label
            ofctl('add-flow', rx.name, 'cookie=%s,priority=60000,in_port=%d,mpls,mpls_label=%d,actions=drop'
                  % (cookie, port_rx, label))
            for _ in range(count):
                ofctl('packet-out', tx.name, 'LOCAL', 'output:%d' % port_tx, mpls_frame(label, ip_len))
            deadline = time.time() + 3
            n = 0
            while time.time() < deadline:
                out = ofctl('dump-flows', rx.name, 'cookie=%s/-1' % cookie).stdout
                m = re.search(r'n_packets=(\d+)', out)
                n = int(m.group(1)) if m else 0
                if n >= count:
                    break
                time.sleep(0.2)
            ofctl('del-flows', rx.name, 'cookie=%s/-1' % cookie)
            size = ip_len + 22
            seen['%s->%s %d bytes' % (tx_intf.name, rx_intf.name, size)] = n
            if n != count:
                problems.append('%d of %d MPLS frames of %d bytes crossed %s -> %s'
                                % (n, count, size, tx_intf.name, rx_intf.name))
    return seen, problems


def shaped_ports(net):
    """Every WAN port of the net with shaping (ShapedIntf, both ends of every shaped link)."""
    return [intf for link in net.links for intf in (link.intf1, link.intf2)
            if isinstance(intf, ShapedIntf) and intf.params.get('wan_bw')]


SENT = re.compile(r'Sent (\d+) bytes (\d+) pkt \(dropped (\d+)')


def shaping_counters(ports):
    """{port: {class: [bytes, packets, dropped]}}: the htb classes 'normal' (1:10) and 'bulk'
    (1:20), or the tbf as 'fifo'."""
    result = {}
    for intf in ports:
        counters = {}
        out = subprocess.run(['tc', '-s', 'class', 'show', 'dev', intf.name],
                             capture_output=True, text=True).stdout
        for name, classid in (('normal', '1:10'), ('bulk', '1:20')):
            m = re.search(r'class htb %s .*?\n\s*' % classid + SENT.pattern, out)
            if m:
                counters[name] = [int(g) for g in m.groups()[-3:]]
        out = subprocess.run(['tc', '-s', 'qdisc', 'show', 'dev', intf.name],
                             capture_output=True, text=True).stdout
        m = re.search(r'qdisc tbf .*?\n\s*' + SENT.pattern, out)
        if m:
            counters['fifo'] = [int(g) for g in m.groups()[-3:]]
        result[intf.name] = counters
    return result


def counters_delta(before, after):
    return {port: {c: [n - o for n, o in zip(v, before.get(port, {}).get(c, [0, 0, 0]))]
                   for c, v in classes.items()}
            for port, classes in after.items()}


def percentiles(values):
    values = sorted(values)
    if not values:
        return {}
    pick = lambda q: values[min(len(values) - 1, int(q * len(values)))]
    return {'p50': pick(0.5), 'p90': pick(0.9), 'p99': pick(0.99), 'max': values[-1]}


def bulk_phase(net, a, b, ports, seconds, workdir, name):
    """A bulk TCP stream storA -> storB on the migration port (iperf3 -p 4444) for `seconds`,
    with UDP probes (wanmig_probe.py, 100/s, and its TCP echo) and ICMP pings (10/s) across the
    same links from 2 s after its start to 1 s before its end. Returns the stream's rate, the
    probes' loss and RTT percentiles and every shaped port's counters over the phase."""
    port = BULK_PORTS[0]
    procs = []
    before = shaping_counters(ports)
    try:
        server = b.popen(['iperf3', '-s', '-1', '-p', str(port)], stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL)
        procs.append(server)
        time.sleep(0.5)
        client = a.popen(['iperf3', '-c', b.IP(), '-p', str(port), '-t', str(seconds), '-J'],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        procs.append(client)
        time.sleep(2)
        probe_out = os.path.join(workdir, '%s-probes.json' % name)
        probes = a.popen(['/usr/bin/python3', os.path.join(TOPOS, 'wanmig_probe.py'), 'client',
                          '--server', b.IP(), '--rate', '100', '--duration', str(seconds - 3),
                          '--grace', '1', '--tcp-grace', '2', '--out', probe_out],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        procs.append(probes)
        ping = ping_stats(a, b.IP(), int((seconds - 3) / 0.1), interval=0.1)
        probes.wait(timeout=seconds + 20)
        out, _ = client.communicate(timeout=seconds + 20)
        end = json.loads(out)['end']
        with open(probe_out) as f:
            udp = json.load(f)['udp']
    finally:
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGKILL)
                p.wait()
    rtts = [rtt for _, _, rtt in udp['samples'] if rtt is not None]
    return {
        'bulkMbitS': round(end['sum_received']['bits_per_second'] / 1e6, 1),
        'bulkBytes': end['sum_received']['bytes'],
        'bulkRetransmits': end['sum_sent'].get('retransmits'),
        'udp': dict({'sent': udp['sent'], 'lost': udp['lost']}, **percentiles(rtts)),
        'ping': ping,
        'ports': counters_delta(before, shaping_counters(ports)),
    }


def qos_checks(result, args, wan_out):
    """Failures of the QoS phase: any probe or service frame lost, median probe RTT beyond idle +
    the slack, the bulk stream below 70 % of bw or not in the bulk class on the WAN port it leaves
    DC A by."""
    failures = []
    qos, idle = result['qos'], result['idle']
    if qos['udp']['lost'] or qos['ping'].get('received', 0) < qos['ping']['sent']:
        failures.append('probes lost under the bulk stream with QoS: udp %d of %d, ping %d of %d'
                        % (qos['udp']['lost'], qos['udp']['sent'],
                           qos['ping']['sent'] - qos['ping'].get('received', 0), qos['ping']['sent']))
    dropped = {p: c['normal'][2] for p, c in qos['ports'].items() if c.get('normal', [0, 0, 0])[2]}
    if dropped:
        failures.append('normal class dropped frames under the bulk stream: %s' % dropped)
    # the median: the p90 also holds the userspace OVS's own queueing on a busy machine (+4 ms
    # at load ~4), which QoS cannot remove
    limit = idle['median'] + args.qos_slack_ms
    if qos['udp'].get('p50', 1e9) > limit:
        failures.append('UDP probe RTT median %.2f ms under the bulk stream > idle %.2f + %g ms'
                        % (qos['udp'].get('p50', -1), idle['median'], args.qos_slack_ms))
    if qos['bulkMbitS'] < 0.7 * args.bw:
        failures.append('bulk stream %.1f Mbit/s < 70%% of %g' % (qos['bulkMbitS'], args.bw))
    classified = qos['ports'].get(wan_out, {}).get('bulk', [0])[0]
    if classified < 0.9 * qos['bulkBytes']:
        failures.append('bulk class of %s sent %d bytes, the stream carried %d: not classified'
                        % (wan_out, classified, qos['bulkBytes']))
    return failures


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--delay', type=float, default=10)
    parser.add_argument('--bw', type=float, default=20,
                        help='Mbit/s; the userspace OVS of a busy 2-core machine carries ~40')
    parser.add_argument('--queue-ms', type=float, default=5)
    parser.add_argument('--seconds', type=int, default=8)
    parser.add_argument('--slack-ms', type=float, default=10,
                        help='RTT under load may exceed idle + the tbf queue by this much: the userspace '
                             'OVS of a CPU-starved machine queues frames in its sockets (measured +7..+13 ms '
                             'at load 12-24 on 2 cores, with the relay on time)')
    parser.add_argument('--qos-seconds', type=int, default=10,
                        help='length of each bulk-stream phase (QoS, then the same links as one FIFO)')
    parser.add_argument('--qos-slack-ms', type=float, default=4,
                        help='UDP probe RTT median under the bulk stream with QoS may exceed the idle '
                             'median by this much (less than queue_ms: the FIFO queue is what it removes)')
    parser.add_argument('--out')
    parser.add_argument('--check-3dc', action='store_true',
                        help='also build wanmig3dc with delays and check its ports (no traffic)')
    args = parser.parse_args()
    setLogLevel('warning')
    subprocess.run(['mn', '-c'], capture_output=True, timeout=120)
    net = wanmig_2dc.make_net(bw=args.bw, delay=args.delay, storage=True, fail_mode='standalone',
                              remote=False, queue_ms=args.queue_ms)
    procs, cleanup = [], []
    result = {'delayMs': args.delay, 'bwMbit': args.bw, 'queueMs': args.queue_ms,
              'maxQueueMs': round(max_queue_ms(args.bw, args.queue_ms), 2)}
    failures = []
    try:
        net.start()
        result['portProblems2dc'] = check_ports(net, os.path.join(TOPOS, 'wanmig-2dc-storage.json'))
        failures += result['portProblems2dc']
        flat_l2(net)
        result['mplsAcrossLinks'], problems = mpls_across_links(net)
        failures += problems
        a, b = net.get('storA'), net.get('storB')
        # first packets: ARP + MAC learning
        a.cmd('ping -n -c 3 -i 0.2 -W 2 %s' % b.IP())
        if check_relays(net):
            failures.append('relay not running')
        result['idle'] = ping_stats(a, b.IP(), 20)
        server = b.popen(['iperf3', '-s', '-1', '-p', '5201'], stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT)
        procs.append(server)
        time.sleep(0.5)
        client = a.popen(['iperf3', '-c', b.IP(), '-p', '5201', '-t', str(args.seconds), '-J'],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        procs.append(client)
        time.sleep(2)   # let TCP fill the pipe
        result['loaded'] = ping_stats(a, b.IP(), int((args.seconds - 3) / 0.1), interval=0.1)
        out, _ = client.communicate(timeout=args.seconds + 20)
        relay = [l for l in net.links if type(l).__name__ == 'DelayLink'][0]
        result['relay'] = relay.stats()
        report = json.loads(out)
        end = report['end']
        result['iperf3'] = {
            'mbitS': round(end['sum_received']['bits_per_second'] / 1e6, 1),
            'retransmits': end['sum_sent'].get('retransmits'),
            'meanRttMs': round(end['streams'][0]['sender'].get('mean_rtt', 0) / 1000.0, 2),
        }
        idle, loaded = result['idle'], result['loaded']
        if idle.get('received', 0) < idle['sent'] * 0.9:
            failures.append('idle ping lost %s' % idle)
        elif not 2 * args.delay - 0.5 <= idle['min'] <= 2 * args.delay + 3:
            failures.append('idle RTT min %.2f ms, expected %.1f..%.1f'
                            % (idle['min'], 2 * args.delay - 0.5, 2 * args.delay + 3))
        if loaded.get('received', 0) < loaded['sent'] * 0.9:
            failures.append('loaded ping lost %s' % loaded)
        elif idle.get('received') and loaded['median'] > idle['median'] + result['maxQueueMs'] + args.slack_ms:
            failures.append('RTT under load (median) %.2f ms > idle %.2f + queue %.1f + %g'
                            % (loaded['median'], idle['median'], result['maxQueueMs'], args.slack_ms))
        for direction, counters in result['relay'].items():
            if counters.get('late_mean_us', 0) > 500 or \
                    counters.get('late_over_1ms', 0) > 0.03 * max(1, counters.get('relayed', 0)):
                failures.append('relay %s sent %d of %d frames more than 1 ms late'
                                % (direction, counters['late_over_1ms'], counters['relayed']))
        if result['iperf3']['mbitS'] < 0.7 * args.bw:
            failures.append('throughput %.1f Mbit/s < 70%% of %g' % (result['iperf3']['mbitS'], args.bw))
        # 5. QoS: the migration stream (port 4444) saturates the path; service probes cross it
        ports = shaped_ports(net)
        wan_out = [i.name for i in ports if i.node.name == 'peA'][0]   # storA's traffic leaves DC A
        workdir = tempfile.mkdtemp(prefix='wanmig-delay-test-')
        cleanup.append(lambda: shutil.rmtree(workdir, ignore_errors=True))
        procs.append(b.popen(['/usr/bin/python3', os.path.join(TOPOS, 'wanmig_probe.py'), 'server',
                              '--duration', str(4 * args.qos_seconds + 60)],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        result['qos'] = bulk_phase(net, a, b, ports, args.qos_seconds, workdir, 'qos')
        failures += qos_checks(result, args, wan_out)
        # 6. the same links as one FIFO (bulk_ports=()): what the QoS removes; reported only
        for intf in ports:
            shape(intf.cmd, intf.name, intf.params['wan_bw'], intf.params['wan_queue_ms'], ())
        result['fifo'] = bulk_phase(net, a, b, ports, args.qos_seconds, workdir, 'fifo')
        result['qosVsFifo'] = {'%s.%s' % k: {'qos': result['qos'][k[0]].get(k[1]),
                                             'fifo': result['fifo'][k[0]].get(k[1])}
                               for k in (('udp', 'lost'), ('udp', 'p50'), ('udp', 'p90'),
                                         ('ping', 'received'), ('ping', 'median'), ('ping', 'p90'))}
        result['qosVsFifo']['bulkMbitS'] = {'qos': result['qos']['bulkMbitS'],
                                            'fifo': result['fifo']['bulkMbitS']}
    except Exception as e:  # report, then clean up
        failures.append('%s: %s' % (type(e).__name__, e))
    finally:
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGKILL)
                p.wait()
        net.stop()
        for action in cleanup:
            action()
    if args.check_3dc:
        try:
            result['portProblems3dc'] = ports_3dc(args.delay)
        except Exception as e:  # reported as a failure
            result['portProblems3dc'] = ['%s: %s' % (type(e).__name__, e)]
        failures += result['portProblems3dc']
    result['failures'] = failures
    text = json.dumps(result, indent=2)
    print(text)
    if args.out:
        with open(args.out, 'w') as f:
            f.write(text + '\n')
    print('delay test: %s' % ('PASS' if not failures else 'FAIL'))
    return 1 if failures else 0


if __name__ == '__main__':
    sys.exit(main())
