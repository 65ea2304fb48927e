#!/usr/bin/python3
"""
The controller restarted while it migrates the real VM (the happy path is vm_mms_test.py, other
failures vm_mms_e2e_test.py), on one testbed (wanmig_vmbed: delayed WAN, embedded runtime, qemu
driver, disk on the replication agents), with a low max-bandwidth so that pre-copy lasts long
enough to act in, raised on the source's own monitor once the test has acted:

    flock /tmp/wanmig-net.lock /usr/bin/python3 scripts/vm_mms_restart_test.py [--out DIR]

 (a) A -> B, the runtime killed (kill -9) during pre-copy and started again on its state
     directory: it follows QEMU's migration (does not start another) and switches over in the
     pause itself. COMPLETED at B.
 (b) B -> A, the runtime frozen (SIGSTOP) during pre-copy, so QEMU reaches its pause with no one
     to act on it, then killed there and started again: the restarted runtime finds the source
     waiting in pre-switchover and does the whole switchover. COMPLETED at A.
 (c) A -> B, as (b), but the take-over reached B before the runtime died: the test sends B's agent
     the same take-over the frozen runtime would have sent (its migration id as the take-over id).
     The restarted runtime's own take-over finds it done by this migration and goes on; COMPLETED
     at B, no write lost. (Before take-over ids, B answered "not a replica" and the migration
     failed inside the pause.)
 Each case: the migration ends within 120 s; the cutover was inside the pause; vs1 answers at its
 new place; storage primary there; no rule of the migration left. Throughout: UDP probes and one
 TCP connection from h1 that must survive; at the end every write the guest acknowledged (at any of
 its places) is in the final primary's image, no guest I/O error, the guest never rebooted.
Writes DIR/report.json; exit 1 on a failure.
"""

import datetime
import os
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import wanmig_vmbed as vb       # noqa: E402
import wanmig_testbed as tb     # noqa: E402
import wanmig_qemu as wq        # noqa: E402


def restart(bed, case, sig):
    """kill -9 of the runtime (by its PID) and a new one on the same state directory."""
    pid = bed.runtime.process.pid
    bed.runtime.kill(signal.SIGKILL)
    case['killedPid'] = pid
    t = time.time()
    bed.runtime.start()
    case['restartSeconds'] = round(time.time() - t, 2)
    case['killedIn'] = sig


def migrate_with_restart(bed, args, src, dst, how):
    """One migration src -> dst with the runtime restarted as `how` says; returns the case report."""
    case = {'from': src, 'to': dst, 'how': how}
    source = bed.vm(src)
    mid = tb.start_migration('vs1', dst)['id']
    case['migration'] = mid
    bed.wait_precopy(mid, src)
    time.sleep(1)
    if how == 'precopy':
        restart(bed, case, 'pre-copy')
        bed.speed_up(src, args.bw)
    else:
        case['pausedAt'] = bed.freeze_runtime_into_pause(src, args.bw)
        try:
            if how == 'after-takeover':
                # what the frozen runtime sent just before it died, to the same agent API
                status, body = bed.stor.call(dst, 'POST', 'promote', {'takeover': True, 'takeoverId': 'migration-%s' % mid})
                case['takeOverByTest'] = [status, (body or {}).get('role'), (body or {}).get('generation')]
                if status != 200 or (body or {}).get('role') != 'PRIMARY':
                    raise RuntimeError('the take-over at %s was refused: %s %s' % (dst, status, body))
        finally:
            restart(bed, case, 'pause' if how == 'pause' else 'pause, after the take-over')
    final = tb.watch_migration(mid, timeout=120)
    if 'pausedAt' in case:
        # the source waited in its pause from there until the restarted runtime's cutover
        cutover = next((e['time'] for e in final.get('timeline', []) if e['state'] == 'CUTOVER'), None)
        if cutover:
            case['pauseToCutoverSeconds'] = round(
                datetime.datetime.fromisoformat(cutover.replace('Z', '+00:00')).timestamp() - case['pausedAt'], 2)
    case['state'] = final.get('state')
    case['error'] = final.get('error')
    case['timeline'] = [(e['state'], e.get('detail', '')[:240]) for e in final.get('timeline', [])]
    checks = []

    def expect(ok, what):
        checks.append({'check': what, 'ok': bool(ok)})
    expect(final.get('state') == 'COMPLETED', 'COMPLETED (is %s: %s)' % (final.get('state'), final.get('error')))
    expect(any(d.startswith('inside the hypervisor') for d in vb.timeline_details(final)),
           'the cutover was inside the pause')
    roles = bed.roles()
    expect(roles[dst][0] == 'PRIMARY' and roles[src][0] == 'REPLICA', 'storage %s PRIMARY, %s REPLICA (is %s)'
           % (dst, src, roles))
    expect(bed.vm(dst) is not None and bed.qemu_status(dst) == 'running', 'vs1 runs at %s' % dst)
    expect(vb.udp_echo_ok(bed.net.get('h1')), 'vs1 answers UDP echo at %s' % dst)
    left = tb.migration_flows(mid)
    expect(not left, 'no rule of the migration left (%d left)' % len(left))
    case['checks'] = checks
    return case, source


def main():
    args, out, report = vb.failure_test_args('vm-mms-restart-')
    failures = []
    vb.exit_on_sigterm()
    bed = vb.VmBed(out, bw=args.bw, delay=args.delay, mem_mb=args.mem_mb, max_bandwidth_mbps=args.max_bw_mbit)
    try:
        bed.start()
        probes_path = os.path.join(out, 'probes.json')
        client = bed.start_probes(probes_path, rate=50, duration=900)
        time.sleep(2)
        acks_logs = []
        for name, src, dst, how in (('killedInPrecopy', 'dcA', 'dcB', 'precopy'),
                                    ('killedInThePause', 'dcB', 'dcA', 'pause'),
                                    ('killedAfterTheTakeOver', 'dcA', 'dcB', 'after-takeover')):
            case, source = migrate_with_restart(bed, args, src, dst, how)
            report['cases'][name] = case
            acks_logs.append(open(source.acks, errors='replace').read())   # its next QEMU reuses the path
            if not all(c['ok'] for c in case['checks']):
                break               # vs1 may not be where the next case starts from
            time.sleep(2)
        time.sleep(2)
        report['probes'] = vb.stop_probes(client, probes_path)
        if not report['probes']['tcpSurvived']:
            failures.append('the TCP connection did not survive')
        # every write the guest acknowledged, wherever it ran, is in the last primary's image
        at = 'dcB' if bed.roles()['dcB'][0] == 'PRIMARY' else 'dcA'
        current = bed.vm(at)
        current.qmp.execute('stop')
        time.sleep(0.5)
        acks_logs.append(open(current.acks, errors='replace').read())
        logs = []
        for k, text in enumerate(acks_logs):
            logs.append(os.path.join(out, 'acks-%d.log' % k))
            with open(logs[-1], 'w') as f:
                f.write(text)
        acks, errors, starts = wq.read_acks(*logs)
        missing = wq.missing_acked_writes(bed.image(at), acks)
        io_errors = wq.guest_io_errors(*[os.path.join(out, f) for f in os.listdir(out) if f.endswith('.console.log')])
        report['writes'] = {'at': at, 'acked': len(acks), 'missingCount': len(missing), 'missing': missing[:10],
                            'writeErrors': errors[:10], 'guestIoErrors': io_errors[:10], 'runs': len(starts)}
        if not acks:
            failures.append('the guest acknowledged no writes')
        if missing:
            failures.append('%d acknowledged writes missing in the image at %s' % (len(missing), at))
        if errors or io_errors:
            failures.append('guest I/O errors: %s' % (errors + io_errors)[:3])
        if len(starts) != 1:
            failures.append('the writer started %d times (guest rebooted?)' % len(starts))
        if len(report['cases']) < 3:
            failures.append('stopped after %s' % list(report['cases']))
    except Exception as e:  # report, then clean up
        failures.append('%s: %s' % (type(e).__name__, e))
    finally:
        bed.stop()
    return vb.finish_report('vm mms restart test', out, report, failures)


if __name__ == '__main__':
    sys.exit(main())
