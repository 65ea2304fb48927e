"""
`scripts/demo` (the default; `--emulated` runs the emulated hypervisor instead): the real VM (a QEMU guest, TCG) live-migrated from DC A to DC B across the
delayed WAN by the embedded runtime, with its disk on the replication agents and the switchover
inside QEMU's pause (wanmig_vmbed.VmBed). Probes from h1 (UDP echo at --rate/s, one TCP
connection); the guest writes sequence-numbered blocks to its disk all along.

The report adds to the demo's: QEMU's downtime, total time, RAM transferred and passes; the
pre-switchover hook's duration; service downtime and the part the network caused (outside QEMU's
pause, STOP at A to RESUME at B); the TCP connection; the agents' roles per phase; acknowledged
guest writes present at B, no guest I/O error, the images identical after B resynchronised A.
Writes out/demo-vm-<time>/report.json and timeline.png.
"""

import json
import os
import re
import time

import wanmig_testbed as tb
import wanmig_storage as st
import wanmig_qemu as wq
import wanmig_vmbed as vb

COMPLETED_RE = re.compile(r'total (\d+) ms, downtime (\d+) ms, RAM ([\d.]+) MiB transferred in (\d+) syncs')
HOOK_RE = re.compile(r'storage primary now \S+ \(([\d.]+) ms\), redirect confirmed \(([\d.]+) ms\); pause hook ([\d.]+) ms')
DRAINED_RE = re.compile(r'source NIC drained at \S+: (\d+) frames')


def qemu_figures(migration):
    """QEMU's figures and the pause hook, from the migration's timeline notes."""
    details = vb.timeline_details(migration)
    q = {'passes': sum(1 for d in details if d.startswith('pre-copy pass'))}
    done = next((COMPLETED_RE.search(d) for d in details if COMPLETED_RE.search(d)), None)
    if done:
        q.update(totalTimeMs=int(done.group(1)), downtimeMs=int(done.group(2)),
                 ramTransferredMiB=float(done.group(3)), dirtySyncs=int(done.group(4)))
    hook_event = next((e for e in migration.get('timeline', []) if HOOK_RE.search(e.get('detail', ''))), None)
    if hook_event:
        hook = HOOK_RE.search(hook_event['detail'])
        q.update(storageFlipMs=float(hook.group(1)), redirectConfirmedMs=float(hook.group(2)),
                 hookMs=float(hook.group(3)), hookNotedAt=hook_event['epochMillis'] / 1000)
    drained = next((DRAINED_RE.search(d) for d in details if DRAINED_RE.search(d)), None)
    if drained:   # frames left in the stopped source's tap, sent on to the destination
        q['sourceNicDrainedFrames'] = int(drained.group(1))
    return q


def pause_wall(source, destination):
    """(STOP at the source, RESUME at the destination) wall clock, from the agents' QMP events."""
    stop = next((wq.event_stamp(e) for e in reversed(source.qmp.events) if e['event'] == 'STOP'), None)
    resume = next((wq.event_stamp(e) for e in destination.qmp.events if e['event'] == 'RESUME'), None)
    return (stop, resume) if stop and resume else None


def collapsed(migration):
    """The migration with one timeline entry per phase (its first): the qemu driver's notes
    (passes, pause, completion) are entries of their own in the same state."""
    phases = [e for i, e in enumerate(migration['timeline'])
              if i == 0 or e['state'] != migration['timeline'][i - 1]['state']]
    return dict(migration, timeline=phases)


def roles_per_phase(migration, samples, phase_spans):
    rows = []
    for state, since, until in phase_spans(migration):
        row = {'state': state}
        for dc in ('dcA', 'dcB'):
            inside = [s for t, d, s in samples if d == dc and since <= t <= until and 'error' not in s]
            row[dc] = inside[-1] if inside else {}
        rows.append(row)
    return rows


def print_vm_report(report):
    q = report['qemu']
    print('QEMU (real guest, %d MiB, TCG): downtime %s ms, total %s ms, RAM transferred %s MiB, %d passes'
          ' (%s dirty syncs)' % (report['settings']['memMb'], q.get('downtimeMs'), q.get('totalTimeMs'),
                                 q.get('ramTransferredMiB'), q['passes'], q.get('dirtySyncs')))
    print('pre-switchover hook (inside the pause): %s ms (storage roles flipped at %s ms, redirect confirmed at'
          ' %s ms)' % (q.get('hookMs'), q.get('storageFlipMs'), q.get('redirectConfirmedMs')))
    print('QEMU pause seen from outside (STOP at A to RESUME at B): %s ms' % report['pauseMs'])
    pre, sw = report['outagesBeforePause'], report['outagesAroundSwitchover']
    print('probes lost outside the pause: %d during pre-copy (more than 0.5 s before STOP; the migration'
          ' stream shares the WAN and the 2 cores), %d around the switchover (0.5 s before STOP to the end)'
          % (pre['probesLostOutsidePause'], sw['probesLostOutsidePause']))
    print('QEMU notes:')
    for e in report['migration']['timeline']:
        if e.get('detail', '').startswith(('pre-copy pass', 'hypervisor', 'QEMU')):
            print('  %s %s' % (e['state'], e['detail']))
    print('storage roles per phase:')
    for row in report['storagePhases']:
        print('  %-15s dcA %-20s dcB %s' % (row['state'], '%s %s' % (row['dcA'].get('role'), row['dcA'].get('mode')),
                                            '%s %s' % (row['dcB'].get('role'), row['dcB'].get('mode'))))
    w = report['writes']
    print('guest writes: %d acknowledged (%d at B), missing at B: %d, guest I/O errors: %s' % (
        w['acked'], w['ackedAtB'], w['missingCount'], w['guestIoErrors'] or w['writeErrors'] or 'none'))
    print('images dcA vs dcB after dcB->dcA SYNC + wait-sync: %s' % (
        'identical' if report['imagesIdentical'] else 'DIFFER at offset %s' % report['firstDifference']))
    print('checks: %s' % ('all passed' if not report['failures'] else '; '.join(report['failures'])))


def run(args, out_dir, phase_spans, plot, print_report):
    """The VM demo; returns the exit code."""
    bed = vb.VmBed(out_dir, bw=args.bw or 100, delay=args.delay, mem_mb=args.vm_mem_mb)
    client = sampler = None
    probe_path = os.path.join(out_dir, 'probes.json')
    try:
        tb.log('starting the 2-DC testbed with hypervisor hosts, replication agents and the runtime;'
               ' booting vs1 (QEMU, TCG) at DC A')
        bed.start()
        tb.log('vs1 ready in %.1f s; agents: %s' % (bed.boot_seconds, bed.roles()))
        sampler = st.Sampler(bed.stor, interval=0.2).start()
        client = bed.start_probes(probe_path, rate=args.rate, duration=args.timeout + 120)
        time.sleep(2)
        source = bed.vm('dcA')
        migration = tb.start_migration('vs1', 'dcB')
        tb.log('migration %s requested' % migration['id'])

        def show(m):
            tb.log('migration %s: %s %s' % (m['id'], m['state'], m['timeline'][-1].get('detail', '')[:160]))
        migration = tb.watch_migration(migration['id'], timeout=args.timeout, on_change=show)
        time.sleep(2)
        probes = tb.stop_probe_client(client, probe_path)
        client = None
        samples = sampler.stop()
        failures = []
        if migration['state'] != 'COMPLETED':
            failures.append('migration %s: %s' % (migration['state'], migration.get('error')))
        destination = bed.vm('dcB')
        window = pause_wall(source, destination) if destination else None
        since = migration['timeline'][0]['epochMillis'] / 1000
        # the demo's plot and report read the pause from the emulated hypervisor's record shape
        hv = {'timestamps': {'pauseStart': {'wall': window[0]}, 'attachedAtDestination': {'wall': window[1]}}} \
            if window else None
        stop = window[0] if window else None
        report = {'migration': migration, 'hypervisor': None, 'qemu': qemu_figures(migration),
                  'outagesBeforePause': tb.downtime(probes, window, since=since, until=stop - 0.5 if stop else None),
                  'outagesAroundSwitchover': tb.downtime(probes, window, since=stop - 0.5 if stop else since),
                  'pauseMs': round((window[1] - window[0]) * 1000, 1) if window else None,
                  'downtime': tb.downtime(probes, window, since=since), 'tcp': probes['tcp'],
                  'probes': {k: probes['udp'][k] for k in ('rate', 'sent', 'received', 'lost', 'outages')},
                  'storagePhases': roles_per_phase(collapsed(migration), samples, phase_spans),
                  'settings': {'bwMbit': args.bw or 100, 'delayMs': args.delay, 'memMb': args.vm_mem_mb,
                               'rate': args.rate}}
        if not probes['tcp']['survived']:
            failures.append('the TCP connection broke')
        if destination is None:
            failures.append('no vs1 at dcB')
            report['writes'] = {'acked': 0, 'ackedAtB': 0, 'missingCount': None, 'guestIoErrors': [],
                                'writeErrors': []}
        else:
            report['writes'], bad = wq.check_guest_writes(bed.image('dcB'), source, destination)
            failures.extend(bad)
        roles = report['rolesAfter'] = bed.roles()
        if migration['state'] == 'COMPLETED' and (roles['dcB'][0], roles['dcA'][0]) != ('PRIMARY', 'REPLICA'):
            failures.append('roles after the migration %s' % roles)
        tb.log('dcB (primary) resynchronising dcA for the image comparison')
        bed.stor.resync_back()
        identical, first = st.images_identical(bed.image('dcA'), bed.image('dcB'))
        report.update(imagesIdentical=identical, firstDifference=first)
        if not identical:
            failures.append('images differ at offset %s' % first)
        report['failures'] = failures
        report['hypervisor'] = hv
        vb.dump(os.path.join(out_dir, 'report.json'), dict(report, samples=samples))
        q = report['qemu']
        full = migration
        report['migration'] = collapsed(migration)    # the demo's timeline, plot and report: one line per phase
        plot(report, probes, os.path.join(out_dir, 'timeline.png'),
             extra='QEMU downtime %s ms, total %s ms, %s MiB, %d passes; hook %s ms; writes missing %s, %s' % (
                 q.get('downtimeMs'), q.get('totalTimeMs'), q.get('ramTransferredMiB'), q['passes'],
                 q.get('hookMs'), report['writes']['missingCount'],
                 'images identical' if identical else 'images DIFFER'))
        report['hypervisor'] = None     # print_report's emulated-hypervisor line does not apply
        print_report(report)
        report['migration'] = full
        print_vm_report(report)
        tb.log('wrote %s/report.json and timeline.png' % out_dir)
        return 0 if not failures else 1
    finally:
        tb.hold_signals()    # let the cleanup finish
        if client is not None:
            tb.stop_process(client)
        if sampler is not None:
            sampler.stop()
        bed.stop()
        tb.kill_started()
