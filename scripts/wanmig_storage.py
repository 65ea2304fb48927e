"""
Storage in the Mininet testbed (net started with storage=True): one replication agent per DC on
its storage host (storA 10.3.1.10 at peA, storB 10.3.2.10 at peB), so the replication stream
crosses the emulated WAN (peA - core1 - core2 - peB); relays that give the runtime (root
namespace) each agent's control API on loopback; the VS's disk writer; image checks.

    control API inside storX:  127.0.0.1:7070
    relay:  root 127.0.0.1:17070 (dcA) / 17071 (dcB)  --socat-->  <workdir>/storX/control.sock
            --socat inside storX-->  127.0.0.1:7070
A unix socket lives in the file system, which every namespace shares, so nothing but loopback
and the storage hosts' own namespaces carries control traffic.
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
# dc -> (storage host, its IP, the peer's IP, relay port in the root namespace, role at start)
SIDES = {'dcA': ('storA', '10.3.1.10', '10.3.2.10', 17070, 'PRIMARY'),
         'dcB': ('storB', '10.3.2.10', '10.3.1.10', 17071, 'REPLICA')}


def stop_pid(process, sig=signal.SIGTERM, timeout=10):
    if process is not None and process.poll() is None:
        process.send_signal(sig)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


class Storage:
    """Agents + relays of both DCs; stop() ends every process it started, by PID. Each agent
    serves every disk of `disks` (one per server, named after it; dcA PRIMARY, dcB REPLICA)."""

    def __init__(self, net, workdir, size_mb=64, disks=(DISK,)):
        self.net = net
        self.workdir = workdir
        self.size_mb = size_mb
        self.disks = tuple(disks)
        self.agents, self.relays, self.outer = {}, [], {}

    def image(self, dc, disk=DISK):
        return os.path.join(self.workdir, SIDES[dc][0], disk + '.img')

    def agent_log(self, dc):
        return os.path.join(self.workdir, SIDES[dc][0], 'agent.out')

    def start(self, timeout=60):
        if not os.path.exists(AGENT_JAR):
            raise FileNotFoundError(AGENT_JAR + ' is missing: build with mvn -B -q -DskipTests package')
        for dc, (name, ip, peer, relay_port, role) in SIDES.items():
            host = self.net.get(name)
            home = os.path.join(self.workdir, name)
            os.makedirs(home, exist_ok=True)
            config = os.path.join(home, 'agent.json')
            with open(config, 'w') as f:
                json.dump({'nbdListen': '%s:%d' % (ip, NBD_PORT), 'peerListen': '%s:%d' % (ip, PEER_PORT),
                           'controlListen': '127.0.0.1:%d' % CONTROL_PORT,
                           'peerAddress': '%s:%d' % (peer, PEER_PORT), 'token': TOKEN, 'psk': PSK,
                           'disks': [{'name': disk, 'image': self.image(dc, disk), 'size': '%dM' % self.size_mb,
                                      'role': role} for disk in self.disks]}, f, indent=2)
            out = open(self.agent_log(dc), 'a')
            self.agents[dc] = tb.popen_in(host, ['java', '-jar', AGENT_JAR, '--config', config],
                                          stdout=out, stderr=subprocess.STDOUT)
            out.close()
            sock = os.path.join(home, 'control.sock')
            if os.path.exists(sock):
                os.unlink(sock)
            # nodelay on both TCP legs: a POST arrives as headers then body, and with Nagle the body
            # waited for the agent's delayed ACK of the headers (up to 40 ms, inside the guest's pause)
            inner = tb.popen_in(host, ['socat', 'UNIX-LISTEN:%s,fork' % sock, 'TCP:127.0.0.1:%d,nodelay' % CONTROL_PORT],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            outer = subprocess.Popen(['socat', 'TCP-LISTEN:%d,bind=127.0.0.1,reuseaddr,fork,nodelay' % relay_port,
                                      'UNIX-CONNECT:%s' % sock], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL, start_new_session=True)
            tb.STARTED.append(outer)
            self.relays += [inner, outer]
            self.outer[dc] = outer
        for dc in SIDES:
            tb.wait_until(lambda: self._answers(dc), timeout, 0.5, 'the %s agent answering through its relay' % dc)
        # the replica is attached and the initial sync (hash compare) is over
        tb.wait_until(lambda: self._settled(), timeout, 0.5, 'replication dcA -> dcB connected and caught up')
        return self

    def _answers(self, dc):
        if self.agents[dc].poll() is not None:
            raise RuntimeError('%s agent exited with %s; see %s' % (dc, self.agents[dc].returncode, self.agent_log(dc)))
        if self.outer[dc].poll() is not None:
            raise RuntimeError('%s relay on 127.0.0.1:%d exited (port in use?)' % (dc, SIDES[dc][3]))
        try:
            self.status(dc, disk=self.disks[0])    # any disk it serves: the default vs1 may not be one
            return True
        except (OSError, urllib.error.URLError, ValueError):
            return False

    def _answers_quietly(self, dc):
        """Whether the agent answers through its relay now (False when the relay or agent is gone)."""
        try:
            self.status(dc, timeout=2)
            return True
        except (OSError, urllib.error.URLError, ValueError):
            return False

    def _settled(self):
        return all(a['peerConnected'] and a['lagBytes'] == 0 and a['resyncRemainingBytes'] == 0
                   for a in (self.status('dcA', disk=disk) for disk in self.disks))

    def call(self, dc, method, action=None, body=None, timeout=10, disk=DISK):
        """(HTTP status, JSON) of a control API call through the relay."""
        url = 'http://127.0.0.1:%d/v1/disks/%s%s' % (SIDES[dc][3], disk, '/' + action if action else '')
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(url, data=data, method=method, headers={
            'Authorization': 'Bearer ' + TOKEN, 'Content-Type': 'application/json'})
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
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
        code, body = self.call('dcB', 'POST', 'mode', {'mode': 'SYNC'}, disk=disk)
        if code != 200:
            raise RuntimeError('dcB mode SYNC: %s %s' % (code, body))
        code, body = self.call('dcB', 'POST', 'wait-sync', {'timeoutMs': int(timeout * 1000)}, timeout=timeout + 5,
                               disk=disk)
        if code != 200:
            raise RuntimeError('dcB wait-sync: %s %s' % (code, body))
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
        self.agents[dc] = tb.popen_in(self.net.get(name), ['java', '-jar', AGENT_JAR, '--config', config],
                                      stdout=out, stderr=subprocess.STDOUT)
        out.close()
        tb.wait_until(lambda: self._answers(dc), timeout, 0.5, 'the restarted %s agent answering' % dc)

    def stop(self):
        for process in self.relays:
            stop_pid(process, timeout=5)
        for process in self.agents.values():
            stop_pid(process, timeout=15)      # SIGTERM: clean shutdown, dirty bitmap saved


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
