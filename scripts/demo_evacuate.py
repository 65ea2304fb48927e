#!/usr/bin/python3
"""
The evacuation demo (issue 10 item 5): dcA's six servers (vs1..vs6) are evacuated to dcB and dcC
under a WAN bandwidth budget per DC pair, on the 3-DC Mininet testbed (wanmig-3dc-6vs.json), driven
by the embedded runtime and the emulated hypervisor, while clients probe every server.

    flock /tmp/wanmig-net.lock scripts/demo [--no-build] --evacuate [--budget-mbps 400] [--concurrent 2]
        [--memory vs1=192,...] [--dirty vs1=10,...] [--slots 3] [--rate 50] [--timeout 300]
        [--vm [--vm-mem-mb 128] [--vm-dirty 2]]     (the real VM too: see the end of this text)

Run as root after building (scripts/demo does both; demo.py --evacuate lands here). What it does:
  1. starts the runtime with the 6-server netcfg plus the evacuation keys (a budget per DC pair,
     maxConcurrentPerPair, each server's memory and dirty rate, slots at dcB and dcC) and the
     testbed; the emulated hypervisor copies each server's memory at budget / concurrent Mbit/s
     (the share the planner gives each migration), with the same memory and dirty rate;
  2. probes every server over UDP (h1: vs1, vs3, vs5; h2: vs2, vs4, vs6), --rate per server;
  3. POST /evacuations {"source": "dcA"} and polls GET /evacuations/{id} until it ends;
  4. writes out/demo-evacuate-<timestamp>/report.json, probes-<vs>.json, runtime.log and
     gantt.png, and prints a table.

WAN use: the emulated hypervisor sends no memory pages over the Mininet links (it times pre-copy
from its model), so the WAN use plotted and compared with the budget is the hypervisor's transfer
rate: each migration copies at its model's bw_mbit from pre-copy start to pre-copy end and during
the stop-and-copy (exact intervals from its timestamps, per DC pair). The bytes actually carried by
dcA's WAN port (peA port 1, `ovs-ofctl dump-ports`, sampled every 0.5 s: the probes) are plotted too.

Exit status 0 only when the evacuation COMPLETED and every server answers pings from both client
sites at its destination afterwards (and the runtime places it there).

--vm adds the real VM (a QEMU guest, TCG) as a seventh server of dcA, vm1, in the same evacuation
(wanmig-3dc-6vs-vm.json: vm1 has the qemu driver, servers[].hypervisor, while vs1..vs6 keep the
emulated one): it boots at dcA with its disk on dcA's replication agent, whose replica is at dcB
(an agent has one peer; the netcfg says replicaAt: dcB, which the planner follows), and dcB gets
the one slot more that vm1 takes;
QEMU's max-bandwidth is the planner's share (budget / concurrent). The hypervisor agents (one per
DC), the agents and the checks are wanmig_vmbed's, wanmig_storage's and demo_vm's. The report
adds, for vm1, QEMU's downtime and passes, the pause hook, its probes, the acknowledged guest
writes all present at dcB and both images identical after dcB resynchronised dcA; on the Gantt and
in the WAN use its QEMU copy runs at QEMU's average rate (RAM transferred / total time), and the
peA WAN port counters carry its real stream.
"""

import argparse
import json
import os
import re
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import wanmig_testbed as tb      # noqa: E402
from demo import PHASE_COLOURS, phase_spans   # noqa: E402

CONFIG_3DC_6VS_VM = os.path.join(tb.TOPOS, 'wanmig-3dc-6vs-vm.json')
VM, VM_IP = 'vm1', '10.2.0.70'   # the real VM of --vm (wanmig-3dc-6vs-vm.json, demo_evacuate_vm.py)

SERVERS = ('vs1', 'vs2', 'vs3', 'vs4', 'vs5', 'vs6')
CLIENT_OF = {'vs1': 'h1', 'vs3': 'h1', 'vs5': 'h1', 'vs2': 'h2', 'vs4': 'h2', 'vs6': 'h2'}
DEFAULT_MEMORY_MIB = 'vs1=192,vs2=128,vs3=160,vs4=96,vs5=128,vs6=64'
DEFAULT_DIRTY_MIBPS = 'vs1=10,vs2=5,vs3=15,vs4=5,vs5=8,vs6=2'
MB_PER_MIB = 1.048576    # the hypervisor model counts 10^6 bytes, netcfg MiB
TERMINAL = ('COMPLETED', 'COMPLETED_WITH_FAILURES', 'ABORTED')


def per_server(text):
    values = dict((k.strip(), float(v)) for k, v in (item.split('=') for item in text.split(',')))
    missing = set(SERVERS) - set(values)
    if missing:
        raise argparse.ArgumentTypeError('no value for %s' % ', '.join(sorted(missing)))
    return values


def parse_args(argv):
    parser = argparse.ArgumentParser(prog='demo.py --evacuate', description='wanmig evacuation demo')
    parser.add_argument('--budget-mbps', type=float, default=400, help='WAN budget of each DC pair (dcA-dcB, dcA-dcC)')
    parser.add_argument('--concurrent', type=int, default=2, help='maxConcurrentPerPair')
    parser.add_argument('--memory', type=per_server, default=per_server(DEFAULT_MEMORY_MIB), help='MiB per server')
    parser.add_argument('--dirty', type=per_server, default=per_server(DEFAULT_DIRTY_MIBPS), help='MiB/s per server')
    parser.add_argument('--slots', type=int, default=3, help='capacity (slots) of dcB and of dcC')
    parser.add_argument('--overhead-s', type=float, default=4, help='migration.evacuation.overheadSeconds')
    parser.add_argument('--rate', type=float, default=50, help='UDP probes per second per server')
    parser.add_argument('--timeout', type=float, default=300, help='longest wait for the evacuation')
    parser.add_argument('--out', default=os.path.join(tb.REPO, 'out'))
    parser.add_argument('--vm', action='store_true', help='the real QEMU VM (vm1) evacuated with the six')
    parser.add_argument('--vm-mem-mb', type=int, default=128, help='--vm: guest memory (MiB, also its memoryMiB)')
    parser.add_argument('--vm-dirty', type=float, default=2, help='--vm: its dirtyRateMiBps for the planner')
    args = parser.parse_args(argv)
    if args.vm:     # vm1 is a server of the plan like the others
        args.memory[VM] = float(args.vm_mem_mb)
        args.dirty[VM] = args.vm_dirty
        args.timeout = max(args.timeout, 420)
    return args


class PerServerHypervisor(tb.Hypervisor):
    """The emulated hypervisor with one pre-copy model per server (memory and dirty rate differ)."""

    def __init__(self, models, **kwargs):
        super().__init__(**kwargs)
        self.models = models
        self.submit_lock = threading.Lock()

    def submit(self, request):
        with self.submit_lock:      # self.model is what Hypervisor.submit gives the new migration
            self.model = self.models.get(request.get('server'), self.model)
            return super().submit(request)


def demo_config(args, directory):
    def edit(w):
        for dc in w['dataCenters']:
            if dc['name'] != 'dcA':
                # --vm: vm1 goes to dcB, its replica's DC (replicaAt), which gets the slot it takes
                dc['capacity'] = {'slots': args.slots + (1 if args.vm and dc['name'] == 'dcB' else 0)}
        if args.vm:     # QEMU copies at the planner's share of the budget, as the model does
            w['migration']['hypervisor']['maxBandwidthMbps'] = int(args.budget_mbps / args.concurrent)
        for vs in w['servers']:
            vs['memoryMiB'] = int(args.memory[vs['name']])
            vs['dirtyRateMiBps'] = args.dirty[vs['name']]
        w['migration']['evacuation'] = {
            'bandwidth': [{'between': ['dcA', 'dcB'], 'mbps': args.budget_mbps},
                          {'between': ['dcA', 'dcC'], 'mbps': args.budget_mbps}],
            'maxConcurrentPerPair': args.concurrent, 'maxRounds': 30, 'stopCopyMiB': 2,
            'overheadSeconds': args.overhead_s, 'retries': 1}
    return tb.config_file(CONFIG_3DC_6VS_VM if args.vm else tb.CONFIG_3DC_6VS, directory, edit)


def hypervisor_models(args):
    share = args.budget_mbps / args.concurrent
    return {vs: tb.PrecopyModel(mem_mb=args.memory[vs] * MB_PER_MIB, dirty_mb_s=args.dirty[vs] * MB_PER_MIB,
                                bw_mbit=share, max_rounds=30, stop_mb=2 * MB_PER_MIB)
            for vs in SERVERS}


class PortSampler:
    """Bytes through one OVS port (rx + tx) sampled every `interval` s with ovs-ofctl dump-ports."""

    def __init__(self, bridge, port, interval=0.5):
        self.bridge, self.port, self.interval = bridge, port, interval
        self.samples = []       # (wall, bytes)
        self.stop_event = threading.Event()
        self.thread = threading.Thread(target=self.loop, daemon=True)

    def read(self):
        out = tb.run(['ovs-ofctl', '-O', 'OpenFlow13', 'dump-ports', self.bridge, str(self.port)], timeout=10).stdout
        values = re.findall(r'[rt]x pkts=\d+, bytes=(\d+)', out)
        return sum(int(v) for v in values) if len(values) == 2 else None

    def loop(self):
        while not self.stop_event.is_set():
            value = self.read()
            if value is not None:
                self.samples.append((time.time(), value))
            self.stop_event.wait(self.interval)

    def start(self):
        self.thread.start()
        return self

    def stop(self):
        self.stop_event.set()
        self.thread.join(5)
        return self.samples

    def rates_mbps(self):
        return [((t0 + t1) / 2, (b1 - b0) * 8 / (t1 - t0) / 1e6)
                for (t0, b0), (t1, b1) in zip(self.samples, self.samples[1:]) if t1 > t0]


def copy_intervals(hv):
    """[(start, end)] wall-clock spans in which the emulated hypervisor copied this migration's
    memory: pre-copy (ended by precopyEnd or an abort) and the stop-and-copy."""
    t = {k: v['wall'] for k, v in hv['timestamps'].items()}
    spans = []
    if 'precopyStart' in t:
        end = t.get('precopyEnd', t.get('aborted'))
        if end:
            spans.append((t['precopyStart'], end))
    if 'detached' in t and 'copied' in t:
        spans.append((t['detached'], t['copied']))
    return spans


def wan_use(evacuation, hv_by_migration):
    """Per DC pair: [(time, Mbit/s)] step function of the hypervisor's transfer rate, and its peak."""
    events = {}
    for s in evacuation['servers']:
        pair = '%s-%s' % (evacuation['source'], s['destination'])
        for mid, hv in hv_by_migration.items():
            if hv['server'] != s['server']:
                continue
            for start, end in copy_intervals(hv):
                events.setdefault(pair, []).extend([(start, hv['model']['bw_mbit']), (end, -hv['model']['bw_mbit'])])
    steps, peaks = {}, {}
    for pair, changes in events.items():
        level, points = 0.0, []
        for t, delta in sorted(changes, key=lambda c: (c[0], c[1])):    # ends before starts at the same instant
            level += delta
            points.append((t, round(level, 6)))
        steps[pair] = points
        peaks[pair] = max(p[1] for p in points)
    return steps, peaks


def total_peak(steps):
    changes = sorted((t, pair, level) for pair, points in steps.items() for t, level in points)
    current, peak = {}, 0.0
    for t, pair, level in changes:
        current[pair] = level
        peak = max(peak, sum(current.values()))
    return peak


def migrating_since(migration):
    return next((e['epochMillis'] / 1000 for e in migration['timeline'] if e['state'] == 'MIGRATING'), None)


def build_report(args, evacuation, migrations, hv_by_migration, probes, reachable, located, sampler):
    start = evacuation['startedMillis'] / 1000
    end = max(e['epochMillis'] for e in evacuation['timeline']) / 1000
    steps, peaks = wan_use(evacuation, hv_by_migration)
    rows = []
    for s in evacuation['servers']:
        vs = s['server']
        m = migrations.get(s['server'])
        hv = hv_by_migration.get(int(s['migration'])) if s.get('migration') else None
        window = tb.pause_window(hv)
        d = tb.downtime(probes[vs], window, since=start, until=end + 2)
        first = m['timeline'][0]['epochMillis'] / 1000 if m else None
        last = m['timeline'][-1]['epochMillis'] / 1000 if m else None
        rows.append({
            'server': vs, 'destination': s['destination'], 'state': s['state'], 'attempts': s['attempts'],
            'migration': s.get('migration'), 'migrationState': m['state'] if m else None,
            'memoryMiB': args.memory[vs], 'dirtyRateMiBps': args.dirty[vs],
            'plannedStartS': s['plannedStartMillis'] / 1000, 'plannedDurationS': s['estimatedMillis'] / 1000,
            'estimatedBytes': s['estimatedBytes'], 'converges': s['converges'],
            'startS': round(first - start, 3) if m else None, 'durationS': round(last - first, 3) if m else None,
            'hypervisor': {'rounds': hv['round'] + 1, 'copiedMb': hv['copiedMb'], 'pauseMs': hv['pauseMs']} if hv else None,
            # MIGRATING (the MMS handed the server to the hypervisor) until the first byte is copied
            'migratingToCopyS': round(hv['timestamps']['precopyStart']['wall'] - migrating_since(m), 3)
            if hv and m and 'precopyStart' in hv['timestamps'] and migrating_since(m) else None,
            'downtime': d, 'reachableAfter': reachable[vs], 'locationAfter': located[vs],
        })
    planned = evacuation['plannedMillis'] / 1000
    total = end - start
    return {
        'evacuation': {k: evacuation[k] for k in ('id', 'source', 'destinations', 'state', 'progress', 'eta',
                                                  'started', 'plannedMillis')},
        'totalSeconds': round(total, 3), 'plannedSeconds': round(planned, 3),
        'totalOverPlanned': round(total / planned, 3) if planned else None,
        'wan': {'source': 'emulated hypervisor transfer rate (model bw_mbit while copying)'
                          + (' and vm1\'s QEMU average rate' if args.vm else '') + ', per DC pair',
                'budgetMbpsPerPair': args.budget_mbps, 'peakMbpsByPair': peaks,
                'peakMbpsOutOfSource': total_peak(steps), 'steps': steps,
                'peAWanPortMbps': {'source': 'ovs-ofctl dump-ports peA 1 (rx+tx), every 0.5 s: the probes'
                                             + (', vm1\'s QEMU stream and disk replication' if args.vm else ''),
                                   'peak': max((r for _, r in sampler.rates_mbps()), default=0.0),
                                   'samples': sampler.rates_mbps()}},
        'servers': rows,
        'allReachable': all(r['reachableAfter'] and r['locationAfter'] == r['destination'] for r in rows),
        'settings': {k: v for k, v in vars(args).items()},
        'timeline': evacuation['timeline'],
    }


def print_report(report):
    e = report['evacuation']
    print('\n================ wanmig evacuation demo ================')
    print('evacuation %s of %s to %s: %s; done %d, failed %d, cancelled %d' % (
        e['id'], e['source'], ', '.join(e['destinations']), e['state'], e['progress']['done'],
        e['progress']['failed'], e['progress']['cancelled']))
    print('total %.1f s against the plan\'s ETA %.1f s (x%.2f)' % (
        report['totalSeconds'], report['plannedSeconds'], report['totalOverPlanned'] or 0))
    w = report['wan']
    print('peak WAN use (%s): %s; out of %s %.0f Mbit/s; budget %.0f Mbit/s per pair' % (
        w['source'], ', '.join('%s %.0f Mbit/s' % kv for kv in sorted(w['peakMbpsByPair'].items())),
        e['source'], w['peakMbpsOutOfSource'], w['budgetMbpsPerPair']))
    print('measured on peA\'s WAN port (%s): peak %.2f Mbit/s' % (
        w['peAWanPortMbps']['source'].split(': ', 1)[-1], w['peAWanPortMbps']['peak']))
    print('%-4s %-4s %-9s %4s %5s %6s | %6s %6s | %6s %6s %5s | %7s %8s %8s %6s %5s' % (
        'vs', 'to', 'state', 'MiB', 'dirty', 'rounds', 'plan@', 'plan s', 'real@', 'real s', 'wait',
        'pause', 'outage', 'network', 'lost*', 'reach'))
    for r in report['servers']:
        d, hv = r['downtime'], r['hypervisor'] or {}
        print('%-4s %-4s %-9s %4.0f %5.1f %6s | %6.1f %6.1f | %6s %6s %5s | %7s %8.1f %8.1f %6d %5s' % (
            r['server'], r['destination'], r['state'], r['memoryMiB'], r['dirtyRateMiBps'], hv.get('rounds', '-'),
            r['plannedStartS'], r['plannedDurationS'],
            '%.1f' % r['startS'] if r['startS'] is not None else '-',
            '%.1f' % r['durationS'] if r['durationS'] is not None else '-',
            '%.1f' % r['migratingToCopyS'] if r['migratingToCopyS'] is not None else '-',
            '%.0f' % hv['pauseMs'] if hv.get('pauseMs') is not None else '-',
            d['totalOutageMs'], d['networkOutageMs'], d['probesLostOutsidePause'],
            'yes' if r['reachableAfter'] else 'NO'))
    print('times in s since the evacuation started; wait = MIGRATING until the hypervisor copied its first byte (s);'
          ' pause = hypervisor stop-and-copy (ms); outage = probe outage'
          ' (ms), network = outage outside the pause (ms), lost* = probes lost outside the pause')
    print('=========================================================\n')


def plot(report, evacuation, migrations, hv_by_migration, probes, path):
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    t0 = evacuation['startedMillis'] / 1000
    rows = report['servers']
    fig, (gantt, wan) = plt.subplots(2, 1, figsize=(13, 8), sharex=True, gridspec_kw={'height_ratios': [3, 2]})
    for y, r in enumerate(rows):
        vs = r['server']
        gantt.broken_barh([(r['plannedStartS'], r['plannedDurationS'])], (y + 0.28, 0.14), facecolors='none',
                          edgecolors='#555555', linestyles='--', lw=0.8)
        m = migrations.get(vs)
        if m:
            first = m['timeline'][0]['epochMillis'] / 1000 - t0
            if first > 0:
                gantt.broken_barh([(0, first)], (y - 0.25, 0.5), facecolors='#eeeeee')
            for state, since, until in phase_spans(m):
                if state in PHASE_COLOURS:
                    gantt.broken_barh([(since - t0, until - since)], (y - 0.25, 0.5),
                                      facecolors=PHASE_COLOURS[state])
            hv = hv_by_migration.get(int(r['migration'])) if r['migration'] else None
            if hv:      # when the hypervisor actually copied (inside MIGRATING and the pause)
                gantt.broken_barh([(a - t0, b - a) for a, b in copy_intervals(hv)], (y - 0.06, 0.12),
                                  facecolors='#8c2d04')
            window = tb.pause_window(hv)
            if window:
                gantt.broken_barh([(window[0] - t0, max(window[1] - window[0], 0.05))], (y - 0.3, 0.6),
                                  facecolors='red')
        lost = [s[1] - t0 for s in probes[vs]['udp']['samples'] if s[2] is None and s[1] >= t0]
        if lost:
            gantt.plot(lost, [y - 0.38] * len(lost), '|', ms=5, color='black')
    gantt.set_yticks(range(len(rows)))
    gantt.set_yticklabels(['%s -> %s' % (r['server'], r['destination']) for r in rows])
    gantt.invert_yaxis()
    gantt.grid(axis='x', alpha=0.3)
    handles = [Patch(facecolor='#eeeeee', label='QUEUED')] + \
              [Patch(facecolor=c, label=s) for s, c in PHASE_COLOURS.items()] + \
              [Patch(facecolor='#8c2d04', label='hypervisor copying'), Patch(facecolor='red', label='hypervisor pause'),
               Patch(facecolor='none', edgecolor='#555555', linestyle='--', label='planned'),
               plt.Line2D([], [], color='black', marker='|', ls='none', label='probe lost')]
    gantt.legend(handles=handles, loc='upper right', fontsize=7, ncol=3, framealpha=0.9)
    e = report['evacuation']
    gantt.set_title('wanmig: evacuation of %s (%s): %.1f s, plan %.1f s; longest outage %.0f ms, network part %.0f ms'
                    % (e['source'], e['state'], report['totalSeconds'], report['plannedSeconds'],
                       max(r['downtime']['longestOutageMs'] for r in rows),
                       max(r['downtime']['networkOutageMs'] for r in rows)), fontsize=10)

    w = report['wan']
    colours = ['#2171b5', '#cb181d', '#238b45']
    for colour, (pair, points) in zip(colours, sorted(w['steps'].items())):
        xs = [0] + [t - t0 for t, _ in points]
        ys = [0] + [level for _, level in points]
        wan.step(xs, ys, where='post', color=colour, label='%s (hypervisor copy rate)' % pair)
    wan.axhline(w['budgetMbpsPerPair'], color='black', ls='--', lw=1, label='budget per pair')
    measured = w['peAWanPortMbps']['samples']
    if measured:    # a few hundred kbit/s of probes: on its own scale
        port = wan.twinx()
        port.plot([t - t0 for t, _ in measured], [r for _, r in measured], color='#777777', lw=0.8)
        port.set_ylabel('peA WAN port, measured (Mbit/s, grey)', color='#777777', fontsize=8)
        port.set_ylim(0, max(r for _, r in measured) * 1.5 or 1)
    wan.set_ylabel('WAN use (Mbit/s)')
    wan.set_xlabel('seconds since the evacuation started')
    wan.set_ylim(0, w['budgetMbpsPerPair'] * 1.25)
    wan.grid(alpha=0.3)
    wan.legend(loc='upper right', fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)



def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    tb.start_as_root()
    out_dir = os.path.join(args.out, 'demo-evacuate-' + time.strftime('%Y%m%d-%H%M%S'))
    os.makedirs(out_dir, exist_ok=True)
    runtime = net = hypervisor = sampler = vm = buffers = None
    servers, clients = [], {}
    tb.ensure_ovs()
    tb.mininet_cleanup()
    try:
        if args.vm:
            buffers = tb.switch_buffers()   # the VM's migration stream fills the WAN (VmBed does the same)
        config = demo_config(args, out_dir)
        tb.log('starting the embedded runtime (%s)' % config)
        runtime = tb.Runtime(config=config, state_dir=tempfile.mkdtemp(prefix='wanmig-evac-state-'),
                             log_path=os.path.join(out_dir, 'runtime.log')).start()
        tb.log('starting the 3-DC testbed with vs1..vs6%s in dcA' % (' and the VM\'s hosts' if args.vm else ''))
        net = tb.start_net_3dc(servers=6, storage=args.vm, vm=args.vm)
        hypervisor = PerServerHypervisor(hypervisor_models(args), model=tb.PrecopyModel()).start()
        tb.wait_until(lambda: len(tb.switches_connected(tb.SWITCHES_3DC)) == len(tb.SWITCHES_3DC),
                      60, 0.5, 'all switches connected to the runtime')
        ips = {vs: net.get(vs).IP() for vs in SERVERS}
        for vs in SERVERS:
            tb.wait_until(lambda: tb.pings(net.get(CLIENT_OF[vs]), ips[vs]), 60, 0.5,
                          '%s reaching %s' % (CLIENT_OF[vs], vs))
        tb.log('h1 and h2 reach vs1..vs6 at dcA')
        names = SERVERS
        if args.vm:
            import demo_evacuate_vm as evm
            tb.log('replication agents (dcA primary, dcB replica), hypervisor agents; booting %s (QEMU, TCG)'
                   ' at dcA' % VM)
            vm = evm.EvacuationVm(net, out_dir, mem_mb=args.vm_mem_mb)
            vm.start()
            tb.log('%s ready in %.1f s; agents %s' % (VM, vm.boot_seconds, vm.roles()))
            names = SERVERS + (VM,)
            ips[VM] = VM_IP     # its own UDP/TCP echo (guestd) answers the probes
        for vs in SERVERS:
            servers.append(tb.start_probe_server(net.get(vs), duration=args.timeout + 120))
        for vs in names:
            path = os.path.join(out_dir, 'probes-%s.json' % vs)
            clients[vs] = (tb.start_probe_client(net.get(CLIENT_OF.get(vs, 'h1')), path, server=ips[vs], rate=args.rate,
                                                 duration=args.timeout + 60), path)
        sampler = PortSampler('peA', 1).start()
        time.sleep(2)   # normal service first

        status, evacuation = tb.rest('POST', '/evacuations', {'source': 'dcA'})
        if status != 201:
            raise RuntimeError('POST /evacuations -> %s %s' % (status, evacuation))
        eid = evacuation['id']
        tb.log('evacuation %s: plan %.1f s, ETA %s; %s' % (eid, evacuation['plannedMillis'] / 1000, evacuation['eta'],
               ', '.join('%s->%s @%.1fs (%.1fs)' % (s['server'], s['destination'], s['plannedStartMillis'] / 1000,
                                                   s['estimatedMillis'] / 1000) for s in evacuation['servers'])))
        vm_destination = next((s['destination'] for s in evacuation['servers'] if s['server'] == VM), None)
        if args.vm and vm_destination != 'dcB':
            raise RuntimeError('the plan sends %s to %s, but its disk\'s replica is at dcB (dcA\'s agent has one '
                               'peer); dcB has --slots + 1 slots for it' % (VM, vm_destination))
        deadline = time.monotonic() + args.timeout
        shown = None
        while True:
            status, evacuation = tb.rest('GET', '/evacuations/%s' % eid)
            if status != 200:
                raise RuntimeError('GET /evacuations/%s -> %s %s' % (eid, status, evacuation))
            p = evacuation['progress']
            line = 'done %d/%d, in flight %d, queued %d, failed %d; %.0f of %.0f MiB (estimates); projected end %s' % (
                p['done'], len(evacuation['servers']), p['inFlight'], p['queued'], p['failed'],
                p['bytesDone'] / 2 ** 20, p['bytesTotal'] / 2 ** 20, evacuation.get('projectedEta'))
            if line.split(';')[0] != shown:
                shown = line.split(';')[0]
                tb.log('evacuation %s %s: %s' % (eid, evacuation['state'], line))
            if evacuation['state'] in TERMINAL:
                break
            if time.monotonic() > deadline:
                raise TimeoutError('evacuation %s not finished after %g s' % (eid, args.timeout))
            time.sleep(0.5)
        time.sleep(2)   # service after the evacuation

        probes = {vs: tb.stop_probe_client(process, path) for vs, (process, path) in clients.items()}
        clients = {}
        sampler.stop()
        h1, h2 = net.get('h1', 'h2')
        reachable = {vs: tb.pings(h1, ips[vs], count=3) and tb.pings(h2, ips[vs], count=3) for vs in names}
        located = {v['name']: v['location'] for v in tb.rest('GET', '/servers')[1]['servers']}
        migrations = {}
        for s in evacuation['servers']:
            if s.get('migration'):
                migrations[s['server']] = tb.rest('GET', '/migrations/%s' % s['migration'])[1]
        hv_by_migration = {mid: m.as_dict() for mid, m in hypervisor.migrations.items()}
        vm_report, vm_failures = None, []
        if args.vm:     # after the pings: the check freezes the guest to read its disk
            vm_report, vm_failures = vm.check(migrations.get(VM), probes[VM], vm_destination)
            record = evm.hypervisor_record(migrations[VM]['id'], vm_report) if VM in migrations else None
            if record:
                hv_by_migration[int(migrations[VM]['id'])] = record
        report = build_report(args, evacuation, migrations, hv_by_migration, probes, reachable, located, sampler)
        if vm_report:
            report['vm'] = vm_report
        with open(os.path.join(out_dir, 'report.json'), 'w') as f:
            json.dump(report, f, indent=2, default=str)
        plot(report, evacuation, migrations, hv_by_migration, probes, os.path.join(out_dir, 'gantt.png'))
        print_report(report)
        if vm_report and 'qemu' in vm_report:
            import demo_vm
            print('---------------- %s, the real VM (QEMU, TCG) ----------------' % VM)
            demo_vm.print_vm_report(vm_report)
        tb.log('wrote %s/report.json and gantt.png' % out_dir)
        if evacuation['state'] != 'COMPLETED':
            tb.log('the evacuation did not complete: %s' % evacuation['state'])
            return 1
        if not report['allReachable']:
            tb.log('unreachable or misplaced after the evacuation: %s' % [
                r['server'] for r in report['servers'] if not r['reachableAfter'] or r['locationAfter'] != r['destination']])
            return 1
        if vm_failures:
            tb.log('%s: %s' % (VM, '; '.join(vm_failures)))
            return 1
        return 0
    except KeyboardInterrupt as e:
        tb.log('interrupted (%s), cleaning up' % (e or 'Ctrl-C'))
        return 130
    except Exception as e:
        tb.log('evacuation demo failed: %s: %s' % (type(e).__name__, e))
        if runtime:
            print('--- last lines of %s ---\n%s' % (runtime.log_path, runtime.log_tail()))
        return 1
    finally:
        tb.hold_signals()    # let the cleanup finish
        for process, _ in clients.values():
            tb.stop_process(process)
        for process in servers:
            tb.stop_process(process)
        if sampler:
            sampler.stop()
        if hypervisor:
            hypervisor.stop()
        if vm:
            vm.stop()
        tb.tear_down(net, runtime)
        if buffers is not None:
            tb.restore_switch_buffers(buffers)


if __name__ == '__main__':
    sys.exit(main())
