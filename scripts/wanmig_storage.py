"""
Storage in the Mininet testbed (net started with storage=True): one replication agent per DC on
its storage host (storA 10.3.1.10 at peA, storB 10.3.2.10 at peB), so the replication stream
crosses the emulated WAN (peA - core1 - core2 - peB); a management link per storage host that
gives the runtime (root namespace) each agent's control API directly, as a deployment's
management network would; the VS's disk writer; image checks.

    management link (veth):  root wmg-storA 10.254.1.1/30 ==== storA-mgmt 10.254.1.2/30 (in storA)
                             root wmg-storB 10.254.2.1/30 ==== storB-mgmt 10.254.2.2/30 (in storB)
    control API:             http://10.254.N.2:7070 (the agent listens on its management address)
Only the /30 goes over it (the storage hosts keep their default route into the DC), so the emulated
WAN stays the only path between storA and storB; no relay process sits on the control path. The
pair vanishes with the storage host's namespace, so a crashed run leaves nothing behind.
"""

import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

import wanmig_testbed as tb

AGENT_JAR = os.environ.get('WANMIG_AGENT_JAR') or os.path.join(tb.REPO, 'replication', 'target',
                                                                'wanmig-replication-agent.jar')
CONFIG_2DC_STORAGE = os.path.join(tb.TOPOS, 'wanmig-2dc-storage.json')
WRITER = os.path.join(tb.REPO, 'scripts', 'wanmig_nbd_writer.py')
TOKEN = 'wanmig-testbed-agent-token'     # = agentToken in wanmig-2dc-storage.json
PSK = 'wanmig-testbed-peer-psk-0123456789'
DISK = 'vs1'
NBD_PORT, PEER_PORT, CONTROL_PORT = 10809, 10900, 7070
# dc -> (storage host, its IP, the peer's IP, N of its management net 10.254.N.0/30, role at start)
SIDES = {'dcA': ('storA', '10.3.1.10', '10.3.2.10', 1, 'PRIMARY'),
         'dcB': ('storB', '10.3.2.10', '10.3.1.10', 2, 'REPLICA')}
# urllib would send to a proxy named in the environment: the management net is reached directly
OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def mgmt_link(dc):
    """(root-side interface, its address, storage-side interface, its address) of dc's management link."""
    name, n = SIDES[dc][0], SIDES[dc][3]
    return 'wmg-' + name, '10.254.%d.1' % n, name + '-mgmt', '10.254.%d.2' % n


def control_url(dc):
    """The agent's control API as the runtime reaches it (= `agent` in the testbed's netcfg files)."""
    return 'http://%s:%d' % (mgmt_link(dc)[3], CONTROL_PORT)


def stop_pid(process, sig=signal.SIGTERM, timeout=10):
    if process is not None and process.poll() is None:
        process.send_signal(sig)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


class Storage:
    """Agents and management links of both DCs; stop() ends every process it started, by PID, and
    removes the links. Each agent serves every disk of `disks` (one per server, named after it;
    dcA PRIMARY, dcB REPLICA)."""

    def __init__(self, net, workdir, size_mb=64, disks=(DISK,)):
        self.net = net
        self.workdir = workdir
        self.size_mb = size_mb
        self.disks = tuple(disks)
        self.agents, self.links = {}, []

    def image(self, dc, disk=DISK):
        return os.path.join(self.workdir, SIDES[dc][0], disk + '.img')

    def agent_log(self, dc):
        return os.path.join(self.workdir, SIDES[dc][0], 'agent.out')

    def pause_log(self, dc):
        """The agent JVM's stop-the-world pauses (tb.jvm_pause_log)."""
        return self.agent_log(dc) + '.pauses'

    def _agent_command(self, dc, config):
        return tb.control_plane() + ['java'] + tb.jvm_pause_log(self.pause_log(dc)) + ['-jar', AGENT_JAR,
                                                                                       '--config', config]

    def start(self, timeout=60):
        if not os.path.exists(AGENT_JAR):
            raise FileNotFoundError(AGENT_JAR + ' is missing: build with mvn -B -q -DskipTests package')
        for dc, (name, ip, peer, _, role) in SIDES.items():
            host = self.net.get(name)
            home = os.path.join(self.workdir, name)
            os.makedirs(home, exist_ok=True)
            self._add_mgmt_link(dc, host)
            config = os.path.join(home, 'agent.json')
            with open(config, 'w') as f:
                json.dump({'nbdListen': '%s:%d' % (ip, NBD_PORT), 'peerListen': '%s:%d' % (ip, PEER_PORT),
                           'controlListen': '%s:%d' % (mgmt_link(dc)[3], CONTROL_PORT),
                           'peerAddress': '%s:%d' % (peer, PEER_PORT), 'token': TOKEN, 'psk': PSK,
                           'disks': [{'name': disk, 'image': self.image(dc, disk), 'size': '%dM' % self.size_mb,
                                      'role': role} for disk in self.disks]}, f, indent=2)
            out = open(self.agent_log(dc), 'a')
            self.agents[dc] = tb.popen_in(host, self._agent_command(dc, config), stdout=out, stderr=subprocess.STDOUT)
            out.close()
        for dc in SIDES:
            tb.wait_until(lambda: self._answers(dc), timeout, 0.5,
                          'the %s agent answering on %s' % (dc, control_url(dc)))
            tb.demote_jit(self.agents[dc].pid)
        # the replica is attached and the initial sync (hash compare) is over
        tb.wait_until(lambda: self._settled(), timeout, 0.5, 'replication dcA -> dcB connected and caught up')
        return self

    def _add_mgmt_link(self, dc, host):
        """The veth pair root <-> storage host, addressed and up; only its /30 is routed over it."""
        root, root_ip, inner, inner_ip = mgmt_link(dc)
        # a root end of that name left by an earlier run whose storage host still lives
        subprocess.run(['ip', 'link', 'del', root], capture_output=True)
        tb.run(['ip', 'link', 'add', 'name', root, 'type', 'veth', 'peer', 'name', inner, 'netns', str(host.pid)],
               check=True)
        self.links.append(root)
        inside = ['nsenter', '-t', str(host.pid), '-n']
        for prefix, intf, address in (([], root, root_ip), (inside, inner, inner_ip)):
            # no IPv6 on it: no router solicitations or DAD on a link that carries the control API only
            tb.run(prefix + ['sysctl', '-qw', 'net.ipv6.conf.%s.disable_ipv6=1' % intf])   # absent without IPv6
            tb.run(prefix + ['ip', 'addr', 'add', address + '/30', 'dev', intf], check=True)
            tb.run(prefix + ['ip', 'link', 'set', intf, 'up'], check=True)

    def _set_mgmt_inner(self, dc, up):
        _, _, inner, _ = mgmt_link(dc)
        tb.run(['nsenter', '-t', str(self.net.get(SIDES[dc][0]).pid), '-n', 'ip', 'link', 'set', inner,
                'up' if up else 'down'], check=True)

    def cut_control(self, dc):
        """The controller loses its path to dc's agent (the agent, its NBD and its peer link stay up).
        The storage-side end goes down: the root end loses its carrier and drops what the runtime
        sends, with its /30 route kept; the root end down would take the route away and send the
        runtime's requests out of the machine by the root namespace's default route."""
        self._set_mgmt_inner(dc, False)

    def restore_control(self, dc, timeout=10):
        """Undoes cut_control(dc) and waits until the agent answers on its management address."""
        self._set_mgmt_inner(dc, True)
        tb.wait_until(lambda: self._answers(dc), timeout, 0.2, 'the %s agent answering again' % dc)

    def _answers(self, dc):
        if self.agents[dc].poll() is not None:
            raise RuntimeError('%s agent exited with %s; see %s' % (dc, self.agents[dc].returncode, self.agent_log(dc)))
        try:
            self.status(dc, disk=self.disks[0])    # any disk it serves: the default vs1 may not be one
            return True
        except (OSError, urllib.error.URLError, ValueError):
            return False

    def _answers_quietly(self, dc):
        """Whether the agent answers on its management address now (False when it or its path is gone)."""
        try:
            self.status(dc, timeout=2)
            return True
        except (OSError, urllib.error.URLError, ValueError):
            return False

    def _settled(self):
        return all(a['peerConnected'] and a['lagBytes'] == 0 and a['resyncRemainingBytes'] == 0
                   for a in (self.status('dcA', disk=disk) for disk in self.disks))

    def call(self, dc, method, action=None, body=None, timeout=10, disk=DISK):
        """(HTTP status, JSON) of a control API call over the management link."""
        url = '%s/v1/disks/%s%s' % (control_url(dc), disk, '/' + action if action else '')
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(url, data=data, method=method, headers={
            'Authorization': 'Bearer ' + TOKEN, 'Content-Type': 'application/json'})
        try:
            with OPENER.open(request, timeout=timeout) as response:
                return response.status, json.loads(response.read() or b'null')
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read() or b'null')

    def status(self, dc, timeout=5, disk=DISK):
        code, body = self.call(dc, 'GET', timeout=timeout, disk=disk)
        if code != 200:
            raise OSError('%s agent status of %s: HTTP %s %s' % (dc, disk, code, body))
        return body

    def resync_back(self, timeout=60, disk=DISK):
        """After a migration dcA -> dcB: B (now primary) in SYNC and in sync with A; returns B's status."""
        return self.sync_up('dcB', timeout, disk)

    def sync_up(self, primary, timeout=60, disk=DISK, then_async=False):
        """`primary` in SYNC until its replica is in sync (raises if not within timeout), then back to
        ASYNC if asked; returns its status once in sync."""
        code, body = self.call(primary, 'POST', 'mode', {'mode': 'SYNC'}, disk=disk)
        if code != 200:
            raise RuntimeError('%s mode SYNC: %s %s' % (primary, code, body))
        code, body = self.call(primary, 'POST', 'wait-sync', {'timeoutMs': int(timeout * 1000)},
                               timeout=timeout + 5, disk=disk)
        if code != 200:
            raise RuntimeError('%s wait-sync: %s %s' % (primary, code, body))
        if then_async:
            self.call(primary, 'POST', 'mode', {'mode': 'ASYNC'}, disk=disk)
        return body

    def kill_agent(self, dc):
        """The data center's agent dies (SIGKILL, by its PID): nothing is flushed or handed over."""
        process = self.agents[dc]
        process.kill()
        process.wait(10)

    def restart_agent(self, dc, timeout=60):
        """Starts the data center's agent again with its configuration (and role) as at the start."""
        name = SIDES[dc][0]
        config = os.path.join(self.workdir, name, 'agent.json')
        out = open(self.agent_log(dc), 'a')
        self.agents[dc] = tb.popen_in(self.net.get(name), self._agent_command(dc, config), stdout=out,
                                      stderr=subprocess.STDOUT)
        out.close()
        tb.wait_until(lambda: self._answers(dc), timeout, 0.5, 'the restarted %s agent answering' % dc)
        tb.demote_jit(self.agents[dc].pid)

    def stop(self):
        for process in self.agents.values():
            stop_pid(process, timeout=15)      # SIGTERM: clean shutdown, dirty bitmap saved
        for root in self.links:                # the peer goes with it (gone already if the net stopped)
            subprocess.run(['ip', 'link', 'del', root], capture_output=True)
        self.links = []


class Sampler:
    """Both agents' status of `disk` every `interval` s in a thread: [wall time, dc, status or error]."""

    def __init__(self, storage, interval=0.2, disk=DISK):
        self.storage, self.interval, self.disk = storage, interval, disk
        self.samples = []
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self.run, name='agent-sampler', daemon=True)

    def start(self):
        self.thread.start()
        return self

    def run(self):
        while not self.stopped.is_set():
            for dc in SIDES:
                try:
                    s = self.storage.status(dc, timeout=2, disk=self.disk)
                    s = {k: s.get(k) for k in ('role', 'mode', 'inSync', 'peerConnected', 'lagBytes', 'rpoSeconds')}
                except Exception as e:  # noqa: BLE001 - a sample that failed is a sample too
                    s = {'error': str(e)}
                self.samples.append([time.time(), dc, s])
            self.stopped.wait(self.interval)

    def stop(self):
        self.stopped.set()
        self.thread.join(5)
        return self.samples


def start_writer(host, out_path, rate=50, duration=300, size_mb=64, disk=DISK, timeout_s=5):
    """The VS's disk writer in `host`'s namespace, first to dcA's agent, then (on refusal, or no
    answer within timeout_s) dcB's."""
    targets = ','.join('%s:%d' % (SIDES[dc][1], NBD_PORT) for dc in ('dcA', 'dcB'))
    return tb.popen_in(host, [sys.executable, WRITER, '--targets', targets, '--export', disk,
                              '--size-mb', str(size_mb), '--rate', str(rate), '--duration', str(duration),
                              '--timeout', str(timeout_s), '--out', out_path],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def stop_writer(process, out_path, timeout=10):
    """Stops the writer (frozen or not) and returns its JSON: the acknowledged writes."""
    return tb.stop_and_read(process, out_path, timeout)


def missing_writes(image_path, writes):
    """Sequence numbers of acknowledged writes whose block is not in the image as written (only the
    last write of each offset counts)."""
    sys.path.insert(0, os.path.dirname(WRITER))
    from wanmig_nbd_writer import expected_block, BLOCK
    last = {}
    for write in writes['acked']:
        last[write[1]] = write[0]
    missing = []
    with open(image_path, 'rb') as f:
        for offset, seq in sorted(last.items()):
            f.seek(offset)
            if f.read(BLOCK) != expected_block(seq):
                missing.append(seq)
    return missing


def images_identical(a, b, chunk=1 << 20):
    """(identical, first differing offset or None)."""
    with open(a, 'rb') as fa, open(b, 'rb') as fb:
        offset = 0
        while True:
            x, y = fa.read(chunk), fb.read(chunk)
            if x != y:
                for i, (p, q) in enumerate(zip(x, y)):
                    if p != q:
                        return False, offset + i
                return False, offset + min(len(x), len(y))
            if not x:
                return True, None
            offset += len(x)


def pause_hooks(writer_process):
    """on_pause / on_resume for the Hypervisor: the VS's writer is frozen while the VS is paused."""
    def on_pause(_server):
        if writer_process.poll() is None:
            writer_process.send_signal(signal.SIGSTOP)

    def on_resume(_server):
        if writer_process.poll() is None:
            writer_process.send_signal(signal.SIGCONT)
    return on_pause, on_resume
