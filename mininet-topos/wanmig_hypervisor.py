#!/usr/bin/python3
"""
An emulated hypervisor for the Mininet testbed, driven by the controller's "http" driver.

It live-migrates a virtual server (a Mininet host) between data centers the way a hypervisor
does: iterative pre-copy of memory (timed from memory size, dirty rate and WAN bandwidth), a
stop-and-copy pause in which the server is unreachable, then the server resumes at the
destination PE with the same IP, MAC and processes. The server's uplink is a veth whose
root-namespace end ("<server>-sw") is the OVS port; moving the server moves that end from
one bridge to another, so the server's own interface and its processes never change.

HTTP API (default 127.0.0.1:8300):
    POST /migrations                 {"migration":1,"server":"vs1","sourcePe":..,"destinationPe":..,
                                      "destinationPort":2,"callback":"http://.../hypervisor", ...} -> 202
    POST /migrations/{id}/abort      {"serverMoved":false|true} -> 200
    GET  /migrations/{id}            progress: phase, round, copiedMb, pauseMs, timestamps
    GET  /migrations                 all of them
    POST /servers/{name}/restart     {"destinationPe":..,"destinationPort":2} -> 200 once the server runs
                                     there (failover: its data center is lost, it boots from the promoted
                                     disk; here its host is attached at the destination PE, as after a move)
On completion it POSTs {"status":"completed"|"failed","detail":..} to the callback (basic auth),
retrying for up to 60 s while the controller is unreachable.

Runs inside the Mininet process (root namespace): Hypervisor(model=PrecopyModel(...)).start().
"""

import base64
import json
import re
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

def log(*words):
    print('[hypervisor %s]' % time.strftime('%H:%M:%S'), *words, file=sys.stderr, flush=True)


def now():
    """A timestamp both as wall clock (to line up with the controller and the probes) and as
    monotonic time (for durations)."""
    return {'wall': time.time(), 'mono': time.monotonic()}


def vsctl(*args):
    return subprocess.run(('ovs-vsctl', '--timeout=10') + args, check=True,
                          capture_output=True, text=True).stdout.strip()


def bridge_of_dpid(device_id):
    """OVS bridge name of an ONOS-style device id such as of:000000000000000a. One ovs-vsctl call:
    asking each bridge in turn cost 1 + 2 per bridge calls (33 on the 16 switches of
    scripts/bench-scale), twice per migration."""
    dpid = device_id.split(':', 1)[-1].lower()
    bridges = vsctl('--bare', '--columns=name', 'find', 'Bridge', 'other_config:datapath-id="%s"' % dpid).split()
    if not bridges:
        raise LookupError('no bridge has datapath id ' + dpid)
    return bridges[0]


def where_is(intf):
    """(bridge, ofport) the interface is attached to, or (None, None) when detached."""
    try:
        bridge = vsctl('port-to-br', intf)
    except subprocess.CalledProcessError:
        return None, None
    return bridge, int(vsctl('get', 'Interface', intf, 'ofport'))


def attach(intf, bridge, port):
    """Attach the interface to the bridge as OpenFlow port `port` (detaching it first if needed)."""
    vsctl('--if-exists', 'del-port', intf, '--', 'add-port', bridge, intf,
          '--', 'set', 'Interface', intf, 'ofport_request=%d' % port)
    subprocess.run(['ip', 'link', 'set', intf, 'up'], check=True)


def detach(intf):
    vsctl('--if-exists', 'del-port', intf)


class PrecopyModel:
    """Timing of iterative pre-copy: round 0 copies all memory, round i the pages dirtied during
    round i-1, until what is left is below the stop threshold or the rounds run out."""

    def __init__(self, mem_mb=512, dirty_mb_s=40, bw_mbit=1000, max_rounds=30, stop_mb=2.0,
                 min_pause_ms=20):
        self.mem_mb = mem_mb
        self.dirty_mb_s = dirty_mb_s
        self.bw_mbit = bw_mbit
        self.max_rounds = max_rounds
        self.stop_mb = stop_mb
        self.min_pause_ms = min_pause_ms   # device state, CPU registers, resume at the destination

    def seconds(self, mb):
        return mb * 8.0 / self.bw_mbit

    def next_dirty(self, copy_seconds):
        return min(self.mem_mb, self.dirty_mb_s * copy_seconds)

    def as_dict(self):
        return dict(vars(self))


class Migration:
    """One migration the hypervisor was asked to perform, and its progress."""

    def __init__(self, request, model):
        self.request = request
        self.id = int(request['migration'])
        self.server = request['server']
        self.model = model
        self.phase = 'ACCEPTED'
        self.round = 0
        self.copied_mb = 0.0
        self.remaining_mb = float(model.mem_mb)
        self.pause_ms = None
        self.detail = ''
        self.source = None          # (bridge, ofport) before the move, for rollback
        self.times = {}
        self.aborted = threading.Event()
        self.lock = threading.Lock()    # one move at a time

    def mark(self, name):
        self.times[name] = now()

    def as_dict(self):
        return {'migration': self.id, 'server': self.server, 'phase': self.phase,
                'round': self.round, 'copiedMb': round(self.copied_mb, 3),
                'remainingMb': round(self.remaining_mb, 3), 'pauseMs': self.pause_ms,
                'detail': self.detail, 'model': self.model.as_dict(),
                'source': self.source, 'timestamps': self.times, 'request': self.request}


class Hypervisor:
    """The emulated hypervisor: an HTTP server plus one thread per migration."""

    def __init__(self, host='127.0.0.1', port=8300, model=None, auth=('onos', 'rocks'),
                 report_retry_seconds=60, announce=None, fail_migrations=False, on_pause=None,
                 on_resume=None, on_restart=None):
        self.address = (host, port)
        self.model = model or PrecopyModel()
        self.auth = auth
        self.report_retry_seconds = report_retry_seconds
        self.announce = announce        # callable(server) run on resume, e.g. a gratuitous ARP as QEMU sends
        self.fail_migrations = fail_migrations  # report "failed" after pre-copy (failure tests)
        # callable(server) when the server stops / runs again, e.g. freezing its disk writer
        self.on_pause = on_pause
        self.on_resume = on_resume
        # callable(server, destination_pe) when a failover restarts the server elsewhere, e.g. pointing
        # its disk writer at the promoted copy
        self.on_restart = on_restart
        self.restarts = []
        self.migrations = {}
        self.httpd = None

    # ---- HTTP side ----

    def start(self):
        hypervisor = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, fmt, *args):
                pass

            def reply(self, code, body):
                data = json.dumps(body).encode()
                self.send_response(code)
                self.send_header('Content-Type', 'application/json')
                self.send_header('Content-Length', str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def body(self):
                length = int(self.headers.get('Content-Length') or 0)
                return json.loads(self.rfile.read(length) or b'{}')

            def do_GET(self):
                match = re.fullmatch(r'/migrations/(\d+)', self.path)
                if self.path == '/migrations':
                    self.reply(200, [m.as_dict() for m in hypervisor.migrations.values()])
                elif match and int(match.group(1)) in hypervisor.migrations:
                    self.reply(200, hypervisor.migrations[int(match.group(1))].as_dict())
                else:
                    self.reply(404, {'error': 'no such migration'})

            def do_POST(self):
                try:
                    body = self.body()
                except ValueError as e:
                    return self.reply(400, {'error': 'bad JSON: %s' % e})
                abort = re.fullmatch(r'/migrations/(\d+)/abort', self.path)
                restart = re.fullmatch(r'/servers/([^/]+)/restart', self.path)
                if restart:
                    code, answer = hypervisor.restart(restart.group(1), body)
                elif self.path == '/migrations':
                    code, answer = hypervisor.submit(body)
                elif abort:
                    code, answer = hypervisor.abort(int(abort.group(1)),
                                                    bool(body.get('serverMoved', False)))
                else:
                    code, answer = 404, {'error': 'not found'}
                self.reply(code, answer)

        self.httpd = ThreadingHTTPServer(self.address, Handler)
        self.httpd.daemon_threads = True
        threading.Thread(target=self.httpd.serve_forever, name='hypervisor-http', daemon=True).start()
        log('listening on http://%s:%d' % self.address)
        return self

    def stop(self):
        for m in self.migrations.values():
            m.aborted.set()
        if self.httpd:
            self.httpd.shutdown()
            self.httpd.server_close()

    def submit(self, request):
        missing = [k for k in ('migration', 'server', 'destinationPe', 'destinationPort')
                   if k not in request]
        if missing:
            return 400, {'error': 'missing ' + ', '.join(missing)}
        mid = int(request['migration'])
        old = self.migrations.get(mid)
        if old and old.phase not in ('FAILED', 'ABORTED', 'ROLLED_BACK'):
            # The controller re-sends after a restart: the migration already runs, or is done
            # and the controller may have missed the report, so it gets it again.
            if old.phase in ('REPORTED', 'REPORT_FAILED'):
                old.request['callback'] = request.get('callback', old.request.get('callback'))
                threading.Thread(target=self.report, args=(old, 'completed', old.detail), daemon=True).start()
            return 202, old.as_dict()
        migration = Migration(request, self.model)
        self.migrations[mid] = migration
        threading.Thread(target=self.run, args=(migration,), name='migration-%d' % mid,
                         daemon=True).start()
        return 202, migration.as_dict()

    def abort(self, mid, server_moved):
        migration = self.migrations.get(mid)
        if migration is None:
            return 404, {'error': 'no such migration'}
        log('migration %d: abort (serverMoved=%s) in phase %s' % (mid, server_moved, migration.phase))
        migration.aborted.set()
        with migration.lock:
            if migration.phase in ('RESUMED', 'REPORTED', 'REPORT_FAILED') or server_moved:
                self.move_back(migration)
        return 200, migration.as_dict()

    def restart(self, server, request):
        """Failover: the server's data center is lost; it runs again at the destination PE."""
        missing = [k for k in ('destinationPe', 'destinationPort') if k not in request]
        if missing:
            return 400, {'error': 'missing ' + ', '.join(missing)}
        try:
            bridge = bridge_of_dpid(request['destinationPe'])
            port = int(request['destinationPort'])
            t0 = time.monotonic()
            if self.on_restart:
                self.on_restart(server, request['destinationPe'])
            attach(server + '-sw', bridge, port)
            if self.announce:
                self.announce(server)
        except Exception as e:  # the MMS records the failure for this server
            log('restart of %s failed: %s' % (server, e))
            return 500, {'error': 'restart of %s failed: %s' % (server, e)}
        detail = '%s attached at %s port %d in %.0f ms' % (server, bridge, port, (time.monotonic() - t0) * 1000)
        self.restarts.append({'server': server, 'time': now(), 'detail': detail})
        log('failover restart: ' + detail)
        return 200, {'detail': detail}

    # ---- the migration itself ----

    def run(self, m):
        intf = m.server + '-sw'
        try:
            m.source = where_is(intf)
            source_pe = m.request.get('sourcePe')
            if m.source[0] is None:
                raise RuntimeError('%s is not attached to any switch' % m.server)
            if source_pe and bridge_of_dpid(source_pe) != m.source[0]:
                raise RuntimeError('%s runs at %s, not at %s' % (m.server, m.source[0], source_pe))
            destination = bridge_of_dpid(m.request['destinationPe'])
            port = int(m.request['destinationPort'])
            if not self.precopy(m):
                return
            if self.fail_migrations:
                raise RuntimeError('pre-copy could not converge (failure injected)')
            with m.lock:
                if m.aborted.is_set():
                    return
                self.stop_and_copy(m, intf, destination, port)
            if m.aborted.is_set():
                return
        except Exception as e:  # report every failure: the controller must roll back
            m.phase, m.detail = 'FAILED', str(e)
            log('migration %d failed: %s' % (m.id, e))
            self.report(m, 'failed', str(e))
            return
        if self.announce:
            self.announce(m.server)
            m.mark('announced')
        self.report(m, 'completed', m.detail)

    def precopy(self, m):
        """Iterative pre-copy; False when aborted."""
        model = m.model
        m.phase = 'PRECOPY'
        m.mark('precopyStart')
        to_copy = float(model.mem_mb)
        while True:
            seconds = model.seconds(to_copy)
            log('migration %d: pre-copy round %d: %.1f MB in %.3f s' % (m.id, m.round, to_copy, seconds))
            if m.aborted.wait(seconds):
                m.phase = 'ABORTED'
                m.mark('aborted')
                return False
            m.copied_mb += to_copy
            to_copy = model.next_dirty(seconds)
            m.remaining_mb = to_copy
            if to_copy <= model.stop_mb or m.round + 1 >= model.max_rounds:
                break
            m.round += 1
        m.mark('precopyEnd')
        return True

    def stop_and_copy(self, m, intf, destination, port):
        """The pause: the server is detached, the last dirty pages copied, then it resumes at
        the destination PE."""
        m.phase = 'PAUSED'
        m.mark('pauseStart')
        self.hook(self.on_pause, m)
        detach(intf)
        m.mark('detached')
        copy_seconds = m.model.seconds(m.remaining_mb) + m.model.min_pause_ms / 1000.0
        log('migration %d: stop-and-copy %.2f MB, pause %.0f ms planned'
            % (m.id, m.remaining_mb, copy_seconds * 1000))
        time.sleep(copy_seconds)
        m.copied_mb += m.remaining_mb
        m.remaining_mb = 0.0
        m.mark('copied')
        attach(intf, destination, port)
        m.mark('attachedAtDestination')
        self.hook(self.on_resume, m)
        m.pause_ms = round((m.times['attachedAtDestination']['mono'] - m.times['pauseStart']['mono'])
                           * 1000, 1)
        m.phase = 'RESUMED'
        m.detail = 'pause %.0f ms' % m.pause_ms
        log('migration %d: %s resumed at %s port %d after %s'
            % (m.id, m.server, destination, port, m.detail))

    def hook(self, hook, m):
        if hook:
            try:
                hook(m.server)
            except Exception as e:  # a hook must not break the migration
                log('migration %d: hook failed: %s' % (m.id, e))

    def move_back(self, m):
        """Rollback: the server runs at its source port again."""
        if m.source and m.source[0]:
            attach(m.server + '-sw', *m.source)
            m.mark('movedBack')
            log('migration %d: %s moved back to %s port %d' % (m.id, m.server, *m.source))
        m.phase = 'ROLLED_BACK'

    def report(self, m, status, detail):
        """Tell the controller; retry while it is unreachable (it may be restarting)."""
        url = m.request.get('callback')
        if not url:
            m.phase = 'REPORTED' if status == 'completed' else m.phase
            return
        data = json.dumps({'status': status, 'detail': detail}).encode()
        token = base64.b64encode(('%s:%s' % self.auth).encode()).decode()
        deadline = time.monotonic() + self.report_retry_seconds
        while not m.aborted.is_set():
            request = urllib.request.Request(url, data=data, method='POST', headers={
                'Content-Type': 'application/json', 'Authorization': 'Basic ' + token})
            sent = now()
            try:
                with urllib.request.urlopen(request, timeout=5) as response:
                    m.times['reportSent'] = sent        # the attempt that got through
                    m.mark('reportAcknowledged')
                    if status == 'completed':
                        m.phase = 'REPORTED'
                    log('migration %d: reported %s -> HTTP %d' % (m.id, status, response.status))
                    return
            except urllib.error.HTTPError as e:
                if e.code < 500:   # the controller refused: retrying will not help
                    m.times['reportSent'] = sent
                    m.phase = 'REPORT_FAILED' if status == 'completed' else m.phase
                    log('migration %d: report refused: HTTP %d %s' % (m.id, e.code, e.read()[:200]))
                    return
                error = 'HTTP %d' % e.code
            except (OSError, urllib.error.URLError) as e:
                error = str(e)
            if time.monotonic() > deadline:
                m.phase = 'REPORT_FAILED' if status == 'completed' else m.phase
                log('migration %d: giving up reporting: %s' % (m.id, error))
                return
            time.sleep(0.5)


def main():
    """Standalone use (the server must be attached to an OVS bridge as "<server>-sw")."""
    import argparse
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--port', type=int, default=8300)
    parser.add_argument('--mem-mb', type=float, default=512)
    parser.add_argument('--dirty-mb-s', type=float, default=40)
    parser.add_argument('--bw-mbit', type=float, default=1000)
    parser.add_argument('--max-rounds', type=int, default=30)
    parser.add_argument('--stop-mb', type=float, default=2.0)
    args = parser.parse_args()
    model = PrecopyModel(args.mem_mb, args.dirty_mb_s, args.bw_mbit, args.max_rounds, args.stop_mb)
    hypervisor = Hypervisor(port=args.port, model=model).start()
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        hypervisor.stop()


if __name__ == '__main__':
    main()
