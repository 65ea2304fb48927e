#!/usr/bin/python3
"""
The wanmig demo: live migration of vs1 from DC A to DC B on the 2-DC Mininet testbed, driven by
the embedded runtime (the controller), watched by probes from h1.

    /usr/bin/python3 scripts/demo.py [--delay 10] [--vm-mem-mb 128]
    /usr/bin/python3 scripts/demo.py --emulated [--bw 100] [--mem-mb 512] [--dirty-mb-s 40] [--hv-bw-mbit 1000] [--no-storage]

By default the VS is the real VM (scripts/demo_vm.py): a QEMU guest (built by guest/build if not
cached) whose disk is on the replication agents, migrated by the qemu driver across the delayed
WAN (--delay, default 10 ms one way) with the switchover inside QEMU's pause; writes
out/demo-vm-<timestamp>/. --vm is still accepted and changes nothing.

--emulated: the emulated hypervisor instead, for quick runs (a model of pre-copy, then the VS's
veth moved between the PEs). It includes storage unless --no-storage (which implies --emulated):
the storage hosts (storA at peA, storB at peB) run a replication agent each, so the VS's disk
replicates across the emulated WAN; the MMS switches it to SYNC before the move and reverses the
roles after the cutover, while a writer in the VS writes to its disk over NBD (--no-storage:
network and hypervisor only, wanmig-2dc.json). The report adds the agents over the phases, the
writer's figures and the images compared.

Run as root, after building (scripts/demo does both). Writes out/demo-<timestamp>/report.json,
probes.json, timeline.png, runtime.log, and with storage writes.json and storage/ (agent
configs, logs and images).
"""

import argparse
import json
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import wanmig_testbed as tb      # noqa: E402
import wanmig_storage as st      # noqa: E402

PHASE_COLOURS = {'PREPARING': '#c6dbef', 'MIGRATING': '#fdd0a2', 'CUTOVER': '#a1d99b',
                 'ROUTES_UPDATED': '#c7e9c0', 'DRAINING': '#e5f5e0'}


def parse_args():
    parser = argparse.ArgumentParser(description='wanmig live-migration demo')
    parser.add_argument('--bw', type=float, default=None, help='WAN link rate limit, Mbit/s (htb)')
    parser.add_argument('--mem-mb', type=float, default=512, help='memory of the virtual server')
    parser.add_argument('--dirty-mb-s', type=float, default=40, help='memory dirty rate')
    parser.add_argument('--hv-bw-mbit', type=float, default=1000, help='migration bandwidth')
    parser.add_argument('--rate', type=float, default=200, help='UDP probes per second')
    parser.add_argument('--timeout', type=float, default=300, help='longest wait for the migration')
    parser.add_argument('--storage', action=argparse.BooleanOptionalAction, default=True,
                        help='replication agents on storage hosts in both DCs and a disk writer in the VS '
                             '(default; --no-storage: network and hypervisor only)')
    parser.add_argument('--write-rate', type=float, default=50, help='VS disk writes (4 KiB) per second')
    parser.add_argument('--vm', dest='vm', action='store_true', default=True,
                        help='the real VM (the default): a QEMU guest migrated by the qemu driver with its disk on the '
                             'replication agents, switchover inside the pause, across the delayed WAN '
                             '(scripts/demo_vm.py)')
    parser.add_argument('--emulated', dest='vm', action='store_false',
                        help='the emulated hypervisor instead of the real VM, for quick runs (--bw, --mem-mb, '
                             '--dirty-mb-s, --hv-bw-mbit, --no-storage apply to it)')
    parser.add_argument('--delay', type=float, default=10, help='--vm: one-way WAN delay between the DCs, ms')
    parser.add_argument('--vm-mem-mb', type=int, default=128, help='--vm: guest memory')
    parser.add_argument('--out', default=os.path.join(tb.REPO, 'out'))
    args = parser.parse_args()
    if not args.storage and args.vm:
        # the real VM's disk is on the replication agents: without storage only the emulated VS runs
        tb.log('--no-storage: the emulated hypervisor (the real VM needs its disk on the agents)')
        args.vm = False
    return args



def phase_spans(migration):
    """[(state, start, end)] wall-clock spans of every state on the timeline."""
    events = migration['timeline']
    spans = []
    for event, following in zip(events, events[1:] + [None]):
        end = following['epochMillis'] / 1000 if following else event['epochMillis'] / 1000
        spans.append((event['state'], event['epochMillis'] / 1000, end))
    return spans


def print_report(report):
    migration = report['migration']
    print('\n================ wanmig demo report ================')
    print('migration %s: %s %s -> %s, final state %s%s' % (
        migration['id'], migration['server'], migration['source'], migration['destination'],
        migration['state'], ' (%s)' % migration['error'] if migration.get('error') else ''))
    start = migration['timeline'][0]['epochMillis']
    print('timeline:')
    for state, since, until in phase_spans(migration):
        detail = next(e['detail'] for e in migration['timeline'] if e['state'] == state)
        print('  +%8.3f s  %-15s %8.1f ms  %s' % (since - start / 1000, state, (until - since) * 1000, detail))
    hv = report['hypervisor']
    if hv:
        print('hypervisor: %d pre-copy rounds, %.1f MB copied, pause %s ms' % (
            hv['round'] + 1, hv['copiedMb'], hv['pauseMs']))
    d = report['downtime']
    print('probes: %d sent, %d lost in %d outage(s)' % (d['probesSent'], d['probesLost'], d['outages']))
    print('service downtime: longest %.1f ms, total %.1f ms' % (d['longestOutageMs'], d['totalOutageMs']))
    print('  of which during the hypervisor pause: %.1f ms (pause %s ms)' % (d['outageDuringPauseMs'], d['pauseMs']))
    print('  caused by the network (outside the pause): %.1f ms, %d probes lost' % (
        d['networkOutageMs'], d['probesLostOutsidePause']))
    tcp = report['tcp']
    print('TCP connection survived: %s (%d messages, %d bytes echoed, max echo delay %.1f ms%s)' % (
        'yes' if tcp['survived'] else 'NO', tcp['messages'], tcp['bytesEchoed'], tcp['maxEchoDelayMs'],
        ', error: %s' % tcp['error'] if tcp['error'] else ''))
    if report.get('storage'):
        print_storage(report['storage'])
    print('====================================================\n')


def print_storage(s):
    print('storage (disk vs1, agents on storA / storB, replication across the WAN core):')
    print('  %-15s %-44s %-44s' % ('phase', 'dcA agent (last sample in phase)', 'dcB agent (last sample in phase)'))
    for phase in s['phases']:
        cells = []
        for dc in ('dcA', 'dcB'):
            x = phase[dc]
            cells.append('%s %s inSync=%s lag %s B (max %s)' % (x.get('role'), x.get('mode'), x.get('inSync'),
                                                             x.get('lagBytes'), x.get('maxLagBytes'))
                         if x else '(too short to sample)')
        print('  %-15s %-44s %-44s' % (phase['state'], cells[0], cells[1]))
    m = s['atMigrating']
    print('  PREPARING -> MIGRATING, MMS: "%s"' % s['storageInSyncDetail'])
    print('  dcA when MIGRATING began: %s %s inSync=%s lag %s B' % (m.get('role'), m.get('mode'), m.get('inSync'),
                                                                   m.get('lagBytes')))
    d = s['duringMigrating']
    print('  dcA during MIGRATING: %d samples, all SYNC: %s, in sync in %d, max lag %s B (with the VS writing,'
          ' lag = the write in flight, not yet acknowledged to the VS)' % (d['samples'], d['allSync'], d['inSync'],
                                                                            d['maxLagBytes']))
    r = s['afterRoutesUpdated']
    print('  after ROUTES_UPDATED: dcA %s, dcB %s' % (r['dcA'].get('role'), r['dcB'].get('role')))
    w = s['writer']
    print('  VS writer: %d writes acknowledged (%d to dcA, %d to dcB), %d attempts, errors %s, target switches %d'
          % (w['acked'], w['ackedByTarget'][0], w['ackedByTarget'][1], w['attempts'], w['errors'] or 'none',
             w['switches']))
    for label, key in (('before the migration (dcA, ASYNC)', 'before'), ('while MIGRATING (dcA, SYNC)', 'migrating'),
                       ('after COMPLETED (dcB, ASYNC)', 'after')):
        x = w['latencyMs'][key]
        if x:
            print('  write latency %-34s median %.2f ms, p90 %.2f ms, max %.2f ms (%d writes)'
                  % (label, x['median'], x['p90'], x['max'], x['count']))
    print('  acknowledged writes missing at dcB: %d' % s['missingAtB'])
    print('  images dcA vs dcB after dcB->dcA SYNC + wait-sync: %s' % (
        'identical (%d bytes)' % s['imageBytes'] if s['identical'] else 'DIFFER at offset %s' % s['firstDifference']))


def plot(report, probes, path, extra=None):
    """Probe RTT and losses over time, phases shaded, the hypervisor pause marked; `extra`: a
    second title line."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    migration = report['migration']
    t0 = migration['timeline'][0]['epochMillis'] / 1000
    samples = probes['udp']['samples']
    answered = [(s[1] - t0, s[2]) for s in samples if s[2] is not None]
    lost = [s[1] - t0 for s in samples if s[2] is None]
    window = tb.pause_window(report['hypervisor'])

    fig, axes = plt.subplots(2, 1, figsize=(12, 7), gridspec_kw={'height_ratios': [3, 2]})
    zoom_centre = (window[0] - t0) if window else (lost[0] if lost else 0)
    for ax, zoom in ((axes[0], False), (axes[1], True)):
        for state, since, until in phase_spans(migration):
            if state in PHASE_COLOURS:
                ax.axvspan(since - t0, until - t0, color=PHASE_COLOURS[state], alpha=0.8, lw=0,
                           label=state if not zoom else None)
        if window:
            ax.axvspan(window[0] - t0, window[1] - t0, facecolor='none', hatch='///', edgecolor='red',
                       lw=1, label='hypervisor pause' if not zoom else None)
        if answered:
            ax.plot([a[0] for a in answered], [a[1] for a in answered], '.', ms=2, color='#08519c',
                    label='probe RTT' if not zoom else None)
        if lost:
            # at the bottom edge, whatever the RTT scale
            ax.plot(lost, [0.04] * len(lost), '|', ms=12, color='red', transform=ax.get_xaxis_transform(),
                    label='probe lost' if not zoom else None)
        ax.set_yscale('log')
        ax.set_ylabel('RTT (ms)')
        ax.grid(alpha=0.3)
        if zoom:
            ax.set_xlim(zoom_centre - 0.5, zoom_centre + 1.0)
            ax.set_title('around the pause', fontsize=10)
    axes[1].set_xlabel('seconds since the migration was requested')
    d = report['downtime']
    axes[0].set_title('wanmig: %s %s -> %s (%s); downtime %.0f ms, network part %.0f ms, TCP %s' % (
        migration['server'], migration['source'], migration['destination'], migration['state'],
        d['longestOutageMs'], d['networkOutageMs'], 'survived' if report['tcp']['survived'] else 'broken')
        + ('\n' + extra if extra else ''), fontsize=10)
    axes[0].legend(loc='upper left', fontsize=8, ncol=4, framealpha=0.9)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def latency(writes, since, until):
    """Median / p90 / max acknowledgement latency of the writes acknowledged in [since, until)."""
    values = sorted(w[4] for w in writes['acked']
                    if (since is None or w[3] >= since) and (until is None or w[3] < until))
    if not values:
        return None
    return {'count': len(values), 'median': values[len(values) // 2], 'p90': values[int(len(values) * 0.9)],
            'max': values[-1]}


def storage_report(migration, samples, at_migrating, writes, storage):
    """The agents over the phases, the state at MIGRATING, roles after the route update, the
    writer's figures, and the images compared once dcB (now primary) has synced dcA."""
    phases = []
    for state, since, until in phase_spans(migration):
        row = {'state': state}
        for dc in ('dcA', 'dcB'):
            inside = [s for t, d, s in samples if d == dc and since <= t <= until and 'error' not in s]
            row[dc] = dict(inside[-1], maxLagBytes=max(s['lagBytes'] or 0 for s in inside)) if inside else {}
        phases.append(row)
    routes_updated = next(e['epochMillis'] / 1000 for e in migration['timeline'] if e['state'] == 'ROUTES_UPDATED') \
        if any(e['state'] == 'ROUTES_UPDATED' for e in migration['timeline']) else None
    after = {dc: next((s for t, d, s in samples if d == dc and routes_updated and t > routes_updated
                       and 'error' not in s), {}) for dc in ('dcA', 'dcB')}
    spans = {state: (since, until) for state, since, until in phase_spans(migration)}
    window = spans.get('MIGRATING', (0, 0))
    during = [x for t, d, x in samples if d == 'dcA' and window[0] <= t < window[1] and 'error' not in x]
    during_migrating = {'samples': len(during), 'allSync': all(x['mode'] == 'SYNC' for x in during),
                        'inSync': sum(1 for x in during if x['inSync']),
                        'maxLagBytes': max((x['lagBytes'] or 0 for x in during), default=None)}
    migrating = next((e['detail'] for e in migration['timeline'] if e['state'] == 'MIGRATING'), '')
    detail = next((part.strip() for part in migrating.split(';') if 'storage in sync' in part), '')
    missing = st.missing_writes(storage.image('dcB'), writes)
    final_b = storage.resync_back()
    identical, first = st.images_identical(storage.image('dcA'), storage.image('dcB'))
    return {'phases': phases, 'atMigrating': at_migrating, 'storageInSyncDetail': detail,
            'duringMigrating': during_migrating,
            'afterRoutesUpdated': after, 'finalStatusB': final_b,
            'writer': {'acked': len(writes['acked']), 'attempts': writes['attempts'], 'errors': writes['errors'],
                       'latencyMs': {'before': latency(writes, None, spans['REQUESTED'][0]),
                                     'migrating': latency(writes, *window),
                                     'after': latency(writes, spans['COMPLETED'][0] if 'COMPLETED' in spans else 1e12,
                                                      None)},
                       'switches': len(writes['switches']),
                       'ackedByTarget': [sum(1 for w in writes['acked'] if w[2] == i) for i in (0, 1)]},
            'missingAtB': len(missing), 'identical': identical, 'firstDifference': first,
            'imageBytes': os.path.getsize(storage.image('dcA')), 'samples': samples}


def main():
    args = parse_args()
    tb.start_as_root()
    out_dir = os.path.join(args.out, ('demo-vm-' if args.vm else 'demo-') + time.strftime('%Y%m%d-%H%M%S'))
    os.makedirs(out_dir, exist_ok=True)
    if args.vm:
        import demo_vm
        try:
            return demo_vm.run(args, out_dir, phase_spans, plot, print_report)
        except KeyboardInterrupt as e:
            tb.log('interrupted (%s), cleaned up' % (e or 'Ctrl-C'))
            return 130
        except Exception as e:  # noqa: BLE001 - the demo says why and exits non-zero
            tb.log('demo failed: %s: %s (see %s/runtime.log)' % (type(e).__name__, e, out_dir))
            return 1
    probe_path = os.path.join(out_dir, 'probes.json')
    runtime = net = hypervisor = server = client = storage = sampler = writer = None
    writer_path = os.path.join(out_dir, 'writes.json')
    tb.ensure_ovs()
    tb.mininet_cleanup()
    try:
        tb.log('starting the embedded runtime')
        runtime = tb.Runtime(config=st.CONFIG_2DC_STORAGE if args.storage else tb.CONFIG_2DC,
                             state_dir=tempfile.mkdtemp(prefix='wanmig-demo-state-'),
                             log_path=os.path.join(out_dir, 'runtime.log')).start()
        tb.log('starting the 2-DC testbed%s' % (' (WAN %g Mbit/s)' % args.bw if args.bw else ''))
        net = tb.start_net(bw=args.bw, storage=args.storage)
        model = tb.PrecopyModel(mem_mb=args.mem_mb, dirty_mb_s=args.dirty_mb_s, bw_mbit=args.hv_bw_mbit)
        hypervisor = tb.Hypervisor(model=model).start()
        tb.wait_until(lambda: len(tb.switches_connected(tb.SWITCHES_2DC)) == len(tb.SWITCHES_2DC),
                      60, 0.5, 'all switches connected to the runtime')
        tb.log('switches connected')
        h1, vs1 = net.get('h1', 'vs1')
        tb.wait_until(lambda: tb.pings(h1, tb.VS1_IP), 60, 0.5, 'h1 reaching vs1')
        tb.log('h1 reaches vs1 at DC A')
        if args.storage:
            storage = st.Storage(net, os.path.join(out_dir, 'storage')).start()
            tb.wait_until(lambda: tb.pings(vs1, st.SIDES['dcA'][1]), 30, 0.5, 'vs1 reaching storA')
            tb.log('agents up on storA (PRIMARY) and storB (REPLICA), replica caught up; dcA: %s'
                   % json.dumps(storage.status('dcA')))
            sampler = st.Sampler(storage).start()
            writer = st.start_writer(vs1, writer_path, rate=args.write_rate, duration=args.timeout + 60)
            hypervisor.on_pause, hypervisor.on_resume = st.pause_hooks(writer)
            at_migrating = {}

        server = tb.start_probe_server(vs1, duration=args.timeout + 120)
        client = tb.start_probe_client(h1, probe_path, rate=args.rate, duration=args.timeout + 60)
        time.sleep(2)   # a stretch of normal service before the migration

        migration = tb.start_migration('vs1', 'dcB')
        tb.log('migration %s requested' % migration['id'])

        def show(m):
            last = m['timeline'][-1]
            hv = hypervisor.migrations.get(int(m['id']))
            progress = ' [hypervisor %s, round %d]' % (hv.phase, hv.round) if hv else ''
            tb.log('migration %s: %s %s%s' % (m['id'], m['state'], last['detail'], progress))
            if storage and m['state'] == 'MIGRATING':
                at_migrating.update(storage.status('dcA'))
                tb.log('dcA agent at MIGRATING: %s' % json.dumps(at_migrating))

        migration = tb.watch_migration(migration['id'], timeout=args.timeout, on_change=show)
        time.sleep(2)   # service after the migration
        probes = tb.stop_probe_client(client, probe_path)
        client = None

        hv = hypervisor.migrations.get(int(migration['id']))
        hv = hv.as_dict() if hv else None
        since = migration['timeline'][0]['epochMillis'] / 1000
        report = {'migration': migration, 'hypervisor': hv,
                  'downtime': tb.downtime(probes, tb.pause_window(hv), since=since),
                  'tcp': probes['tcp'],
                  'probes': {k: probes['udp'][k] for k in ('rate', 'sent', 'received', 'lost', 'outages')},
                  'settings': vars(args)}
        if storage:
            writes = st.stop_writer(writer, writer_path)
            writer = None
            samples = sampler.stop()
            tb.log('writer: %d writes acknowledged; dcB -> dcA going SYNC for the image comparison'
                   % len(writes['acked']))
            report['storage'] = storage_report(migration, samples, at_migrating, writes, storage)
        with open(os.path.join(out_dir, 'report.json'), 'w') as f:
            json.dump(report, f, indent=2)
        plot(report, probes, os.path.join(out_dir, 'timeline.png'))
        print_report(report)
        tb.log('wrote %s/report.json and timeline.png' % out_dir)
        return 0 if migration['state'] == 'COMPLETED' else 1
    except KeyboardInterrupt as e:
        tb.log('interrupted (%s), cleaning up' % (e or 'Ctrl-C'))
        return 130
    except Exception as e:
        tb.log('demo failed: %s: %s' % (type(e).__name__, e))
        if runtime:
            print('--- last lines of %s ---\n%s' % (runtime.log_path, runtime.log_tail()))
        return 1
    finally:
        tb.hold_signals()    # let the cleanup finish
        tb.stop_process(client)
        tb.stop_process(server)
        if writer:
            tb.stop_process(writer)
        if sampler:
            sampler.stop()
        if storage:
            storage.stop()
        if hypervisor:
            hypervisor.stop()
        tb.tear_down(net, runtime)


if __name__ == '__main__':
    if '--evacuate' in sys.argv[1:]:    # the evacuation demo (issue 10): scripts/demo_evacuate.py
        import demo_evacuate
        sys.exit(demo_evacuate.main([a for a in sys.argv[1:] if a != '--evacuate']))
    if '--failover' in sys.argv[1:]:    # the failover demo (issue 10): scripts/demo_failover.py
        import demo_failover
        sys.exit(demo_failover.main([a for a in sys.argv[1:] if a != '--failover']))
    sys.exit(main())
