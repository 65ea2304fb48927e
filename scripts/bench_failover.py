#!/usr/bin/python3
"""
Link-failure benchmark on the 3-DC testbed (triangle core: core1-core2-core3). h2 (site2) probes
vs1 (dcA) at 500/s over cs2 -> core3 -> core1 -> peA. Each failure takes the core1-core3 link down
on both ends (`ip link set ... down`, timestamped just before), keeps it down `--down-seconds`, and
restores it. Two runs with the same failures:

  reroute   the embedded runtime with link tracking (linkState.reroute true, hold-down 0.5 s): the
            routes go around the dead link (core3 -> core2 -> core1) and come back after the hold-down.
  baseline  the same runtime with linkState.reroute false: no reroute, the outage lasts until the
            link is restored.

Per failure: port-down -> the runtime's report of the port (the re-plan's trigger time), -> new
rules confirmed by every switch (the re-plan's finish time, from GET /onos/wanmig/links), ->
traffic restored (the first answered probe of the outage that starts at the failure). Prints
p50/p99, the baseline/reroute ratio, and whether the target (port-down -> rules confirmed under
100 ms) is met; writes out/bench-failover-<timestamp>/results.json.

    /usr/bin/python3 scripts/bench_failover.py [--count 50] [--warmup 3] [--mode both|reroute|baseline]
"""

import argparse
import json
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import wanmig_testbed as tb                      # noqa: E402

LINK = ('core1', 'core3')
TARGET_MS = 100.0
HOLD_DOWN_S = 0.5
RATE = 500



def percentile(values, p):
    values = sorted(v for v in values if v is not None)
    if not values:
        return None
    return round(values[min(len(values) - 1, int(round(p / 100.0 * (len(values) - 1))))], 3)


def outage_after(probes, t_down, window):
    """(ms from t_down to the first answered probe of the outage that begins at the failure, probes
    lost in it); (0, 0) when no probe was lost."""
    for o in probes['udp']['outages']:
        if o['end'] >= t_down and o['start'] <= t_down + window:
            return round((o['end'] - t_down) * 1000, 3), o['lostProbes']
    return 0.0, 0


def run(mode, count, warmup, down_s, workdir):
    tb.ensure_ovs()
    tb.mininet_cleanup()
    config = tb.config_file(tb.CONFIG_3DC, workdir, lambda c: c.__setitem__(
        'linkState', {'holdDownSeconds': HOLD_DOWN_S, 'reroute': mode == 'reroute'}))
    runtime = tb.Runtime(config=config, state_dir=os.path.join(workdir, 'state-' + mode),
                         log_path=os.path.join(workdir, 'runtime-%s.log' % mode))
    os.makedirs(runtime.state_dir)
    net = client = server = None
    failures = []
    try:
        runtime.start()
        net = tb.start_net_3dc()
        tb.wait_until(lambda: len(tb.switches_connected(tb.SWITCHES_3DC)) == len(tb.SWITCHES_3DC), 60, 0.5,
                      'all switches connected')
        h2, vs1 = net.get('h2', 'vs1')
        tb.wait_until(lambda: tb.pings(h2, tb.VS1_IP), 60, 0.5, 'h2 reaching vs1')
        server = tb.start_probe_server(vs1, duration=3600)
        period = down_s + (HOLD_DOWN_S + 1.0 if mode == 'reroute' else 1.0)
        path = os.path.join(workdir, 'probes-%s.json' % mode)
        client = tb.start_probe_client(h2, path, rate=RATE, duration=(count + warmup) * (period + 0.5) + 60)
        time.sleep(2)
        for i in range(count + warmup):
            replans = len(tb.link_state()['replans'])
            t_down = tb.set_wan_link(*LINK, up=False)
            record = {'warmup': i < warmup, 'portDown': t_down}
            if mode == 'reroute':
                replan = tb.wait_replans(replans + 1, timeout=10, interval=0.005)[replans]
                record.update(reported=replan['triggeredAt'], confirmed=replan['finishedAt'],
                              replanOk=replan['confirmed'])
            time.sleep(max(0.0, t_down + down_s - time.time()))
            record['portUp'] = tb.set_wan_link(*LINK, up=True)
            if mode == 'reroute':
                back = tb.wait_replans(replans + 2, timeout=10, interval=0.02)[replans + 1]
                record['returned'] = back['finishedAt']
            time.sleep(1.0)
            failures.append(record)
            tb.log('%s failure %d/%d%s' % (mode, i + 1, count + warmup, ' (warm-up)' if i < warmup else ''))
        probes = tb.stop_probe_client(client, path)
        client = None
    finally:
        tb.stop_process(client)
        tb.stop_process(server)
        tb.stop_net(net)
        runtime.kill()
        tb.mininet_cleanup()
    for f in failures:
        f['restoredMs'], f['lostProbes'] = outage_after(probes, f['portDown'], down_s)
        if mode == 'reroute':
            f['reportedMs'] = round((f['reported'] - f['portDown']) * 1000, 3)
            f['confirmedMs'] = round((f['confirmed'] - f['portDown']) * 1000, 3)
        # the return to the shortest path after recovery should lose nothing (make-before-break)
        if f.get('returned'):
            f['lostOnReturn'] = sum(1 for _, sent, rtt in probes['udp']['samples']
                                    if rtt is None and f['portUp'] <= sent <= f['returned'] + 0.5)
    return {'mode': mode, 'failures': failures, 'probesSent': probes['udp']['sent'],
            'probesLost': probes['udp']['lost']}


def summary(result):
    counted = [f for f in result['failures'] if not f['warmup']]
    out = {'failures': len(counted)}
    for key in ('reportedMs', 'confirmedMs', 'restoredMs', 'lostProbes', 'lostOnReturn'):
        values = [f[key] for f in counted if f.get(key) is not None]
        if values:
            out[key] = {'p50': percentile(values, 50), 'p99': percentile(values, 99), 'max': max(values)}
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--count', type=int, default=50)
    parser.add_argument('--warmup', type=int, default=3, help='failures before the counted ones (JIT warm-up)')
    parser.add_argument('--down-seconds', type=float, default=1.0, help='how long each failure lasts')
    parser.add_argument('--mode', choices=('both', 'reroute', 'baseline'), default='both')
    args = parser.parse_args()
    tb.start_as_root()
    out = os.path.join(tb.REPO, 'out', 'bench-failover-' + time.strftime('%Y%m%d-%H%M%S'))
    os.makedirs(out, exist_ok=True)
    workdir = tempfile.mkdtemp(prefix='wanmig-bench-failover-')
    results = {}
    try:
        for mode in (('reroute', 'baseline') if args.mode == 'both' else (args.mode,)):
            results[mode] = run(mode, args.count, args.warmup, args.down_seconds, workdir)
            results[mode]['summary'] = summary(results[mode])
    finally:
        tb.kill_started()
    report = {'link': '-'.join(LINK), 'count': args.count, 'downSeconds': args.down_seconds,
              'holdDownSeconds': HOLD_DOWN_S, 'probeRate': RATE, 'results': results}
    with open(os.path.join(out, 'results.json'), 'w') as f:
        json.dump(report, f, indent=1)

    print('\nlink %s down %.1f s per failure, %d failures counted, probes %d/s (h2 -> vs1)'
          % ('-'.join(LINK), args.down_seconds, args.count, RATE))
    for mode, r in results.items():
        s = r['summary']
        print('%-9s' % mode, json.dumps({k: v for k, v in s.items()}))
    if 'reroute' in results:
        s = results['reroute']['summary']
        conf = s.get('confirmedMs', {})
        print('port-down -> rules confirmed: p50 %s ms, p99 %s ms (of which port-down -> reported: p50 %s ms)'
              % (conf.get('p50'), conf.get('p99'), s.get('reportedMs', {}).get('p50')))
        met = conf.get('p99') is not None and conf['p99'] < TARGET_MS
        print('target port-down -> rules confirmed < %g ms: %s (p99 %s ms, p50 %s ms)'
              % (TARGET_MS, 'MET' if met else 'NOT MET', conf.get('p99'), conf.get('p50')))
    if 'reroute' in results and 'baseline' in results:
        a, b = results['reroute']['summary']['restoredMs'], results['baseline']['summary']['restoredMs']
        print('traffic restored: reroute p50 %s / p99 %s ms vs no reroute p50 %s / p99 %s ms: '
              'ratio (no reroute / reroute) p50 %.1fx, p99 %.1fx'
              % (a['p50'], a['p99'], b['p50'], b['p99'], b['p50'] / max(a['p50'], 1e-3), b['p99'] / max(a['p99'], 1e-3)))
    print('results: %s' % os.path.join(out, 'results.json'))


if __name__ == '__main__':
    main()
