#!/usr/bin/python3
"""
The real VM live-migrated across the delayed WAN by the MMS, its disk on the replication agents:
the embedded runtime drives the network (OpenFlow 1.3), QEMU (the `qemu` driver over QMP) and
storage (the agents' control API), with the switchover inside QEMU's pause.

    flock /tmp/wanmig-net.lock /usr/bin/python3 scripts/vm_mms_test.py [--bw 100] [--delay 10]
          [--disk agents|qemu-nbd] [--out DIR]

 1. guest/build (cached); wanmig2dc with vm=True, storage=True, the delay line between the DCs,
    switches in secure mode under the embedded runtime (mininet-topos/wanmig-2dc-vm.json: hvA/hvB
    and storA/storB as sites, hypervisor driver qemu, agents on 127.0.0.1:18401/18402, replication
    agents on their management links, 10.254.1.2:7070 / 10.254.2.2:7070). See scripts/wanmig_vmbed.py.
 2. Disk: a replication agent per DC (storA PRIMARY, storB REPLICA, replicating across the WAN);
    vs1's QEMU in hvA opens the agent at A, the destination QEMU in hvB the agent at B (a replica
    export: writable as advertised, EPERM until promoted). --disk qemu-nbd: one qemu-nbd in storA
    opened by both QEMUs, no agents (the earlier variant).
 3. Probes from h1 (UDP echo 100/s, one TCP connection); POST /migrations vs1 -> dcB.
 4. The runtime: PREPARING (tunnel; replication SYNC and in sync), MIGRATING (QMP migrate to hvB's
    -incoming, passes as timeline notes), at pre-switchover storage roles flip (A fenced and
    demoted, B promoted) and the redirect at peA is confirmed, CUTOVER, migrate-continue, RESUME
    at B, ROUTES_UPDATED, COMPLETED.
 5. Checks: COMPLETED; the cutover was inside the pause; UDP/TCP echo from B; the TCP connection
    survived; the switches failed no send (ovs-vswitchd.log); roles B PRIMARY / A REPLICA; every
    acknowledged guest write is in B's image; no guest I/O error; after B resynchronises A, the
    images are identical; no rule of the migration left. Writes DIR/report.json; exit 1 on a failed check.
"""

import argparse
import json
import os
import sys
import time
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import wanmig_vmbed as vb       # noqa: E402
import wanmig_testbed as tb     # noqa: E402
import wanmig_storage as st     # noqa: E402
import wanmig_qemu as wq        # noqa: E402


def drain_nic(dc):
    """POST vms/vs1/drain-nic at dc's hypervisor agent: (status, body)."""
    url = 'http://127.0.0.1:%d/vms/vs1/drain-nic' % vb.HV[dc][2]
    try:
        with urllib.request.urlopen(urllib.request.Request(url, data=b'', method='POST'), timeout=10) as r:
            return r.status, json.loads(r.read() or b'{}')
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b'{}')


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--bw', type=float, default=100, help='WAN rate, Mbit/s')
    parser.add_argument('--delay', type=float, default=10, help='one-way ms between the DCs')
    parser.add_argument('--mem-mb', type=int, default=128)
    parser.add_argument('--disk', choices=('agents', 'qemu-nbd'), default='agents')
    parser.add_argument('--out')
    args = parser.parse_args()
    out = os.path.abspath(args.out or os.path.join(tb.REPO, 'out', 'vm-mms-' + time.strftime('%Y%m%d-%H%M%S')))
    report = {'bwMbit': args.bw, 'delayMs': args.delay, 'memMb': args.mem_mb, 'dir': out,
              'disk': 'replication agents (A primary, B replica)' if args.disk == 'agents'
              else 'qemu-nbd in storA, opened by both QEMUs'}
    failures = []
    vb.exit_on_sigterm()
    bed = vb.VmBed(out, bw=args.bw, delay=args.delay, mem_mb=args.mem_mb, disk=args.disk)
    try:
        bed.start()
        report['bootToReadySeconds'] = bed.boot_seconds
        probes_path = os.path.join(out, 'probes.json')
        client = bed.start_probes(probes_path)
        time.sleep(3)
        if bed.stor:
            report['rolesBefore'] = bed.roles()
        source_vm = bed.vm('dcA')
        # drain-nic is refused where QEMU still reads its tap and where no vs1 runs, changing nothing
        report['drainRefused'] = {dc: drain_nic(dc) for dc in vb.HV}
        for dc, want in (('dcA', 'runs in dcA'), ('dcB', 'does not run in dcB')):
            status, body = report['drainRefused'][dc]
            if status != 409 or want not in body.get('error', ''):
                failures.append('drain-nic at %s before the move: %s %s (want 409, "%s")' % (dc, status, body, want))
        if not vb.udp_echo_ok(bed.net.get('h1')):
            failures.append('the VS did not answer at A after the refused drains')
        ovs_mark = tb.ovs_log_mark()
        mid = tb.start_migration('vs1', 'dcB')['id']
        final = tb.watch_migration(mid, timeout=600)
        report['migration'] = final
        if final.get('state') != 'COMPLETED':
            failures.append('migration ended %s: %s' % (final.get('state'), final.get('error')))
        if bed.stor:
            roles = report['rolesAfter'] = bed.roles()
            if roles['dcB'][0] != 'PRIMARY' or roles['dcA'][0] != 'REPLICA':
                failures.append('roles after the migration: %s (want B PRIMARY, A REPLICA)' % roles)
        timeline = vb.timeline_details(final)
        report['storagePrepared'] = next((d for d in timeline if 'storage in sync' in d), None)
        if bed.stor and not report['storagePrepared']:
            failures.append('no "storage in sync" in PREPARING')
        report['pauseCutover'] = next((d for d in timeline if d.startswith('inside the hypervisor')), None)
        if not report['pauseCutover']:
            failures.append('no cutover inside the pause in the timeline')
        report['qemuCompleted'] = next((d for d in timeline if 'QEMU completed' in d), None)
        report['passes'] = sum(1 for d in timeline if d.startswith('pre-copy pass'))
        report['sourceNicDrained'] = next((d for d in timeline if d.startswith('source NIC drained at dcA')), None)
        if not report['sourceNicDrained']:
            failures.append('no "source NIC drained at dcA" in the timeline: %s'
                            % [d for d in timeline if 'NIC' in d])
        time.sleep(5)    # probes and writes at B
        report['probes'] = vb.stop_probes(client, probes_path)
        if not report['probes']['tcpSurvived']:
            failures.append('the TCP connection did not survive')
        # the switches must lose nothing themselves: a failed send drops the rest of its output
        # batch, whatever flows are in it (their send buffer, tb.ovs_send_buffer)
        report['ovsSendErrors'] = tb.ovs_send_errors(ovs_mark)
        lost = tb.ovs_lost_sends(report['ovsSendErrors'])
        if lost:
            failures.append('the switches failed sends during the migration (ovs-vswitchd.log): %s' % lost)
        h1 = bed.net.get('h1')
        if not vb.udp_echo_ok(h1) or not vb.tcp_echo_ok(h1):
            failures.append('UDP/TCP echo not answered at B')
        dest_vm = bed.vm('dcB')
        if dest_vm is None:
            failures.append('the hypervisor agent of dcB runs no vs1')
        else:
            report['writes'], bad = wq.check_guest_writes(bed.image('dcB'), source_vm, dest_vm)
            failures.extend(bad)
        if bed.stor:
            # B (primary now) brings A up to date; then both copies must be byte for byte the same
            report['resyncBack'] = {k: v for k, v in bed.stor.resync_back().items()
                                    if k in ('role', 'mode', 'inSync', 'lagBytes')}
            identical, first = st.images_identical(bed.image('dcA'), bed.image('dcB'))
            report['imagesIdentical'] = identical
            if not identical:
                failures.append('images differ at offset %s' % first)
        left = tb.migration_flows(mid)
        if left:
            failures.append('%d rules of the migration left' % len(left))
    except Exception as e:  # report, then clean up
        failures.append('%s: %s' % (type(e).__name__, e))
    finally:
        bed.stop()
    report['failures'] = failures
    vb.dump(os.path.join(out, 'report.json'), report)
    print(json.dumps({k: v for k, v in report.items() if k != 'migration'}, indent=2, default=str))
    print('vm mms test: %s (%s)' % ('PASS' if not failures else 'FAIL', out))
    return 1 if failures else 0


if __name__ == '__main__':
    sys.exit(main())
