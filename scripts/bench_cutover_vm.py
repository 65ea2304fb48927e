#!/usr/bin/python3
"""
`scripts/bench-cutover --vm`: the real VM (QEMU, TCG, disk on the replication agents) migrated
back and forth across the delayed WAN by the embedded runtime, `--count` times with the switchover
inside QEMU's pause (switchover "pause"), then `--count` times in the paper's order (switchover
"paper": cutover on QEMU's completion report, roles reversed in the route update), in the same run
on fresh testbeds of the same shape (wanmig_vmbed.VmBed).

Per migration: QEMU's downtime (query-migrate at completion); the pause as seen from outside (STOP
at the source to RESUME at the destination, the agents' QMP events); UDP probes (--rate/s from h1)
lost outside that pause; service downtime (the longest time without an answer arriving at the
client, in the migration's span) minus QEMU's downtime; the pre-switchover hook (pause mode); the guest's write errors. At the end of each mode
every acknowledged guest write is checked in the current primary's image.

Targets (issue 9): 0 probes lost outside QEMU's downtime in every migration; service downtime
<= QEMU's downtime + 5 ms; hook p99 < 10 ms. Printed as met/missed per mode.

    flock /tmp/wanmig-net.lock /usr/bin/python3 scripts/bench_cutover.py --vm [--count 4] [--modes pause,paper]
"""

import argparse
import json
import os
import re
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import wanmig_testbed as tb      # noqa: E402
import wanmig_vmbed as vb        # noqa: E402
import wanmig_qemu as wq         # noqa: E402
from demo_vm import qemu_figures, pause_wall   # noqa: E402

OTHER = {'dcA': 'dcB', 'dcB': 'dcA'}
CONTROL_UDP = 7100     # the control probe servers' ports (7100/7101 in storA, 7102/7103 in storB)


def percentile(values, p):
    values = sorted(v for v in values if v is not None)
    if not values:
        return None
    return round(values[min(len(values) - 1, int(round(p / 100.0 * (len(values) - 1))))], 3)


def answer_gap_ms(probes, since, until, rate):
    """Service downtime as the client sees it: the longest time without any answer arriving
    (answers sorted by arrival = send + RTT), less one probe interval. Probes that wait in the
    paused VS's virtio ring or tap are answered late, not lost, so counting lost probes alone
    would undercount the pause."""
    arrivals = sorted(sent + rtt / 1000.0 for _, sent, rtt in probes['udp']['samples']
                      if rtt is not None and since <= sent < until)
    gaps = [b - a for a, b in zip(arrivals, arrivals[1:])]
    return round(max(0.0, max(gaps, default=0.0) - 1.0 / rate) * 1000, 1)


def pause_edges(probes, window, since, until):
    """Where the client's outage lies against the guest's pause (STOP at the source to RESUME at
    the destination): probes lost before STOP and after RESUME, the last answer arriving before
    STOP and the first arriving after RESUME (ms from the edge), and the first probe sent after
    RESUME that was answered (its send time after RESUME and its RTT)."""
    stop, resume = window
    samples = [s for s in probes['udp']['samples'] if since <= s[1] < until]
    arrivals = sorted(sent + rtt / 1000.0 for _, sent, rtt in samples if rtt is not None)
    before = [a for a in arrivals if a < stop]
    after = [a for a in arrivals if a >= resume]
    fresh = next(((sent, rtt) for _, sent, rtt in samples if sent >= resume and rtt is not None), None)
    return {
        'pauseMs': round((resume - stop) * 1000, 1),
        'lostBeforeStop': sum(1 for _, sent, rtt in samples if rtt is None and sent < stop),
        'lostAfterResume': sum(1 for _, sent, rtt in samples if rtt is None and sent > resume),
        'lostInPause': sum(1 for _, sent, rtt in samples if rtt is None and stop <= sent <= resume),
        'answeredFromPause': sum(1 for _, sent, rtt in samples if rtt is not None and stop <= sent <= resume),
        'lastAnswerBeforeStopMs': round((stop - before[-1]) * 1000, 1) if before else None,
        'firstAnswerAfterResumeMs': round((after[0] - resume) * 1000, 1) if after else None,
        'firstFreshAnsweredMs': round((fresh[0] - resume) * 1000, 1) if fresh else None,
        'firstFreshRttMs': fresh[1] if fresh else None,
    }


def guest_udp_drops(console):
    """The guest's UDP receive-buffer drops so far (guestd prints the counter when it grows), 0
    before any, None without a console."""
    try:
        text = open(console, errors='replace').read()
    except OSError:
        return None
    found = re.findall(r'udp RcvbufErrors=(\d+)', text)
    return int(found[-1]) if found else 0


def start_control_probes(bed, out, rate, duration):
    """The baseline of the same run: UDP probes from h1 to a server that does not move in each DC
    (storA, storB: the VS's path from h1 into that DC), so that what the emulated network loses
    under the migration's load is told apart from what the move costs. {dc: (client, path)}."""
    clients = {}
    for dc, host, port in (('dcA', 'storA', CONTROL_UDP), ('dcB', 'storB', CONTROL_UDP + 2)):
        stor = bed.net.get(host)
        path = os.path.join(out, 'probes-control-%s.json' % dc)
        bed.procs.append(tb.start_probe_server(stor, duration=duration + 60, udp_port=port, tcp_port=port + 1))
        client = tb.popen_in(bed.net.get('h1'), [sys.executable, tb.PROBE, 'client', '--server', stor.IP(), '--rate',
                                                 str(rate), '--duration', str(duration), '--out', path,
                                                 '--udp-port', str(port), '--tcp-port', str(port + 1)],
                             stdout=subprocess.DEVNULL, stderr=open(path + '.log', 'w'))
        bed.procs.append(client)
        clients[dc] = (client, path)
    return clients


def jvm_pauses_in_hook(bed, q):
    """The control plane JVMs' stop-the-world pauses (GC and other safepoints, 1 ms or more)
    that ended while the pause hook ran: a slow hook says whether one of them was the cause."""
    if 'hookNotedAt' not in q:
        return None
    end = q['hookNotedAt'] + 0.002
    start = end - q['hookMs'] / 1000.0 - 0.004
    logs = {'runtime': bed.runtime.pause_log}
    if bed.stor is not None:
        logs.update({'agent ' + dc: bed.stor.pause_log(dc) for dc in OTHER})
    return {name: [round(ms, 1) for _, ms, _ in tb.jvm_pauses(path, start, end) if ms >= 1.0]
            for name, path in logs.items()}


def run_mode(args, mode, out):
    bed = vb.VmBed(out, bw=args.bw, delay=args.delay, mem_mb=args.mem_mb, switchover=mode, writer_ms=args.writer_ms)
    records, acks_logs, consoles = [], [], []
    client = None
    try:
        bed.start()
        probes_path = os.path.join(out, 'probes.json')
        client = bed.start_probes(probes_path, rate=args.rate,
                                  duration=(args.warmup + args.count) * 120 + 120)
        control = start_control_probes(bed, out, args.rate, (args.warmup + args.count) * 120 + 120)
        time.sleep(2)
        at = 'dcA'
        for i in range(args.warmup + args.count):
            dest = OTHER[at]
            source = bed.vm(at)
            drops_before = guest_udp_drops(source.console)
            started = time.time()
            mid = tb.start_migration('vs1', dest)['id']
            # every 0.5 s: the figures come from the migration's timeline, not from when it is seen,
            # and polling faster takes CPU from the guest on this small host
            final = tb.watch_migration(mid, timeout=300, poll=0.5)
            destination = bed.vm(dest)
            # the agent quits the source QEMU after the report; its logs are complete then
            tb.wait_until(lambda: not source.alive(), 30, 0.2, 'the source QEMU quit')
            acks_logs.append(open(source.acks, errors='replace').read())
            consoles.append(open(source.console, errors='replace').read())
            record = {'i': i, 'warmup': i < args.warmup, 'migration': mid, 'from': at, 'to': dest, 'state': final['state'],
                      'error': final.get('error'), 'started': started, 'qemu': qemu_figures(final),
                      'window': pause_wall(source, destination) if destination else None,
                      'ended': final['timeline'][-1]['epochMillis'] / 1000}
            tb.log('%s #%d %s->%s: %s, QEMU downtime %s ms, hook %s ms' % (
                mode, i, at, dest, final['state'], record['qemu'].get('downtimeMs'), record['qemu'].get('hookMs')))
            records.append(record)
            if final['state'] != 'COMPLETED':
                break
            at = dest
            time.sleep(args.gap)
            # the guest's counter went with its memory; it is printed within a second of changing
            after = guest_udp_drops(destination.console)
            record['guestUdpDrops'] = after - drops_before if None not in (after, drops_before) else None
        time.sleep(2)
        probes = tb.stop_probe_client(client, probes_path)
        client = None
        control_probes = {dc: tb.stop_probe_client(c, path) for dc, (c, path) in control.items()}
        for r, nxt in zip(records, records[1:] + [None]):
            until = nxt['started'] if nxt else float('inf')
            w = r['window']
            d = tb.downtime(probes, tuple(w) if w else None, since=r['started'], until=until)
            r['pauseMs'] = d['pauseMs']
            r['probesLostOutsidePause'] = d['probesLostOutsidePause']
            r['probeOutageMs'] = d['totalOutageMs']
            r['serviceDowntimeMs'] = answer_gap_ms(probes, r['started'], until, args.rate)
            q = r['qemu'].get('downtimeMs')
            r['serviceMinusQemuMs'] = round(r['serviceDowntimeMs'] - q, 1) if q is not None else None
            r['downtime'] = d
            if w:
                r['edges'] = pause_edges(probes, w, r['started'], until)
                # QEMU's downtime is measured at the source and ends before the destination has
                # loaded the device state and resumed; the guest's pause (STOP to RESUME) does not
                r['serviceMinusPauseMs'] = round(r['serviceDowntimeMs'] - r['edges']['pauseMs'], 1)
                # the server that stays where the VS was before the move: the same path from h1
                c = pause_edges(control_probes[r['from']], w, r['started'], until)
                r['control'] = {k: c[k] for k in ('lostBeforeStop', 'lostInPause', 'lostAfterResume')}
                r['lostOutsidePauseBeyondControl'] = max(0, r['probesLostOutsidePause']
                                                         - c['lostBeforeStop'] - c['lostAfterResume'])
        # the guest at its last place: every acknowledged write of the whole run is in that image
        current = bed.vm(at)
        current.qmp.execute('stop')
        time.sleep(0.5)
        acks_logs.append(open(current.acks, errors='replace').read())
        consoles.append(open(current.console, errors='replace').read())
        logs = [os.path.join(out, 'acks-%d.log' % k) for k in range(len(acks_logs))]
        for path, text in zip(logs, acks_logs):
            with open(path, 'w') as f:
                f.write(text)
        acks, errors, starts = wq.read_acks(*logs)
        missing = wq.missing_acked_writes(bed.image(at), acks)
        io = [line for text in consoles for line in text.splitlines()
              if re.search(r'I/O error|WERR|Kernel panic|BUG:|Oops', line)]
        writes = {'acked': len(acks), 'missingCount': len(missing), 'writeErrors': len(errors),
                  'guestIoErrorLines': len(io), 'firstErrors': (errors + io)[:5], 'writerRuns': len(starts),
                  'tcpSurvived': probes['tcp']['survived']}
        for r in records:
            r['jvmPausesInHookMs'] = jvm_pauses_in_hook(bed, r['qemu'])
        # the switches' own drops: a failed send loses the rest of its batch, on any flow
        writes['ovsSendErrors'] = tb.ovs_send_errors(bed.ovs_log_mark)
        writes['ovsSendBuffer'] = tb.ovs_send_socket()
        return records, writes
    finally:
        if client is not None:
            tb.stop_process(client)
        bed.stop()


def summarize(records, writes, mode):
    counted = [r for r in records if not r.get('warmup')]
    done = [r for r in counted if r['state'] == 'COMPLETED']
    lost = [r['probesLostOutsidePause'] for r in done]
    extra = [r['serviceMinusQemuMs'] for r in done]
    hooks = [r['qemu'].get('hookMs') for r in done]
    s = {'migrations': len(counted), 'completed': len(done),
         'warmup': [{k: r.get(k) for k in ('state', 'probesLostOutsidePause', 'serviceMinusQemuMs', 'guestUdpDrops')}
                    | {'hookMs': r['qemu'].get('hookMs')} for r in records if r.get('warmup')],
         'guestUdpDrops': {'perMigration': [r.get('guestUdpDrops') for r in done]},
         'serviceDowntimeMs': {'perMigration': [r['serviceDowntimeMs'] for r in done]},
         'qemuDowntimeMs': {'p50': percentile([r['qemu'].get('downtimeMs') for r in done], 50),
                            'max': percentile([r['qemu'].get('downtimeMs') for r in done], 100)},
         'probesLostOutsidePause': {'perMigration': lost, 'max': max(lost) if lost else None},
         'serviceMinusQemuMs': {'perMigration': extra, 'p50': percentile(extra, 50), 'max': percentile(extra, 100)},
         'hookMs': {'perMigration': hooks, 'p50': percentile(hooks, 50), 'p99': percentile(hooks, 99)},
         'sourceNicDrainedFrames': {'perMigration': [r['qemu'].get('sourceNicDrainedFrames') for r in done]},
         'serviceMinusPauseMs': {'perMigration': [r.get('serviceMinusPauseMs') for r in done]},
         'controlLostOutsidePause': {'perMigration': [r.get('control') and r['control']['lostBeforeStop']
                                                      + r['control']['lostAfterResume'] for r in done]},
         'lostOutsidePauseBeyondControl': {'perMigration': [r.get('lostOutsidePauseBeyondControl') for r in done]},
         'edges': [r.get('edges') for r in done],
         'jvmPausesInSlowHooks': [{'hookMs': r['qemu'].get('hookMs'), 'pausesMs': r.get('jvmPausesInHookMs')}
                                  for r in done if (r['qemu'].get('hookMs') or 0) >= 10],
         'writes': writes}
    s['targets'] = {
        '0 probes lost outside QEMU downtime, every migration':
            bool(done) and len(done) == len(counted) and all(x == 0 for x in lost),
        'service downtime <= QEMU downtime + 5 ms, every migration':
            bool(done) and len(done) == len(counted) and all(x is not None and x <= 5 for x in extra),
        'hook p99 < 10 ms': (s['hookMs']['p99'] is not None and s['hookMs']['p99'] < 10) if mode == 'pause'
        else None,
    }
    return s


def main(argv=None):
    parser = argparse.ArgumentParser(description='wanmig cutover benchmark with the real VM')
    parser.add_argument('--vm', action='store_true')
    parser.add_argument('--count', type=int, default=4, help='migrations per mode (back and forth)')
    parser.add_argument('--warmup', type=int, default=2,
                        help='migrations per mode before the counted ones (JIT of the controller and agents,'
                             ' as in a long-running deployment); reported apart')
    parser.add_argument('--modes', default='pause,paper')
    parser.add_argument('--rate', type=float, default=200, help='UDP probes per second')
    parser.add_argument('--bw', type=float, default=100)
    parser.add_argument('--delay', type=float, default=10)
    parser.add_argument('--mem-mb', type=int, default=128)
    parser.add_argument('--writer-ms', type=int, default=20,
                        help='ms between the guest\'s acknowledged disk writes (0: no writer, to see its share of the guest\'s restart)')
    parser.add_argument('--gap', type=float, default=3, help='seconds between migrations')
    parser.add_argument('--out', default=os.path.join(tb.REPO, 'out'))
    parser.add_argument('--sched', choices=('nice', 'fifo'), default=os.environ.get('WANMIG_SCHED', 'nice'),
                        help='fifo: switches, delay lines, controller and agents at SCHED_FIFO (WANMIG_SCHED)')
    args = parser.parse_args(argv)
    os.environ['WANMIG_SCHED'] = args.sched
    vb.exit_on_sigterm()
    workdir = os.path.join(args.out, 'bench-cutover-vm-' + time.strftime('%Y%m%d-%H%M%S'))
    results = {'settings': dict(vars(args), controlPlane=' '.join(tb.control_plane()) or 'default',
                                jitThreads='nice 0, default policy' if tb.control_plane() else 'as the JVM')}
    code = 0
    for mode in args.modes.split(','):
        tb.log('---- %s: %d migrations of the real VM' % (mode, args.count))
        try:
            records, writes = run_mode(args, mode, os.path.join(workdir, mode))
            results[mode] = {'summary': summarize(records, writes, mode), 'migrations': records}
        except Exception as e:  # noqa: BLE001 - the other mode still runs; the failure is reported
            tb.log('%s failed: %s: %s' % (mode, type(e).__name__, e))
            results[mode] = {'error': '%s: %s' % (type(e).__name__, e)}
            code = 1
    os.makedirs(workdir, exist_ok=True)
    vb.dump(os.path.join(workdir, 'results.json'), results)
    print('\n================ cutover benchmark, real VM ================')
    for mode in args.modes.split(','):
        s = results[mode].get('summary')
        if not s:
            print('%-6s FAILED: %s' % (mode, results[mode]['error']))
            continue
        print('%-6s %d/%d completed; QEMU downtime p50 %s ms (max %s); service downtime per migration %s ms;'
              ' probes lost outside QEMU\'s pause %s; service - QEMU'
              ' downtime p50 %s ms (max %s, per migration %s); hook p50 %s / p99 %s ms; guest writes: %d acked,'
              ' %d missing, %d write errors; TCP survived %s' % (
                  mode, s['completed'], s['migrations'], s['qemuDowntimeMs']['p50'], s['qemuDowntimeMs']['max'],
                  s['serviceDowntimeMs']['perMigration'],
                  s['probesLostOutsidePause']['perMigration'], s['serviceMinusQemuMs']['p50'],
                  s['serviceMinusQemuMs']['max'], s['serviceMinusQemuMs']['perMigration'], s['hookMs']['p50'],
                  s['hookMs']['p99'], s['writes']['acked'], s['writes']['missingCount'], s['writes']['writeErrors'],
                  s['writes']['tcpSurvived']))
        print('       guest pause (STOP to RESUME) per migration %s ms; service downtime minus that pause %s ms;'
              ' UDP probes the guest itself dropped (receive buffer) %s' % (
                  [e and e['pauseMs'] for e in s['edges']], s['serviceMinusPauseMs']['perMigration'],
                  s['guestUdpDrops']['perMigration']))
        print('       baseline: probes to a server that stays in the source DC (storA/storB, the same path from h1)'
              ' lost in the same spans %s; the VS lost beyond that %s' % (s['controlLostOutsidePause']['perMigration'],
                                                        s['lostOutsidePauseBeyondControl']['perMigration']))
        print('       the switches\' failed sends (ovs-vswitchd.log, rate-limited: at least) %s; their send socket %s'
              % (s['writes'].get('ovsSendErrors') or 'none', s['writes'].get('ovsSendBuffer')))
        print('       hooks of 10 ms or more, with the JVM pauses (GC, safepoints) inside them: %s'
              % (s['jvmPausesInSlowHooks'] or 'none'))
        if any(n is not None for n in s['sourceNicDrainedFrames']['perMigration']):
            print('       frames left in the stopped source\'s tap, sent on to the destination (drain-nic) %s'
                  % s['sourceNicDrainedFrames']['perMigration'])
        for e in s['edges']:
            if e:
                print('       lost before STOP %(lostBeforeStop)s, in the pause %(lostInPause)s (answered late'
                      ' %(answeredFromPause)s), after RESUME %(lostAfterResume)s; last answer %(lastAnswerBeforeStopMs)s ms'
                      ' before STOP, first %(firstAnswerAfterResumeMs)s ms after RESUME' % e)
        if s['warmup']:
            print('       warm-up migrations (not counted): %s' % s['warmup'])
        for target, met in s['targets'].items():
            if met is not None:
                print('       target %-58s %s' % (target, 'met' if met else 'MISSED'))
    print('=============================================================')
    tb.log('wrote %s/results.json' % workdir)
    return code


if __name__ == '__main__':
    sys.exit(main())
