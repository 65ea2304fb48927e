#!/usr/bin/python3
"""
What the guest itself does with the frames and the memory it has when it moves, with QEMU alone.

    /usr/bin/python3 scripts/vm_guest_move_test.py [--modes echo,burst,memory] [--out DIR]

No switch, no MMS, no WAN: two QEMUs (the guest of guest/build, TCG) in a network namespace of the
test's own, each NIC on a tap, the disk on one qemu-nbd both open (as the bed's disk is on NBD), the
migration over a unix socket with pause-before-switchover and an 800 ms pause (the bench's QEMU
downtime across the WAN is 800-1000 ms), bandwidth capped at 20 MB/s so pre-copy takes passes.

- echo: UDP probes at 1000/s into the source's tap until STOP, answered by the guest's echo; the
  test answers the guest's ARP on both taps and reads the answers there. Once the source stopped
  for good, its drain (Vm.drain_tap, as the bed's hypervisor agent runs it) sends on what its
  guest never took: the frames QEMU read while the guest stopped (the NIC's receive ring says
  which it took last) and those left in the tap; the test carries them to the destination's tap,
  as PE_A's redirect would. It also sends first the guest's own answers that QEMU's stop purged
  (the mirror of the guest's frames against a capture of the tap), which the test then reads at
  the source's tap. Every probe sent must be answered, at the source or at the
  destination, and 5 new probes at the destination too. Without the ring read (the drain sent
  only what QEMU read after the STOP stamp), the frame QEMU read while the vCPUs were stopping
  was lost in 6 of 23 migrations (2026-11-29).
- burst: as echo, but each probe goes to the guest's burst service, which answers it 3 times
  100 us apart: the guest transmits 3,000 times a second, mostly each its own kick of the NIC, so more
  of its frames come as the vCPUs stop. Every copy must be answered.
- memory: the probes of echo (not checked), so the guest's kernel writes up to STOP; the
  destination is started with -S, so it stays paused once loaded; then QMP pmemsave of the
  guest's RAM on both and a compare, page by page: the destination must hold exactly the
  source's memory (the TCG dirty tracking that `pti=on` works around, see wanmig_qemu.Vm).

Bounded: 180 s per migration; QEMU, qemu-nbd and the namespace are removed on failure too. Writes
DIR/report.json; exits 1 when a check fails.
"""

import argparse
import json
import os
import sys
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))
sys.path.insert(0, os.path.join(ROOT, 'mininet-topos'))
import wanmig_qemu as wq   # noqa: E402

CHILD = r"""
import json, os, socket, struct, subprocess, sys, threading, time
sys.path.insert(0, sys.argv[1])
import wanmig_qemu as wq
out, mode = sys.argv[2], sys.argv[3]
RATE, PAUSE_S, MEM_MB = 1000, 0.8, 128
MY_MAC, VM_MAC = bytes.fromhex('020000000001'), bytes.fromhex('000000000210')
MY_IP, VM_IP = socket.inet_aton('10.9.0.1'), socket.inet_aton('10.9.0.10')
guest = wq.build_guest()
image = os.path.join(out, 'disk.img')
with open(image, 'wb') as f:
    f.truncate(16 << 20)
sock_path = os.path.join(out, 'migration.sock')
if os.path.exists(sock_path):
    os.unlink(sock_path)
nbd = subprocess.Popen(['qemu-nbd', '-f', 'raw', '-x', 'disk', '--persistent', '--shared=4', '-p', '10899',
                        '-b', '127.0.0.1', image])
for _ in range(50):                             # listening before a QEMU opens its disk
    try:
        socket.create_connection(('127.0.0.1', 10899), 1).close()
        break
    except OSError:
        time.sleep(0.1)
wq_nbd = ('127.0.0.1', 10899, 'disk')
src = wq.Vm('gmove-src', guest, out, tap='tgsrc0', nbd=wq_nbd, mem_mb=MEM_MB, ip='10.9.0.10/24', gateway=None)
dst = wq.Vm('gmove-dst', guest, out, tap='tgdst0', nbd=wq_nbd, mem_mb=MEM_MB, ip='10.9.0.10/24', gateway=None,
            incoming='unix:' + sock_path, extra_args=['-S'] if mode == 'memory' else [])


# burst: each probe asks the guest's burst service for COPIES answers GAP_10US x 10 us apart, so
# the guest transmits COPIES times per probe, each its own kick of the NIC, and one is more likely
# to come as the vCPUs stop
PORT, COPIES, GAP_10US = (7002, 3, 10) if mode == 'burst' else (7000, 1, 0)


def probe(seq, port=None):
    payload = (struct.pack('!IBBB', seq, COPIES, 0, GAP_10US) if PORT == 7002 else struct.pack('!I', seq)).ljust(32, b'p')
    udp = struct.pack('!HHHH', 40000, port or PORT, 8 + len(payload), 0) + payload
    ip = struct.pack('!BBHHHBBH4s4s', 0x45, 0, 20 + len(udp), seq & 0xffff, 0, 64, 17, 0, MY_IP, VM_IP)
    words = sum(struct.unpack('!10H', ip))
    words = (words >> 16) + (words & 0xffff)
    ip = ip[:10] + struct.pack('!H', ~(words + (words >> 16)) & 0xffff) + ip[12:]
    return VM_MAC + MY_MAC + b'\x08\x00' + ip + udp


def probe_seq(frame):
    # a probe's or an answer's key (UDP port PORT either way): its sequence number, with the
    # copy's index in burst mode; else None
    if frame[12:14] != b'\x08\x00' or frame[23] != 17:
        return None
    udp = frame[14 + (frame[14] & 0xf) * 4:]
    if PORT not in struct.unpack('!HH', udp[:4]):
        return None
    seq = struct.unpack('!I', udp[8:12])[0]
    return (seq, udp[13]) if PORT == 7002 else seq


def keys(seqs):
    # the answers expected to these probes
    return [(s, k) for s in seqs for k in range(COPIES)] if PORT == 7002 else list(seqs)


# answers: per key, where each answer frame came ('source' or 'destination'), in order (a key
# answered twice at B may be a stale buffer); counters: the guest's counters service's answers
answers, done, redirected, first_at_destination, counters = {}, threading.Event(), [], [], []
COUNTERS_PORT = 7003   # guestd's counters service: UDP_PORT + 3
redirect = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0800))


def listen(tap, where):
    # answers to our probes, and our ARP answer to the guest's question for MY_IP
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0003))
    s.bind((tap, 0))
    s.settimeout(0.2)
    while not done.is_set():
        try:
            frame, addr = s.recvfrom(2048)
        except socket.timeout:
            continue
        if addr[2] == socket.PACKET_OUTGOING:
            continue
        if frame[12:14] == b'\x08\x06' and frame[20:22] == b'\x00\x01' and frame[38:42] == MY_IP:
            s.send(frame[6:12] + MY_MAC + b'\x08\x06' + frame[14:20] + b'\x00\x02' + MY_MAC + MY_IP
                   + frame[22:32])
        elif frame[:12] == VM_MAC + MY_MAC and where == 'source':
            redirect.send(frame)   # a probe the source's drain sent on: to the destination, as PE_A's redirect
            redirected.append(probe_seq(frame))
        elif frame[6:12] == VM_MAC and frame[12:14] == b'\x08\x00' and frame[23] == 17 \
                and frame[34:36] == struct.pack('!H', COUNTERS_PORT):
            counters.append(frame[42:].decode(errors='replace'))
        elif frame[6:12] == VM_MAC and probe_seq(frame) is not None:
            answers.setdefault(probe_seq(frame), []).append(where)
            if where == 'destination':
                first_at_destination.append(time.time())


def settle(quiet=1.0, most=20):
    # until no answer came for `quiet` s (at least 2 s, at most `most`): a guest behind on its
    # probes (a loaded host) answers the rest at the destination
    start = time.monotonic()
    seen, since = len(answers), time.monotonic()
    while time.monotonic() - start < most:
        time.sleep(0.1)
        if len(answers) != seen:
            seen, since = len(answers), time.monotonic()
        elif time.monotonic() - since >= quiet and time.monotonic() - start >= 2:
            return


def parse_counters(text):
    # the counters service's text: 'Ip:'/'Udp:' header and value lines, then eth0's line of
    # /proc/net/dev (receive packets is its 2nd field, receive drops its 4th, transmit packets its 10th)
    lines, out = text.splitlines(), {}
    for name in ('Ip', 'Udp'):
        pair = [l.split()[1:] for l in lines if l.startswith(name + ':')]
        if len(pair) == 2:
            wanted = ('InReceives', 'InHdrErrors', 'InAddrErrors', 'InDiscards', 'InDelivers') if name == 'Ip' \
                else ('InDatagrams', 'NoPorts', 'InErrors', 'OutDatagrams', 'RcvbufErrors', 'SndbufErrors',
                      'InCsumErrors')
            out.update({name + k: int(v) for k, v in zip(*pair) if k in wanted})
    eth = [l.split(':', 1)[1].split() for l in lines if l.strip().startswith('eth0:')]
    if eth:
        out.update({'eth0RxPackets': int(eth[0][1]), 'eth0RxDrop': int(eth[0][3]),
                    'eth0TxPackets': int(eth[0][9])})
    return out


def stop_stamp(qmp, since):
    e = next((e for e in qmp.events[since:] if e['event'] == 'STOP'), None)
    return e and wq.event_stamp(e)


report = {'mode': mode}
try:
    src.start()
    report['readySeconds'] = src.wait_ready(120)
    dst.start()
    q = src.qmp
    first, first_dst = len(q.events), len(dst.qmp.events)
    sent = []
    # probes in every mode: in memory's, the guest's kernel then writes (their receive path) up to STOP
    redirect.bind(('tgdst0', 0))
    for tap, where in (('tgsrc0', 'source'), ('tgdst0', 'destination')):
        threading.Thread(target=listen, args=(tap, where), daemon=True).start()
    tx = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0800))
    tx.bind(('tgsrc0', 0))

    def send():
        due = time.monotonic()
        while not done.is_set() and not stop_stamp(q, first):   # until STOP: the tap keeps the rest
            tx.send(probe(len(sent)))
            sent.append(len(sent))
            due += 1.0 / RATE
            time.sleep(max(0, due - time.monotonic()))
    threading.Thread(target=send, daemon=True).start()
    time.sleep(1.5)
    q.execute('migrate-set-capabilities', capabilities=[{'capability': 'events', 'state': True},
              {'capability': 'pause-before-switchover', 'state': True}])
    q.execute('migrate-set-parameters', **{'max-bandwidth': 20_000_000, 'downtime-limit': 300})
    q.execute('migrate', uri='unix:' + sock_path)
    q.wait_event('MIGRATION', 120, {'status': 'pre-switchover'}, since=first)
    time.sleep(PAUSE_S)
    q.execute('migrate-continue', state='pre-switchover')
    q.wait_event('MIGRATION', 60, {'status': 'completed'}, since=first)
    info = q.execute('query-migrate')
    report['qemu'] = {'downtimeMs': info.get('downtime'), 'totalMs': info.get('total-time'),
                      'dirtySyncs': info.get('ram', {}).get('dirty-sync-count')}
    if mode != 'memory':
        # the source stopped for good: what its guest never took is sent on (Vm.drain_tap), the
        # listener above carries it to the destination
        report['notTakenByNic'] = [probe_seq(f) for f in src.frames_not_taken()] if src.mirror else None
        report['drained'] = dict(zip(('frames', 'bytes', 'fromQemuQueue', 'fromGuest'), src.drain_tap()))
        report['rxRing'], report['txRing'], report['txCheck'] = src.rx_ring, src.tx_ring, src.tx_check
        # the guest's answers QEMU never wrote (sent as it stopped: purged by the stop, or held),
        # which the drain sent
        report['answersNotWritten'] = [probe_seq(f) for f in src.sent_drained or []]
        resumed = wq.event_stamp(dst.qmp.wait_event('RESUME', 30, since=first_dst))
        settle()                                    # answers of the frames the guest took with it
        quiet = set(answers)
        # then, as the bed's traffic would, new probes reach the guest at the destination
        for k in range(5):
            redirect.send(probe(1_000_000 + k))
            time.sleep(0.05)
        settle()
        report['mirror'] = report['notTakenByNic'] is not None
        report['sent'] = len(sent)
        report['redirected'] = len(redirected)
        expected = keys(sent)
        report['answers'] = len(expected)
        at_destination = [s for s in expected if answers.get(s, [None])[0] == 'destination']
        report['answeredAtDestination'] = len(at_destination)
        # which ones: a probe the NIC took at A and the guest answered at B, or not (a lost probe,
        # 2026-11-30: taken at A, every frame the guest sent written, never answered)
        report['answeredAtDestinationFirst'] = at_destination[:10]
        report['unansweredBeforeNewTraffic'] = [s for s in expected if s not in quiet][:20]
        report['newProbesAnswered'] = sum(1 for k in range(5)
                                          if all(a in answers for a in keys([1_000_000 + k])))
        # how long the guest takes to answer once it runs at the destination (QEMU alone, no WAN)
        report['firstAnswerAfterResumeMs'] = (round((first_at_destination[0] - resumed) * 1000, 1)
                                              if first_at_destination else None)
        # the guest's own drops (its reporter prints a line when a counter moves): a probe it
        # dropped itself is not the move's loss
        report['guestDrops'] = [line for vm in (src, dst) for line in vm.console_text().splitlines()
                                if 'wanmig-guest: udp' in line][-2:]
        # every counter line of the guest's reporter (IP, ARP, NIC drops too), at B last
        report['guestCounters'] = [line for vm in (src, dst) for line in vm.console_text().splitlines()
                                   if line.startswith('wanmig-guest: ') and 'ready' not in line][-6:]
        report['unanswered'] = [s for s in expected if s not in answers][:20]
        report['answeredTwice'] = sorted(([k, w] for k, w in answers.items() if len(w) > 1), key=str)[:20]
        # the guest's counters at B, against what it was sent: which layer a lost probe left by
        # (the NIC's count, IP's, UDP's, the answers sent)
        redirect.send(probe(2_000_000, port=COUNTERS_PORT))
        for _ in range(30):
            if counters:
                break
            time.sleep(0.1)
        report['guestCountersAtDestination'] = parse_counters(counters[0]) if counters else None
        report['answerFrames'] = sum(len(w) for w in answers.values())
    else:
        for _ in range(100):
            if dst.qmp.execute('query-migrate').get('status') == 'completed':
                break
            time.sleep(0.1)
        report['destination'] = dst.qmp.execute('query-status')['status']
        paths = [os.path.join(out, n + '.ram') for n in ('source', 'destination')]
        for vm, path in zip((src, dst), paths):
            vm.qmp.execute('pmemsave', val=0, size=MEM_MB << 20, filename=path)
        differ = []
        with open(paths[0], 'rb') as a, open(paths[1], 'rb') as b:
            for page in range((MEM_MB << 20) // 4096):
                if a.read(4096) != b.read(4096):
                    differ.append(hex(page * 4096))
        report['pages'] = (MEM_MB << 20) // 4096
        report['pagesDiffering'] = differ[:20]
        report['pagesDifferingCount'] = len(differ)
        report['sent'] = len(sent)
        for path in paths:
            os.unlink(path)
finally:
    done.set()
    src.stop()
    dst.stop()
    nbd.kill()
    nbd.wait()
print(json.dumps(report))
"""


def check(r, failures):
    """The checks of one migration's report."""
    name = r['mode']
    if name == 'memory':
        if r['destination'] != 'paused':
            failures.append('memory: the destination is %s, not paused (-S)' % r['destination'])
        if r['pagesDiffering']:
            failures.append('memory: pages differ from the source: %s' % r['pagesDiffering'])
        return
    if not r['mirror']:
        failures.append('%s: no NIC mirror' % name)
    if r['sent'] < 1000:
        failures.append('%s: only %d probes sent before STOP' % (name, r['sent']))
    if r['drained']['frames'] - r['drained']['fromGuest'] != r['redirected']:
        failures.append('%s: the drain sent %d frames to the guest, %d reached the destination'
                        % (name, r['drained']['frames'] - r['drained']['fromGuest'], r['redirected']))
    tx = r['txCheck'] or {}
    if not tx.get('mirrored') or not tx.get('written') or tx.get('notWritten') is None:
        failures.append('%s: the guest\'s frames (mirror) and the tap\'s (capture) did not line up: %s'
                        % (name, r['txCheck']))
    if r['newProbesAnswered'] != 5:
        failures.append('%s: %d of 5 new probes answered at the destination' % (name, r['newProbesAnswered']))
    if r['unanswered']:
        failures.append('%s: probes never answered: %s (guest: %s)' % (name, r['unanswered'], r['guestDrops']))
    if r['answeredTwice']:
        # the guest got a probe twice: a drain sent on a frame its NIC had taken
        failures.append('%s: answers seen twice: %s' % (name, r['answeredTwice']))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--out', default=os.path.join(ROOT, 'out', 'vm-guest-move-' + time.strftime('%Y%m%d-%H%M%S')))
    parser.add_argument('--modes', default='echo,burst,memory',
                        help='migrations to run, in order (scripts/test-vm runs the default)')
    args = parser.parse_args()
    out = os.path.abspath(args.out)
    os.makedirs(out, exist_ok=True)
    failures, runs = [], []
    for mode in args.modes.split(','):
        rc, stdout, stderr = wq.run_in_netns('wanmig-gmove-%d' % os.getpid(), CHILD,
                                             [os.path.join(ROOT, 'mininet-topos'), out, mode], 180,
                                             'qemu-system-x86_64 -name gmove-|qemu-nbd .*-p 10899')
        if rc != 0:
            failures.append('%s: %s' % (mode, 'no result in 180 s' if rc is None else 'child exited %d' % rc))
            runs.append({'mode': mode, 'stderrTail': stderr[-2000:]})
            continue
        r = json.loads(stdout.strip().splitlines()[-1])
        check(r, failures)
        runs.append(r)
    with open(os.path.join(out, 'report.json'), 'w') as f:
        json.dump({'runs': runs, 'failures': failures}, f, indent=2)
    print(json.dumps({'runs': [{k: v for k, v in r.items() if k != 'stderrTail'} for r in runs],
                      'failures': failures}, indent=2))
    for r in runs:
        if 'stderrTail' in r:
            print(r['stderrTail'], file=sys.stderr)
    print('vm guest move test: %s (%s)' % ('PASS' if not failures else 'FAIL', out))
    return 1 if failures else 0


if __name__ == '__main__':
    sys.exit(main())
