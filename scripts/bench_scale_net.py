#!/usr/bin/python3
"""
scripts/bench-scale, stages 2 and 3 (issue 10, item 6), on Mininet with the embedded runtime.
Run through scripts/bench-scale (which builds, writes the generated netcfg with ScaleBench and
holds /tmp/wanmig-net.lock); as root, with /usr/bin/python3.

--install (stage 2): the switches of the generated topology of stage 1 (1,000 servers, 3 DCs with a
  PE each, a ring of 3 core switches, 10 client-site edge switches; no server hosts but a handful
  for the probes) in Mininet. The runtime is started on the generated netcfg with every switch's
  controller unset; then all switches get it in one ovs-vsctl transaction (t0) and the time until
  the runtime has every baseline rule confirmed is taken from its own log ("<device> connected: N
  added" once a switch's rules are confirmed by barrier), checked against `GET /devices` (rules it
  wants) and `ovs-ofctl dump-flows` counts per switch. Baseline in the same run: the very flows the
  runtime installed, dumped per switch (--no-stats) and pushed again from one file per switch with
  `ovs-ofctl add-flows` (all switches at once) onto emptied tables. A handful of servers (hosts at
  their PE ports) must answer pings from two client sites. Done for the netcfg with DC prefixes
  and, unless --no-compare, without (every route per server).

--evacuate (stage 3): 100 emulated servers (Mininet hosts at peA) evacuated from dcA to dcB and dcC
  through POST /evacuations at several concurrencies (maxConcurrentPerPair, so up to 2x that many
  migrations in flight), each on a freshly started runtime with the servers back at dcA. The
  emulated hypervisor (wanmig_hypervisor) runs the same short pre-copy for every server at every
  concurrency. Per concurrency: total time, migrations/s, the runtime's CPU seconds per migration
  (utime+stime of its JVM from /proc over the evacuation), per-migration latencies from the
  timelines (request -> MIGRATING, i.e. prepared; hypervisor's report sent -> CUTOVER, i.e. redirect
  confirmed; request -> COMPLETED; queued), p50/p99, every server pinged afterwards at its new DC.
  The hypervisor model's own cost (ovs-vsctl calls and their time, this process's CPU) is shown
  apart. Baseline: concurrency 1, in the same run.

Writes out/bench-scale-<stage>-<timestamp>/results.json and prints a table with the load average.
"""

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import wanmig_testbed as tb      # noqa: E402
import wanmig_hypervisor         # noqa: E402
from wanmig_2dc import WanmigHost, server_link_names, switch_opts   # noqa: E402

# the runtime's own confirmations (rules confirmed by barrier): all switches at start ("took over"),
# one switch on a reconnect ("<device> connected"), or after a topology change
CONFIRMED = re.compile(r'(of:[0-9a-f]{16}) connected: (\d+) added, (\d+) replaced, (\d+) removed')
TOOK_OVER = re.compile(r'took over: (\d+) added, (\d+) replaced, (\d+) removed')
ANY_CHANGE = re.compile(r'(?:connected|took over|topology updated): (\d+) added, (\d+) replaced, (\d+) removed')
SWITCH_UP = re.compile(r'Switch (of:[0-9a-f]{16}) connected from')
READ_TABLE = re.compile(r'read (\d+) rules of ours on (of:[0-9a-f]{16})')
TERMINAL_EVACUATION = ('COMPLETED', 'COMPLETED_WITH_FAILURES', 'ABORTED')
CLK_TCK = os.sysconf('SC_CLK_TCK')
STATE_DIRS = []     # the runtimes' state directories, removed at the end


def state_dir(prefix):
    path = tempfile.mkdtemp(prefix=prefix)
    STATE_DIRS.append(path)
    return path


def load_average():
    with open('/proc/loadavg') as f:
        return ' '.join(f.read().split()[:3])


def percentile(values, p):
    values = sorted(v for v in values if v is not None)
    if not values:
        return None
    return round(values[min(len(values) - 1, int(round(p / 100.0 * (len(values) - 1))))], 3)


def cpu_seconds(pid):
    """utime + stime of a process (all its threads), in seconds."""
    with open('/proc/%d/stat' % pid) as f:
        fields = f.read().rsplit(')', 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def ovs_vswitchd_pid():
    try:
        with open('/var/run/openvswitch/ovs-vswitchd.pid') as f:
            return int(f.read().strip())
    except (OSError, ValueError):
        return None


# ---------------------------------------------------------------- the topology of a netcfg

def wanmig_config(netcfg):
    return netcfg['apps']['org.wanmig.app']['wanmig']


def switch_names(c):
    """Mininet names of the netcfg's switches: peA.. for the PEs, es1.. for the client sites' edge
    switches, core1.. for the rest."""
    names = {dc['pe']: 'pe' + dc['name'][2:] for dc in c['dataCenters']}
    for i, site in enumerate(c['clientSites']):
        names[site['switch']] = 'es%d' % (i + 1)
    cores = [d for d in c['wanSwitches'] if d not in names]
    names.update({d: 'core%d' % (i + 1) for i, d in enumerate(cores)})
    return names


def endpoint(text):
    device, port = text.rsplit('/', 1)
    return device, int(port)


def client_hosts(c):
    """(host, ip/len, mac, gateway, site switch, port) of one client per site: the site prefix's .1."""
    hosts = []
    for i, site in enumerate(c['clientSites']):
        network, length = site['prefixes'][0].split('/')
        ip = network.rsplit('.', 1)[0] + '.1'
        hosts.append(('h%d' % (i + 1), '%s/%s' % (ip, length), site['mac'], site['gateway'], site['switch'], site['port']))
    return hosts


def make_net(netcfg, servers=(), sites=()):
    """A Mininet net (not started) of the netcfg's switches and links, plus hosts for the servers
    named (at their home PE's port, uplink named like the testbeds' so the emulated hypervisor can
    move them) and for the client sites with the indexes given."""
    from functools import partial
    from mininet.link import Link
    from mininet.net import Mininet
    from mininet.node import RemoteController
    from mininet.topo import Topo

    c = wanmig_config(netcfg)
    names = switch_names(c)
    pe_of = {dc['name']: dc['pe'] for dc in c['dataCenters']}
    by_name = {v['name']: v for v in c['servers']}
    clients = [client_hosts(c)[i] for i in sites]

    class NetcfgTopo(Topo):
        def build(self):
            for device, name in names.items():
                self.addSwitch(name, **switch_opts(device.split(':', 1)[1]))
            for link in c['links']:
                (one, p1), (two, p2) = endpoint(link['one']), endpoint(link['two'])
                self.addLink(names[one], names[two], port1=p1, port2=p2)
            for host, ip, mac, gateway, switch, port in clients:
                self.addHost(host, cls=WanmigHost, ip=ip, mac=mac, defaultRoute='via ' + gateway)
                self.addLink(host, names[switch], port2=port)
            for name in servers:
                v = by_name[name]
                # a /32 and an on-link default route: the generated gateway is outside every block
                self.addHost(name, cls=WanmigHost, ip=v['ip'] + '/32', mac=v['mac'])
                self.addLink(name, names[pe_of[v['dc']]], port2=v['port'], **server_link_names(name))

    return Mininet(topo=NetcfgTopo(), link=Link, autoSetMacs=False,
                   controller=partial(RemoteController, ip='127.0.0.1', port=6653)), names


def start_net(netcfg, servers=(), sites=()):
    from mininet.log import setLogLevel
    setLogLevel('error')
    net, names = make_net(netcfg, servers, sites)
    by_name = {v['name']: v for v in wanmig_config(netcfg)['servers']}
    net.start()
    for host in net.hosts:
        host.cmd('sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1')
        if host.name in by_name:
            host.cmd('ip route add default via %s dev %s-eth0 onlink' % (by_name[host.name]['gateway'], host.name))
    return net, names


def vsctl_batch(commands):
    """One ovs-vsctl transaction of several commands (lists of words)."""
    args = ['ovs-vsctl', '--timeout=30']
    for command in commands:
        args += ['--'] + command
    subprocess.run(args, check=True, capture_output=True, text=True, timeout=60)


PARKED = 'tcp:127.0.0.1:6654'    # a controller nobody listens on


def set_controllers(bridges, on, target='tcp:127.0.0.1:6653'):
    """Every bridge's controller set (on) or removed, in one transaction. OVS flushes a bridge's
    flows when it goes from no controller to some (or back), so tables that must survive a
    controller change are kept with a controller set: set_controllers(..., True, PARKED)."""
    vsctl_batch([['set-controller', b, target] if on else ['del-controller', b] for b in bridges])


def connected_count():
    out = tb.run(['ovs-vsctl', '--bare', '--columns=is_connected', 'list', 'Controller']).stdout
    return out.split().count('true')


def flow_count(bridge):
    """(wanmig rules, all rules) on a bridge, read back from it."""
    flows = tb.dump_flows(bridge)
    return sum(1 for cookie, _ in flows if cookie >> 48 == tb.WANMIG_COOKIE_TAG), len(flows)


class LogFollower:
    """Follows the runtime's log as it is written and timestamps the lines on arrival: the
    runtime's "<device> connected: N added, ..." is its confirmation that the switch holds them."""

    def __init__(self, path):
        self.path = path
        self.lines = []         # (wall, line)
        self.stop_event = threading.Event()
        self.thread = threading.Thread(target=self.loop, daemon=True)
        with open(path, 'a'):
            pass
        self.offset = os.path.getsize(path)

    def loop(self):
        pending = ''
        with open(self.path) as f:
            f.seek(self.offset)
            while not self.stop_event.is_set():
                chunk = f.read()
                if not chunk:
                    time.sleep(0.002)
                    continue
                now = time.time()
                pending += chunk
                *complete, pending = pending.split('\n')
                self.lines.extend((now, line) for line in complete)

    def start(self):
        self.thread.start()
        return self

    def stop(self, timed_path=None):
        """Stops following; with timed_path, writes the lines seen with their arrival time (s since
        the first), as the runtime's log has no timestamps of its own."""
        self.stop_event.set()
        self.thread.join(5)
        if timed_path and self.lines:
            with open(timed_path, 'w') as f:
                f.writelines('%9.3f %s\n' % (t - self.lines[0][0], line) for t, line in self.lines)

    def confirmations(self, since):
        """{device: (wall, added, replaced, removed)} of the first confirmation after `since`."""
        found = {}
        for t, line in list(self.lines):
            match = CONFIRMED.search(line)
            if t >= since and match and match.group(1) not in found:
                found[match.group(1)] = (t, int(match.group(2)), int(match.group(3)), int(match.group(4)))
        return found

    def first(self, pattern, since):
        """(wall, match) of the first line after `since` that matches, or None."""
        return next(((t, m) for t, m in ((t, pattern.search(line)) for t, line in list(self.lines)) if t >= since and m),
                    None)

    def all(self, pattern, since):
        return [(t, m) for t, m in ((t, pattern.search(line)) for t, line in list(self.lines)) if t >= since and m]


def desired_per_device():
    status, body = tb.rest('GET', '/devices', timeout=60)
    if status != 200:
        raise RuntimeError('GET /devices -> %s %s' % (status, body))
    return {d['id']: d['rules'] for d in body['devices']}


# ---------------------------------------------------------------- stage 2: install the baseline

def runtime_install(runtime_config, names, bridges, workdir, label):
    """A fresh runtime on the switches (controller unset, tables emptied), then every switch given
    the controller at once: times until the runtime confirmed every switch's rules."""
    set_controllers(bridges, False)
    for b in bridges:
        tb.run(['ovs-ofctl', '-O', 'OpenFlow13', 'del-flows', b], check=True)
    log_path = os.path.join(workdir, 'runtime-%s.log' % label)
    t_launch = time.time()
    runtime = tb.Runtime(config=runtime_config, state_dir=state_dir('wanmig-scale-state-'),
                         log_path=log_path).start()
    t_rest = time.time()
    follower = LogFollower(log_path).start()
    try:
        t0 = time.time()
        set_controllers(bridges, True)
        t_set = time.time()
        # the runtime waits for every switch, then reads all tables and installs what is missing
        took_over = tb.wait_until(lambda: follower.first(TOOK_OVER, t0), 300, 0.01, 'the runtime taking over')
        t_all = time.time()
        ups = {m.group(1): t for t, m in follower.all(SWITCH_UP, t0)}
        desired = desired_per_device()
        dumped = {}
        for device, name in names.items():
            dumped[device] = flow_count(name)
        t_dumped = time.time()
        # where the time went: the last table read before the take-over's changes
        reads = follower.all(READ_TABLE, t0)
        per_switch = {names[d]: {'desired': desired.get(d), 'connectedS': round(ups[d] - t0, 3) if d in ups else None,
                                 'dumpedWanmig': dumped[d][0], 'dumpedAll': dumped[d][1]} for d in names}
        added, replaced, removed = (int(took_over[1].group(k)) for k in (1, 2, 3))
        return runtime, {
            'jvmStartToRestS': round(t_rest - t_launch, 3),
            'setControllerS': round(t_set - t0, 3),
            'firstConnectedS': round(min(ups.values()) - t0, 3) if ups else None,
            'allConnectedS': round(max(ups.values()) - t0, 3) if len(ups) == len(names) else None,
            'allTablesReadS': round(max(t for t, _ in reads) - t0, 3) if reads else None,
            'allConfirmedS': round(took_over[0] - t0, 3),
            'waitedS': round(t_all - t0, 3),
            'dumpFlowsS': round(t_dumped - t_all, 3),
            'rulesDesired': sum(desired.values()),
            'rulesConfirmed': added + replaced,
            'rulesRemoved': removed,
            'rulesDumped': sum(v[0] for v in dumped.values()),
            'complete': added == sum(desired.values()) and all(p['desired'] == p['dumpedWanmig'] for p in per_switch.values()),
            'perSwitch': per_switch,
            'loadAverage': load_average(),
        }
    finally:
        follower.stop(log_path.replace('.log', '.timed.log'))


def add_flows_baseline(names, bridges, files):
    """The same rules pushed with ovs-ofctl add-flows, one file per switch, all switches at once, onto
    emptied tables (the controller parked where nobody listens, so that giving the runtime back its
    switches afterwards does not flush them)."""
    set_controllers(bridges, True, PARKED)
    for b in bridges:
        tb.run(['ovs-ofctl', '-O', 'OpenFlow13', 'del-flows', b], check=True)
    t0 = time.time()
    processes = {b: subprocess.Popen(['ovs-ofctl', '-O', 'OpenFlow13', 'add-flows', b, files[b]],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True) for b in bridges}
    ends, errors = {}, {}
    for b, p in processes.items():
        _, err = p.communicate(timeout=300)
        ends[b] = time.time()
        if p.returncode != 0:
            errors[b] = err.strip()[:300]
    t_all = time.time()
    dumped = {b: flow_count(b) for b in bridges}
    return {
        'allInstalledS': round(t_all - t0, 3),
        'perSwitch': {b: {'doneS': round(ends[b] - t0, 3), 'dumpedWanmig': dumped[b][0]} for b in bridges},
        'rulesDumped': sum(v[0] for v in dumped.values()),
        'errors': errors,
        'loadAverage': load_average(),
    }


def save_flows(bridges, directory):
    """Each switch's flows as `ovs-ofctl add-flows` reads them."""
    os.makedirs(directory, exist_ok=True)
    files = {}
    for b in bridges:
        out = tb.run(['ovs-ofctl', '-O', 'OpenFlow13', '--no-stats', 'dump-flows', b], check=True).stdout
        files[b] = os.path.join(directory, b + '.flows')
        with open(files[b], 'w') as f:
            f.write(''.join(line.strip() + '\n' for line in out.splitlines() if 'cookie=' in line or 'priority=' in line))
    return files


def probe_servers(net, netcfg, servers, sites):
    c = wanmig_config(netcfg)
    ips = {v['name']: v['ip'] for v in c['servers']}
    clients = [client_hosts(c)[i][0] for i in sites]
    results = {}
    for client in clients:
        for vs in servers:
            results['%s->%s' % (client, vs)] = tb.pings(net.get(client), ips[vs], count=3, wait_s=1)
    return results


def stage_install(args, workdir):
    results = {'stage': 'install', 'settings': vars(args), 'loadAverageStart': load_average(), 'configs': {}}
    for label, path in args.netcfgs:
        with open(path) as f:
            netcfg = json.load(f)
        c = wanmig_config(netcfg)
        # a handful of servers answer: the first and last of each DC
        homes = {}
        for v in c['servers']:
            homes.setdefault(v['dc'], []).append(v['name'])
        probes = sorted({n for names in homes.values() for n in (names[0], names[-1])},
                        key=lambda n: int(re.sub(r'\D', '', n) or 0))
        sites = [0, len(c['clientSites']) - 1]
        runtime = net = None
        try:
            tb.log('%s: %d servers (%s as hosts), %d switches; starting Mininet' % (
                label, len(c['servers']), ', '.join(probes), len(switch_names(c))))
            t = time.time()
            net, names = start_net(netcfg, probes, sites)
            bridges = [names[d] for d in names]
            set_controllers(bridges, False)
            tb.log('%s: Mininet up in %.1f s' % (label, time.time() - t))
            runs = []
            for i in range(args.repeats):
                runtime, figures = runtime_install(path, names, bridges, workdir, '%s-%d' % (label, i))
                runs.append(figures)
                tb.log('%s runtime install %d: all %d rules confirmed %.3f s after the switches got the controller'
                       ' (dump-flows %d, complete %s; JVM start to REST %.1f s; load %s)' % (
                           label, i + 1, figures['rulesConfirmed'], figures['allConfirmedS'], figures['rulesDumped'],
                           figures['complete'], figures['jvmStartToRestS'], figures['loadAverage']))
                if i == 0:
                    pings = probe_servers(net, netcfg, probes, sites)
                    tb.log('%s: pings %d of %d answered (%s)' % (label, sum(pings.values()), len(pings),
                           ', '.join(k for k, v in pings.items() if not v) or 'all'))
                    files = save_flows(bridges, os.path.join(workdir, 'flows-' + label))
                if i < args.repeats - 1:
                    runtime.kill()
                    runtime = None
            # the runtime is left up but unplugged for the baseline, then plugged in again
            baseline = []
            for i in range(args.repeats):
                figures = add_flows_baseline(names, bridges, files)
                baseline.append(figures)
                tb.log('%s add-flows baseline %d: %d rules in %.3f s (errors: %s; load %s)' % (
                    label, i + 1, figures['rulesDumped'], figures['allInstalledS'], figures['errors'] or 'none',
                    figures['loadAverage']))
            # with every rule in place (controller parked: no flush), a reconnect should find nothing to do
            t0 = time.time()
            follower = LogFollower(runtime.log_path).start()
            set_controllers(bridges, True)
            tb.wait_until(lambda: len(follower.confirmations(t0)) == len(names), 120, 0.01, 'readoption')
            # the switches' rule count until 8 s after the reconnect (past the links' 5 s hold-down), at
            # least 3 samples: whether any rule went missing on the way, and when the count was whole again
            desired_total = runs[-1]['rulesDesired']
            samples = []
            while time.time() - t0 < 8 or len(samples) < 3:
                samples.append((round(time.time() - t0, 3), sum(flow_count(b)[0] for b in bridges)))
                time.sleep(0.2)
            changes = follower.all(ANY_CHANGE, t0)
            reads = follower.all(READ_TABLE, t0)
            follower.stop(os.path.join(workdir, 'runtime-%s-reconnect.timed.log' % label))
            short = [t for t, n in samples if n != desired_total]
            readopt = {'allConfirmedS': round(max(v[0] for v in follower.confirmations(t0).values()) - t0, 3),
                       'rulesReadBack': sum(int(m.group(1)) for _, m in reads),
                       'changes': sum(int(m.group(1)) + int(m.group(2)) + int(m.group(3)) for _, m in changes),
                       'fewestRulesSeen': min(n for _, n in samples),
                       'lastShortS': (max(short) if short else None),
                       'dumpedWanmig': samples[-1][1], 'samples': samples}
            tb.log('%s: reconnect onto the add-flows tables: read back %d rules, confirmed in %.3f s, %d changes,'
                   ' fewest rules seen %d of %d' % (label, readopt['rulesReadBack'], readopt['allConfirmedS'],
                                                   readopt['changes'], readopt['fewestRulesSeen'], desired_total))
            pings_after = probe_servers(net, netcfg, probes, sites)
            roles = {}
            for device, name in names.items():
                role = 'pe' if name.startswith('pe') else 'site edge' if name.startswith('es') else 'core'
                roles.setdefault(role, []).append(runs[0]['perSwitch'][name]['dumpedWanmig'])
            results['configs'][label] = {
                'netcfg': path, 'servers': len(c['servers']), 'switches': len(names),
                'prefixes': all('prefix' in dc for dc in c['dataCenters']),
                'runtime': runs, 'addFlows': baseline, 'readopt': readopt,
                'rulesPerSwitchMax': {r: max(v) for r, v in roles.items()},
                'rulesPerSwitchMin': {r: min(v) for r, v in roles.items()},
                'pings': pings, 'pingsAfterReadopt': pings_after,
                'runtimeMedianS': percentile([r['allConfirmedS'] for r in runs], 50),
                'addFlowsMedianS': percentile([b['allInstalledS'] for b in baseline], 50),
            }
        finally:
            tb.stop_net(net)
            if runtime:
                runtime.kill()
            tb.kill_started()
            tb.mininet_cleanup()
    results['loadAverageEnd'] = load_average()
    return results


def print_install(results):
    print('\n================ bench-scale stage 2: the runtime installs the baseline ================')
    print('load average at start %s, at end %s' % (results['loadAverageStart'], results['loadAverageEnd']))
    for label, r in results['configs'].items():
        print('\n%s: %d servers, %d switches, DC prefixes %s' % (label, r['servers'], r['switches'],
                                                                 'yes' if r['prefixes'] else 'no'))
        print('  rules per switch (dump-flows): %s' % ', '.join(
            '%s %d..%d' % (k, r['rulesPerSwitchMin'][k], r['rulesPerSwitchMax'][k]) for k in sorted(r['rulesPerSwitchMax'])))
        print('  %-58s %s' % ('runtime, controller set -> every rule confirmed (s)',
                              ', '.join('%.3f' % x['allConfirmedS'] for x in r['runtime'])))
        print('  %-58s %s' % ('  rules desired / confirmed / dumped (first run)', '%d / %d / %d, complete %s' % (
            r['runtime'][0]['rulesDesired'], r['runtime'][0]['rulesConfirmed'], r['runtime'][0]['rulesDumped'],
            all(x['complete'] for x in r['runtime']))))
        print('  %-58s %s' % ('  JVM launch -> REST up (s, not in the figure)',
                              ', '.join('%.1f' % x['jvmStartToRestS'] for x in r['runtime'])))
        print('  %-58s %s' % ('baseline: ovs-ofctl add-flows, file per switch (s)',
                              ', '.join('%.3f' % x['allInstalledS'] for x in r['addFlows'])))
        ratio = r['runtimeMedianS'] / r['addFlowsMedianS'] if r['addFlowsMedianS'] else None
        print('  %-58s %.3f s vs %.3f s: x%.2f' % ('median runtime vs add-flows', r['runtimeMedianS'],
                                                   r['addFlowsMedianS'], ratio or 0))
        print('  %-58s read back %d, confirmed %.3f s, %d rule changes; fewest rules seen %d (last seen short at %s s)' % (
            'every switch reconnected to the running runtime:', r['readopt']['rulesReadBack'],
            r['readopt']['allConfirmedS'], r['readopt']['changes'], r['readopt']['fewestRulesSeen'],
            r['readopt']['lastShortS']))
        print('  %-58s %d of %d; after the reconnect %d of %d' % (
            'pings client -> server answered', sum(r['pings'].values()), len(r['pings']),
            sum(r['pingsAfterReadopt'].values()), len(r['pingsAfterReadopt'])))
        print('  %-58s %s' % ('  of which all tables read -> every rule confirmed (s)', ', '.join(
            '%.3f' % (x['allConfirmedS'] - x['allTablesReadS']) for x in r['runtime'] if x['allTablesReadS'])))
        print('  %-58s %s' % ('  switches connected first .. last; all tables read (s)', ', '.join(
            '%s..%s; %s' % (x['firstConnectedS'], x['allConnectedS'], x['allTablesReadS']) for x in r['runtime'])))
        print('  per switch (dumped): ' + ', '.join('%s %d' % (n, p['dumpedWanmig'])
                                                    for n, p in sorted(r['runtime'][0]['perSwitch'].items())))
    if len(results['configs']) == 2:
        a, b = results['configs'].values()
        print('\nwithout DC prefixes vs with: rules x%.1f, runtime install x%.1f, add-flows x%.1f' % (
            b['runtime'][0]['rulesDumped'] / a['runtime'][0]['rulesDumped'], b['runtimeMedianS'] / a['runtimeMedianS'],
            b['addFlowsMedianS'] / a['addFlowsMedianS']))
    print('=========================================================================================\n')


# ---------------------------------------------------------------- stage 3: evacuate 100 servers

class CountingVsctl:
    """Wraps the emulated hypervisor's ovs-vsctl helper: calls and the time spent in them."""

    def __init__(self):
        self.original = wanmig_hypervisor.vsctl
        self.lock = threading.Lock()
        self.calls = 0
        self.seconds = 0.0

    def __call__(self, *args):
        t = time.monotonic()
        try:
            return self.original(*args)
        finally:
            with self.lock:
                self.calls += 1
                self.seconds += time.monotonic() - t

    def snapshot(self):
        with self.lock:
            return self.calls, self.seconds


def evacuation_config(base, directory, concurrency, args):
    def edit(w):
        for dc in w['dataCenters']:
            if dc['name'] != 'dcA':
                dc['capacity'] = {'slots': (len(w['servers']) + 1) // 2, 'memoryMiB': 1 << 20}
        for vs in w['servers']:
            vs.pop('group', None)
            vs.pop('priority', None)
            vs['memoryMiB'] = args.memory_mib
            vs['dirtyRateMiBps'] = args.dirty_mibps
        m = w['migration']
        m['hypervisor'] = {'driver': 'http', 'url': 'http://127.0.0.1:8300'}
        m['drainSeconds'] = args.drain_s
        m['prepareTimeoutSeconds'] = 60
        m['migrateTimeoutSeconds'] = 300
        m['evacuation'] = {
            'bandwidth': [{'between': ['dcA', 'dcB'], 'mbps': args.hv_mbit * concurrency},
                          {'between': ['dcA', 'dcC'], 'mbps': args.hv_mbit * concurrency}],
            'maxConcurrentPerPair': concurrency, 'maxRounds': 30, 'stopCopyMiB': 2, 'overheadSeconds': 1,
            'retries': 1}
    path = tb.config_file(base, directory, edit)
    renamed = os.path.join(directory, 'wanmig-evacuate-c%d.json' % concurrency)
    os.replace(path, renamed)
    return renamed


def put_back_at_dca(c, names):
    """Every server's uplink back at dcA's PE on its own port (after an evacuation moved it)."""
    pe = names[next(dc['pe'] for dc in c['dataCenters'] if dc['name'] == 'dcA')]
    commands = []
    for v in c['servers']:
        intf = v['name'] + '-sw'
        commands += [['--if-exists', 'del-port', intf], ['add-port', pe, intf],
                     ['set', 'Interface', intf, 'ofport_request=%d' % v['port']]]
    vsctl_batch(commands)


def migration_latencies(migration, hv, evacuation_start):
    times = {}
    for e in migration['timeline']:
        times.setdefault(e['state'], e['epochMillis'] / 1000)
    requested = times.get('REQUESTED')
    report = hv.times.get('reportSent', {}).get('wall') if hv else None

    def gap(a, b):
        return round((b - a) * 1000, 3) if a is not None and b is not None else None
    return {
        'server': migration['server'], 'state': migration['state'], 'destination': migration['destination'],
        'queuedMs': gap(evacuation_start, requested),
        'requestToPreparedMs': gap(requested, times.get('MIGRATING')),
        'reportToRedirectMs': gap(report, times.get('CUTOVER')),
        'cutoverToRoutesMs': gap(times.get('CUTOVER'), times.get('ROUTES_UPDATED')),
        'requestToCompletedMs': gap(requested, times.get('COMPLETED')),
        'hypervisorMs': gap(hv.times['precopyStart']['wall'], hv.times['attachedAtDestination']['wall'])
        if hv and 'precopyStart' in hv.times and 'attachedAtDestination' in hv.times else None,
        'started': requested, 'ended': times.get('COMPLETED') or max(times.values()),
    }


def peak_in_flight(rows):
    events = sorted([(r['started'], 1) for r in rows if r['started']] + [(r['ended'], -1) for r in rows if r['started']],
                    key=lambda e: (e[0], e[1]))
    level = peak = 0
    for _, delta in events:
        level += delta
        peak = max(peak, level)
    return peak


def evacuate_once(args, concurrency, config, net, names, bridges, c, workdir):
    """One evacuation of every dcA server on a fresh runtime; its figures."""
    ips = {v['name']: v['ip'] for v in c['servers']}
    set_controllers(bridges, False)
    put_back_at_dca(c, names)
    for b in bridges:
        tb.run(['ovs-ofctl', '-O', 'OpenFlow13', 'del-flows', b], check=True)
    runtime = tb.Runtime(config=config, state_dir=state_dir('wanmig-scale-evac-'),
                         log_path=os.path.join(workdir, 'runtime-c%d.log' % concurrency)).start()
    counting = CountingVsctl()
    wanmig_hypervisor.vsctl = counting
    hv_log = open(os.path.join(workdir, 'hypervisor-c%d.log' % concurrency), 'w')
    quiet = wanmig_hypervisor.log
    wanmig_hypervisor.log = lambda *words: print('[hypervisor %.3f]' % time.time(), *words, file=hv_log, flush=True)
    model = tb.PrecopyModel(mem_mb=args.memory_mib * 1.048576, dirty_mb_s=args.dirty_mibps * 1.048576,
                            bw_mbit=args.hv_mbit, max_rounds=30, stop_mb=2 * 1.048576)
    hypervisor = tb.Hypervisor(model=model).start()
    try:
        set_controllers(bridges, True)
        tb.wait_until(lambda: connected_count() == len(bridges), 60, 0.2, 'every switch connected')
        h1 = net.get('h1')
        first, last = c['servers'][0]['name'], c['servers'][-1]['name']
        for vs in (first, last):
            tb.wait_until(lambda: tb.pings(h1, ips[vs]), 60, 0.2, 'h1 reaching %s at dcA' % vs)
        time.sleep(1)   # let the runtime settle after the switches' rules
        pid = runtime.process.pid
        # the runtime's CPU while idle (timers, GC, JIT of what ran so far), to set its per-migration CPU against
        idle0 = cpu_seconds(pid)
        time.sleep(args.idle_s)
        idle_cpu_per_s = (cpu_seconds(pid) - idle0) / args.idle_s
        ovs_pid = ovs_vswitchd_pid()
        calls0 = counting.snapshot()
        mine0 = os.times()
        cpu0 = cpu_seconds(pid)
        ovs0 = cpu_seconds(ovs_pid) if ovs_pid else None
        load0 = load_average()
        t0 = time.time()
        status, evacuation = tb.rest('POST', '/evacuations', {'source': 'dcA', 'to': ['dcB', 'dcC']}, timeout=60)
        if status != 201:
            raise RuntimeError('POST /evacuations -> %s %s' % (status, evacuation))
        eid = evacuation['id']
        planned = evacuation['plannedMillis'] / 1000
        deadline = time.monotonic() + args.timeout
        while True:
            time.sleep(args.poll_s)
            status, evacuation = tb.rest('GET', '/evacuations/%s' % eid, timeout=30)
            if status != 200:
                raise RuntimeError('GET /evacuations/%s -> %s %s' % (eid, status, evacuation))
            if evacuation['state'] in TERMINAL_EVACUATION:
                break
            if time.monotonic() > deadline:
                raise TimeoutError('evacuation %s at concurrency %d not finished after %g s (%s)' % (
                    eid, concurrency, args.timeout, evacuation['progress']))
        t_end_seen = time.time()
        cpu1 = cpu_seconds(pid)
        ovs1 = cpu_seconds(ovs_pid) if ovs_pid else None
        mine1 = os.times()
        calls1 = counting.snapshot()
        load1 = load_average()
        end = max(e['epochMillis'] for e in evacuation['timeline']) / 1000
        start = evacuation['startedMillis'] / 1000
        rows = []
        for s in evacuation['servers']:
            if not s.get('migration'):
                continue
            status, m = tb.rest('GET', '/migrations/%s' % s['migration'], timeout=30)
            rows.append(migration_latencies(m, hypervisor.migrations.get(int(s['migration'])), start))
        completed = sum(1 for r in rows if r['state'] == 'COMPLETED')
        located = {v['name']: v['location'] for v in tb.rest('GET', '/servers', timeout=30)[1]['servers']}
        moved = {r['server']: r['destination'] for r in rows}
        # one ping each, then three more for those that did not answer (ARP may still be resolving)
        unreachable = [vs for vs in ips if not tb.pings(h1, ips[vs], count=1, wait_s=1)]
        unreachable = [vs for vs in unreachable if not tb.pings(h1, ips[vs], count=3, wait_s=1)]
        misplaced = [vs for vs in ips if located.get(vs) != moved.get(vs)]
        total = end - start
        mine = (mine1.user + mine1.system + mine1.children_user + mine1.children_system) - \
            (mine0.user + mine0.system + mine0.children_user + mine0.children_system)
        figures = {
            'concurrencyPerPair': concurrency, 'evacuation': eid, 'state': evacuation['state'],
            'servers': len(evacuation['servers']), 'completed': completed,
            'peakInFlight': peak_in_flight(rows),
            'totalS': round(total, 3), 'plannedS': round(planned, 3),
            'migrationsPerS': round(completed / total, 3) if total > 0 else None,
            'runtimeCpuS': round(cpu1 - cpu0, 3),
            'runtimeCpuMsPerMigration': round((cpu1 - cpu0) * 1000 / max(completed, 1), 2),
            'runtimeCpuShare': round((cpu1 - cpu0) / (t_end_seen - t0), 3),
            'runtimeIdleCpuMsPerS': round(idle_cpu_per_s * 1000, 1),
            'hypervisorModel': {
                'vsctlCalls': calls1[0] - calls0[0],
                'vsctlCallsPerMigration': round((calls1[0] - calls0[0]) / max(completed, 1), 1),
                'vsctlSeconds': round(calls1[1] - calls0[1], 3),
                'vsctlMsPerMigration': round((calls1[1] - calls0[1]) * 1000 / max(completed, 1), 1),
                'benchProcessCpuS': round(mine, 3),
                'note': 'bench process CPU = the emulated hypervisor (threads, ovs-vsctl children) plus this'
                        ' script polling GET /evacuations every %.1f s' % args.poll_s},
            'ovsVswitchdCpuS': round(ovs1 - ovs0, 3) if ovs_pid else None,
            'latencyMs': {k: {'p50': percentile([r[k] for r in rows], 50), 'p99': percentile([r[k] for r in rows], 99)}
                          for k in ('queuedMs', 'requestToPreparedMs', 'reportToRedirectMs', 'cutoverToRoutesMs',
                                    'requestToCompletedMs', 'hypervisorMs')},
            'destinations': {d: sum(1 for r in rows if r['destination'] == d) for d in ('dcB', 'dcC')},
            'unreachableAfter': unreachable, 'misplacedAfter': misplaced,
            'loadAverageBefore': load0, 'loadAverageAfter': load1,
            'migrations': rows,
        }
        return figures
    finally:
        hypervisor.stop()
        wanmig_hypervisor.vsctl = counting.original
        wanmig_hypervisor.log = quiet
        hv_log.close()
        runtime.kill()


def stage_evacuate(args, workdir):
    with open(args.netcfg) as f:
        netcfg = json.load(f)
    c = wanmig_config(netcfg)
    if any(v['dc'] != 'dcA' for v in c['servers']):
        raise ValueError('every server of %s must start in dcA' % args.netcfg)
    results = {'stage': 'evacuate', 'settings': vars(args), 'loadAverageStart': load_average(), 'levels': []}
    net = None
    try:
        tb.log('starting Mininet: %d switches, %d servers as hosts at peA, h1' % (len(switch_names(c)), len(c['servers'])))
        t = time.time()
        net, names = start_net(netcfg, [v['name'] for v in c['servers']], [0])
        bridges = [names[d] for d in names]
        tb.log('Mininet up in %.1f s' % (time.time() - t))
        for concurrency in args.concurrency:
            config = evacuation_config(args.netcfg, workdir, concurrency, args)
            tb.log('concurrency %d per pair: evacuating %d servers from dcA (load %s)' % (
                concurrency, len(c['servers']), load_average()))
            figures = evacuate_once(args, concurrency, config, net, names, bridges, c, workdir)
            results['levels'].append(figures)
            lat = figures['latencyMs']
            tb.log('concurrency %d: %s, %d/%d completed in %.1f s (plan %.1f s), %.2f migrations/s, peak %d in'
                   ' flight; runtime CPU %.0f ms per migration; report->redirect p50 %s ms; request->prepared'
                   ' p50 %s ms; unreachable after %d; load %s' % (
                       concurrency, figures['state'], figures['completed'], figures['servers'], figures['totalS'],
                       figures['plannedS'], figures['migrationsPerS'] or 0, figures['peakInFlight'],
                       figures['runtimeCpuMsPerMigration'], lat['reportToRedirectMs']['p50'],
                       lat['requestToPreparedMs']['p50'], len(figures['unreachableAfter']),
                       figures['loadAverageAfter']))
    finally:
        tb.stop_net(net)
        tb.kill_started()
        tb.mininet_cleanup()
    results['loadAverageEnd'] = load_average()
    return results


def print_evacuate(results):
    levels = results['levels']
    base = levels[0]
    print('\n================ bench-scale stage 3: evacuation of %d emulated servers ================' % base['servers'])
    print('load average at start %s, at end %s; baseline: concurrency %d per pair (first row)' % (
        results['loadAverageStart'], results['loadAverageEnd'], base['concurrencyPerPair']))
    s = results['settings']
    print('hypervisor model: %g MiB, %g MiB/s dirty, %g Mbit/s per migration (same at every concurrency); drain %g s'
          % (s['memory_mib'], s['dirty_mibps'], s['hv_mbit'], s['drain_s']))
    print('%-5s %-5s %6s %7s %8s %6s | %8s %6s | %11s %11s %11s %11s | %9s %9s %5s | %s' % (
        'conc', 'peak', 'done', 'total s', 'migr/s', 'ratio', 'cpu ms/m', 'ratio', 'prep p50/99', 'redir p50/99',
        'route p50/99', 'total p50/99', 'vsctl/m', 'vsctl ms/m', 'unrch', 'load before -> after'))
    for f in levels:
        lat = f['latencyMs']
        hv = f['hypervisorModel']

        def pair(k):
            return '%s/%s' % (fmt(lat[k]['p50']), fmt(lat[k]['p99']))
        print('%-5d %-5d %6s %7.1f %8.2f %6.2f | %8.1f %6.2f | %11s %11s %11s %11s | %9.1f %9.1f %5d | %s -> %s' % (
            f['concurrencyPerPair'], f['peakInFlight'], '%d/%d' % (f['completed'], f['servers']), f['totalS'],
            f['migrationsPerS'] or 0, (f['migrationsPerS'] or 0) / (base['migrationsPerS'] or 1),
            f['runtimeCpuMsPerMigration'], f['runtimeCpuMsPerMigration'] / (base['runtimeCpuMsPerMigration'] or 1),
            pair('requestToPreparedMs'), pair('reportToRedirectMs'), pair('cutoverToRoutesMs'),
            pair('requestToCompletedMs'), hv['vsctlCallsPerMigration'], hv['vsctlMsPerMigration'],
            len(f['unreachableAfter']), f['loadAverageBefore'], f['loadAverageAfter']))
    print('latencies in ms per migration from the timelines: prep = request -> MIGRATING (tunnel confirmed), redir ='
          ' hypervisor report sent -> CUTOVER (redirect confirmed), route = CUTOVER -> ROUTES_UPDATED, total ='
          ' request -> COMPLETED; cpu = runtime JVM utime+stime per completed migration; vsctl = the emulated'
          ' hypervisor\'s ovs-vsctl calls and their wall time per migration (overlapping when concurrent)')
    for f in levels:
        hv = f['hypervisorModel']
        print('  conc %d: runtime CPU %.1f s (%.0f%% of one core over the run; idle %.0f ms/s before); hypervisor model + bench process CPU %.1f s;'
              ' ovs-vswitchd CPU %s s; hypervisor copy+pause p50 %s ms; destinations %s' % (
                  f['concurrencyPerPair'], f['runtimeCpuS'], 100 * f['runtimeCpuShare'], f['runtimeIdleCpuMsPerS'],
                  hv['benchProcessCpuS'],
                  f['ovsVswitchdCpuS'], fmt(f['latencyMs']['hypervisorMs']['p50']), f['destinations']))
    print('==========================================================================================\n')


def fmt(x):
    return '-' if x is None else ('%.0f' % x if x >= 100 else '%.1f' % x)


# ---------------------------------------------------------------- main


def parse_args(argv):
    parser = argparse.ArgumentParser(prog='bench-scale', description='bench-scale stages 2 and 3 (Mininet)')
    parser.add_argument('stage', choices=('install', 'evacuate'))
    parser.add_argument('--netcfg', action='append', default=[],
                        help='install: LABEL=FILE (repeatable: with and without DC prefixes); evacuate: FILE')
    parser.add_argument('--repeats', type=int, default=3, help='install: runs of the runtime and of add-flows')
    parser.add_argument('--concurrency', default='1,5,20', help='evacuate: maxConcurrentPerPair values, first is the baseline')
    parser.add_argument('--memory-mib', type=float, default=16, help='evacuate: each server\'s memory')
    parser.add_argument('--dirty-mibps', type=float, default=1, help='evacuate: each server\'s dirty rate')
    parser.add_argument('--hv-mbit', type=float, default=1000, help='evacuate: the hypervisor model\'s copy rate')
    parser.add_argument('--drain-s', type=float, default=0, help='evacuate: migration.drainSeconds')
    parser.add_argument('--idle-s', type=float, default=3, help='evacuate: idle time to measure the runtime\'s idle CPU')
    parser.add_argument('--poll-s', type=float, default=1.0, help='evacuate: GET /evacuations interval')
    parser.add_argument('--timeout', type=float, default=300, help='evacuate: longest wait per evacuation')
    parser.add_argument('--out', default=os.path.join(tb.REPO, 'out'))
    args = parser.parse_args(argv)
    if args.stage == 'install':
        args.netcfgs = [tuple(n.split('=', 1)) for n in args.netcfg]
    else:
        args.netcfg = args.netcfg[0]
        args.concurrency = [int(x) for x in args.concurrency.split(',')]
    return args


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    tb.start_as_root()
    workdir = os.path.join(args.out, 'bench-scale-%s-%s' % (args.stage, time.strftime('%Y%m%d-%H%M%S')))
    os.makedirs(workdir, exist_ok=True)
    # the generated netcfg files go with the results (scripts/bench-scale removes its copies)
    if args.stage == 'install':
        args.netcfgs = [(label, shutil.copy(path, os.path.join(workdir, 'netcfg-%s.json' % label)))
                        for label, path in args.netcfgs]
    else:
        args.netcfg = shutil.copy(args.netcfg, os.path.join(workdir, 'netcfg-evacuate.json'))
    tb.ensure_ovs()
    tb.mininet_cleanup()
    t = time.time()
    try:
        results = stage_install(args, workdir) if args.stage == 'install' else stage_evacuate(args, workdir)
        results['wallS'] = round(time.time() - t, 1)
        with open(os.path.join(workdir, 'results.json'), 'w') as f:
            json.dump(results, f, indent=1, default=str)
        (print_install if args.stage == 'install' else print_evacuate)(results)
        tb.log('wrote %s/results.json (wall %.0f s, load average %s)' % (workdir, results['wallS'], load_average()))
        if args.stage == 'install':
            ok = all(all(x['complete'] for x in r['runtime']) and all(r['pings'].values())
                     for r in results['configs'].values())
        else:
            ok = all(f['state'] == 'COMPLETED' and not f['unreachableAfter'] and not f['misplacedAfter']
                     for f in results['levels'])
        return 0 if ok else 1
    except KeyboardInterrupt as e:
        tb.log('interrupted (%s), cleaning up' % (e or 'Ctrl-C'))
        return 130
    except Exception as e:
        tb.log('bench-scale %s failed: %s: %s' % (args.stage, type(e).__name__, e))
        return 1
    finally:
        tb.hold_signals()
        tb.kill_started()
        tb.mininet_cleanup()
        for path in STATE_DIRS:
            shutil.rmtree(path, ignore_errors=True)


if __name__ == '__main__':
    sys.exit(main())
