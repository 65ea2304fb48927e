#!/usr/bin/python3
"""
The real VM live-migrated across the delayed WAN by the MMS: the embedded runtime drives the
network (OpenFlow 1.3) and QEMU (the `qemu` driver over QMP), with switchover inside QEMU's pause.

    flock /tmp/wanmig-net.lock /usr/bin/python3 scripts/vm_mms_test.py [--bw 100] [--delay 10]

 1. guest/build (cached); wanmig2dc with vm=True, storage=True, the delay line between the DCs,
    switches in secure mode under the embedded runtime (mininet-topos/wanmig-2dc-vm.json: hvA/hvB
    as sites, hypervisor driver qemu, agents on 127.0.0.1:18401/18402).
 2. Disk: qemu-nbd in storA (export vs1); the destination opens it across the WAN. (The MMS with
    replication agents and a real VM is not wired yet; the agents' writable replica export is.)
 3. A hypervisor agent per DC (mininet-topos/wanmig_hvagent.py, in this process); vs1 boots in hvA.
 4. Probes from h1 (UDP echo 100/s, one TCP connection); POST /migrations vs1 -> dcB.
 5. The runtime: PREPARING (tunnel), MIGRATING (QMP migrate to hvB's -incoming, passes as timeline
    notes), at pre-switchover the redirect at peA, CUTOVER, migrate-continue, RESUME at B,
    ROUTES_UPDATED, COMPLETED.
 6. Checks: COMPLETED; the cutover was inside the pause; UDP/TCP echo from B; the TCP connection
    survived; every acknowledged guest write is in the image; no guest I/O error; no rule of the
    migration left. Writes DIR/report.json; exit 1 on a failed check.
"""

import argparse
import json
import os
import signal
import subprocess
import sys
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))
sys.path.insert(0, os.path.join(ROOT, 'mininet-topos'))
sys.path.insert(0, os.path.join(ROOT, 'scripts'))
import wanmig_2dc  # noqa: E402
import wanmig_qemu as wq  # noqa: E402
import wanmig_testbed as tb  # noqa: E402
from wanmig_hvagent import HypervisorAgent  # noqa: E402
from vm_migration_test import tcp_echo_ok, udp_echo_ok, wait_for  # noqa: E402
from mininet.log import setLogLevel  # noqa: E402

CONFIG = os.path.join(ROOT, 'mininet-topos', 'wanmig-2dc-vm.json')
PROBE = os.path.join(ROOT, 'mininet-topos', 'wanmig_probe.py')
VM_IP, VM_MAC = '10.2.0.10', '00:00:00:00:02:10'
NBD_PORT = 10809


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--bw', type=float, default=100, help='WAN rate, Mbit/s')
    parser.add_argument('--delay', type=float, default=10, help='one-way ms between the DCs')
    parser.add_argument('--mem-mb', type=int, default=128)
    parser.add_argument('--out')
    args = parser.parse_args()
    out = os.path.abspath(args.out or os.path.join(ROOT, 'out', 'vm-mms-' + time.strftime('%Y%m%d-%H%M%S')))
    os.makedirs(out, exist_ok=True)
    setLogLevel('warning')
    report = {'bwMbit': args.bw, 'delayMs': args.delay, 'dir': out,
              'disk': 'qemu-nbd in storA, opened by both QEMUs'}
    failures, procs, agents = [], [], []
    net = runtime = None
    try:
        guest = wq.build_guest()
        tb.mininet_cleanup()
        net = wanmig_2dc.make_net(bw=args.bw, delay=args.delay, storage=True, vm=True)
        net.start()
        for host in net.hosts:
            host.cmd('sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1')
        for hv in ('hvA', 'hvB'):
            net.get(hv).cmd('sysctl -qw net.ipv4.tcp_notsent_lowat=131072')
        runtime = tb.Runtime(config=CONFIG, log_path=os.path.join(out, 'runtime.log')).start()
        h1, storA, hvA, hvB = (net.get(n) for n in ('h1', 'storA', 'hvA', 'hvB'))
        wait_for(lambda: tb.pings(hvA, storA.IP()) and tb.pings(hvB, storA.IP()), 60, 'routes to storA')
        image = os.path.join(out, 'vs1.img')
        subprocess.run(['truncate', '-s', '64M', image], check=True)
        procs.append(storA.popen(['qemu-nbd', '-f', 'raw', '-x', 'vs1', '-b', storA.IP(), '-p', str(NBD_PORT),
                                  '--shared=4', '-t', image], stdout=subprocess.DEVNULL,
                                 stderr=open(os.path.join(out, 'qemu-nbd.log'), 'w')))
        wait_for(lambda: 'open' in hvA.cmd('timeout 2 bash -c "echo > /dev/tcp/%s/%d" && echo open'
                                           % (storA.IP(), NBD_PORT)), 20, 'qemu-nbd')
        spec = dict(nbd=(storA.IP(), NBD_PORT, 'vs1'), mem_mb=args.mem_mb, mac=VM_MAC,
                    ip=VM_IP + '/24', gateway='10.2.0.254')
        for dc, host, bridge, port in (('dcA', hvA, 'peA', 18401), ('dcB', hvB, 'peB', 18402)):
            agents.append(HypervisorAgent(dc, host, bridge, guest, out, {'vs1': dict(spec, ofport=2)},
                                          listen=('127.0.0.1', port)).start())
        report['bootToReadySeconds'] = agents[0].boot('vs1', 180)
        wait_for(lambda: udp_echo_ok(h1, VM_IP), 60, 'UDP echo from the VM at A')
        probes_path = os.path.join(out, 'probes.json')
        client = h1.popen(['/usr/bin/python3', PROBE, 'client', '--server', VM_IP, '--rate', '100',
                           '--duration', '400', '--out', probes_path],
                          stdout=subprocess.DEVNULL, stderr=open(os.path.join(out, 'probe.log'), 'w'))
        procs.append(client)
        time.sleep(3)
        source_vm = agents[0].vm('vs1')
        mid = tb.start_migration('vs1', 'dcB')['id']
        final = tb.watch_migration(mid, timeout=600)
        report['migration'] = final
        if final.get('state') != 'COMPLETED':
            failures.append('migration ended %s: %s' % (final.get('state'), final.get('error')))
        timeline = [e.get('detail', '') for e in final.get('timeline', [])]
        report['pauseCutover'] = next((d for d in timeline if d.startswith('inside the hypervisor')), None)
        if not report['pauseCutover']:
            failures.append('no cutover inside the pause in the timeline')
        report['qemuCompleted'] = next((d for d in timeline if 'QEMU completed' in d), None)
        report['passes'] = sum(1 for d in timeline if d.startswith('pre-copy pass'))
        time.sleep(5)    # probes and writes at B
        client.send_signal(signal.SIGTERM)
        client.wait(30)
        with open(probes_path) as f:
            probes = json.load(f)
        udp, tcp = probes['udp'], probes['tcp']
        report['probes'] = {'udpSent': udp['sent'], 'udpLost': udp['lost'],
                            'longestOutageMs': udp['longestOutageMs'], 'tcpSurvived': tcp['survived']}
        if not tcp['survived']:
            failures.append('the TCP connection did not survive')
        if not udp_echo_ok(h1, VM_IP) or not tcp_echo_ok(h1, VM_IP):
            failures.append('UDP/TCP echo not answered at B')
        dest_vm = agents[1].vm('vs1')
        if dest_vm is None:
            failures.append('the hypervisor agent of dcB runs no vs1')
        else:
            report['writes'], bad = wq.check_guest_writes(image, source_vm, dest_vm)
            failures.extend(bad)
        left = tb.migration_flows(mid)
        if left:
            failures.append('%d rules of the migration left' % len(left))
    except Exception as e:  # report, then clean up
        failures.append('%s: %s' % (type(e).__name__, e))
    finally:
        for a in agents:
            try:
                a.stop()
            except Exception as e:  # keep cleaning
                print('stopping agent %s: %s' % (a.dc, e), file=sys.stderr)
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
        if runtime is not None:
            runtime.kill()
        if net is not None:
            net.stop()
    report['failures'] = failures
    with open(os.path.join(out, 'report.json'), 'w') as f:
        json.dump(report, f, indent=2, default=str)
    print(json.dumps({k: v for k, v in report.items() if k != 'migration'}, indent=2, default=str))
    print('vm mms test: %s (%s)' % ('PASS' if not failures else 'FAIL', out))
    return 1 if failures else 0


if __name__ == '__main__':
    sys.exit(main())
