"""
Shared pieces of the wanmig demo, end-to-end tests and benchmarks (run with /usr/bin/python3 as
root): the Mininet net, the embedded runtime process, its REST API, the probes, flow read-back
and the downtime analysis.
"""

import base64
import datetime
import glob
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TOPOS = os.path.join(REPO, 'mininet-topos')
sys.path.insert(0, TOPOS)

import wanmig_2dc                         # noqa: E402
import wanmig_3dc                         # noqa: E402
import wanmig_delay                       # noqa: E402
from wanmig_hypervisor import Hypervisor, PrecopyModel   # noqa: E402,F401

PROBE = os.path.join(TOPOS, 'wanmig_probe.py')
CONFIG_2DC = os.path.join(TOPOS, 'wanmig-2dc.json')
CONFIG_3DC = os.path.join(TOPOS, 'wanmig-3dc.json')
CONFIG_3DC_6VS = os.path.join(TOPOS, 'wanmig-3dc-6vs.json')
RUNTIME_JAR = os.environ.get('WANMIG_RUNTIME_JAR') or os.path.join(REPO, 'embedded', 'target', 'wanmig-embedded.jar')
REST = 'http://127.0.0.1:8181/onos/wanmig'
AUTH = ('onos', 'rocks')
SWITCHES_2DC = ('cs1', 'core1', 'core2', 'peA', 'peB')
SWITCHES_3DC = tuple(wanmig_3dc.DPIDS)
VS1_IP = '10.2.0.10'
TERMINAL = ('COMPLETED', 'FAILED', 'ROLLED_BACK')
STARTED = []    # every process this run started outside Mininet, to kill by PID at the very end


def log(*words):
    print('[%s]' % time.strftime('%H:%M:%S'), *words, flush=True)


def run(cmd, check=False, timeout=60):
    return subprocess.run(cmd, shell=isinstance(cmd, str), capture_output=True, text=True,
                          check=check, timeout=timeout)


# ---------------------------------------------------------------- environment

def ensure_ovs():
    """Open vSwitch running (both daemons: `ovs-vsctl show` answers from ovsdb-server alone), the
    socket buffer defaults a killed bed left raised put back (recover_sysctls), and the switches'
    send socket with SWITCH_BUFFER (ovs_send_buffer)."""
    if run('ovs-vsctl -t 2 show').returncode != 0 or not ovs_vswitchd_answers():
        run('/usr/share/openvswitch/scripts/ovs-ctl start --system-id=random', timeout=60)
    recover_sysctls()
    ovs_send_buffer(SWITCH_BUFFER)


def ovs_vswitchd_answers():
    return run('ovs-appctl -t ovs-vswitchd version', timeout=10).returncode == 0


def ovs_send_socket():
    """ovs-vswitchd's send socket as `ss` sees it: {'sndbuf': bytes, 'queued': bytes} or None
    before its first send. The userspace datapath sends on every system port through this one
    unbound AF_PACKET socket (netdev-linux's af_packet_sock, made at its first send, kept for the
    process's life), so its buffer holds every frame still queued in any port's qdisc."""
    out = run('ss -0 -a -m -n -p').stdout.replace('\n', ' ').replace('p_raw', '\np_raw')
    for line in out.splitlines():
        m = re.search(r'\[0\]:\*.*"ovs-vswitchd".*skmem:\(r\d+,rb\d+,t(\d+),tb(\d+)', line)
        if m:
            return {'queued': int(m.group(1)), 'sndbuf': int(m.group(2))}
    return None


def ovs_send_buffer(size):
    """Makes sure ovs-vswitchd's send socket has a send buffer of `size`. With the default 208
    KiB, the frames waiting in the WAN ports' shapers under a migration stream fill it: sendmmsg
    fails with EAGAIN and OVS drops the rest of its output batch, service frames included ("error
    sending Ethernet packet ... Resource temporarily unavailable" in ovs-vswitchd.log; 3-27
    probes per migration on every path across the WAN during pre-copy). That socket is made at
    ovs-vswitchd's first send with net.core.wmem_default as it is then, and kept: this raises
    wmem_default for a moment, restarts ovs-vswitchd if its socket was made smaller (a test
    machine between beds can afford that; WANMIG_OVS_RESTART=0 refuses instead), has it send
    one frame on a port of a bridge of its own so the socket is made now, and puts wmem_default
    back."""
    sock = ovs_send_socket()
    if sock is not None and sock['sndbuf'] >= size:
        return sock
    if not ovs_vswitchd_answers():
        raise RuntimeError('ovs-vswitchd does not answer (ovs-appctl -t ovs-vswitchd version): start Open vSwitch')
    if sock is not None and os.environ.get('WANMIG_OVS_RESTART', '1') == '0':
        raise RuntimeError('ovs-vswitchd sends with a %d-byte buffer, the switches would drop frames under a '
                           'migration stream; WANMIG_OVS_RESTART=0 forbids restarting it (restart it with '
                           'net.core.wmem_default >= %d, or unset WANMIG_OVS_RESTART)' % (sock['sndbuf'], size))
    before = _raise_sysctl(WMEM_DEFAULT, SAVED_WMEM_DEFAULT, size)
    try:
        if sock is not None:
            log('ovs-vswitchd sends with a %d-byte buffer: restarting it for %d' % (sock['sndbuf'], size))
            restart_ovs_vswitchd()
        _first_ovs_send()
    finally:
        _restore_sysctl(WMEM_DEFAULT, SAVED_WMEM_DEFAULT, before)
    sock = ovs_send_socket()
    if sock is None or sock['sndbuf'] < size:
        raise RuntimeError('ovs-vswitchd\'s send socket: %s, wanted a %d-byte buffer' % (sock, size))
    return sock


def restart_ovs_vswitchd():
    """ovs-vswitchd restarted (ovsdb-server left running), answering again."""
    run('/usr/share/openvswitch/scripts/ovs-ctl --no-ovsdb-server --system-id=random restart', check=True, timeout=60)
    wait_until(ovs_vswitchd_answers, 30, 0.5, 'ovs-vswitchd after its restart')


def _first_ovs_send():
    """One frame out of a port of a throwaway userspace bridge (a veth whose peer nobody reads)."""
    bridge, port, peer = 'wanmig-sndbuf', 'wmsndbuf0', 'wmsndbuf1'
    run('ovs-vsctl --if-exists del-br %s' % bridge)
    run('ip link del %s' % port)
    try:
        run('ip link add %s type veth peer name %s && ip link set %s up && ip link set %s up'
            % (port, peer, port, peer), check=True)
        run('ovs-vsctl add-br %s -- set bridge %s datapath_type=netdev fail_mode=secure -- add-port %s %s'
            % (bridge, bridge, bridge, port), check=True)
        # broadcast, a locally administered source, the local experimental EtherType, zero padding
        frame = 'ff' * 6 + '020000000001' + '88b5' + '00' * 46

        def sent():
            run('ovs-ofctl packet-out %s LOCAL output:1 %s' % (bridge, frame))
            return ovs_send_socket() is not None
        wait_until(sent, 10, 0.2, 'ovs-vswitchd sending its first frame')
    finally:
        run('ovs-vsctl --if-exists del-br %s' % bridge)
        run('ip link del %s' % port)


SWITCH_BUFFER = 8 << 20
RMEM_DEFAULT = '/proc/sys/net/core/rmem_default'
WMEM_DEFAULT = '/proc/sys/net/core/wmem_default'
# the machine's own values while a bed has them raised: a bed killed with SIGKILL leaves the
# file, and the next one puts back the machine's value, not the 8 MiB its predecessor left
SAVED_RMEM_DEFAULT = '/var/tmp/wanmig-rmem_default'
SAVED_WMEM_DEFAULT = '/var/tmp/wanmig-wmem_default'


_RAISED = set()   # the saved files of the values this process has raised and not yet put back


def read_sysctl(path):
    with open(path) as f:
        return int(f.read())


def write_sysctl(path, value):
    with open(path, 'w') as f:
        f.write(str(value))


def _raise_sysctl(path, saved, value):
    """Raises the sysctl at `path` to at least `value` and returns the machine's own value: the
    one kept in `saved` by a bed that never put it back, else the current one, which is kept
    there until _restore_sysctl()."""
    before = read_sysctl(path)
    if os.path.exists(saved):
        with open(saved) as f:
            before = int(f.read().strip() or before)
    else:
        with open(saved, 'w') as f:
            f.write(str(before))
    _RAISED.add(saved)
    write_sysctl(path, max(value, before))
    return before


def _restore_sysctl(path, saved, before):
    write_sysctl(path, before)
    if os.path.exists(saved):
        os.unlink(saved)
    _RAISED.discard(saved)


def recover_sysctls():
    """Puts back the machine's own values that a bed killed with SIGKILL left raised (its saved
    files remain), except those this process raised itself. Returns what it put back."""
    recovered = {}
    for path, saved in ((RMEM_DEFAULT, SAVED_RMEM_DEFAULT), (WMEM_DEFAULT, SAVED_WMEM_DEFAULT)):
        if saved in _RAISED or not os.path.exists(saved):
            continue
        with open(saved) as f:
            text = f.read().strip()
        if text.isdigit():
            _restore_sysctl(path, saved, int(text))
            recovered[path] = int(text)
        else:
            os.unlink(saved)
    return recovered


def switch_buffers(size=SWITCH_BUFFER):
    """Sets net.core.rmem_default, the receive buffer a new socket gets: here the switches' port
    sockets, opened while a bed whose WAN a migration stream fills starts. Returns the machine's
    own value, for restore_switch_buffers(). (Their one send socket: ensure_ovs.)"""
    return _raise_sysctl(RMEM_DEFAULT, SAVED_RMEM_DEFAULT, size)


def restore_switch_buffers(before):
    _restore_sysctl(RMEM_DEFAULT, SAVED_RMEM_DEFAULT, before)


OVS_LOG = '/var/log/openvswitch/ovs-vswitchd.log'


def ovs_log_mark(path=OVS_LOG):
    """Where ovs-vswitchd's log ends now, for ovs_send_errors()."""
    try:
        return os.path.getsize(path)
    except OSError:
        return 0


def ovs_send_errors(mark, path=OVS_LOG):
    """ovs-vswitchd's failed sends logged since mark, {"port: reason": count}: each one dropped
    the rest of an output batch. OVS rate-limits these lines, so the counts are a lower bound;
    none logged means none happened. A log shorter than the mark (rotated) is read whole."""
    counts = {}
    try:
        with open(path, errors='replace') as f:
            f.seek(mark if mark <= os.path.getsize(path) else 0)
            for line in f:
                m = re.search(r'error sending Ethernet packet on (\S+): (.*)', line)
                if m:
                    key = '%s: %s' % (m.group(1), m.group(2).strip())
                    counts[key] = counts.get(key, 0) + 1
    except OSError:
        pass
    return counts


# a send to a port whose device went away (a VM's tap once its QEMU quit) loses nothing that could
# have been delivered, unlike a full buffer or an oversized frame
PORT_GONE = ('Network is down', 'No such device')


def ovs_lost_sends(errors):
    """The failed sends of ovs_send_errors() that lost frames: all but those to a port gone."""
    return {k: n for k, n in errors.items() if not k.endswith(PORT_GONE)}


def mininet_cleanup():
    """What `mn -c` does: removes leftover bridges, veths and Mininet processes; plus the
    servers' root-side veth ends ("<server>-sw"), whose names `mn -c` does not know."""
    run('mn -c', timeout=120)
    links = subprocess.run(['ip', '-o', 'link', 'show'], capture_output=True, text=True).stdout
    for name in re.findall(r'^\d+: (vs\d+-sw)[@:]', links, re.M):
        subprocess.run(['ip', 'link', 'del', name], capture_output=True)


def start_net(bw=None, fail_mode='secure', remote=True, storage=False,
              delay=wanmig_2dc.DEFAULT_DELAY_MS):
    """The 2-DC testbed, started; IPv6 off in the hosts so only probe traffic and ARP flow.
    delay: one-way ms between the DCs (a DelayLink on core1-core2; 0: none)."""
    from mininet.log import setLogLevel
    setLogLevel('error')
    net = wanmig_2dc.make_net(bw=bw, storage=storage, fail_mode=fail_mode, remote=remote,
                              delay=delay)
    net.start()
    for host in net.hosts:
        host.cmd('sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1')
    return net


def start_net_3dc(bw=None, fail_mode='secure', servers=3, storage=False, vm=False):
    """The 3-DC testbed (triangle core: every WAN path has an alternative), started like start_net;
    servers=6 adds vs4..vs6 in dcA (wanmig-3dc-6vs.json); storage=True storA and storB; vm=True
    (with storage) the hypervisor hosts hvA..hvC (wanmig-3dc-6vs-vm.json)."""
    from mininet.log import setLogLevel
    setLogLevel('error')
    net = wanmig_3dc.make_net(bw=bw, servers=servers, storage=storage, vm=vm)
    net.start()
    for host in net.hosts:
        host.cmd('sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1')
    return net


def config_file(base, directory, edit):
    """A copy of the netcfg file `base` in `directory` with edit(wanmig object) applied; its path."""
    with open(base) as f:
        netcfg = json.load(f)
    edit(netcfg['apps']['org.wanmig.app']['wanmig'])
    path = os.path.join(directory, 'wanmig-' + os.path.basename(base).split('-', 1)[-1])
    with open(path, 'w') as f:
        json.dump(netcfg, f, indent=1)
    return path


def wan_link_ports(one, two):
    """The switch-side interfaces of the WAN link between switches `one` and `two` (3-DC testbed)."""
    for a, pa, b, pb in wanmig_3dc.WAN_LINKS:
        if {a, b} == {one, two}:
            return '%s-eth%d' % (a, pa), '%s-eth%d' % (b, pb)
    raise KeyError('no WAN link %s-%s' % (one, two))


_IP_BATCH = []     # one long-lived `ip -batch -`: a link change costs a pipe write, not a process start


def set_wan_link(one, two, up):
    """Both ends of a WAN link down (or up); returns the wall-clock time just before. The ends are
    veths in the root namespace (OVS userspace ports). The commands go to a running `ip -batch -`,
    which executes each line as it arrives: starting `ip` per change took 30-80 ms here, which
    would blur the port-down time."""
    if not _IP_BATCH or _IP_BATCH[0].poll() is not None:
        process = subprocess.Popen(['ip', '-force', '-batch', '-'], stdin=subprocess.PIPE,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, text=True)
        STARTED.append(process)
        _IP_BATCH[:] = [process]
    batch = ''.join('link set dev %s %s\n' % (i, 'up' if up else 'down') for i in wan_link_ports(one, two))
    t = time.time()
    _IP_BATCH[0].stdin.write(batch)
    _IP_BATCH[0].stdin.flush()
    return t


def link_state():
    """GET /links of the embedded runtime: declared links, their state, the re-plans so far."""
    status, body = rest('GET', '/links')
    if status != 200:
        raise RuntimeError('GET /links -> %s %s' % (status, body))
    return body


def wait_replans(count, timeout=10, interval=0.01):
    """The re-plan list once it holds `count` finished re-plans."""
    return wait_until(lambda: (lambda r: r if len(r) >= count else None)(link_state()['replans']),
                      timeout, interval, '%d re-plans' % count)


def rules_out_of(interfaces, switches=SWITCHES_3DC):
    """wanmig rules (read back from the switches) that output to any of the given switch interfaces."""
    ports = {}
    for intf in interfaces:
        switch, port = intf.split('-eth')
        ports.setdefault(switch, set()).add(port)
    found = []
    for switch in switches:
        for cookie, text in dump_flows(switch):
            outputs = set(re.findall(r'output:(\d+)', text))
            if cookie >> 48 == WANMIG_COOKIE_TAG and outputs & ports.get(switch, set()):
                found.append((switch, text))
    return found


def stop_net(net):
    if net is not None:
        try:
            net.stop()
        except Exception as e:  # keep cleaning up
            log('net.stop failed:', e)


def interrupt(signum, _frame):
    """SIGTERM (and Ctrl-C) unwind like KeyboardInterrupt, so a script's cleanups run."""
    raise KeyboardInterrupt('signal %d' % signum)


def start_as_root():
    """How every demo and benchmark starts: Mininet needs root, and a signal unwinds through the cleanups."""
    if os.geteuid() != 0:
        sys.exit('run as root (Mininet needs it)')
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, interrupt)


def hold_signals():
    """From here on a second Ctrl-C or SIGTERM does not cut the cleanup short."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)


def switches_connected(names):
    """Names of the bridges whose OpenFlow controller connection is up (as OVS sees it)."""
    up = []
    for name in names:
        out = run(['ovs-vsctl', '--', 'get', 'Bridge', name, 'controller']).stdout.strip(' []\n')
        uuids = [u.strip() for u in out.split(',') if u.strip()]
        if any(run(['ovs-vsctl', 'get', 'Controller', u, 'is_connected']).stdout.strip() == 'true'
               for u in uuids):
            up.append(name)
    return up


def wait_until(predicate, timeout, interval=0.2, what='condition'):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise TimeoutError('timed out after %g s waiting for %s' % (timeout, what))


def pings(host, ip, count=1, wait_s=1):
    """True when `host` gets an answer from `ip` (inside the Mininet namespaces only)."""
    out = host.cmd('ping -n -q -c %d -W %d %s' % (count, wait_s, ip))
    match = re.search(r'(\d+) received', out)
    return bool(match and int(match.group(1)) > 0)


# ---------------------------------------------------------------- the embedded runtime

# SCHED_FIFO priorities with WANMIG_SCHED=fifo: the emulated network above the control plane
NETWORK_RT_PRIORITY, CONTROL_RT_PRIORITY = wanmig_delay.RT_PRIORITY, 10


def realtime():
    """WANMIG_SCHED=fifo: the switches, the delay lines, the controller and the agents run at
    SCHED_FIFO (the guests, QEMU and the test hosts do not), standing in for a network and control
    hosts that a guest's CPU never delays. Default: `nice` (WANMIG_CONTROL_NICE)."""
    mode = os.environ.get('WANMIG_SCHED', 'nice')
    if mode not in ('nice', 'fifo'):
        raise ValueError('WANMIG_SCHED must be nice or fifo, not %r' % mode)
    return mode == 'fifo'


def control_plane():
    """Command prefix for the controller and the replication agents. In a deployment they run on
    hosts of their own; here they share two cores with TCG guests, userspace switches and the delay
    line, and a woken thread of theirs waited 1-5 ms for a guest's or switch's time slice at every
    hand-off of the switchover in the pause (perf sched). A higher CPU weight (nice -10) stands in
    for CPUs of their own. WANMIG_CONTROL_NICE=0 runs them like everything else; WANMIG_SCHED=fifo
    at SCHED_FIFO (realtime())."""
    if realtime():
        return ['chrt', '-f', str(CONTROL_RT_PRIORITY)]
    level = int(os.environ.get('WANMIG_CONTROL_NICE', '-10'))
    return ['nice', '-n', str(level)] if level else []


# HotSpot's JIT compiler threads as /proc names them ("C1 CompilerThread0", cut to 15 characters)
JIT_THREADS = ('C1 CompilerThre', 'C2 CompilerThre')


def demote_jit(pid):
    """The JIT compiler threads of a control-plane JVM (started with control_plane()) back to the
    default policy and nice 0, like everything else on the machine. They inherited the JVM's nice
    -10 or SCHED_FIFO and compiled the pause hook's code while it ran: perf put them at a fifth of
    both CPUs inside the hooks, level with the hook's own threads (or, at FIFO, unpreemptible by
    them). On a control host of its own the JIT has cores the request path does not use. Threads
    the JIT adds later are started by a compiler thread and inherit this. Returns the threads set."""
    if not control_plane():
        return 0
    done = 0
    try:
        tids = os.listdir('/proc/%d/task' % pid)
    except FileNotFoundError:
        return 0   # exited: its caller's next call to it says so
    for tid in tids:
        try:
            with open('/proc/%d/task/%s/comm' % (pid, tid)) as f:
                name = f.read().strip()
        except OSError:
            continue   # the thread ended
        if name.startswith(JIT_THREADS):
            try:
                if realtime():
                    os.sched_setscheduler(int(tid), os.SCHED_OTHER, os.sched_param(0))
                os.setpriority(os.PRIO_PROCESS, int(tid), 0)
            except ProcessLookupError:
                continue   # the thread ended
            done += 1
    return done


def switch_scheduling():
    """ovs-vswitchd's threads at SCHED_FIFO with WANMIG_SCHED=fifo, else back to the default policy
    (a bed killed before its stop may have left them realtime). Returns the policy set."""
    _switch_policy(['-f', str(NETWORK_RT_PRIORITY)] if realtime() else ['-o', '0'], check=True)
    return 'fifo' if realtime() else 'other'


def reset_switch_scheduling():
    """ovs-vswitchd back to the default policy (a bed's stop)."""
    _switch_policy(['-o', '0'], check=False)


def _switch_policy(policy, check):
    for pid in subprocess.run(['pidof', 'ovs-vswitchd'], capture_output=True, text=True).stdout.split():
        subprocess.run(['chrt', '-a', '-p'] + policy + [pid], check=check, capture_output=True)


def jvm_pause_log(path):
    """The JVM option that logs every stop-the-world pause (GC or other safepoint) with its UTC
    time to `path`: a control-plane step that took tens of ms can be checked against them."""
    return ['-Xlog:safepoint,gc:file=%s:utctime,tags' % path]


def jvm_pauses(path, since=0.0, until=float('inf')):
    """The stop-the-world pauses a jvm_pause_log() file holds between two wall-clock times, as
    (time the pause ended, ms, what it was for), oldest first; [] without the file. A JVM started
    again on the same file first moves the earlier run's log to path.0 (then .1, ...): those are
    read too, so a restarted runtime's pauses from before the restart are not lost."""
    found = []
    for log in [path] + glob.glob(glob.escape(path) + '.[0-9]*'):
        try:
            with open(log, errors='replace') as f:
                for line in f:
                    m = re.match(r'\[(\S+)\]\[safepoint\s*\] Safepoint "([^"]+)".*Total: (\d+) ns', line)
                    if m:
                        ended = datetime.datetime.strptime(m.group(1), '%Y-%m-%dT%H:%M:%S.%f%z').timestamp()
                        if since <= ended <= until:
                            found.append((ended, int(m.group(3)) / 1e6, m.group(2)))
        except OSError:
            pass
    return sorted(found)


class Runtime:
    """The embedded runtime as a child process (the command line is the contract)."""

    def __init__(self, config=CONFIG_2DC, state_dir=None, log_path=None):
        self.config = config
        self.state_dir = state_dir or tempfile.mkdtemp(prefix='wanmig-state-')
        self.log_path = log_path or os.path.join(self.state_dir, 'runtime.log')
        self.pause_log = os.path.splitext(self.log_path)[0] + '-pauses.log'   # jvm_pause_log
        self.process = None

    def start(self):
        if not os.path.exists(RUNTIME_JAR):
            raise FileNotFoundError(RUNTIME_JAR + ' is missing: build with mvn -B -q -DskipTests package')
        if self.process is None or self.process.poll() is not None:
            # a leftover runtime on the same ports would answer for this one
            for port in (8181, 6653):
                with socket.socket() as probe:
                    probe.settimeout(1)
                    if probe.connect_ex(('127.0.0.1', port)) == 0:
                        raise RuntimeError('127.0.0.1:%d is already in use (a runtime left over?)' % port)
        out = open(self.log_path, 'a')
        self.process = subprocess.Popen(
            control_plane() + ['java'] + jvm_pause_log(self.pause_log)
            + ['-jar', RUNTIME_JAR, '--config', self.config, '--openflow-port', '6653',
             '--http-port', '8181', '--state-dir', self.state_dir],
            stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        STARTED.append(self.process)
        out.close()
        wait_until(self.answers, 60, 0.5, 'the runtime REST API')
        demote_jit(self.process.pid)
        return self

    def answers(self):
        if self.process.poll() is not None:
            raise RuntimeError('runtime exited with %s; see %s' % (self.process.returncode, self.log_path))
        try:
            rest('GET', '/migrations')
            return True
        except (OSError, urllib.error.URLError):
            return False

    def kill(self, sig=signal.SIGTERM, wait=15):
        """Stop the runtime process (only the one we started, by its PID)."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(sig)
        try:
            self.process.wait(wait)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)

    def log_tail(self, lines=40):
        try:
            with open(self.log_path) as f:
                return ''.join(f.readlines()[-lines:])
        except OSError:
            return ''


def tear_down(net, runtime):
    """The end of every demo run, failed or not: the network, the runtime, whatever was started
    in the hosts, then Mininet's own cleanup."""
    stop_net(net)
    if runtime:
        runtime.kill()
    kill_started()
    mininet_cleanup()


def kill_started():
    """Last-resort cleanup (e.g. after Ctrl-C skipped a test's cleanups): our processes, by PID."""
    for process in STARTED:
        if process.poll() is None:
            process.kill()
            process.wait(5)


def rest(method, path, body=None, timeout=10):
    """(status, parsed JSON or text) of a call to the wanmig REST API; HTTP errors are returned."""
    data = None if body is None else json.dumps(body).encode()
    token = base64.b64encode(('%s:%s' % AUTH).encode()).decode()
    request = urllib.request.Request(REST + path, data=data, method=method, headers={
        'Authorization': 'Basic ' + token, 'Content-Type': 'application/json',
        'Accept': 'application/json'})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            status, text = response.status, response.read().decode()
    except urllib.error.HTTPError as e:
        status, text = e.code, e.read().decode()
    try:
        return status, json.loads(text) if text else None
    except ValueError:
        return status, text


def migrations_list():
    status, body = rest('GET', '/migrations')
    if isinstance(body, dict):      # {"migrations":[...]} or a bare list
        body = body.get('migrations', [])
    return body


def start_migration(server='vs1', destination='dcB'):
    status, body = rest('POST', '/migrations', {'server': server, 'destination': destination})
    if status != 201:
        raise RuntimeError('POST /migrations -> %s %s' % (status, body))
    return body


def watch_migration(mid, timeout=120, on_change=None, poll=0.05):
    """Polls the migration until a terminal state; calls on_change(migration) on every new state."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            status, migration = rest('GET', '/migrations/%s' % mid, timeout=5)
        except (OSError, urllib.error.URLError):
            time.sleep(0.5)     # the runtime may be restarting
            continue
        if status == 200:
            if migration['state'] != last:
                last = migration['state']
                if on_change:
                    on_change(migration)
            if last in TERMINAL:
                return migration
        time.sleep(poll)
    raise TimeoutError('migration %s not finished after %g s (state %s)' % (mid, timeout, last))


# ---------------------------------------------------------------- flows and cookies

# Cookie layout of every wanmig rule (core planner/Cookies.java): tag 63..48, kind 47..44,
# owner 43..20 (server number, migration id or site number), rule index 19..0.
WANMIG_COOKIE_TAG = 0x57A9
KIND_SERVER_ROUTE, KIND_MIGRATION, KIND_INFRASTRUCTURE, KIND_SITE_ROUTE = 1, 2, 3, 4
# a DC pair's shared tunnel (owner: its forward label) and a DC's prefix route
KIND_TUNNEL, KIND_DC_ROUTE = 5, 6


def decode_cookie(cookie):
    """(tag, kind, owner) of a wanmig cookie."""
    return cookie >> 48, (cookie >> 44) & 0xF, (cookie >> 20) & 0xFFFFFF


def dump_flows(switch):
    """[(cookie, flow text)] of a bridge, read back from the switch itself."""
    out = run(['ovs-ofctl', '-O', 'OpenFlow13', 'dump-flows', switch]).stdout
    flows = []
    for line in out.splitlines():
        match = re.search(r'cookie=(0x[0-9a-f]+)', line)
        if match:
            flows.append((int(match.group(1), 16), line.strip()))
    return flows


def migration_flows(mid, switches=SWITCHES_2DC):
    """Flows on the switches that belong to migration `mid` (kind 2 with its id)."""
    found = []
    for switch in switches:
        for cookie, text in dump_flows(switch):
            tag, kind, owner = decode_cookie(cookie)
            if tag == WANMIG_COOKIE_TAG and kind == KIND_MIGRATION and owner == int(mid):
                found.append((switch, text))
    return found


def pair_tunnel_flows(switches=SWITCHES_2DC):
    """Label rules of any DC pair's shared tunnel (kind 5): none once no migration is active."""
    return [(switch, text) for switch in switches for cookie, text in dump_flows(switch)
            if decode_cookie(cookie)[0] == WANMIG_COOKIE_TAG and decode_cookie(cookie)[1] == KIND_TUNNEL]


def flow_tables(switches=SWITCHES_2DC, kind=None):
    """Every switch's rules without counters (only wanmig's of cookie `kind`, if given), for
    before/after comparisons."""
    strip = re.compile(r'(duration|n_packets|n_bytes|idle_age|hard_age)=[^,]*, ?')
    return {s: sorted(strip.sub('', text) for cookie, text in dump_flows(s)
                      if kind is None or decode_cookie(cookie)[1] == kind) for s in switches}


# ---------------------------------------------------------------- probes

def popen_in(host, args, **kwargs):
    """A process inside a Mininet host's namespace, remembered for kill_started()."""
    process = host.popen(args, **kwargs)
    STARTED.append(process)
    return process


def start_probe_server(host, duration=900, udp_port=7000, tcp_port=7001):
    """The probe server, returned once it listens (a client started earlier would see refusals)."""
    process = popen_in(host, [sys.executable, PROBE, 'server', '--duration', str(duration),
                              '--udp-port', str(udp_port), '--tcp-port', str(tcp_port)],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_until(lambda: ':%d ' % tcp_port in host.cmd('ss -Hltn') and ':%d ' % udp_port in host.cmd('ss -Hlun'),
               15, 0.1, 'the probe server listening in ' + host.name)
    return process


def start_probe_client(host, out_path, server=VS1_IP, rate=200, duration=60):
    return popen_in(host, [sys.executable, PROBE, 'client', '--server', server, '--rate', str(rate),
                           '--duration', str(duration), '--out', out_path],
                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def stop_probe_client(process, out_path, timeout=15):
    """SIGTERM the client (it writes its results) and read them."""
    return stop_and_read(process, out_path, timeout)


def stop_and_read(process, out_path, timeout):
    """SIGCONT (it may be frozen with its host), SIGTERM, and the JSON it writes on the way out."""
    if process.poll() is None:
        process.send_signal(signal.SIGCONT)
        process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(5)
    with open(out_path) as f:
        return json.load(f)


def stop_process(process, timeout=5):
    if process is not None and process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()


# ---------------------------------------------------------------- analysis

def overlap(a_start, a_end, b_start, b_end):
    return max(0.0, min(a_end, b_end) - max(a_start, b_start))


def pause_window(hypervisor_migration):
    """(start, end) wall-clock of the hypervisor's stop-and-copy pause, or None."""
    times = hypervisor_migration.get('timestamps', {}) if hypervisor_migration else {}
    if 'pauseStart' in times and 'attachedAtDestination' in times:
        return times['pauseStart']['wall'], times['attachedAtDestination']['wall']
    return None


def downtime(probe_results, window=None, since=None, until=None):
    """Outage figures of a probe run; with the hypervisor's pause window, the part of the outage
    the network caused (outside the pause) and the probes lost outside it. `since`/`until`
    limit the analysis to one migration's time span."""
    udp = probe_results['udp']
    since = since if since is not None else float('-inf')
    until = until if until is not None else float('inf')
    outages = [o for o in udp['outages'] if o['end'] > since and o['start'] < until]
    total_ms = sum(o['durationMs'] for o in outages)
    paused_ms = sum(overlap(o['start'], o['end'], *window) * 1000 for o in outages) if window else 0.0
    lost_outside = [s for s in udp['samples'] if s[2] is None and since <= s[1] <= until
                    and not (window and window[0] <= s[1] <= window[1])]
    return {
        'probesSent': sum(1 for s in udp['samples'] if since <= s[1] <= until),
        'probesLost': sum(o['lostProbes'] for o in outages),
        'outages': len(outages),
        'longestOutageMs': round(max((o['durationMs'] for o in outages), default=0.0), 3),
        'totalOutageMs': round(total_ms, 3),
        'pauseMs': round((window[1] - window[0]) * 1000, 3) if window else None,
        'outageDuringPauseMs': round(paused_ms, 3),
        'networkOutageMs': round(max(0.0, total_ms - paused_ms), 3),
        'probesLostOutsidePause': len(lost_outside),
    }
