#!/usr/bin/python3
"""
Cutover benchmark on the 2-DC testbed, two runs with the same hypervisor model and probes:

  wanmig    the embedded runtime; vs1 migrates dcA -> dcB -> dcA ... `--count` times. Cutover
            latency comes from each migration's timeline (the CUTOVER event's detail "redirect
            confirmed in X ms", and the gap from the hypervisor's report to CUTOVER).
  baseline  no controller: switches in L2 learning mode (fail-mode standalone), h1 and vs1 in one
            subnet, and vs1 announces itself with a gratuitous ARP right after it resumes.

Per migration: probes lost outside the hypervisor's pause, the network's share of the outage,
and recovery (attach at the destination -> first answered probe). Prints p50/p99 and the
baseline/wanmig ratios; writes out/bench-cutover-<timestamp>/results.json.

    /usr/bin/python3 scripts/bench_cutover.py [--count 100] [--mode both|wanmig|baseline]
    /usr/bin/python3 scripts/bench_cutover.py --vm [--count 4]   (the real VM: bench_cutover_vm.py)
"""

import argparse
import json
import os
import re
import signal
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import wanmig_testbed as tb                      # noqa: E402
from wanmig_hypervisor import where_is           # noqa: E402

PE = {'peA': 'of:000000000000000a', 'peB': 'of:000000000000000b'}
REDIRECT_CONFIRMED = re.compile(r'redirect confirmed in ([0-9.]+) ms')



def percentile(values, p):
    values = sorted(v for v in values if v is not None)
    if not values:
        return None
    return round(values[min(len(values) - 1, int(round(p / 100.0 * (len(values) - 1))))], 3)


def recovery_ms(probes, attached_wall):
    """From the server's attach at the destination to the send time of the first answered probe
    sent after it."""
    for _, sent, rtt in probes['udp']['samples']:
        if sent >= attached_wall and rtt is not None:
            return round((sent - attached_wall) * 1000, 3)
    return None


def per_migration(probes, spans):
    """Downtime figures for each (record, since, until) span of the run."""
    for record, since, until in spans:
        window = tb.pause_window(record['hypervisor'])
        record['downtime'] = tb.downtime(probes, window, since=since, until=until)
        record['recoveryMs'] = recovery_ms(probes, window[1]) if window else None


# ---------------------------------------------------------------- the two runs

def runtime_config(args, workdir):
    """The 2-DC config, with migration.bicast set when --bicast asks for it."""
    if not args.bicast:
        return tb.CONFIG_2DC
    with open(tb.CONFIG_2DC) as f:
        netcfg = json.load(f)
    netcfg['apps']['org.wanmig.app']['wanmig'].setdefault('migration', {})['bicast'] = True
    path = os.path.join(workdir, 'wanmig-2dc-bicast.json')
    with open(path, 'w') as f:
        json.dump(netcfg, f, indent=2)
    return path


def run_wanmig(args, model, workdir):
    runtime = net = hypervisor = server = client = None
    probe_path = os.path.join(workdir, 'probes-wanmig.json')
    records = []
    try:
        runtime = tb.Runtime(config=runtime_config(args, workdir),
                             state_dir=tempfile.mkdtemp(prefix='wanmig-bench-state-'),
                             log_path=os.path.join(workdir, 'runtime.log')).start()
        net = tb.start_net()
        hypervisor = tb.Hypervisor(model=model).start()
        tb.wait_until(lambda: len(tb.switches_connected(tb.SWITCHES_2DC)) == 5, 60, 0.5, 'switches')
        h1, vs1 = net.get('h1', 'vs1')
        tb.wait_until(lambda: tb.pings(h1, tb.VS1_IP), 60, 0.5, 'h1 reaching vs1')
        server = tb.start_probe_server(vs1, duration=(args.count + args.warmup) * 30 + 120)
        client = tb.start_probe_client(h1, probe_path, rate=args.rate, duration=(args.count + args.warmup) * 30 + 60)
        time.sleep(1)
        for i in range(args.warmup + args.count):
            destination = 'dcB' if where_is('vs1-sw')[0] == 'peA' else 'dcA'
            started = time.time()
            migration = tb.start_migration('vs1', destination)
            migration = tb.watch_migration(migration['id'], timeout=120, poll=0.02)
            hv = hypervisor.migrations.get(int(migration['id']))
            records.append({'migration': migration, 'hypervisor': hv.as_dict() if hv else None,
                            'started': started, 'ended': time.time(), 'warmup': i < args.warmup,
                            **cutover_latency(migration, hv)})
            tb.log('wanmig %s%d/%d: %s -> %s %s, cutover %s ms' % (
                'warm-up ' if i < args.warmup else '', i + 1 - (0 if i < args.warmup else args.warmup),
                args.warmup if i < args.warmup else args.count,
                migration['source'], migration['destination'], migration['state'],
                records[-1]['redirectConfirmedMs']))
            time.sleep(args.gap)
        time.sleep(1)
        probes = tb.stop_probe_client(client, probe_path)
        client = None
    finally:
        tb.stop_process(client)
        tb.stop_process(server)
        if hypervisor:
            hypervisor.stop()
        tb.stop_net(net)
        if runtime:
            runtime.kill()
        tb.mininet_cleanup()
    per_migration(probes, spans(records))
    return records, probes


def cutover_latency(migration, hv):
    """The redirect's confirmation time as the controller reports it, and the gap from the
    hypervisor's report to the CUTOVER event."""
    cutover = next((e for e in migration['timeline'] if e['state'] == 'CUTOVER'), None)
    confirmed = REDIRECT_CONFIRMED.search(cutover['detail']) if cutover else None
    report_gap = None
    if cutover and hv and 'reportSent' in hv.times:
        report_gap = round(cutover['epochMillis'] - hv.times['reportSent']['wall'] * 1000, 3)
    return {'redirectConfirmedMs': float(confirmed.group(1)) if confirmed else None,
            'reportToCutoverMs': report_gap}


def run_baseline(args, model, workdir):
    net = hypervisor = server = client = announcer = None
    probe_path = os.path.join(workdir, 'probes-baseline.json')
    records = []
    try:
        net = tb.start_net(fail_mode='standalone', remote=False)
        h1, vs1 = net.get('h1', 'vs1')
        h1.setIP('10.2.0.1/24')        # one subnet: plain L2 reachability
        tb.wait_until(lambda: tb.pings(h1, tb.VS1_IP), 30, 0.5, 'h1 reaching vs1 (L2)')
        announcer = tb.popen_in(vs1, [sys.executable, tb.PROBE, 'garp', '--iface', vs1.defaultIntf().name,
                                      '--ip', vs1.IP(), '--mac', vs1.MAC(), '--on-signal',
                                      '--duration', str(args.count * 10 + 120)])
        hypervisor = tb.Hypervisor(model=model, announce=lambda _: announcer.send_signal(signal.SIGUSR1))
        server = tb.start_probe_server(vs1, duration=args.count * 10 + 120)
        client = tb.start_probe_client(h1, probe_path, rate=args.rate, duration=args.count * 10 + 60)
        time.sleep(1)
        for i in range(args.count):
            source = where_is('vs1-sw')[0]
            destination = 'peB' if source == 'peA' else 'peA'
            started = time.time()
            code, m = hypervisor.submit({'migration': i + 1, 'server': 'vs1', 'sourcePe': PE[source],
                                         'destinationPe': PE[destination], 'destinationPort': 2})
            migration = hypervisor.migrations[i + 1]
            tb.wait_until(lambda: migration.phase in ('REPORTED', 'FAILED'), 60, 0.02, 'the move')
            records.append({'hypervisor': migration.as_dict(), 'started': started, 'ended': time.time(),
                            'source': source, 'destination': destination, 'phase': migration.phase})
            tb.log('baseline %d/%d: %s -> %s %s' % (i + 1, args.count, source, destination, migration.phase))
            time.sleep(args.gap + 0.5)   # about as long between moves as wanmig's route update + drain
        time.sleep(1)
        probes = tb.stop_probe_client(client, probe_path)
        client = None
    finally:
        tb.stop_process(client)
        tb.stop_process(server)
        tb.stop_process(announcer)
        tb.stop_net(net)
        tb.mininet_cleanup()
    per_migration(probes, spans(records))
    return records, probes


def spans(records):
    """Each migration owns the probes from its start to the next one's start."""
    ends = [r['started'] for r in records[1:]] + [float('inf')]
    return [(r, r['started'], end) for r, end in zip(records, ends)]


# ---------------------------------------------------------------- summary

def summarize(records):
    d = [r['downtime'] for r in records]
    summary = {
        'migrations': len(records),
        'lostOutsidePause': {'mean': round(statistics.mean(x['probesLostOutsidePause'] for x in d), 3),
                             'migrationsWithLoss': sum(1 for x in d if x['probesLostOutsidePause']),
                             'p50': percentile([x['probesLostOutsidePause'] for x in d], 50),
                             'p99': percentile([x['probesLostOutsidePause'] for x in d], 99)},
        'networkOutageMs': {'mean': round(statistics.mean(x['networkOutageMs'] for x in d), 3),
                            'p50': percentile([x['networkOutageMs'] for x in d], 50),
                            'p99': percentile([x['networkOutageMs'] for x in d], 99)},
        'recoveryMs': {'p50': percentile([r['recoveryMs'] for r in records], 50),
                       'p99': percentile([r['recoveryMs'] for r in records], 99)},
        'pauseMs': {'p50': percentile([x['pauseMs'] for x in d], 50)},
    }
    if 'redirectConfirmedMs' in records[0]:
        summary['completed'] = sum(1 for r in records if r['migration']['state'] == 'COMPLETED')
        summary['redirectConfirmedMs'] = {'p50': percentile([r['redirectConfirmedMs'] for r in records], 50),
                                          'p99': percentile([r['redirectConfirmedMs'] for r in records], 99)}
        summary['reportToCutoverMs'] = {'p50': percentile([r['reportToCutoverMs'] for r in records], 50),
                                        'p99': percentile([r['reportToCutoverMs'] for r in records], 99)}
    return summary


def ratio(a, b):
    return round(a / b, 2) if a is not None and b else None


def print_summary(results):
    print('\n================ cutover benchmark ================')
    for mode in ('wanmig', 'baseline'):
        if mode in results:
            print('%-9s %s' % (mode, json.dumps(results[mode]['summary'])))
            if 'warmupSummary' in results[mode]:
                print('%-9s %s' % ('(warm-up)', json.dumps(results[mode]['warmupSummary'])))
    if 'wanmig' in results and 'baseline' in results:
        w, b = results['wanmig']['summary'], results['baseline']['summary']
        results['ratios'] = {
            'lostOutsidePause.mean (baseline/wanmig)': ratio(b['lostOutsidePause']['mean'], w['lostOutsidePause']['mean']),
            'networkOutageMs.mean (baseline/wanmig)': ratio(b['networkOutageMs']['mean'], w['networkOutageMs']['mean']),
            'networkOutageMs.p50 (baseline/wanmig)': ratio(b['networkOutageMs']['p50'], w['networkOutageMs']['p50']),
            'networkOutageMs.p99 (baseline/wanmig)': ratio(b['networkOutageMs']['p99'], w['networkOutageMs']['p99']),
            'recoveryMs.p50 (baseline/wanmig)': ratio(b['recoveryMs']['p50'], w['recoveryMs']['p50']),
        }
        for name, value in results['ratios'].items():
            print('ratio %-42s %s' % (name, value))
    print('===================================================\n')


def main():
    if '--vm' in sys.argv[1:]:     # the real VM, pause vs paper switchover (bench_cutover_vm.py)
        import bench_cutover_vm
        return bench_cutover_vm.main(sys.argv[1:])
    parser = argparse.ArgumentParser(description='wanmig cutover benchmark')
    parser.add_argument('--count', type=int, default=100, help='migrations per run (>= 100 for the record)')
    parser.add_argument('--mode', choices=('both', 'wanmig', 'baseline'), default='both')
    parser.add_argument('--rate', type=float, default=200, help='UDP probes per second')
    parser.add_argument('--mem-mb', type=float, default=16, help='short pre-copy')
    parser.add_argument('--dirty-mb-s', type=float, default=20)
    parser.add_argument('--hv-bw-mbit', type=float, default=1000)
    parser.add_argument('--warmup', type=int, default=10,
                        help='wanmig migrations before the measured ones, reported apart (JIT warm-up)')
    parser.add_argument('--gap', type=float, default=0.3, help='seconds between migrations')
    parser.add_argument('--bicast', action='store_true',
                        help='PE_A copies server-bound traffic into the tunnel from PREPARING on (migration.bicast)')
    parser.add_argument('--out', default=os.path.join(tb.REPO, 'out'))
    args = parser.parse_args()
    tb.start_as_root()
    workdir = os.path.join(args.out, 'bench-cutover-' + time.strftime('%Y%m%d-%H%M%S'))
    os.makedirs(workdir, exist_ok=True)
    model = tb.PrecopyModel(mem_mb=args.mem_mb, dirty_mb_s=args.dirty_mb_s, bw_mbit=args.hv_bw_mbit)
    results = {'settings': vars(args)}
    tb.ensure_ovs()
    tb.mininet_cleanup()
    runs = {'wanmig': run_wanmig, 'baseline': run_baseline}
    try:
        for mode in (('wanmig', 'baseline') if args.mode == 'both' else (args.mode,)):
            tb.log('---- %s: %d migrations' % (mode, args.count))
            records, _ = runs[mode](args, model, workdir)
            # warm-up migrations (the runtime's JIT compiling the cutover path) are kept apart
            warm = [r for r in records if r.get('warmup')]
            measured = [r for r in records if not r.get('warmup')]
            results[mode] = {'summary': summarize(measured), 'migrations': measured}
            if warm:
                results[mode].update(warmupSummary=summarize(warm), warmup=warm)
    except KeyboardInterrupt as e:
        tb.log('interrupted (%s)' % e)
        return 130
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)    # let the cleanup finish
        tb.kill_started()
        tb.mininet_cleanup()
    print_summary(results)
    with open(os.path.join(workdir, 'results.json'), 'w') as f:
        json.dump(results, f, indent=2)
    tb.log('wrote %s/results.json' % workdir)


if __name__ == '__main__':
    sys.exit(main())
