#!/usr/bin/python3
"""
The failover demo (issue 10 item 5): dcA is lost with its six servers (vs1..vs6), each writing to
its own disk, and the MMS fails them over to their replicas at dcB; then dcA comes back as replica.
On the 3-DC Mininet testbed (wanmig-3dc-6vs.json plus storage: storA at peA port 8, storB at peB
port 8), driven by the embedded runtime and the emulated hypervisor, while clients probe every server.

    flock /tmp/wanmig-net.lock scripts/demo [--no-build] --failover [--to dcB] [--write-rate 20]
        [--rate 50] [--run-on-s 0.5] [--declare-after-s 1] [--timeout 120]

Run as root after building (scripts/demo does both; demo.py --failover lands here). What it does:
  1. starts the runtime (each DC's agent in the netcfg), the testbed, one replication agent per DC
     serving six disks (vs1..vs6; storA PRIMARY, storB REPLICA, ASYNC across the WAN), a disk writer
     in every server (scripts/wanmig_nbd_writer.py: sequence-numbered 4 KiB blocks, its log of
     acknowledged writes) and UDP probes from h1 (vs1, vs3, vs5) and h2 (vs2, vs4, vs6);
  2. kills dcA: peA loses its controller (a target nothing answers: OVS keeps its flows, as a PE cut
     off would) and its WAN port; the servers write on there for --run-on-s (acknowledged, never
     replicated), then stop (writers frozen, their uplinks detached) and dcA's agent is killed
     (SIGKILL, by PID; its last status is kept as its own word on the lag);
  3. after --declare-after-s, POST /datacenters/dcA/failover {"to": "dcB"} and follows the record
     (GET /evacuations/{id}): per server promote (new generation, last known lag), restart (the
     hypervisor attaches it at peB, its writer goes on at storB), route (directly, no tunnel);
  4. measures per server the time from the loss and from the request until it answers probes at
     dcB, and the RPO: acknowledged writes (at dcA) missing on the promoted disk against the
     writer's log, as writes and as ms of writing, next to the lag the MMS reported;
  5. brings dcA back: peA's controller and WAN port return, its agent restarts as configured;
     checks that no stale route to dcA survives on peA and that every switch holds what the runtime
     wants, that each disk at dcA is a REPLICA at the promoted generation that reports its
     unreplicated writes, then resyncs dcB -> dcA and compares the images;
  6. writes out/demo-failover-<timestamp>/report.json, timeline.png, probes-<vs>.json,
     writes-<vs>.json, runtime.log and storage/, and prints a table.

--to: the core fails every server over to one data center (FailoverRunner takes one `to`), and a
testbed agent replicates all its disks to one peer, so the replicas (and the failover) are at dcB.

Exit status 0 only when every check holds: failover COMPLETED with every server at dcB, each server
answers there, the promoted disk is a prefix of its writer's stream (no hole) and lacks no more than
dcA's agent reported unreplicated at its loss, no stale route or stray rule once dcA is back, each
disk at dcA REPLICA at the new generation reporting at least the lost writes, images identical after
the resync.
"""

import argparse
import json
import os
import re
import signal
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import wanmig_testbed as tb      # noqa: E402
import wanmig_storage as st      # noqa: E402
from wanmig_hypervisor import detach, where_is   # noqa: E402

SERVERS = ('vs1', 'vs2', 'vs3', 'vs4', 'vs5', 'vs6')
CLIENT_OF = {'vs1': 'h1', 'vs3': 'h1', 'vs5': 'h1', 'vs2': 'h2', 'vs4': 'h2', 'vs6': 'h2'}
PE_PORT = {vs: 2 + i for i, vs in enumerate(SERVERS)}       # the same port at every PE
PEA_WAN = tb.wan_link_ports('core1', 'peA')                 # peA's WAN port and core1's end of it
STORAGE_SITES = [      # the storage hosts as client sites (wanmig_3dc.STORAGE_HOSTS), as in wanmig-2dc-storage.json
    {'name': 'storA', 'switch': 'of:000000000000000a', 'port': 8, 'prefixes': ['10.3.1.0/24'],
     'gateway': '10.3.1.254', 'mac': '00:00:00:00:03:01'},
    {'name': 'storB', 'switch': 'of:000000000000000b', 'port': 8, 'prefixes': ['10.3.2.0/24'],
     'gateway': '10.3.2.254', 'mac': '00:00:00:00:03:02'},
]
STEP_COLOURS = {'promote': '#fdd0a2', 'restart': '#c6dbef', 'route': '#a1d99b'}


def parse_args(argv):
    parser = argparse.ArgumentParser(prog='demo.py --failover', description='wanmig failover demo')
    parser.add_argument('--to', default='dcB', help='where the servers fail over (their replicas are there)')
    parser.add_argument('--write-rate', type=float, default=20, help='disk writes (4 KiB) per second per server')
    parser.add_argument('--rate', type=float, default=50, help='UDP probes per second per server')
    parser.add_argument('--disk-mb', type=int, default=32, help='size of each server\'s disk')
    parser.add_argument('--warmup-s', type=float, default=4, help='normal service (ASYNC replication) before the loss')
    parser.add_argument('--run-on-s', type=float, default=0.5,
                        help='how long the servers write on at dcA once it is cut off (their RPO)')
    parser.add_argument('--declare-after-s', type=float, default=1, help='loss -> the operator declares it')
    parser.add_argument('--after-s', type=float, default=6, help='service at dcB watched before dcA returns')
    parser.add_argument('--timeout', type=float, default=120, help='longest wait for the failover')
    parser.add_argument('--out', default=os.path.join(tb.REPO, 'out'))
    args = parser.parse_args(argv)
    if args.to != 'dcB':
        parser.error('the testbed\'s replicas are at dcB (storB); --to dcB only')
    return args


def demo_config(directory):
    def edit(w):
        for dc in w['dataCenters']:
            if dc['name'] in st.SIDES:
                dc['agent'] = st.control_url(dc['name'])
                dc['agentToken'] = st.TOKEN
        w['clientSites'] += STORAGE_SITES
    return tb.config_file(tb.CONFIG_3DC_6VS, directory, edit)


def stale_routes_to_a():
    """peA's rules that would still deliver a server's traffic at dcA: {server: [rule]}."""
    flows = tb.dump_flows('peA')
    stale = {}
    for vs in SERVERS:
        ip = '10.2.0.%d0' % int(vs[2:])
        port = PE_PORT[vs]
        found = [text for _, text in flows if re.search(r'nw_dst=%s[,\s]' % re.escape(ip), text + ' ')
                 and ('output:%d' % port in text or 'output:"%s-sw"' % vs in text)]
        if found:
            stale[vs] = found
    return stale


def stray_rules(switches=tb.SWITCHES_3DC):
    """Switches whose wanmig rules differ in number from what the runtime wants (GET /devices),
    or that hold a migration rule: {switch: (held, desired, migration rules)}."""
    status, devices = tb.rest('GET', '/devices')
    if status != 200:
        raise RuntimeError('GET /devices -> %s %s' % (status, devices))
    desired = {d['id']: d['rules'] for d in devices['devices']}
    stray = {}
    for name in switches:
        dpid = 'of:' + tb.run(['ovs-vsctl', 'get', 'Bridge', name, 'other_config:datapath-id']).stdout.strip().strip('"')
        ours = [tb.decode_cookie(c) for c, _ in tb.dump_flows(name) if tb.decode_cookie(c)[0] == tb.WANMIG_COOKIE_TAG]
        migration = sum(1 for _, kind, _ in ours if kind == tb.KIND_MIGRATION)
        if len(ours) != desired.get(dpid) or migration:
            stray[name] = (len(ours), desired.get(dpid), migration)
    return stray


def rpo_of(writes, image_path):
    """The RPO of one server against its writer's log: the writes acknowledged by dcA's agent
    that the promoted image lacks, whether they are a suffix of the stream (the copy is a prefix),
    and the span of writing lost (ms): from the last write the copy holds to the last write dcA
    acknowledged."""
    at_a = sorted((w for w in writes['acked'] if w[2] == 0), key=lambda w: w[0])
    missing = set(st.missing_writes(image_path, {'acked': at_a}))
    held = [w for w in at_a if w[0] not in missing]
    lost = [w for w in at_a if w[0] in missing]
    prefix = not lost or not held or max(w[0] for w in held) < min(w[0] for w in lost)
    # a write's time: when the writer issued it (an ack that waited in the socket of a writer frozen
    # with its DC arrives at the writer only after its restart, yet the agent had acknowledged it)
    issued = lambda w: w[3] - w[4] / 1000       # noqa: E731
    if lost:
        since = issued(held[-1]) if held else issued(lost[0])
        span_ms = (issued(lost[-1]) - since) * 1000
    else:
        span_ms = 0.0
    return {'ackedAtA': len(at_a), 'missingWrites': len(lost), 'missingBytes': len(lost) * st_block(),
            'missingSeqs': [lost[0][0], lost[-1][0]] if lost else None, 'prefix': prefix,
            'rpoMs': round(span_ms, 3), 'lastIssuedAtA': issued(at_a[-1]) if at_a else None,
            'lastHeldIssued': issued(held[-1]) if held else None}


def st_block():
    sys.path.insert(0, os.path.dirname(st.WRITER))
    from wanmig_nbd_writer import BLOCK
    return BLOCK


def first_answer(probes, since):
    """When the server answered again after the loss at `since`: the arrival of the answer to the
    first probe answered after the first one lost from `since` on (probes sent just before the PE's
    WAN port went down were still answered at dcA)."""
    samples = [s for s in probes['udp']['samples'] if s[1] >= since]
    first_lost = next((i for i, s in enumerate(samples) if s[2] is None), None)
    if first_lost is None:
        return None
    return next((sent + rtt / 1000 for _, sent, rtt in samples[first_lost:] if rtt is not None), None)


def step_spans(record):
    """{server: [(step, start, end)]} from the failover's timeline: each step's event is written
    when it ends and says how long it took."""
    names = (('promote', r'^promoted|^already primary|^no replication agent'), ('restart', r'^restarted at'),
             ('route', r'^routed'))
    spans = {}
    for event in record['timeline']:
        took = re.search(r'\(step took (\d+) ms\)', event['detail'])
        if not event.get('server') or not took:
            continue
        end = event['epochMillis'] / 1000
        for step, pattern in names:
            if re.search(pattern, event['detail']):
                spans.setdefault(event['server'], []).append((step, end - int(took.group(1)) / 1000, end))
    return spans


def follow(fid, timeout):
    """Polls the failover record until it is no longer active; logs each change of its progress."""
    deadline = time.monotonic() + timeout
    shown = None
    while True:
        status, record = tb.rest('GET', '/evacuations/%s' % fid)
        if status != 200:
            raise RuntimeError('GET /evacuations/%s -> %s %s' % (fid, status, record))
        line = ', '.join('%s %s' % (s['server'], s.get('step') or s['state']) for s in record['servers'])
        if line != shown:
            shown = line
            tb.log('failover %s %s: %s' % (fid, record['state'], line))
        if not record['active']:
            return record
        if time.monotonic() > deadline:
            raise TimeoutError('failover %s not finished after %g s' % (fid, timeout))
        time.sleep(0.05)


def build_report(args, t, record, probes, writes, rpo, lag_at_loss, promoted_at_b, returned, resync, located,
                 attached):
    by_server = {s['server']: s for s in record['servers']}
    spans = step_spans(record)
    rows = []
    for vs in SERVERS:
        s = by_server.get(vs, {})
        p = s.get('promotion') or {}
        answered = first_answer(probes[vs], t['loss'])
        at_b = [w for w in writes[vs]['acked'] if w[2] == 1]
        back = returned.get(vs, {})
        fenced = back.get('fenced') or {}
        r = rpo[vs]
        rows.append({
            'server': vs, 'destination': s.get('destination'), 'state': s.get('state'), 'step': s.get('step'),
            'locationAfter': located.get(vs), 'attachedAfter': attached.get(vs),
            'steps': {step: {'startS': round(a - t['declare'], 3), 'tookMs': round((b - a) * 1000)}
                      for step, a, b in spans.get(vs, [])},
            'answersFromLossS': round(answered - t['loss'], 3) if answered else None,
            'answersFromRequestS': round(answered - t['declare'], 3) if answered else None,
            'firstWriteAtBFromRequestS': round(min(w[3] for w in at_b) - t['declare'], 3) if at_b else None,
            'writesAtB': len(at_b), 'writerErrors': writes[vs]['errors'],
            # service at dcB while dcA returns (its PE reconnects, its agent restarts and resyncs)
            'whileDcAReturns': tb.downtime(probes[vs], since=t['returned'], until=t['end'] - 0.5),
            'rpo': r,
            'mmsReported': {'lagWrites': p.get('lagWrites'), 'lagBytes': p.get('lagBytes'),
                            'rpoSeconds': p.get('rpoSeconds'), 'generation': p.get('generation'),
                            'detail': p.get('detail')},
            'dcAAtLoss': {k: lag_at_loss[vs].get(k) for k in ('lagBytes', 'lagBlocks', 'rpoSeconds', 'peerConnected')},
            'dcBAfter': {k: promoted_at_b[vs].get(k) for k in ('role', 'generation', 'mode')},
            'return': {'role': back.get('role'), 'generation': back.get('generation'),
                       'unreplicatedBytes': fenced.get('unreplicatedBytes'),
                       'unreplicatedBlocks': fenced.get('unreplicatedBlocks'),
                       'wholeDiskUnknown': fenced.get('wholeDiskUnknown'),
                       'resyncS': resync.get(vs, {}).get('seconds'),
                       'identical': resync.get(vs, {}).get('identical'),
                       'firstDifference': resync.get(vs, {}).get('firstDifference')},
        })
    answers = [r['answersFromLossS'] for r in rows]
    return {
        'failover': {k: record[k] for k in ('id', 'kind', 'source', 'destinations', 'state', 'progress', 'started')},
        'times': {'lossToRequestS': round(t['declare'] - t['loss'], 3),
                  'requestToCompletedS': round(t['ended'] - t['declare'], 3),
                  'lossToAllAnswerS': max(answers) if None not in answers else None,
                  'requestToAllAnswerS': max(r['answersFromRequestS'] for r in rows) if None not in answers else None,
                  'returnToPeAInLineS': returned.get('peAInLineS'),
                  'agentRestartToReplicaS': returned.get('replicaS')},
        'servers': rows,
        'checks': {},
        'settings': vars(args),
        'epochs': t,
        'timeline': record['timeline'],
    }


def checks_of(report, stale_after, stray_after):
    rows = report['servers']
    checks = {
        'failover COMPLETED': report['failover']['state'] == 'COMPLETED',
        'every server ROUTED at dcB, placed and attached there': all(
            r['step'] == 'ROUTED' and r['destination'] == 'dcB' and r['locationAfter'] == 'dcB'
            and r['attachedAfter'] == 'peB' for r in rows),
        'every server answers probes at dcB': all(r['answersFromLossS'] is not None for r in rows),
        'every server wrote on at dcB': all(r['writesAtB'] > 0 for r in rows),
        'each promoted disk is a prefix of its writer\'s stream': all(r['rpo']['prefix'] for r in rows),
        'RPO within what dcA\'s agent held unreplicated at its loss': all(
            r['rpo']['missingBytes'] <= (r['dcAAtLoss']['lagBytes'] or 0) for r in rows),
        'RPO (ms of writing lost) within the RPO bound the MMS reported': all(
            r['mmsReported']['rpoSeconds'] is not None and r['rpo']['rpoMs'] <= r['mmsReported']['rpoSeconds'] * 1000
            for r in rows),
        'each disk at dcB PRIMARY at a new generation': all(
            r['dcBAfter']['role'] == 'PRIMARY' and r['dcBAfter']['generation'] == r['mmsReported']['generation']
            for r in rows),
        'no stale route to dcA on peA after its return': not stale_after,
        'every switch holds what the runtime wants after dcA\'s return': not stray_after,
        'each disk at dcA REPLICA at the promoted generation': all(
            r['return']['role'] == 'REPLICA' and r['return']['generation'] == r['mmsReported']['generation']
            for r in rows),
        'dcA reports at least the lost writes unreplicated': all(
            (r['return']['unreplicatedBytes'] or 0) >= r['rpo']['missingBytes'] for r in rows),
        'images identical after the resync': all(r['return']['identical'] for r in rows),
    }
    report['checks'] = checks
    report['staleRoutesAfterReturn'] = stale_after
    report['strayRulesAfterReturn'] = stray_after
    return all(checks.values())


def print_report(report):
    f, t = report['failover'], report['times']
    print('\n================ wanmig failover demo ================')
    print('failover %s of %s to %s: %s (%s)' % (f['id'], f['source'], ', '.join(f['destinations']), f['state'],
                                              ', '.join('%s %s' % kv for kv in f['progress'].items() if kv[1])))
    print('loss -> request %.2f s; request -> failover completed %.3f s; every server answers at dcB %s s after '
          'the loss (%s s after the request)' % (t['lossToRequestS'], t['requestToCompletedS'],
                                                  t['lossToAllAnswerS'], t['requestToAllAnswerS']))
    print('%-4s | %7s %7s %7s | %6s %6s | %5s %6s %7s %6s | %5s %8s %6s | %4s %8s %6s %5s' % (
        'vs', 'promote', 'restart', 'route', 'loss>', 'req>', 'acked', 'lost', 'lostms', 'prefix',
        'mmsW', 'mmsRPOs', 'A.lag', 'gen', 'A.unrepl', 'resync', 'same'))
    for r in report['servers']:
        s, p, a, m = r['steps'], r['rpo'], r['return'], r['mmsReported']
        step = lambda k: '%d' % s[k]['tookMs'] if k in s else '-'      # noqa: E731
        print('%-4s | %7s %7s %7s | %6s %6s | %5d %6d %7.0f %6s | %5s %8s %6s | %4s %8s %6s %5s' % (
            r['server'], step('promote'), step('restart'), step('route'),
            r['answersFromLossS'], r['answersFromRequestS'], p['ackedAtA'], p['missingWrites'], p['rpoMs'],
            'yes' if p['prefix'] else 'NO', m['lagWrites'],
            '%.3f' % m['rpoSeconds'] if m['rpoSeconds'] is not None else '-',
            r['dcAAtLoss']['lagBytes'], a['generation'], a['unreplicatedBytes'],
            '%.2f' % a['resyncS'] if a['resyncS'] is not None else '-', 'yes' if a['identical'] else 'NO'))
    print('promote/restart/route: step times (ms); loss>/req>: s from the loss / from the failover request until it'
          ' answers probes at dcB; acked: writes dcA acknowledged; lost: of those, missing on the promoted disk,'
          ' lostms: the span of writing lost (ms), prefix: the copy holds every write before the first lost one;'
          ' mmsW / mmsRPOs: the last known lag the MMS reported (writes) and the agent\'s RPO bound (s); A.lag:'
          ' bytes dcA\'s agent held unreplicated at its loss; gen / A.unrepl: dcA\'s disk back as replica, its'
          ' generation and the unreplicated bytes it reported; resync: s until dcB -> dcA was in sync;'
          ' same: images identical')
    print('dcA back: peA in line %s s after its return; agents REPLICA %s s after the restart; while it returned,'
          ' probes lost per server: %s' % (t['returnToPeAInLineS'], t['agentRestartToReplicaS'], ', '.join(
              '%s %d (longest %.0f ms)' % (r['server'], r['whileDcAReturns']['probesLost'],
                                           r['whileDcAReturns']['longestOutageMs']) for r in report['servers'])))
    for name, ok in report['checks'].items():
        print('  [%s] %s' % ('ok' if ok else 'FAILED', name))
    print('======================================================\n')


def plot(report, probes, writes, path):
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    e = report['epochs']
    t0 = e['loss']
    rows = report['servers']
    fig, (ax, wr) = plt.subplots(2, 1, figsize=(13, 8), sharex=True, gridspec_kw={'height_ratios': [3, 2]})
    end = e.get('end', e['ended']) - t0
    for y, r in enumerate(rows):
        vs = r['server']
        ax.broken_barh([(0, e['declare'] - t0)], (y - 0.25, 0.5), facecolors='#dddddd')
        for step, s in r['steps'].items():
            ax.broken_barh([(e['declare'] - t0 + s['startS'], max(s['tookMs'] / 1000, 0.02))], (y - 0.25, 0.5),
                           facecolors=STEP_COLOURS[step])
        if r['answersFromLossS'] is not None:
            ax.plot([r['answersFromLossS']], [y], marker='*', color='#238b45', ms=10)
        lost = [s[1] - t0 for s in probes[vs]['udp']['samples'] if s[2] is None and s[1] >= t0 - 1]
        if lost:
            ax.plot(lost, [y - 0.38] * len(lost), '|', ms=5, color='black')
        at_a = [w[3] - w[4] / 1000 - t0 for w in writes[vs]['acked'] if w[2] == 0 and w[3] >= t0 - 1]
        at_b = [w[3] - t0 for w in writes[vs]['acked'] if w[2] == 1]
        ax.plot(at_a, [y + 0.36] * len(at_a), '.', ms=2, color='#2171b5')
        ax.plot(at_b, [y + 0.36] * len(at_b), '.', ms=2, color='#6a51a3')
        if r['rpo']['missingWrites']:
            seqs = r['rpo']['missingSeqs']
            gone = [w[3] - w[4] / 1000 - t0 for w in writes[vs]['acked'] if w[2] == 0 and seqs[0] <= w[0] <= seqs[1]]
            ax.plot(gone, [y + 0.36] * len(gone), 'x', ms=4, color='red')
    for name, colour in (('declare', 'black'), ('ended', '#238b45'), ('returned', '#cb181d'),
                         ('agentRestarted', '#cb181d')):
        if name in e:
            ax.axvline(e[name] - t0, color=colour, ls='--', lw=0.8)
            ax.text(e[name] - t0, -0.7, name, fontsize=7, color=colour)
    ax.set_yticks(range(len(rows)))
    ax.set_yticklabels(['%s -> %s' % (r['server'], r['destination']) for r in rows])
    ax.set_ylim(len(rows) - 0.4, -0.9)
    ax.grid(axis='x', alpha=0.3)
    handles = [Patch(facecolor='#dddddd', label='dcA lost, not yet declared')] + \
              [Patch(facecolor=c, label=s) for s, c in STEP_COLOURS.items()] + \
              [plt.Line2D([], [], color='#238b45', marker='*', ls='none', label='answers at dcB'),
               plt.Line2D([], [], color='black', marker='|', ls='none', label='probe lost'),
               plt.Line2D([], [], color='#2171b5', marker='.', ls='none', label='write acked at dcA'),
               plt.Line2D([], [], color='#6a51a3', marker='.', ls='none', label='write acked at dcB'),
               plt.Line2D([], [], color='red', marker='x', ls='none', label='acked write lost (RPO)')]
    ax.legend(handles=handles, loc='lower right', fontsize=7, ncol=3, framealpha=0.9)
    t = report['times']
    ax.set_title('wanmig: failover of dcA (%s): every server answers at dcB %.2f s after the loss, %.2f s after the '
                 'request; lost at most %d writes / %.0f ms' % (
                     report['failover']['state'], t['lossToAllAnswerS'] or -1, t['requestToAllAnswerS'] or -1,
                     max(r['rpo']['missingWrites'] for r in rows), max(r['rpo']['rpoMs'] for r in rows)), fontsize=10)

    # acknowledged writes per second, all servers, by where they were acknowledged
    for dc, colour in ((0, '#2171b5'), (1, '#6a51a3')):
        times = sorted(w[3] - t0 for vs in SERVERS for w in writes[vs]['acked'] if w[2] == dc)
        if times:
            start, stop = int(min(times)) - 1, int(max(times)) + 1
            counts = {}
            for x in times:
                counts[int(x // 0.5)] = counts.get(int(x // 0.5), 0) + 1
            xs = [i * 0.5 for i in range(start * 2, stop * 2)]
            wr.step(xs, [counts.get(i, 0) * 2 for i in range(start * 2, stop * 2)], where='post', color=colour,
                    label='writes acked at %s (all servers, /s)' % ('dcA' if dc == 0 else 'dcB'))
    wr.set_ylabel('acknowledged writes /s')
    wr.set_xlabel('seconds since dcA was lost')
    wr.set_xlim(min(-2, -report['settings']['warmup_s']), end + 1)
    wr.grid(alpha=0.3)
    wr.legend(loc='upper right', fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)



def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    tb.start_as_root()
    out_dir = os.path.join(args.out, 'demo-failover-' + time.strftime('%Y%m%d-%H%M%S'))
    os.makedirs(out_dir, exist_ok=True)
    runtime = net = hypervisor = storage = None
    servers, clients, writers = [], {}, {}
    controller, restored = None, [True]
    tb.ensure_ovs()
    tb.mininet_cleanup()

    def restore_pe():       # dcA's PE as it was: WAN port up, its controller back
        for intf in PEA_WAN:
            tb.run(['ip', 'link', 'set', intf, 'up'])
        if controller and tb.run(['ovs-vsctl', 'get-controller', 'peA']).stdout.split() != controller:
            tb.run(['ovs-vsctl', 'set-controller', 'peA'] + controller)
        restored[0] = True

    try:
        config = demo_config(out_dir)
        tb.log('starting the embedded runtime (%s)' % config)
        runtime = tb.Runtime(config=config, state_dir=tempfile.mkdtemp(prefix='wanmig-failover-state-'),
                             log_path=os.path.join(out_dir, 'runtime.log')).start()
        tb.log('starting the 3-DC testbed with vs1..vs6 in dcA and the storage hosts')
        net = tb.start_net_3dc(servers=6, storage=True)

        def restarted(server, _pe):     # the server boots at dcB from the promoted disk: its writer goes on
            process = writers.get(server, (None,))[0]
            if process is not None and process.poll() is None:
                process.send_signal(signal.SIGCONT)
        hypervisor = tb.Hypervisor(model=tb.PrecopyModel(), on_restart=restarted).start()
        tb.wait_until(lambda: len(tb.switches_connected(tb.SWITCHES_3DC)) == len(tb.SWITCHES_3DC),
                      60, 0.5, 'all switches connected to the runtime')
        ips = {vs: net.get(vs).IP() for vs in SERVERS}
        for vs in SERVERS:
            tb.wait_until(lambda: tb.pings(net.get(CLIENT_OF[vs]), ips[vs]), 60, 0.5,
                          '%s reaching %s' % (CLIENT_OF[vs], vs))
        tb.log('starting the replication agents (storA PRIMARY, storB REPLICA; disks vs1..vs6, %d MiB)' % args.disk_mb)
        storage = st.Storage(net, os.path.join(out_dir, 'storage'), size_mb=args.disk_mb, disks=SERVERS).start()
        for vs in SERVERS:
            tb.wait_until(lambda: tb.pings(net.get(vs), st.SIDES['dcA'][1]), 30, 0.5, '%s reaching storA' % vs)
        for vs in SERVERS:
            servers.append(tb.start_probe_server(net.get(vs), duration=args.timeout + 300))
        total = args.warmup_s + args.timeout + args.after_s + 240
        for vs in SERVERS:
            path = os.path.join(out_dir, 'probes-%s.json' % vs)
            clients[vs] = (tb.start_probe_client(net.get(CLIENT_OF[vs]), path, server=ips[vs], rate=args.rate,
                                                 duration=total), path)
            wpath = os.path.join(out_dir, 'writes-%s.json' % vs)
            writers[vs] = (st.start_writer(net.get(vs), wpath, rate=args.write_rate, duration=total,
                                           size_mb=args.disk_mb, disk=vs, timeout_s=2), wpath)
        time.sleep(args.warmup_s)   # normal service: writing, replicated ASYNC across the WAN
        before = {vs: storage.status('dcA', disk=vs) for vs in SERVERS}
        wrong = {vs: (s['role'], s['mode']) for vs, s in before.items() if (s['role'], s['mode']) != ('PRIMARY', 'ASYNC')}
        if wrong:
            raise RuntimeError('dcA disks not PRIMARY/ASYNC before the loss: %s' % wrong)
        controller = tb.run(['ovs-vsctl', 'get-controller', 'peA']).stdout.split()
        if not controller or not stale_routes_to_a():
            raise RuntimeError('peA has no controller or delivers no server locally before the loss')

        # ---- dcA is lost: its PE first (cut off, its flows kept), the servers write on there ...
        t = {}
        restored[0] = False
        t['loss'] = time.time()
        tb.run(['ovs-vsctl', 'set-controller', 'peA', 'tcp:127.0.0.1:1'], check=True)
        for intf in PEA_WAN:
            tb.run(['ip', 'link', 'set', intf, 'down'], check=True)
        time.sleep(args.run_on_s)
        # ... then the servers stop with their DC, and its agent dies (its last word: the lag it holds)
        for vs in SERVERS:
            writers[vs][0].send_signal(signal.SIGSTOP)
        for vs in SERVERS:
            detach('%s-sw' % vs)
        lag_at_loss = {vs: storage.status('dcA', disk=vs) for vs in SERVERS}
        storage.kill_agent('dcA')
        t['stopped'] = time.time()
        tb.log('dcA lost: peA cut off, vs1..vs6 stopped, its agent killed (%.2f s); unreplicated at dcA: %s' % (
            t['stopped'] - t['loss'], ', '.join('%s %d B' % (vs, lag_at_loss[vs]['lagBytes']) for vs in SERVERS)))
        tb.wait_until(lambda: 'peA' not in tb.switches_connected(['peA']), 10, 0.1, 'peA disconnected')
        time.sleep(max(0.0, args.declare_after_s - (time.time() - t['loss'])))

        # ---- the operator declares it
        t['declare'] = time.time()
        status, record = tb.rest('POST', '/datacenters/dcA/failover', {'to': args.to})
        if status != 201:
            raise RuntimeError('POST /datacenters/dcA/failover -> %s %s' % (status, record))
        tb.log('failover %s declared (%.2f s after the loss): %s' % (record['id'], t['declare'] - t['loss'],
                                                                    record['timeline'][0]['detail']))
        record = follow(record['id'], args.timeout)
        t['ended'] = time.time()
        tb.log('failover %s %s in %.3f s' % (record['id'], record['state'], t['ended'] - t['declare']))
        unanswered = [vs for vs in SERVERS if not tb.pings(net.get(CLIENT_OF[vs]), ips[vs], count=3)]
        if unanswered:
            tb.log('not answering at dcB: %s' % unanswered)
        time.sleep(args.after_s)    # service at dcB: the writers gave up on storA and write on at storB
        promoted_at_b = {vs: storage.status('dcB', disk=vs) for vs in SERVERS}
        located = {v['name']: v['location'] for v in tb.rest('GET', '/servers')[1]['servers']}
        attached = {vs: where_is('%s-sw' % vs)[0] for vs in SERVERS}
        stale_while_gone = stale_routes_to_a()
        tb.log('peA (cut off) still holds its old routes for %d server(s), as a lost PE does' % len(stale_while_gone))
        writes = {}
        for vs in SERVERS:
            writes[vs] = st.stop_writer(*writers[vs])
        writers = {}
        rpo = {vs: rpo_of(writes[vs], storage.image('dcB', vs)) for vs in SERVERS}

        # ---- dcA returns: its PE reconnects and is brought in line, its agent restarts as configured
        t['returned'] = time.time()
        restore_pe()
        tb.wait_until(lambda: 'peA' in tb.switches_connected(['peA']), 30, 0.2, 'peA reconnected')
        returned = {}
        try:
            tb.wait_until(lambda: not stale_routes_to_a() and not stray_rules(), 30, 0.2,
                          'no stale route at peA and every switch as the runtime wants it')
            returned['peAInLineS'] = round(time.time() - t['returned'], 3)
        except TimeoutError as e:
            tb.log(str(e))
        stale_after, stray_after = stale_routes_to_a(), stray_rules()
        t['agentRestarted'] = time.time()
        storage.restart_agent('dcA')
        try:
            tb.wait_until(lambda: all(storage.status('dcA', disk=vs)['role'] == 'REPLICA' for vs in SERVERS),
                          60, 0.2, 'every dcA disk fenced to REPLICA')
            returned['replicaS'] = round(time.time() - t['agentRestarted'], 3)
        except TimeoutError as e:
            tb.log(str(e))
        for vs in SERVERS:
            returned[vs] = storage.status('dcA', disk=vs)
        resync = {}
        for vs in SERVERS:
            t0 = time.time()
            try:
                storage.resync_back(disk=vs)
                identical, first = st.images_identical(storage.image('dcA', vs), storage.image('dcB', vs))
            except (RuntimeError, OSError) as e:
                tb.log('resync of %s: %s' % (vs, e))
                identical, first = False, None
            resync[vs] = {'seconds': round(time.time() - t0, 3), 'identical': identical, 'firstDifference': first}
        t['end'] = time.time()
        probes = {vs: tb.stop_probe_client(process, path) for vs, (process, path) in clients.items()}
        clients = {}

        report = build_report(args, t, record, probes, writes, rpo, lag_at_loss, promoted_at_b, returned, resync,
                              located, attached)
        report['staleRoutesWhileGone'] = len(stale_while_gone)
        ok = checks_of(report, stale_after, stray_after)
        with open(os.path.join(out_dir, 'report.json'), 'w') as f:
            json.dump(report, f, indent=2)
        plot(report, probes, writes, os.path.join(out_dir, 'timeline.png'))
        print_report(report)
        tb.log('wrote %s/report.json and timeline.png' % out_dir)
        return 0 if ok else 1
    except KeyboardInterrupt as e:
        tb.log('interrupted (%s), cleaning up' % (e or 'Ctrl-C'))
        return 130
    except Exception as e:
        tb.log('failover demo failed: %s: %s' % (type(e).__name__, e))
        if runtime:
            print('--- last lines of %s ---\n%s' % (runtime.log_path, runtime.log_tail()))
        return 1
    finally:
        tb.hold_signals()    # let the cleanup finish
        if not restored[0]:
            restore_pe()
        for process, _ in list(clients.values()) + list(writers.values()):
            if process.poll() is None:
                process.send_signal(signal.SIGCONT)     # a frozen writer could not act on the SIGTERM
            tb.stop_process(process)
        for process in servers:
            tb.stop_process(process)
        if storage:
            storage.stop()
        if hypervisor:
            hypervisor.stop()
        tb.tear_down(net, runtime)


if __name__ == '__main__':
    sys.exit(main())
