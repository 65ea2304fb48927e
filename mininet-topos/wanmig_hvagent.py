#!/usr/bin/python3
"""
The hypervisor agent of one data center, as the MMS's `qemu` driver expects it: a small HTTP/JSON
service over the QEMU processes of that DC's hypervisor host. The MMS speaks QMP to the source
QEMU itself; only the destination side needs someone on the host, to start QEMU with -incoming
and a tap on the PE before the move.

    agent = HypervisorAgent('dcB', host=net.get('hvB'), bridge='peB', guest=guest,
                            workdir=out, vms={'vs1': {...}}).start()
    agent.url           # http://127.0.0.1:PORT/, the value of migration.hypervisor.agents.dcB

API (paths relative to agent.url):
  GET    vms/NAME           {"state": "running"|"incoming"|"absent", "qmp": "unix:PATH"}
  POST   vms/NAME/incoming  starts QEMU -incoming here, its tap on the PE's server port of NAME;
                            {"uri": "tcp:HOST_IP:PORT", "qmp": "unix:PATH"}
  DELETE vms/NAME/incoming  stops that QEMU (a migration given up)
  POST   vms/NAME/started   the incoming QEMU resumed: NAME now runs here
  POST   vms/NAME/stop      ends NAME here (the source after a completed move): its QEMU quits and
                            its tap leaves the bridge SOURCE_QUIT_DELAY_S later, or at once when
                            NAME is started or migrated here again first; {"stopped": bool}
  POST   vms/NAME/drain-nic NAME's QEMU here no longer runs (the source after a move): the
                            frames its guest sent that QEMU never wrote (purged or held by the
                            stop, as its NIC mirror and tap capture tell), then those still
                            queued for its guest (the one in
                            QEMU's own net queue, then those in its tap) are sent into the switch,
                            whose redirect carries the latter to the destination;
                            {"frames": n, "bytes": b, "fromQemuQueue": k, "fromGuest": g};
                            409 while that QEMU runs
  POST   vms/NAME/cut-migration
                            NAME's QEMU here is the source of a migration whose stream stalled: its
                            TCP connections to the incoming port are destroyed (ss -K), so that its
                            migration fails and its monitor answers again (see cut_migration);
                            {"cut": n}; 409 if NAME's QEMU does not run here
  POST   vms/NAME/boot      failover: boots NAME here from this DC's disk (the promoted replica), answered
                            once the guest is ready: {"state": "running", "qmp": ..., "readySeconds": s};
                            a NAME already running here is answered as it is

In this testbed the agent is a thread of the testbed process (root namespace, loopback), and the
QEMU it starts runs in the hypervisor host's namespace, so the migration stream crosses the
emulated WAN. In a real deployment it is a daemon on each hypervisor host (or a libvirt shim),
reachable from the MMS; the QMP address it gives must then be tcp:, or unix: on a shared path.
Each QEMU has two QMP sockets: one for this agent, one for the MMS (QMP serves one client each).
"""

import json
import os
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import wanmig_qemu as wq

INCOMING_PORT = 4444
# The source's QEMU quits this long after the MMS ends it. In a deployment the source host's
# teardown runs on other CPUs than the destination's. Here both hosts share two CPUs, and the
# quit and the port's removal (ovs-vsctl, then ovs-vswitchd reconfiguring its bridges) took about
# 50 ms of CPU, and the reconfiguration more, within 200 ms of RESUME, exactly when the guest
# resumed at the destination and the route update began (perf sched, 2026-11-29).
SOURCE_QUIT_DELAY_S = 2.0


class HypervisorAgent:
    def __init__(self, dc, host, bridge, guest, workdir, vms, listen=('127.0.0.1', 0),
                 incoming_port=INCOMING_PORT, source_quit_delay_s=SOURCE_QUIT_DELAY_S):
        """vms: name -> dict(ofport=, mac=, ip=, gateway=, onlink=, nbd=(host, port, export),
        mem_mb=, writer_ms=): how NAME is wired in this DC (its server port on this DC's PE,
        its disk on this DC's replication agent)."""
        self.dc, self.host, self.bridge, self.guest = dc, host, bridge, guest
        self.workdir, self.vms, self.incoming_port = workdir, vms, incoming_port
        self.running = {}      # name -> wq.Vm
        self.incoming = {}     # name -> wq.Vm
        self.ending = {}       # name -> (wq.Vm, threading.Timer): ended, its QEMU quits soon
        self.source_quit_delay_s = source_quit_delay_s
        self.calls = []        # (time, method, path): what the MMS asked, for reports
        self.lock = threading.Lock()
        agent = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _reply(self, status, body):
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header('Content-Type', 'application/json')
                self.send_header('Content-Length', str(len(data)))
                # HTTP/1.0 server: say so, or a client may pool the connection this server closes now
                # and send its next request into it (seen: "header parser received no bytes")
                self.send_header('Connection', 'close')
                self.end_headers()
                self.wfile.write(data)

            def _handle(self, method):
                length = int(self.headers.get('Content-Length') or 0)
                if length:
                    self.rfile.read(min(length, 65536))
                agent.calls.append((time.time(), method, self.path))
                try:
                    status, body = agent.handle(method, self.path.strip('/').split('/'))
                except Exception as e:          # the MMS gets the reason, the agent goes on
                    wq.log('%s agent: %s %s failed: %s' % (agent.dc, method, self.path, e))
                    status, body = 500, {'error': str(e)}
                self._reply(status, body)

            def do_GET(self):
                self._handle('GET')

            def do_POST(self):
                self._handle('POST')

            def do_DELETE(self):
                self._handle('DELETE')

        self.server = ThreadingHTTPServer(listen, Handler)
        self.server.daemon_threads = True
        self.url = 'http://%s:%d/' % self.server.server_address[:2]

    def start(self):
        threading.Thread(target=self.server.serve_forever, daemon=True,
                         name='hvagent-' + self.dc).start()
        return self

    def _vm(self, name, incoming=None):
        spec = self.vms[name]
        suffix = 'in' if incoming else 'run'
        vm_name = '%s-%s-%s' % (name, self.dc, suffix)
        mms_qmp = os.path.join(self.workdir, vm_name + '.mms.qmp')
        if os.path.exists(mms_qmp):
            os.unlink(mms_qmp)
        vm = wq.Vm(vm_name, self.guest, self.workdir, host=self.host, bridge=self.bridge,
                   ofport=spec['ofport'], tap='%s-t%s' % (name, self.dc[-1].upper()),
                   nbd=spec.get('nbd'), image=spec.get('image'), mem_mb=spec.get('mem_mb', 128),
                   mac=spec['mac'], ip=spec['ip'], gateway=spec.get('gateway'),
                   onlink=spec.get('onlink'), writer_ms=spec.get('writer_ms', 20),
                   incoming=incoming,
                   extra_args=['-qmp', 'unix:%s,server=on,wait=off' % mms_qmp])
        vm.mms_qmp = mms_qmp
        return vm

    def _end(self, name, vm):
        """NAME's QEMU quits source_quit_delay_s from now (see SOURCE_QUIT_DELAY_S). Under the lock."""
        timer = threading.Timer(self.source_quit_delay_s, self._ended, (name, vm))
        timer.daemon = True
        self.ending[name] = (vm, timer)
        timer.start()

    def _ended(self, name, vm):
        with self.lock:
            if self.ending.get(name, (None,))[0] is not vm:
                return   # already quit by _end_now
            del self.ending[name]
            vm.stop()

    def _end_now(self, name):
        """An ended NAME whose QEMU has not quit yet quits now: its tap's name is needed. Under the lock."""
        ending = self.ending.pop(name, None)
        if ending:
            ending[1].cancel()
            ending[0].stop()

    def boot(self, name, timeout=120):
        """Starts NAME here (its first home); returns seconds to the guest's "ready"."""
        with self.lock:
            self._end_now(name)
        vm = self._vm(name).start()
        with self.lock:
            self.running[name] = vm
        return vm.wait_ready(timeout)

    def vm(self, name):
        with self.lock:
            return self.running.get(name) or self.incoming.get(name)

    def handle(self, method, parts):
        if len(parts) < 2 or parts[0] != 'vms' or parts[1] not in self.vms:
            return 404, {'error': 'no such VM: %s' % '/'.join(parts)}
        name, action = parts[1], (parts[2] if len(parts) > 2 else '')
        if action == 'boot' and method == 'POST':
            with self.lock:
                if name in self.running:
                    return 200, {'state': 'running', 'qmp': 'unix:' + self.running[name].mms_qmp}
                if name in self.incoming:
                    return 409, {'error': '%s is being migrated into %s' % (name, self.dc)}
            seconds = self.boot(name)      # outside the lock: the guest takes seconds to come up
            return 200, {'state': 'running', 'qmp': 'unix:' + self.running[name].mms_qmp,
                         'readySeconds': seconds}
        with self.lock:
            if method == 'GET' and not action:
                if name in self.running:
                    return 200, {'state': 'running', 'qmp': 'unix:' + self.running[name].mms_qmp}
                if name in self.incoming:
                    return 200, {'state': 'incoming', 'qmp': 'unix:' + self.incoming[name].mms_qmp}
                return 200, {'state': 'absent'}
            if action == 'incoming' and method == 'POST':
                if name in self.running:
                    return 409, {'error': '%s already runs in %s' % (name, self.dc)}
                old = self.incoming.pop(name, None)
                if old:
                    old.stop()
                self._end_now(name)
                vm = self._vm(name, incoming='tcp:0.0.0.0:%d' % self.incoming_port).start()
                self.incoming[name] = vm
                return 200, {'uri': 'tcp:%s:%d' % (self.host.IP(), self.incoming_port),
                             'qmp': 'unix:' + vm.mms_qmp}
            if action == 'incoming' and method == 'DELETE':
                vm = self.incoming.pop(name, None)
                if vm:
                    vm.stop()
                return 200, {'stopped': bool(vm)}
            if action == 'started' and method == 'POST':
                vm = self.incoming.pop(name, None)
                if vm is None and name in self.running:
                    return 200, {'state': 'running'}      # said again (a driver following a migration)
                if vm is None:
                    return 409, {'error': 'no incoming QEMU for %s in %s' % (name, self.dc)}
                self.running[name] = vm
                return 200, {'state': 'running'}
            if action == 'drain-nic' and method == 'POST':
                vm = self.running.get(name)
                if vm is None:
                    return 409, {'error': '%s does not run in %s' % (name, self.dc)}
                status = vm.qmp.execute('query-status', timeout=5).get('status')
                if status == 'running':
                    return 409, {'error': '%s runs in %s: its QEMU reads its tap' % (name, self.dc)}
                frames, size, held, sent = vm.drain_tap()
                return 200, {'frames': frames, 'bytes': size, 'fromQemuQueue': held, 'fromGuest': sent,
                             'status': status}
            if action == 'cut-migration' and method == 'POST':
                vm = self.running.get(name)
                if vm is None or not vm.alive():
                    return 409, {'error': '%s does not run in %s' % (name, self.dc)}
                return 200, {'cut': self.cut_migration(vm)}
            if action == 'stop' and method == 'POST':
                vm = self.running.pop(name, None)
                if vm:
                    self._end(name, vm)
                return 200, {'stopped': bool(vm)}
        return 405, {'error': '%s %s not supported' % (method, '/'.join(parts))}

    def cut_migration(self, vm):
        """Destroys the TCP connections of `vm`'s QEMU to the incoming port (its outgoing migration
        stream); returns how many. After migrate-continue, QEMU's migration thread writes the last
        RAM and the device state holding the big lock: if the stream stalls there (a WAN that went
        silent), its monitor answers nothing, migrate_cancel included, until TCP gives up
        (tcp_retries2: about 15 minutes), and the guest stays paused. With its socket destroyed the
        write fails at once, QEMU marks the migration failed and the monitor answers again. A
        deployment's host agent can do the same (ss -K needs CONFIG_INET_DIAG_DESTROY)."""
        listed = self.host.popen(['ss', '-tnpH', 'state', 'established', '( dport = :%d )' % self.incoming_port],
                                 stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True).communicate(timeout=10)[0]
        cut = 0
        for line in listed.splitlines():
            fields = line.split()
            if len(fields) < 5 or 'pid=%d,' % vm.proc.pid not in line:
                continue
            destroy = self.host.popen(['ss', '-K', '-tnH', 'state', 'established', 'src', fields[2], 'dst', fields[3]],
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            out, err = destroy.communicate(timeout=10)
            if destroy.returncode != 0 or fields[2] not in out:
                raise RuntimeError('ss -K %s -> %s: %s' % (fields[2], fields[3], (err or out).strip()))
            cut += 1
        return cut

    def stop(self):
        self.server.shutdown()
        self.server.server_close()
        with self.lock:
            vms = list(self.running.values()) + list(self.incoming.values())
            for vm, timer in self.ending.values():
                timer.cancel()
                vms.append(vm)
            self.running.clear()
            self.incoming.clear()
            self.ending.clear()
        for vm in vms:
            vm.stop()
