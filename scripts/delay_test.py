#!/usr/bin/python3
"""
WAN delay test: the DelayLink of the 2-DC testbed (mininet-topos/wanmig_delay.py).

    flock /tmp/wanmig-net.lock /usr/bin/python3 scripts/delay_test.py [--delay 10] [--bw 100]
          [--seconds 8] [--out results.json]

No controller: standalone (L2 learning) switches, with on-link routes so storA (DC A) and storB
(DC B) reach each other across peA - core1 -(delay)- core2 - peB. Checks:
  1. idle ping RTT ~ 2 x delay (within 2 ms + 10 %);
  2. iperf3 storA -> storB for --seconds: throughput >= 70 % of bw;
  3. ping RTT during that load exceeds the idle RTT by at most the tbf's longest queue
     (queue_ms + 1 ms of burst, in front of the relay) + 5 ms of slack for a busy 2-core machine.
     A queue in the relay (or in TCLink's htb: 1000 frames) would add tens of ms.
Prints a JSON summary; exits 1 when a check fails. Bounded (about a minute); stops the net
and its processes on failure. Needs root, OVS running, gcc, iperf3.
"""

import argparse
import json
import os
import re
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'mininet-topos'))
import wanmig_2dc  # noqa: E402
from wanmig_delay import check_relays, max_queue_ms  # noqa: E402
from mininet.log import setLogLevel  # noqa: E402


def flat_l2(net):
    """Standalone switches have no router: make every 10/8 address on-link on every host."""
    for host in net.hosts:
        host.cmd('ip route replace 10.0.0.0/8 dev %s' % host.defaultIntf())


def ping_stats(host, ip, count, interval=0.2):
    out = host.cmd('ping -n -q -c %d -i %g -W 2 %s' % (count, interval, ip))
    m = re.search(r'(\d+) packets transmitted, (\d+) received', out)
    rtt = re.search(r'= ([\d.]+)/([\d.]+)/([\d.]+)/([\d.]+) ms', out)
    if not m or not rtt:
        return {'sent': count, 'received': 0, 'raw': out.strip()[-300:]}
    return {'sent': int(m.group(1)), 'received': int(m.group(2)), 'min': float(rtt.group(1)),
            'avg': float(rtt.group(2)), 'max': float(rtt.group(3)), 'mdev': float(rtt.group(4))}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--delay', type=float, default=10)
    parser.add_argument('--bw', type=float, default=100)
    parser.add_argument('--queue-ms', type=float, default=5)
    parser.add_argument('--seconds', type=int, default=8)
    parser.add_argument('--out')
    args = parser.parse_args()
    setLogLevel('warning')
    subprocess.run(['mn', '-c'], capture_output=True, timeout=120)
    net = wanmig_2dc.make_net(bw=args.bw, delay=args.delay, storage=True, fail_mode='standalone',
                              remote=False, queue_ms=args.queue_ms)
    procs = []
    result = {'delayMs': args.delay, 'bwMbit': args.bw, 'queueMs': args.queue_ms,
              'maxQueueMs': round(max_queue_ms(args.bw, args.queue_ms), 2)}
    failures = []
    try:
        net.start()
        flat_l2(net)
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
        elif abs(idle['avg'] - 2 * args.delay) > 2 + 0.1 * 2 * args.delay:
            failures.append('idle RTT %.2f ms, expected %.1f' % (idle['avg'], 2 * args.delay))
        if loaded.get('received', 0) < loaded['sent'] * 0.9:
            failures.append('loaded ping lost %s' % loaded)
        elif idle.get('received') and loaded['avg'] > idle['avg'] + result['maxQueueMs'] + 5:
            failures.append('RTT under load %.2f ms > idle %.2f + queue %.1f + 5'
                            % (loaded['avg'], idle['avg'], result['maxQueueMs']))
        if result['iperf3']['mbitS'] < 0.7 * args.bw:
            failures.append('throughput %.1f Mbit/s < 70%% of %g' % (result['iperf3']['mbitS'], args.bw))
    except Exception as e:  # report, then clean up
        failures.append('%s: %s' % (type(e).__name__, e))
    finally:
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGKILL)
                p.wait()
        net.stop()
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
