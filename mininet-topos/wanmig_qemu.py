#!/usr/bin/python3
"""
QEMU guests for the wanmig testbed: start/stop a VM with a QMP socket, its NIC a tap on an Open
vSwitch bridge, its disk on an NBD server; QMP helpers for a live migration with
pause-before-switchover; the checks of the guest's acknowledged writes.

    guest = build_guest()                     # guest/build: {'kernel': ..., 'initrd': ...}
    vm = Vm('vs1-A', guest, workdir, host=net.get('hvA'), bridge='peA', ofport=2,
            tap='vs1-tapA', nbd=('10.3.1.10', 10809, 'vs1')).start()
    vm.wait_ready(60)
    dst = Vm('vs1-B', ..., host=net.get('hvB'), bridge='peB', ofport=2, tap='vs1-tapB',
             incoming='tcp:0.0.0.0:4444').start()
    stats = migrate(vm, dst, 'tcp:10.4.2.10:4444', max_bandwidth=..., on_pause=hook)

Who runs what (one machine, as root):
- The tap is created by *this* Python process in the root namespace (where the userspace OVS
  reads its ports through AF_PACKET) with /dev/net/tun, without IFF_VNET_HDR (vnet_hdr off),
  offloads off, and attached to the PE bridge with ofport_request (the PE's server port). The
  tap's file descriptor is handed to QEMU (-netdev tap,fd=N). The tap disappears when QEMU exits.
- QEMU runs inside the hypervisor host's namespace (hvA, hvB: Mininet hosts on the PEs), so its
  NBD connection and its migration stream are that host's TCP connections and cross the
  emulated WAN (rate limit, delay). Without a host it runs in the root namespace.
- The QMP socket, serial logs and pid file are files in `workdir`, reachable from every
  namespace.
- A tap-backed VM gets two QEMU `filter-mirror`s on its netdev (added over QMP, so it works as well
  on a QEMU started by someone else): a copy of each frame the tap hands toward the guest, and of
  each frame the guest sends, goes as UDP on the loopback of QEMU's namespace to a socket this
  process opened there (NicMirror); and a packet socket on the tap keeps what QEMU wrote into it
  (TapCapture). They are how drain_tap() finds the frames QEMU's stop purged in both directions:
  those it read for the guest that the guest's NIC never took (its receive ring, read over QMP,
  says which frame it took last), and those the guest sent that never reached the tap.
"""

import collections
import ctypes
import json
import os
import queue
import re
import select
import socket
import struct
import subprocess
import threading
import time
import fcntl

HERE = os.path.dirname(os.path.abspath(__file__))
GUEST_BUILD = os.path.join(HERE, '..', 'guest', 'build')
# How long QEMU's NBD client holds the guest's requests for a replication agent that went away
NBD_RECONNECT_DELAY_S = 60

TUNSETIFF = 0x400454ca
IFF_TAP = 0x0002
IFF_NO_PI = 0x1000

# Identical on both sides of a migration. The tap has no vnet header, so virtio-net offers no
# checksum/segmentation offload to the guest anyway; saying so keeps the device model explicit.
NIC_OFFLOADS_OFF = ('csum=off,gso=off,guest_csum=off,guest_tso4=off,guest_tso6=off,guest_ecn=off,'
                    'guest_ufo=off,host_tso4=off,host_tso6=off,host_ecn=off,host_ufo=off')


def log(*words):
    print('[qemu %s]' % time.strftime('%H:%M:%S'), *words, flush=True)


def build_guest(timeout=900):
    """Runs guest/build (cached) and returns {'kernel': path, 'initrd': path, 'seconds': s}."""
    start = time.monotonic()
    out = subprocess.run([GUEST_BUILD], check=True, capture_output=True, text=True,
                         timeout=timeout).stdout
    paths = dict(line.split('=', 1) for line in out.split() if '=' in line)
    return {'kernel': paths['kernel'], 'initrd': paths['initrd'],
            'seconds': round(time.monotonic() - start, 2)}


def vsctl(*args):
    return subprocess.run(('ovs-vsctl', '--timeout=10') + args, check=True,
                          capture_output=True, text=True).stdout.strip()


def make_tap(name):
    """A tap in this process's namespace (no packet info, no vnet header); returns its fd.
    IPv6 is off on it before it goes up: the host must not speak on a guest's port. Its MLD report,
    sent within a second of link-up, would otherwise queue for the guest and, if drained after a
    stop, reach the switch as if the guest had sent it."""
    fd = os.open('/dev/net/tun', os.O_RDWR)
    try:
        fcntl.ioctl(fd, TUNSETIFF, struct.pack('16sH', name.encode(), IFF_TAP | IFF_NO_PI))
        ipv6 = '/proc/sys/net/ipv6/conf/%s/disable_ipv6' % name
        if os.path.exists(ipv6):                    # absent on a kernel without IPv6
            with open(ipv6, 'w') as f:
                f.write('1')
        subprocess.run(['ip', 'link', 'set', 'dev', name, 'up'], check=True)
        subprocess.run(['ethtool', '-K', name, 'rx', 'off', 'tx', 'off', 'sg', 'off', 'tso', 'off',
                        'gso', 'off', 'gro', 'off'], capture_output=True)
    except BaseException:
        os.close(fd)
        raise
    return fd


CLONE_NEWNET = 0x40000000


def udp_socket_in(pid):
    """A UDP socket bound to 127.0.0.1 (ephemeral port) in the network namespace of process `pid`.
    setns() moves only the calling thread, so a short-lived thread does it; the socket keeps the
    namespace it was made in."""
    result = {}

    def make():
        try:
            fd = os.open('/proc/%d/ns/net' % pid, os.O_RDONLY)
            try:
                libc = ctypes.CDLL(None, use_errno=True)
                if libc.setns(fd, CLONE_NEWNET) != 0:
                    err = ctypes.get_errno()
                    raise OSError(err, 'setns into the namespace of %d: %s' % (pid, os.strerror(err)))
            finally:
                os.close(fd)
            sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            sock.bind(('127.0.0.1', 0))
            result['sock'] = sock
        except BaseException as e:   # handed to the caller
            result['error'] = e

    t = threading.Thread(target=make, name='netns-socket')
    t.start()
    t.join()
    if 'error' in result:
        raise result['error']
    return result['sock']


SO_TIMESTAMPNS = 35
SO_RCVBUFFORCE = 33


class FrameRing:
    """The last `keep` frames read from a socket, each with the kernel's receive stamp
    (CLOCK_REALTIME, like QMP's event stamps), oldest first. Reads happen only under the lock, by
    a thread woken by poll() and by snapshot(), so a snapshot holds every frame the socket had
    received when it was taken, in order (a drain runs right after the guest stopped, when the
    thread may not have been scheduled yet)."""

    def __init__(self, sock, name, keep=64):
        self.sock = sock
        self.sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
        try:   # past net.core.rmem_max (212992 on a fresh machine) as root
            self.sock.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, 1 << 20)
        except OSError:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        self.sock.setblocking(False)
        self.frames = collections.deque(maxlen=keep)
        self.lock = threading.Lock()
        self.closed = False
        threading.Thread(target=self._poller, daemon=True, name=name).start()

    # A read per batch, not per frame: a guest's frames come thousands a second and each wake
    # of this thread costs the host CPU that the bed lacks (three rings per VM). The kernel's
    # stamps keep each frame's time; snapshot() reads what arrived since; 10 ms of frames is far
    # below the socket's 1 MiB.
    BATCH_S = 0.01

    def _poller(self):
        poller = select.poll()
        poller.register(self.sock, select.POLLIN)
        while not self.closed:
            try:
                if poller.poll(200):
                    time.sleep(self.BATCH_S)
                    with self.lock:
                        self._read_all()
            except (OSError, ValueError):
                return   # closed

    def _read_all(self):
        while not self.closed:
            try:
                data, anc, _, sender = self.sock.recvmsg(65536, 64)
            except BlockingIOError:
                return
            stamp = next((struct.unpack('qq', d[:16]) for lvl, typ, d in anc
                          if lvl == socket.SOL_SOCKET and typ == SO_TIMESTAMPNS), None)
            self._take(stamp[0] + stamp[1] / 1e9 if stamp else time.time(), data, sender)

    def _take(self, stamp, data, sender):
        self.frames.append((stamp, data))

    def snapshot(self):
        """[(stamp, frame)], oldest first, including what the socket holds unread."""
        with self.lock:
            try:
                self._read_all()
            except OSError:
                pass   # closed: what was read
            return list(self.frames)

    def since(self, stamp):
        """The frames received after `stamp` (seconds, wall clock), oldest first."""
        return [frame for t, frame in self.snapshot() if t > stamp]

    def close(self):
        self.closed = True
        self.sock.close()


class NicMirror(FrameRing):
    """The frames a QEMU filter-mirror copies, in one direction of a VM's netdev: toward the guest
    (`queue=tx`: what the tap hands the NIC) or from it (`queue=rx`: what the guest sends). The
    filter sees a frame before QEMU's net queue does, so a copy exists also of a frame QEMU then
    queues and never delivers. filter-mirror sends each frame as two datagrams: its length (u32,
    network order), then the frame.

    Why: while the guest stops, QEMU's net layer delivers nothing (QEMU 7.2, net/net.c
    qemu_can_send_packet) and the stop's handler purges what it queued, in both directions
    (net_vm_change_state_handler): frames the tap backend read for the guest (Vm.frames_not_taken)
    and frames the guest sent, whose transmit buffers the purge returns as if sent
    (Vm.frames_sent_not_written). Both die with the source QEMU."""

    def __init__(self, sock, direction, keep=64):
        self.expect = None
        self.peer = None   # QEMU's chardev: the first sender; datagrams from any other are ignored
        super().__init__(sock, 'nic-mirror-%s-%d' % (direction, sock.getsockname()[1]), keep)

    def _take(self, stamp, data, sender):
        if self.peer is None:
            self.peer = sender
        elif sender != self.peer:
            return
        if self.expect is not None and len(data) == self.expect:
            self.frames.append((stamp, data))
            self.expect = None
        elif len(data) == 4:
            self.expect = struct.unpack('!I', data)[0]
        else:
            self.expect = None   # out of step (a datagram dropped): wait for the next length


class TapCapture(FrameRing):
    """The frames written into a tap from its file (QEMU's writes: what the guest sent, as the
    switch receives them), from an AF_PACKET socket on the tap in this process's namespace. The
    frames the host sends toward the guest (PACKET_OUTGOING) are skipped."""

    def __init__(self, tap, keep=64):
        sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0003))
        try:
            sock.bind((tap, 0))
        except OSError:
            sock.close()
            raise
        super().__init__(sock, 'tap-capture-%s' % tap, keep)

    def _take(self, stamp, data, sender):
        if sender[2] != socket.PACKET_OUTGOING:
            self.frames.append((stamp, data))


class QmpError(Exception):
    pass


def event_stamp(event):
    """QEMU's own stamp of a QMP event (wall clock, seconds); our receive time without one."""
    stamp = event.get('timestamp') or {}
    return stamp['seconds'] + stamp['microseconds'] / 1e6 if 'seconds' in stamp else event['wall']


class Qmp:
    """A QMP client on a unix socket; events are timestamped (monotonic and wall) and kept."""

    def __init__(self, path, timeout=30):
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                self.sock.connect(path)
                break
            except OSError:
                self.sock.close()
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        self.file = self.sock.makefile('rb')
        self.replies = queue.Queue()
        self.events = []
        self.event_cond = threading.Condition()
        self.lock = threading.Lock()
        self.last_id = 0
        greeting = json.loads(self.file.readline())
        if 'QMP' not in greeting:
            raise QmpError('no QMP greeting: %r' % greeting)
        threading.Thread(target=self._reader, daemon=True).start()
        self.execute('qmp_capabilities')

    def _reader(self):
        try:
            for line in self.file:
                msg = json.loads(line)
                if 'event' in msg:
                    msg['mono'] = time.monotonic()
                    msg['wall'] = time.time()
                    with self.event_cond:
                        self.events.append(msg)
                        self.event_cond.notify_all()
                else:
                    self.replies.put(msg)
        except (OSError, ValueError):
            pass
        self.replies.put({'error': {'class': 'Disconnected', 'desc': 'QMP connection closed'}})
        with self.event_cond:
            self.event_cond.notify_all()

    def execute(self, command, timeout=30, **arguments):
        with self.lock:
            self.last_id += 1
            msg = {'execute': command, 'id': self.last_id}
            if arguments:
                msg['arguments'] = arguments
            self.sock.sendall(json.dumps(msg).encode() + b'\n')
            deadline = time.monotonic() + timeout
            while True:
                try:
                    reply = self.replies.get(timeout=max(0, deadline - time.monotonic()))
                except queue.Empty:
                    raise QmpError('%s: no reply in %s s' % (command, timeout))
                # a command that timed out is answered later (a monitor held up by QEMU's migration
                # thread answers them all at once): its reply is not this one's
                if reply.get('id', msg['id']) == msg['id']:
                    break
        if 'error' in reply:
            raise QmpError('%s: %s' % (command, reply['error'].get('desc', reply['error'])))
        return reply.get('return')

    def wait_event(self, name, timeout, match=None, since=0):
        """The first event `name` (with data matching `match`, a dict) at index >= since."""
        deadline = time.monotonic() + timeout
        with self.event_cond:
            while True:
                for event in self.events[since:]:
                    if event['event'] == name and all(
                            event.get('data', {}).get(k) == v for k, v in (match or {}).items()):
                        return event
                left = deadline - time.monotonic()
                if left <= 0:
                    raise QmpError('no %s %s within %s s' % (name, match or '', timeout))
                self.event_cond.wait(min(left, 0.5))

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


class Vm:
    """One QEMU process (TCG) running the wanmig guest.

    kernel_args defaults to "pti=on": every switch between user and kernel space then writes
    CR3, which flushes QEMU's TCG TLB. Without it, QEMU 7.2 under TCG lost guest writes in
    multi-pass pre-copy (stale TLB entries after a dirty-bitmap sync, we think) and the guest
    panicked at the destination; with it, a 740-pass migration left a healthy guest."""

    def __init__(self, name, guest, workdir, host=None, bridge=None, ofport=None, tap=None,
                 nbd=None, image=None, mem_mb=128, mac='00:00:00:00:02:10', ip='10.2.0.10/24',
                 gateway='10.2.0.254', onlink=None, writer_ms=20, incoming=None, extra_args=(),
                 accel=os.environ.get('WANMIG_QEMU_ACCEL', 'tcg,thread=single'),
                 kernel_args=os.environ.get('WANMIG_GUEST_ARGS', 'pti=on')):
        self.name, self.guest, self.workdir, self.host = name, guest, workdir, host
        self.bridge, self.ofport, self.tap = bridge, ofport, tap
        self.tap_fd = None   # our copy of QEMU's tap, for drain_tap()
        self.rx_ring = None  # the receive ring's indexes as frames_not_taken() last read them
        self.tx_ring = None  # the transmit ring's, as frames_sent_not_written() last read them
        self.tx_check = None  # what frames_sent_not_written() last compared
        self.sent_drained = None   # the guest's frames QEMU never wrote, which drain_tap() sent
        self.nic_path = None       # the virtio-net device's QOM path (_virtio_nic)
        self.mirror = None       # NicMirror of the frames the tap handed toward the guest
        self.sent_mirror = None  # NicMirror of the frames the guest sent
        self.capture = None      # TapCapture of the frames QEMU wrote into the tap
        self.nbd, self.image = nbd, image
        self.mem_mb, self.mac, self.ip, self.gateway, self.onlink = mem_mb, mac, ip, gateway, onlink
        self.writer_ms, self.incoming, self.extra_args = writer_ms, incoming, list(extra_args)
        self.accel = accel
        self.kernel_args = kernel_args
        self.qmp_path = os.path.join(workdir, name + '.qmp')
        self.console = os.path.join(workdir, name + '.console.log')
        self.acks = os.path.join(workdir, name + '.acks.log')
        self.stderr_path = os.path.join(workdir, name + '.qemu.log')
        self.proc = None
        self.qmp = None
        self.started = None

    def command(self, tap_fd=None):
        append = ['console=ttyS0', 'panic=-1', 'loglevel=4', 'wanmig.ip=' + self.ip,
                  'wanmig.writer=%d' % self.writer_ms]
        if self.gateway:
            append.append('wanmig.gw=' + self.gateway)
        if self.onlink:
            append.append('wanmig.onlink=' + self.onlink)
        append += self.kernel_args.split()
        if self.nbd:
            host, port, export = self.nbd
            # reconnect-delay: a replication agent that restarts (a crash, an upgrade) holds the
            # guest's requests and QEMU reconnects and reruns them, instead of failing them at
            # once (which werror=stop would turn into a stopped guest). QEMU tries again after 1,
            # 2, 4, 8, then every 16 s, so an agent away T s is reached at the first try after
            # T: with 15 s, an agent away about 8 s (vm_mms_e2e_test case (m)) was reached at
            # 15 s, too late, and the guest stopped on an I/O error; 60 s covers 47 s away
            disk = {'driver': 'nbd', 'node-name': 'disk0', 'export': export,
                    'server': {'type': 'inet', 'host': host, 'port': str(port)},
                    'reconnect-delay': NBD_RECONNECT_DELAY_S}
        else:
            disk = {'driver': 'raw', 'node-name': 'disk0',
                    'file': {'driver': 'file', 'filename': self.image}}
        cmd = ['qemu-system-x86_64', '-name', self.name, '-nodefaults', '-accel', self.accel,
               '-machine', 'pc', '-m', str(self.mem_mb), '-smp', '1', '-display', 'none',
               '-vga', 'none', '-no-reboot', '-no-user-config',
               '-kernel', self.guest['kernel'], '-initrd', self.guest['initrd'],
               '-append', ' '.join(append),
               '-chardev', 'file,id=con,path=' + self.console, '-serial', 'chardev:con',
               '-chardev', 'file,id=acks,path=' + self.acks, '-serial', 'chardev:acks',
               '-blockdev', json.dumps(disk),
               # a write error stops the guest instead of reaching it: a rollback after the
               # switchover resumes the source before its copy is primary again, and cont retries
               '-device', 'virtio-blk-pci,drive=disk0,id=vblk0,werror=stop,rerror=stop',
               '-qmp', 'unix:%s,server=on,wait=off' % self.qmp_path]
        if tap_fd is not None:
            cmd += ['-netdev', 'tap,id=net0,fd=%d' % tap_fd]
        else:
            cmd += ['-netdev', 'hubport,id=net0,hubid=0']
        cmd += ['-device', 'virtio-net-pci,netdev=net0,id=nic0,romfile=,mac=%s,%s'
                % (self.mac, NIC_OFFLOADS_OFF)]
        if self.incoming:
            # RAM allocated and zeroed before the stream comes: page faults of the pages loaded took
            # a fifth of both CPUs inside the switchover's pause (perf: clear_page_erms)
            cmd += ['-mem-prealloc', '-incoming', 'defer']
        return cmd + self.extra_args

    def start(self):
        for path in (self.qmp_path, self.console, self.acks):
            if os.path.exists(path):
                os.unlink(path)
        tap_fd = None
        try:
            if self.tap:
                tap_fd = make_tap(self.tap)
                try:
                    self.capture = TapCapture(self.tap)   # before QEMU writes its first frame
                except OSError as e:
                    log('%s: no capture of its tap (%s); a drain sends no frame of the guest' % (self.name, e))
                if self.bridge:
                    vsctl('--if-exists', 'del-port', self.tap, '--', 'add-port', self.bridge,
                          self.tap, '--', 'set', 'Interface', self.tap,
                          'ofport_request=%d' % self.ofport if self.ofport else 'external_ids:wanmig=vm')
            cmd = self.command(tap_fd)
            stderr = open(self.stderr_path, 'w')
            kwargs = dict(stdin=subprocess.DEVNULL, stdout=stderr, stderr=stderr,
                          pass_fds=[tap_fd] if tap_fd is not None else [])
            self.started = time.monotonic()
            self.proc = self.host.popen(cmd, **kwargs) if self.host else subprocess.Popen(cmd, **kwargs)
            stderr.close()
            self.qmp = Qmp(self.qmp_path, timeout=30)
            if tap_fd is not None:
                try:
                    self.mirror = self.attach_mirror('tx')
                    self.sent_mirror = self.attach_mirror('rx')
                except (QmpError, OSError) as e:   # best effort: a drain then misses QEMU's frames
                    log('%s: no NIC mirror (%s); a drain sends the tap\'s queue only' % (self.name, e))
            if self.incoming:
                self.qmp.execute('migrate-set-capabilities', capabilities=[
                    {'capability': 'events', 'state': True}])
                self.qmp.execute('migrate-incoming', uri=self.incoming)
        except BaseException:
            self.stop()
            raise
        finally:
            # QEMU holds its own copy; ours lets drain_tap() reach frames QEMU no longer reads
            # (closed at stop(): the tap lives as long as any copy is open)
            self.tap_fd = tap_fd
        log('%s: pid %d%s%s' % (self.name, self.proc.pid,
                                 ' in ' + self.host.name if self.host else '',
                                 ' (incoming %s)' % self.incoming if self.incoming else ''))
        return self

    def console_text(self):
        try:
            with open(self.console, errors='replace') as f:
                return f.read()
        except OSError:
            return ''

    def wait_ready(self, timeout=120):
        """Seconds from start until the guest printed "wanmig-guest: ready"."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if 'wanmig-guest: ready' in self.console_text():
                return round(time.monotonic() - self.started, 2)
            if self.proc.poll() is not None:
                raise RuntimeError('%s exited: %s' % (self.name, self.stderr_tail()))
            time.sleep(0.1)
        raise RuntimeError('%s not ready in %s s; console: %s' % (self.name, timeout,
                                                                  self.console_text()[-500:]))

    def stderr_tail(self):
        try:
            with open(self.stderr_path, errors='replace') as f:
                return f.read()[-1000:]
        except OSError:
            return ''

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def attach_mirror(self, direction):
        """A filter-mirror on the VM's netdev, copying each frame of one direction (`tx`: the tap
        hands it toward the guest; `rx`: the guest sends it) to a NicMirror in QEMU's namespace
        (chardev-add and object-add over QMP)."""
        sock = udp_socket_in(self.proc.pid)
        try:
            self.qmp.execute('chardev-add', id='nicmirror-' + direction, backend={'type': 'udp', 'data': {
                'remote': {'type': 'inet', 'data': {'host': '127.0.0.1', 'port': str(sock.getsockname()[1])}}}})
            self.qmp.execute('object-add', **{'qom-type': 'filter-mirror', 'id': 'nicmirror-%s0' % direction,
                                              'netdev': 'net0', 'queue': direction,
                                              'outdev': 'nicmirror-' + direction})
        except BaseException:
            sock.close()
            raise
        return NicMirror(sock, direction)

    def last_stop(self):
        """QEMU's stamp (wall clock, seconds) of the STOP that stopped the guest, or None when it
        was not stopped since it last ran (no STOP, or a RESUME after it)."""
        if not self.qmp:
            return None
        with self.qmp.event_cond:
            last = [e for e in self.qmp.events if e['event'] in ('STOP', 'RESUME')][-1:]
        if not last or last[0]['event'] != 'STOP':
            return None
        return event_stamp(last[0])

    def drain_tap(self, limit=4096):
        """Frames a guest stopped for good (at the end of a migration) would never see go through,
        which die with its QEMU, sent on. Each is written into the tap, which hands it to the
        switch as if the guest had sent it: a frame to the guest then takes the switch's redirect,
        already in place, to where the guest resumes. Three places hold such frames:
        - QEMU's net queue, toward the tap: the frames the guest sent while it was stopping, which
          QEMU queued and then purged or holds, never written (frames_sent_not_written); their
          copies from the mirror of the guest's frames are sent first, once;
        - QEMU's own net queue: the frames its tap backend read once the guest was stopping or
          stopped, which the guest's NIC never took (frames_not_taken); their copies from the
          mirror are sent;
        - the tap's queue: the frames that arrived during the last ~20 ms before STOP, while the
          migration thread held QEMU's lock, and all later ones (QEMU stopped reading).
        Returns (frames, bytes, frames from QEMU's queue, frames the guest sent). Only for a QEMU
        that is not running (the caller checks): a running QEMU reads and writes these itself."""
        if self.tap_fd is None:
            return 0, 0, 0, 0
        sent = []
        if getattr(self, 'qmp', None) is not None and getattr(self, 'sent_drained', None) is None:
            sent = self.frames_sent_not_written()
            self.sent_drained = sent   # once: the ring still shows them in flight at a second drain
        mirror = getattr(self, 'mirror', None)
        held = self.frames_not_taken() if mirror is not None else []
        frames = sent + held
        while len(frames) < limit:
            try:
                frame = os.read(self.tap_fd, 65536)   # QEMU set the shared file non-blocking
            except BlockingIOError:
                break
            if not frame:
                break
            frames.append(frame)
        for frame in frames:
            os.write(self.tap_fd, frame)
        if mirror is not None:
            mirror.close()   # once: a second drain must not send QEMU's frame again
            self.mirror = None
        return len(frames), sum(len(f) for f in frames), len(held), len(sent)

    def frames_not_taken(self):
        """The mirrored frames the stopped guest's NIC never took, oldest first.

        The NIC's receive ring says which frame it took last; the frames mirrored after that one
        and meant for this NIC never reached the guest. There are up to two (QEMU 7.2, net/net.c
        and net/tap.c):
        - one read while the vCPUs were stopping: the migration thread has set the run state and
          waits for the vCPUs with QEMU's big lock released, so the main loop reads one more frame
          and queues it for the NIC, which takes none once stopped; the stop's handler then
          purges that queue. Its copy is stamped before STOP, so the STOP stamp misses it;
        - one read after STOP, when that purge let the tap be read again; QEMU holds it.
        When the ring cannot be read (a QEMU without x-query-virtio-queue-element, a frame over
        several buffers), the frames mirrored after STOP."""
        mirror = self.mirror
        copies = mirror.snapshot()
        taken = self._last_taken_frame()
        mac = bytes.fromhex(self.mac.replace(':', ''))
        for header in (12, 10) if taken else ():   # virtio-net's header: 12 bytes (virtio 1.0), 10 (legacy)
            body = taken[header:]
            for i in range(len(copies) - 1, -1, -1):
                frame = copies[i][1]
                n = min(len(frame), len(body))
                if n >= 14 and body[:n] == frame[:n]:
                    # the NIC drops frames for other MACs unread (a flooding switch sends it some)
                    return [f for _, f in copies[i + 1:] if f[:6] == mac or f[0] & 1]
        stop = self.last_stop()
        if taken:
            log('%s: the frame its NIC took last is not among the %d mirrored; drained from STOP on'
                % (self.name, len(copies)))
        return mirror.since(stop) if stop is not None else []

    def frames_sent_not_written(self):
        """The frames the stopped guest sent that QEMU never wrote into the tap, oldest first.

        A frame the guest sends while its vCPUs are stopping (the run state already set, QEMU's
        big lock released while the migration thread waits for them) goes into QEMU's net queue,
        which delivers nothing while the VM does not run (QEMU 7.2, net/net.c
        qemu_can_send_packet). The stop's handler then purges that queue and completes the
        frame's transmit buffer as if sent (net_vm_change_state_handler, virtio_net_tx_complete);
        a frame queued after that purge stays in flight on the ring. Either way the source,
        stopped for good, never sends it and the destination's NIC goes on after it. Read from
        QEMU's code; not yet seen in a run (vm_guest_move_test's lost probe, once thought to be
        this, was not: every frame that guest sent had been written).

        The mirror of the guest's frames holds a copy of each, taken before QEMU's queue; the
        capture of the tap holds those QEMU wrote. The copies after the last one written are the
        frames lost. None without the mirror or the capture."""
        try:
            tx = self.qmp.execute('x-query-virtio-queue-status', timeout=5, path=self._virtio_nic(), queue=1)
            # kept for reports: a frame still in flight shows as inuse 1
            self.tx_ring = {k: tx.get(k) for k in ('last-avail-idx', 'shadow-avail-idx', 'used-idx', 'inuse')}
        except (QmpError, OSError, StopIteration, KeyError) as e:
            log('%s: its transmit ring not read (%s)' % (self.name, e))
        if self.sent_mirror is None or self.capture is None:
            return []
        sent = [f for _, f in self.sent_mirror.snapshot()]
        written = [f for _, f in self.capture.snapshot()]
        lost = frames_after_last_written(sent, written)
        # for reports: None as notWritten means the two did not line up (nothing could be sent)
        self.tx_check = {'mirrored': len(sent), 'written': len(written), 'notWritten': None if lost is None else len(lost)}
        if lost is None:
            log('%s: the frame QEMU wrote last is not among the %d its guest sent; none sent on'
                % (self.name, len(sent)))
            return []
        return lost

    def _virtio_nic(self):
        """The QOM path of the VM's virtio-net device, asked once per QEMU."""
        if getattr(self, 'nic_path', None) is None:
            self.nic_path = next(d['path'] for d in self.qmp.execute('x-query-virtio', timeout=5)
                                 if d['name'] == 'virtio-net')
        return self.nic_path

    def _guest_memory(self, addr, size):
        """`size` bytes of guest memory at `addr` (QMP pmemsave into a file of our own, read, removed)."""
        path = os.path.join(self.workdir, self.name + '.mem')
        try:
            self.qmp.execute('pmemsave', timeout=5, val=addr, size=size, filename=path)
            with open(path, 'rb') as f:
                return f.read()
        finally:
            if os.path.exists(path):
                os.unlink(path)

    def _last_taken_frame(self):
        """The start of the last buffer the NIC filled in the guest's receive ring (virtio header
        and frame), read from guest memory; None when it cannot be read."""
        try:
            nic = self._virtio_nic()
            rx = self.qmp.execute('x-query-virtio-queue-status', timeout=5, path=nic, queue=0)
            # kept for reports: a frame lost at STOP with the ring showing it taken (2026-11-30)
            # is to be told apart by these (popped, published, in use)
            self.rx_ring = {k: rx.get(k) for k in ('last-avail-idx', 'shadow-avail-idx', 'used-idx', 'inuse')}
            if rx['used-idx'] == 0:
                return None   # nothing taken since the driver started (or 65,536 frames exactly)
            element = self.qmp.execute('x-query-virtio-queue-element', timeout=5, path=nic, queue=0,
                                       index=(rx['last-avail-idx'] - 1) & 0xffff)
            desc = element['descs'][0]
            return self._guest_memory(desc['addr'], min(desc['len'], 256))
        except (QmpError, OSError, StopIteration, KeyError, IndexError) as e:
            log('%s: its receive ring not read (%s)' % (self.name, e))
            return None

    def stop(self, timeout=10):
        """Quit QEMU (QMP quit, then SIGTERM, SIGKILL) and detach its tap from the bridge."""
        if self.qmp and self.alive():
            try:
                self.qmp.execute('quit', timeout=5)
            except (QmpError, OSError):
                pass
        if self.proc is not None:
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.terminate()
                try:
                    self.proc.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait()
        if self.qmp:
            self.qmp.close()
        if self.tap_fd is not None:
            os.close(self.tap_fd)
            self.tap_fd = None
        for ring in ('mirror', 'sent_mirror', 'capture'):
            if getattr(self, ring) is not None:
                getattr(self, ring).close()
                setattr(self, ring, None)
        if self.tap and self.bridge:
            try:
                vsctl('--if-exists', 'del-port', self.bridge, self.tap)
            except subprocess.CalledProcessError:
                pass


def frames_after_last_written(sent, written, context=8):
    """The frames of `sent` (a guest's, oldest first) after the last one in `written` (those QEMU
    wrote into the tap, oldest first): [] when the last sent was written, None when the last
    written is not in `sent`. Every frame written was sent, in the same order, so `written` ends
    as a stretch of `sent` does; the match is on up to `context` frames, as a guest sends some
    frames more than once unchanged (an ARP request retried)."""
    if not written or not sent:
        return list(sent)
    for i in range(len(sent) - 1, -1, -1):
        n = min(i + 1, len(written), context)
        if sent[i + 1 - n:i + 1] == written[-n:]:
            return sent[i + 1:]
    return None


def frames_written_back(host, most, timeout=2):
    """Up to `most` frames that an AF_PACKET socket bound to a tap (its host side) received from the
    guest's side, hex, oldest first; the frames that socket sent itself are skipped. For the drain's
    tests: what drain_tap() wrote back into the tap, as the switch would take it."""
    host.settimeout(timeout)
    back = []
    while len(back) < most:
        try:
            data, addr = host.recvfrom(2048)
        except socket.timeout:
            break
        if addr[2] != socket.PACKET_OUTGOING:
            back.append(data.hex())
    return back


def run_in_netns(ns, code, args, timeout, kill_pattern):
    """Runs python `code` with `args` in a network namespace `ns` made for it (loopback up), for
    the tests that need QEMU and taps of their own without a switch. Returns (exit code, or None
    after `timeout` s; stdout; stderr). Afterwards, whatever happened, processes whose command
    line matches `kill_pattern` are killed and the namespace is deleted."""
    subprocess.run(['ip', 'netns', 'add', ns], check=True)
    try:
        subprocess.run(['ip', 'netns', 'exec', ns, 'ip', 'link', 'set', 'lo', 'up'], check=True)
        run = subprocess.run(['ip', 'netns', 'exec', ns, '/usr/bin/python3', '-c', code] + list(args),
                             capture_output=True, text=True, timeout=timeout)
        return run.returncode, run.stdout, run.stderr
    except subprocess.TimeoutExpired as e:
        return None, e.stdout or '', e.stderr or ''
    finally:
        subprocess.run(['pkill', '-f', kill_pattern], check=False)
        subprocess.run(['ip', 'netns', 'del', ns], check=False)


def migrate(src, dst, uri, max_bandwidth=None, downtime_limit_ms=None, on_pause=None,
            timeout=600, pause=True):
    """Live-migrates src to dst (dst started with incoming=...): events + pause-before-switchover,
    migrate, wait pre-switchover, on_pause() (the MMS's switchover would go here), migrate-continue,
    wait completed and the destination's RESUME. Returns QEMU's figures and our timestamps.
    On any failure: migrate_cancel and cont on the source (it keeps running), then raise."""
    qmp = src.qmp
    qmp.execute('migrate-set-capabilities', capabilities=[
        {'capability': 'events', 'state': True},
        {'capability': 'pause-before-switchover', 'state': bool(pause)}])
    params = {}
    if max_bandwidth:
        params['max-bandwidth'] = int(max_bandwidth)
    if downtime_limit_ms:
        params['downtime-limit'] = int(downtime_limit_ms)
    if params:
        qmp.execute('migrate-set-parameters', **params)
    first_src, first_dst = len(qmp.events), len(dst.qmp.events)
    t = {'start': time.monotonic(), 'startWall': time.time()}
    try:
        qmp.execute('migrate', uri=uri)
        if pause:
            qmp.wait_event('MIGRATION', timeout, {'status': 'pre-switchover'}, since=first_src)
            t['preSwitchover'] = time.monotonic()
            before = qmp.execute('query-migrate')
            if on_pause:
                on_pause()
            t['hookDone'] = time.monotonic()
            qmp.execute('migrate-continue', state='pre-switchover')
        else:   # paper mode: no pause, the hypervisor just reports completion
            before = {}
        qmp.wait_event('MIGRATION', 60 if pause else timeout, {'status': 'completed'}, since=first_src)
        t['completed'] = time.monotonic()
        t.setdefault('preSwitchover', t['completed'])
        t.setdefault('hookDone', t['completed'])
        resume = dst.qmp.wait_event('RESUME', 30, since=first_dst)
        t['resumed'] = resume['mono']
        t['resumedWall'] = resume['wall']
        info = qmp.execute('query-migrate')
    except BaseException as e:
        log('migration failed (%s): cancelling, source continues' % e)
        try:
            qmp.execute('migrate_cancel', timeout=10)
            if qmp.execute('query-status', timeout=10).get('status') != 'running':
                qmp.execute('cont', timeout=10)
        except (QmpError, OSError) as e2:
            log('rollback at the source failed: %s' % e2)
        raise
    passes = [e for e in qmp.events[first_src:] if e['event'] == 'MIGRATION_PASS']
    ram = info.get('ram', {})
    stopped = [e for e in qmp.events[first_src:] if e['event'] == 'STOP']
    return {
        'status': info.get('status'),
        'totalTimeMs': info.get('total-time'),
        'downtimeMs': info.get('downtime'),
        'setupTimeMs': info.get('setup-time'),
        'expectedDowntimeAtPauseMs': before.get('expected-downtime'),
        'ramTransferredBytes': ram.get('transferred'),
        'ramTotalBytes': ram.get('total'),
        'ramDuplicatePages': ram.get('duplicate'),
        'ramNormalPages': ram.get('normal'),
        'ramMbps': ram.get('mbps'),
        'dirtySyncCount': ram.get('dirty-sync-count'),
        'passes': len(passes),
        'hookMs': round((t['hookDone'] - t['preSwitchover']) * 1000, 2),
        'stopToResumeMs': round((t['resumed'] - stopped[0]['mono']) * 1000, 2) if stopped else None,
        'precopyMs': round((t['preSwitchover'] - t['start']) * 1000, 1),
        'continueToResumeMs': round((t['resumed'] - t['hookDone']) * 1000, 2),
        'wallStart': t['startWall'], 'wallResumed': t['resumedWall'],
        'wallStopped': stopped[0]['wall'] if stopped else None,
    }


# ------------------------------------------------------------------ acknowledged writes

BLOCK = 4096
ACK_RE = re.compile(r'^(ACK|WERR|START) (\d+) (\d+)(?: (\d+))?')


def read_acks(*paths):
    """(acks, errors, starts) from the guest's ack logs in order (source first, then
    destination): acks = [(run, seq, slot)], errors = [lines], starts = [(run, slots)].

    The guest's serial line moves with it: a line it was writing when it stopped at the source
    ends in the destination's log ("ACK 268511689492457 235" there, " 236" here), so a log's
    unterminated last line is joined to the next log's first. The last log's unterminated line
    is left out: it may be cut short (a slot of 23 for 235)."""
    acks, errors, starts = [], [], []
    carried = ''
    for path in paths:
        try:
            text = open(path, errors='replace').read()
        except OSError:
            continue
        lines = (carried + text.replace('\r', '')).split('\n')
        carried = lines.pop()   # '' when the log ends with a newline
        for line in lines:
            m = ACK_RE.match(line.strip())
            if not m:
                continue
            if m.group(1) == 'ACK':
                acks.append((int(m.group(2)), int(m.group(3)), int(m.group(4))))
            elif m.group(1) == 'WERR':
                errors.append(line.strip())
            else:
                starts.append((int(m.group(2)), int(m.group(3))))
    return acks, errors, starts


def block_seq(data):
    """(run, seq, slot) of a guest block, or None when it is not a valid one."""
    if len(data) < BLOCK or data[:8] != b'WANMIGB1':
        return None
    run, seq, slot = struct.unpack_from('<QQQ', data, 8)
    h = 1469598103934665603
    for byte in data[:BLOCK - 8]:
        h = ((h ^ byte) * 1099511628211) & 0xFFFFFFFFFFFFFFFF
    if struct.unpack_from('<Q', data, BLOCK - 8)[0] != h:
        return None
    return run, seq, slot


def missing_acked_writes(image, acks):
    """Acknowledged writes that the image does not hold: for every slot, the newest acked
    (run, seq) must be on disk, or a newer write of the same run (issued, maybe not yet acked)."""
    newest = {}
    for run, seq, slot in acks:
        newest[(run, slot)] = max(seq, newest.get((run, slot), -1))
    missing = []
    with open(image, 'rb') as f:
        for (run, slot), seq in sorted(newest.items()):
            f.seek(slot * BLOCK)
            found = block_seq(f.read(BLOCK))
            if found is None or found[0] != run or found[1] < seq or found[2] != slot:
                missing.append({'run': run, 'slot': slot, 'ackedSeq': seq, 'found': found})
    return missing


def check_guest_writes(image, src, dst):
    """Freezes the guest at its destination, then checks its disk: every write it acknowledged (ack
    logs of src, then dst) is in `image`, it acknowledged writes on both sides, it saw no I/O error
    and its writer started once (no reboot). Returns (summary dict, list of failures)."""
    dst.qmp.execute('stop')
    time.sleep(0.5)
    acks, errors, starts = read_acks(src.acks, dst.acks)
    missing = missing_acked_writes(image, acks)
    acks_at_b = len(read_acks(dst.acks)[0])
    io_errors = guest_io_errors(src.console, dst.console)
    summary = {'acked': len(acks), 'ackedAtB': acks_at_b, 'writeErrors': errors[:10],
               'missing': missing[:10], 'missingCount': len(missing), 'runs': starts,
               'guestIoErrors': io_errors[:10]}
    failures = []
    if len(acks) == 0 or acks_at_b == 0:
        failures.append('the guest acknowledged no writes (at A: %d, at B: %d)' % (len(acks) - acks_at_b, acks_at_b))
    if missing:
        failures.append('%d acknowledged writes missing in the image' % len(missing))
    if errors or io_errors:
        failures.append('guest I/O errors: %s' % (errors + io_errors)[:3])
    if len(starts) != 1:
        failures.append('the writer started %d times (guest rebooted?)' % len(starts))
    return summary, failures


def guest_io_errors(*console_paths):
    """Lines of the guest consoles that report I/O trouble, or a kernel panic/oops/warning
    (after a migration these mean the guest's memory did not arrive intact)."""
    bad = re.compile(r'I/O error|blk_update_request|Buffer I/O|WERR|EXT4-fs error|virtio_blk.*error|'
                     r'Kernel panic|BUG:|Oops|double fault|general protection|stack-protector|'
                     r'WARNING: CPU', re.I)
    lines = []
    for path in console_paths:
        try:
            for line in open(path, errors='replace'):
                if bad.search(line):
                    lines.append(line.strip())
        except OSError:
            pass
    return lines
