"""
The real-VM testbed driven by the MMS, shared by vm_mms_test.py, vm_mms_e2e_test.py, the demo
(--vm) and bench-cutover (--vm): wanmig2dc with vm=True and storage=True across the delayed WAN,
the embedded runtime (qemu driver, mininet-topos/wanmig-2dc-vm.json), the VS's disk and a
hypervisor agent per DC, vs1 booted at A.

    bed = VmBed(out, bw=100, delay=10).start()     # raises on failure; bed.stop() in a finally
    client, path = bed.start_probes()
    ...
    bed.stop()                                     # every process it started, by PID; the net

Disk (disk='agents', the default): a replication agent per DC (wanmig_storage.Storage: storA
PRIMARY, storB REPLICA, the stream across the WAN); vs1's QEMU at A opens the agent at A
(10.3.1.10:10809), the destination QEMU at B opens the agent at B (10.3.2.10), whose replica is
advertised writable and refuses writes (EPERM) until promoted. The MMS takes the replication to
SYNC in PREPARING and flips the roles inside QEMU's pause. disk='qemu-nbd': one qemu-nbd in
storA that both QEMUs open (the destination's connection crosses the WAN), no agents.
"""

import json
import os
import signal
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import wanmig_testbed as tb      # noqa: E402  (puts mininet-topos on sys.path)
import wanmig_storage as st      # noqa: E402
import wanmig_2dc                # noqa: E402
import wanmig_qemu as wq         # noqa: E402
import wanmig_delay              # noqa: E402
from wanmig_hvagent import HypervisorAgent   # noqa: E402

CONFIG_VM = os.path.join(tb.TOPOS, 'wanmig-2dc-vm.json')
VM_IP, VM_MAC = '10.2.0.10', '00:00:00:00:02:10'
HV = {'dcA': ('hvA', 'peA', 18401), 'dcB': ('hvB', 'peB', 18402)}
QEMU_NBD_PORT = 10809
WAN_PORTS = ('core1-eth3', 'core2-eth1')     # the one link between the DCs (wanmig_2dc)


def exit_on_sigterm():
    """SIGTERM (timeout(1), a Ctrl-C'd wrapper) raises, so finally blocks clean up by PID."""
    def interrupt(signum, _frame):
        raise KeyboardInterrupt('signal %d' % signum)
    signal.signal(signal.SIGTERM, interrupt)


def udp_echo_ok(host, ip=VM_IP, port=7000):
    out = host.cmd("timeout 3 /usr/bin/python3 -c \"import socket; s=socket.socket(socket.AF_INET, "
                   "socket.SOCK_DGRAM); s.settimeout(1); s.sendto(b'x', ('%s', %d)); "
                   "print('ECHO', s.recvfrom(64)[0])\"" % (ip, port))
    return 'ECHO' in out


def tcp_echo_ok(host, ip=VM_IP, port=7001):
    out = host.cmd("timeout 5 /usr/bin/python3 -c \"import socket; s=socket.create_connection(('%s', %d), 3); "
                   "s.sendall(b'hello'); print('ECHO', s.recv(64))\"" % (ip, port))
    return "ECHO b'hello'" in out


class VmBed:
    def __init__(self, out, bw=100, delay=10, mem_mb=128, disk='agents', max_bandwidth_mbps=None,
                 switchover=None, downtime_limit_ms=None, migrate_timeout_s=None, writer_ms=20):
        self.out, self.bw, self.delay, self.mem_mb, self.disk = out, bw, delay, mem_mb, disk
        self.writer_ms = writer_ms   # the guest's disk writer: ms between acknowledged writes, 0 = none
        self.hypervisor = {k: v for k, v in (('maxBandwidthMbps', max_bandwidth_mbps), ('switchover', switchover),
                                             ('downtimeLimitMs', downtime_limit_ms)) if v is not None}
        self.migrate_timeout_s = migrate_timeout_s
        self.net = self.runtime = self.stor = self.buffer_defaults = self.switch_sched = None
        self.ovs_log_mark = 0
        self.silenced = False
        self.agents = {}
        self.procs = []
        self.qemu_nbd_image = os.path.join(out, 'vs1.img')
        self.boot_seconds = None

    # ---------------------------------------------------------------- setup

    def _config(self):
        def edit(c):
            migration = c['migration']
            migration['hypervisor'].update(self.hypervisor)
            if self.migrate_timeout_s:
                migration['migrateTimeoutSeconds'] = self.migrate_timeout_s
            if self.disk != 'agents':   # no replication agents: the MMS leaves storage alone
                for dc in c['dataCenters']:
                    dc.pop('agent', None)
                    dc.pop('agentToken', None)
        return tb.config_file(CONFIG_VM, self.out, edit)

    def start(self):
        os.makedirs(self.out, exist_ok=True)
        self.guest = wq.build_guest()
        tb.ensure_ovs()
        tb.mininet_cleanup()
        from mininet.log import setLogLevel
        setLogLevel('warning')
        # The userspace switches read each port through an AF_PACKET socket whose receive buffer is
        # rmem_default (208 KiB: 20 ms of the migration stream); whenever ovs-vswitchd's one thread
        # was late, the socket overflowed and service traffic arriving with the stream was lost
        # (`ss -0 -m`: 1,137 drops on core1-eth2 in one migration). A hardware switch has MBs of
        # buffer: the switches' sockets, opened while this bed starts, get 8 MiB. (They send
        # through one socket of ovs-vswitchd's, given 8 MiB by tb.ensure_ovs.)
        self.buffer_defaults = tb.switch_buffers()
        self.ovs_log_mark = tb.ovs_log_mark()
        self.switch_sched = tb.switch_scheduling()
        self.net = wanmig_2dc.make_net(bw=self.bw, delay=self.delay, storage=True, vm=True)
        self.net.start()
        for host in self.net.hosts:
            host.cmd('sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1')
        for dc in HV:
            self.host(dc).cmd('sysctl -qw net.ipv4.tcp_notsent_lowat=131072')
        self.runtime = tb.Runtime(config=self._config(), state_dir=os.path.join(self.out, 'state'),
                                  log_path=os.path.join(self.out, 'runtime.log'))
        os.makedirs(self.runtime.state_dir, exist_ok=True)
        self.runtime.start()
        storA, storB = self.net.get('storA', 'storB')
        tb.wait_until(lambda: all(tb.pings(self.host(dc), s.IP()) for dc in HV for s in (storA, storB))
                      and tb.pings(storA, storB.IP()), 60, 0.5, 'routes between hvA, hvB, storA, storB')
        if self.disk == 'agents':
            self.stor = st.Storage(self.net, os.path.join(self.out, 'storage')).start()
            nbd = {dc: (st.SIDES[dc][1], st.NBD_PORT, st.DISK) for dc in HV}
        else:
            subprocess.run(['truncate', '-s', '64M', self.qemu_nbd_image], check=True)
            self.procs.append(tb.popen_in(storA, [
                'qemu-nbd', '-f', 'raw', '-x', 'vs1', '-b', storA.IP(), '-p', str(QEMU_NBD_PORT), '--shared=4',
                '-t', self.qemu_nbd_image], stdout=subprocess.DEVNULL,
                stderr=open(os.path.join(self.out, 'qemu-nbd.log'), 'w')))
            tb.wait_until(lambda: 'open' in self.host('dcA').cmd(
                'timeout 2 bash -c "echo > /dev/tcp/%s/%d" && echo open' % (storA.IP(), QEMU_NBD_PORT)),
                20, 0.2, 'qemu-nbd')
            nbd = {dc: (storA.IP(), QEMU_NBD_PORT, 'vs1') for dc in HV}
        for dc, (name, bridge, port) in HV.items():
            spec = dict(nbd=nbd[dc], mem_mb=self.mem_mb, mac=VM_MAC, ip=VM_IP + '/24', gateway='10.2.0.254',
                        ofport=2, writer_ms=self.writer_ms)
            self.agents[dc] = HypervisorAgent(dc, self.host(dc), bridge, self.guest, self.out, {'vs1': spec},
                                              listen=('127.0.0.1', port)).start()
        self.boot_seconds = self.agents['dcA'].boot('vs1', 180)
        h1 = self.net.get('h1')
        tb.wait_until(lambda: udp_echo_ok(h1), 60, 0.5, 'UDP echo from the VM at A')
        return self

    def host(self, dc):
        return self.net.get(HV[dc][0])

    def vm(self, dc):
        """The QEMU of vs1 that the hypervisor agent of `dc` holds (running or incoming), or None."""
        return self.agents[dc].vm('vs1')

    def image(self, dc):
        return self.stor.image(dc) if self.stor else self.qemu_nbd_image

    def roles(self):
        """{dc: (role, mode)} of the replication agents."""
        return {dc: (s['role'], s['mode']) for dc, s in ((dc, self.stor.status(dc)) for dc in HV)}

    def start_probes(self, path, rate=100, duration=400):
        """UDP echo probes at `rate`/s and one TCP connection from h1 to vs1 (wanmig_probe.py)."""
        client = self.net.get('h1').popen(
            ['/usr/bin/python3', tb.PROBE, 'client', '--server', VM_IP, '--rate', str(rate), '--duration',
             str(duration), '--out', path], stdout=subprocess.DEVNULL,
            stderr=open(path + '.log', 'w'))
        self.procs.append(client)
        return client

    def qemu_status(self, dc):
        vm = self.vm(dc)
        if vm is None or not vm.alive():
            return None
        return vm.qmp.execute('query-status', timeout=10).get('status')

    def migrate_status(self, dc='dcA'):
        vm = self.vm(dc)
        return vm.qmp.execute('query-migrate', timeout=10).get('status') if vm and vm.alive() else None

    def wait_precopy(self, mid, src='dcA', timeout=60):
        """Until migration `mid` is MIGRATING and the source QEMU's migration is active."""
        def migrating():
            status, body = tb.rest('GET', '/migrations/%s' % mid)
            return status == 200 and body.get('state') == 'MIGRATING'
        tb.wait_until(lambda: migrating() and self.migrate_status(src) == 'active', timeout, 0.1,
                      'MIGRATING with QEMU pre-copying')

    def wan(self, up):
        """The link between the DCs (core1-core2, the delay line) down or up at both switch-side
        ends: the switches report their ports down, the delay relay waits for them."""
        for intf in WAN_PORTS:
            subprocess.run(['ip', 'link', 'set', 'dev', intf, 'up' if up else 'down'], check=True)

    def wan_relay(self):
        """The delay relay's process of the link between the DCs (WAN_PORTS)."""
        for link in self.net.links:
            if isinstance(link, wanmig_delay.DelayLink) and {link.intf1.name, link.intf2.name} == set(WAN_PORTS):
                return link.proc
        raise RuntimeError('no delay line between the DCs (delay 0 makes none)')

    def wan_silent(self, silent):
        """The link between the DCs stops forwarding (its delay relay stopped, SIGSTOP) or forwards
        again (SIGCONT), its ports up throughout: a WAN that fails silently, as a provider's box
        that hangs, with no port down for the switches to report. Frames that arrive meanwhile wait
        in the relay's socket buffers (dropped once they are full) and leave late after SIGCONT."""
        self.wan_relay().send_signal(signal.SIGSTOP if silent else signal.SIGCONT)
        self.silenced = silent

    def speed_up(self, dc, bw_mbit):
        """Lets pre-copy end soon: max-bandwidth raised on the source's own monitor (not the MMS's)."""
        self.vm(dc).qmp.execute('migrate-set-parameters', **{'max-bandwidth': int(bw_mbit * 1e6 / 8)})

    def freeze_runtime_into_pause(self, src, bw_mbit, timeout=60):
        """The runtime frozen (SIGSTOP) during pre-copy, then pre-copy sped up until the source QEMU
        waits in pre-switchover with no one acting on it: a test can then break something inside
        the pause before the runtime's hook runs. The caller thaws (`thaw_runtime`) or kills the
        runtime; on a failure here it is thawed. Returns the time the pause was seen."""
        self.runtime.process.send_signal(signal.SIGSTOP)
        try:
            self.speed_up(src, bw_mbit)
            tb.wait_until(lambda: self.migrate_status(src) == 'pre-switchover', timeout, 0.05,
                          'the source QEMU in pre-switchover with the runtime frozen')
            return time.time()
        except BaseException:
            self.thaw_runtime()
            raise

    def thaw_runtime(self):
        if self.runtime is not None and self.runtime.process is not None and self.runtime.process.poll() is None:
            self.runtime.process.send_signal(signal.SIGCONT)

    # ---------------------------------------------------------------- teardown

    def stop(self):
        """Everything this bed started, by PID, also after a failure half-way through start()."""
        for dc, agent in self.agents.items():
            try:
                agent.stop()
            except Exception as e:  # noqa: BLE001 - keep cleaning
                print('stopping the hypervisor agent of %s: %s' % (dc, e), file=sys.stderr)
        for p in self.procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
                try:
                    p.wait(10)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait(5)
        if self.stor is not None:
            self.stor.stop()
        if self.runtime is not None:
            self.thaw_runtime()     # a frozen runtime would not act on SIGTERM
            self.runtime.kill()
        if self.net is not None:
            if self.silenced:
                self.wan_silent(False)   # a stopped relay would not act on the TERM of net.stop
            self.net.stop()
        if self.buffer_defaults is not None:
            tb.restore_switch_buffers(self.buffer_defaults)
            self.buffer_defaults = None
        if self.switch_sched == 'fifo':
            tb.reset_switch_scheduling()
            self.switch_sched = None


def failure_test_args(prefix, doc=None, case_letters=None):
    """Command line of the real-VM failure tests (vm_mms_e2e_test, vm_mms_restart_test): (args, out
    directory, report skeleton). With case_letters (a string, one letter per case), --cases picks
    some of them (args.cases: the letters to run)."""
    import argparse
    parser = argparse.ArgumentParser(description=doc)
    parser.add_argument('--bw', type=float, default=100, help='WAN rate, Mbit/s')
    parser.add_argument('--delay', type=float, default=10, help='one-way ms between the DCs')
    parser.add_argument('--mem-mb', type=int, default=128)
    parser.add_argument('--max-bw-mbit', type=int, default=8, help="QEMU's max-bandwidth: keeps pre-copy long")
    parser.add_argument('--out')
    if case_letters:
        parser.add_argument('--cases', default=case_letters,
                            help='the cases to run, by letter (default: all, %s)' % case_letters)
    args = parser.parse_args()
    if case_letters and (not args.cases or set(args.cases) - set(case_letters)):
        parser.error('--cases takes letters of %s' % case_letters)
    out = os.path.abspath(args.out or os.path.join(tb.REPO, 'out', prefix + time.strftime('%Y%m%d-%H%M%S')))
    report = {'bwMbit': args.bw, 'delayMs': args.delay, 'memMb': args.mem_mb, 'maxBandwidthMbit': args.max_bw_mbit,
              'dir': out, 'cases': {}}
    return args, out, report


def stop_probes(client, path):
    """Stops the probe client (start_probes) and sums up what it saw: UDP sent, lost, the longest
    outage, whether the TCP connection survived."""
    client.send_signal(signal.SIGTERM)
    client.wait(30)
    with open(path) as f:
        probes = json.load(f)
    udp, tcp = probes['udp'], probes['tcp']
    return {'udpSent': udp['sent'], 'udpLost': udp['lost'], 'longestOutageMs': udp['longestOutageMs'],
            'tcpSurvived': tcp['survived']}


def finish_report(name, out, report, failures):
    """Ends a failure test: every failed check of its cases joins the failures, the report goes to
    out/report.json and stdout, and the exit status is returned."""
    for case_name, case in report['cases'].items():
        failures.extend('(%s) %s' % (case_name, c['check']) for c in case['checks'] if not c['ok'])
    report['failures'] = failures
    dump(os.path.join(out, 'report.json'), report)
    print(json.dumps(report, indent=2, default=str))
    print('%s: %s (%s)' % (name, 'PASS' if not failures else 'FAIL', out))
    return 1 if failures else 0


def writes_go_on(acks_path, timeout=30, more=5):
    """True once the guest acknowledged `more` writes beyond those in its ack log now, within timeout."""
    now = len(wq.read_acks(acks_path)[0])
    try:
        tb.wait_until(lambda: len(wq.read_acks(acks_path)[0]) > now + more, timeout, 0.5, 'the guest writing')
        return True
    except TimeoutError:
        return False


def guest_writes_at(image, vm, earlier=()):
    """(summary, failures) of the acknowledged writes of the guest that runs in `vm` in `image`
    (frozen first), its I/O errors and writer restarts; `earlier`: the QEMUs (Vm) it ran in before,
    in order, for a guest that moved (their ack logs and consoles stay after they quit)."""
    vm.qmp.execute('stop')
    time.sleep(0.5)
    acks, errors, starts = wq.read_acks(*[v.acks for v in earlier], vm.acks)
    missing = wq.missing_acked_writes(image, acks)
    io_errors = wq.guest_io_errors(*[v.console for v in earlier], vm.console)
    summary = {'acked': len(acks), 'missingCount': len(missing), 'missing': missing[:10],
               'writeErrors': errors[:10], 'guestIoErrors': io_errors[:10], 'runs': starts}
    failures = []
    if not acks:
        failures.append('the guest acknowledged no writes')
    if missing:
        failures.append('%d acknowledged writes missing in the image' % len(missing))
    if errors or io_errors:
        failures.append('guest I/O errors: %s' % (errors + io_errors)[:3])
    if len(starts) != 1:
        failures.append('the writer started %d times (guest rebooted?)' % len(starts))
    vm.qmp.execute('cont')
    return summary, failures


def timeline_details(migration):
    return [e.get('detail', '') for e in migration.get('timeline', [])]


def dump(path, obj):
    with open(path, 'w') as f:
        json.dump(obj, f, indent=2, default=str)
