#!/usr/bin/python3
"""
The frames a stopped source guest never read are all sent on, the one in QEMU's own net queue too.

    /usr/bin/python3 scripts/vm_nic_drain_test.py [--out DIR]

A real QEMU (the guest of guest/build, TCG) with its NIC on a tap, in a network namespace of the
test's own; no switch, no migration. While the guest runs, 2 frames are sent to it (it takes them:
its virtio-net reads them). Then QMP `stop`, as QEMU's migration does at STOP, and 3 more frames.
QEMU's tap backend reads the first of those before it learns the stopped NIC takes none and holds
it in its own queue; the other 2 stay in the tap. Vm.drain_tap() must give back exactly the 3, in
order, unchanged, on the host side of the tap (where the switch would take them on through the
redirect), the first from the NicMirror (its copy stamped after STOP) and not the 2 the guest
took. Then nothing more on a second drain.
Then the same with a QEMU that refuses the mirror (a chardev of the mirror's id on its command
line, so QMP's chardev-add fails) and a tap whose capture cannot be opened (TapCapture made to
fail as a refused packet socket would): the VM starts and runs without either, logs both, and its
drain gives back the 2 frames of the tap's queue only (the one QEMU holds is lost, as before the
mirror) and none of the guest's.
Bounded: 180 s per QEMU; the namespace and QEMU are removed on failure too. Writes
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
import json, os, socket, sys, time
sys.path.insert(0, sys.argv[1])
import wanmig_qemu as wq
out, refuse = sys.argv[2], sys.argv[3] == 'refuse'
if refuse:
    class RefusedCapture:
        def __init__(self, tap, keep=64):
            raise PermissionError(1, 'packet socket refused (the test)')
    wq.TapCapture = RefusedCapture
guest = wq.build_guest()
image = os.path.join(out, 'disk.img')
with open(image, 'wb') as f:
    f.truncate(16 << 20)
vm = wq.Vm('drain', guest, out, tap='tqdrain0', image=image, ip='10.9.0.10/24', gateway=None,
          extra_args=['-chardev', 'null,id=nicmirror-tx'] if refuse else [])
report = {}
try:
    vm.start()
    report['mirror'] = vm.mirror is not None
    report['capture'] = vm.capture is not None
    report['readySeconds'] = vm.wait_ready(120)
    host = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x88b5))
    host.bind(('tqdrain0', 0x88b5))
    frame = lambda tag: (bytes.fromhex('ffffffffffff020000000001' '88b5')
                         + ('wanmig-drain-%s' % tag).encode().ljust(46, b'.'))
    for k in range(2):                          # the running guest reads these
        host.send(frame('running-%d' % k))
    time.sleep(1)
    vm.qmp.execute('stop')
    vm.qmp.wait_event('STOP', 10)
    sent = [frame('stopped-%d' % k) for k in range(3)]
    for f in sent:
        host.send(f)
    time.sleep(1)                               # QEMU's main loop reads the first one
    report['status'] = vm.qmp.execute('query-status')['status']
    report['drained'] = vm.drain_tap()
    report['again'] = vm.drain_tap()
    back = wq.frames_written_back(host, 4)     # 4: one too many would show
    report['sent'] = [f.hex() for f in sent]
    report['back'] = back
finally:
    vm.stop()
print(json.dumps(report))
"""


def run_guest(ns, out, mode, failures):
    """One QEMU in a namespace of its own: with the mirror ('mirror') or refusing it ('refuse')."""
    rc, stdout, stderr = wq.run_in_netns(ns, CHILD, [os.path.join(ROOT, 'mininet-topos'), out, mode], 180,
                                         'qemu-system-x86_64 -name drain ')
    report = {'stderrTail': stderr[-2000:]}
    if rc != 0:
        failures.append('%s: %s' % (mode, 'no result in 180 s' if rc is None else 'child exited %d' % rc))
        return report
    r = json.loads(stdout.strip().splitlines()[-1])
    report.update(r)
    refused = mode == 'refuse'
    if r['mirror'] == refused:
        failures.append('%s: the VM has %s mirror' % (mode, 'a' if refused else 'no'))
    if refused and 'no NIC mirror' not in stdout:
        failures.append('refuse: the refused mirror was not logged')
    if r['capture'] == refused:
        failures.append('%s: the VM has %s capture of its tap' % (mode, 'a' if refused else 'no'))
    if refused and 'no capture of its tap' not in stdout:
        failures.append('refuse: the refused capture was not logged')
    if r['status'] != 'paused':
        failures.append('%s: the guest is %s, not paused' % (mode, r['status']))
    # nothing the idle guest sent is in flight on its transmit ring: none from the guest
    want = [2, 2 * 60, 0, 0] if refused else [3, 3 * 60, 1, 0]
    if r['drained'] != want:
        failures.append('%s: drained %s, not %s (frames, bytes, from QEMU\'s queue, from the guest)'
                        % (mode, r['drained'], want))
    if r['again'] != [0, 0, 0, 0]:
        failures.append('%s: a second drain sent %s' % (mode, r['again']))
    if r['back'] != (r['sent'][1:] if refused else r['sent']):
        failures.append('%s: not each frame sent on once, in order, unchanged' % mode)
    return report


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--out', default=os.path.join(ROOT, 'out', 'vm-nic-drain-' + time.strftime('%Y%m%d-%H%M%S')))
    args = parser.parse_args()
    out = os.path.abspath(args.out)
    os.makedirs(out, exist_ok=True)
    ns = 'wanmig-qdrain-%d' % os.getpid()
    failures, report = [], {}
    for mode in ('mirror', 'refuse'):
        report[mode] = run_guest(ns, out, mode, failures)
    report['failures'] = failures
    with open(os.path.join(out, 'report.json'), 'w') as f:
        json.dump(report, f, indent=2)
    print(json.dumps({m: {k: v for k, v in r.items() if k != 'stderrTail'} if isinstance(r, dict) else r
                      for m, r in report.items()}, indent=2))
    if failures:
        for mode in ('mirror', 'refuse'):
            print(report[mode].get('stderrTail', ''), file=sys.stderr)
    print('vm nic drain test: %s (%s)' % ('PASS' if not failures else 'FAIL', out))
    return 1 if failures else 0


if __name__ == '__main__':
    sys.exit(main())
