#!/usr/bin/python3
"""
End-to-end failure cases of the real VM under the MMS (the happy path is vm_mms_test.py), on one
testbed (wanmig_vmbed: delayed WAN, embedded runtime, qemu driver, disk on the replication agents),
with a low max-bandwidth so that pre-copy lasts long enough to act in:

    flock /tmp/wanmig-net.lock /usr/bin/python3 scripts/vm_mms_e2e_test.py [--max-bw-mbit 8] [--out DIR] [--cases abcdefghjklmi]

 (a) abort during pre-copy: POST /migrations/ID/abort while MIGRATING with QEMU's migration
     active. Then: ROLLED_BACK; the source QEMU runs (migration cancelled), the destination QEMU is
     gone; storage ASYNC with A primary and B replica; no rule of the migration left; vs1 answers.
 (b) the destination QEMU killed mid-migration (kill -9 by its PID): the source keeps running,
     the migration rolls back (FAILED) with the same checks as (a).
 (c) the destination QEMU killed after the switchover: storage flipped and the redirect installed
     inside the pause, migrate-continue sent, then kill -9 as soon as the source reports "device"
     (it sends the last RAM and the device state). The source either failed or completed by then
     (both are seen); either way the migration rolls back (FAILED) with the checks of (a), A is
     primary again before the guest goes on at A, and the guest sees no I/O error. Pre-copy
     is sped up for this case (max-bandwidth raised on the source's own monitor).
 (d) the destination's replication agent cut off from the MMS inside the pause (the runtime frozen
     until QEMU waits in pre-switchover, B's management link cut, the runtime thawed): the
     take-over call times out (2 s), the migration rolls back (FAILED, noting B not demoted), and
     the guest goes on at A without waiting for B, A primary again (ASYNC, at a generation above
     any take-over B may have done unheard), writing without an I/O error; no rule of the
     migration left. With the link back, B follows A as its replica, in sync.
 (e) the WAN between the DCs fails during pre-copy (both ends of core1-core2 down; h1 still
     reaches A): the migration has no path left for its tunnel and rolls back (FAILED), QEMU's
     migration is cancelled and the source runs on, storage A PRIMARY ASYNC, the guest goes on
     writing at A (how long its writes stalled is reported), no rule of the migration left. With
     the WAN back, B catches up as A's replica.
 (f) A's replication agent killed (kill -9 by its PID) under the running guest and started again:
     QEMU's NBD client holds the guest's requests (reconnect-delay 60 s) and reruns them once it
     has reconnected; the guest goes on writing with no I/O error and never stopped, A is primary
     again and B catches up.
 (g) the WAN goes silent (its delay relay stopped, ports up: nothing for the switches to report)
     the moment the source pauses before switchover, and stays so beyond the qemu driver's
     completion budget (completionBudgetMs, 5 s in the bed's netcfg). The hook goes through (B
     takes over, the redirect is confirmed), then QEMU sends the last RAM and the device state
     into the silent WAN holding its big lock, so its monitor answers nothing, migrate_cancel
     included. Then: FAILED (QEMU did not complete within the budget, or migrate-continue
     unanswered within it), the stream cut by A's hypervisor agent (without it the guest stays
     paused until TCP gives up, about 15 minutes), the guest going on at A within the budget and
     8 s, QEMU's migration failed, storage A PRIMARY ASYNC above B's take-over, no rule left, the
     destination QEMU gone; with the WAN back, B follows A as its replica and h1's TCP probe connection, its
     retransmissions backed off through the pause, is acknowledged again.
 (h) as (e), but the WAN goes silent (ports up): B's stream from A stops, and the take-over
     check asked every 2 s while QEMU copies fails the migration (B would refuse the take-over in
     the pause); the same checks as (e).
 (i) the WAN silent for 2 s the moment the source pauses before switchover: the guest's pause is
     that much longer, the stream's TCP catches up and the migration COMPLETES (the VM ends at B,
     B PRIMARY, no rule of the migration left, the guest writing and answering at B).
 (j) as (g), and the runtime that sent migrate-continue killed (kill -9) as soon as the source
     reports "device", then started again on its state directory. The record's mark of the
     switchover may not have reached the disk (it is written after the take-over is sent), and
     the source's monitor greets no one. The new runtime learns of the take-over from B's agent
     (CUTOVER, "before the restart"), asks A's agent for the cut when the monitor stays silent,
     starts no other migration, and reclaims A above B: FAILED, the guest going on at A within
     the budget and 20 s, and the checks of (g). (Before, it restored A as primary below B's generation: two
     primaries while the WAN was silent, then both copies replicas once it came back.)
 (k) as (j), and B's replication agent cut off from the MMS before the new runtime starts (the
     kill may come before the record's mark of the switchover reached the disk): the successor
     cannot learn whether B took over, notes so, and rolls back as if it had: A reclaimed above
     any take-over (retire, reclaim), the guest going on at A only after that, B noted not
     demoted; FAILED within 60 s, and the checks of (g). With B's link and the WAN back, B is
     fenced by A's generation and follows A as its replica.
 (l) A's replication agent killed (kill -9 by its PID) during pre-copy, with storage SYNC, and
     started again 1 s later: QEMU's NBD client holds the guest's writes meanwhile. B may take over
     in the pause only if it holds every write A acknowledged (the agent's take-over check): the
     migration COMPLETES, or FAILS and rolls back with the checks of (a). Either way no I/O error
     reaches QEMU; after a completion the guest is migrated back to A. Then A is PRIMARY and
     ASYNC (a copy promoted again does not keep the SYNC of its earlier move) and B catches up.
 (m) as (l), A's agent down for 8 s: B's take-over check fails the migration (FAILED, the checks of
     (a)) while A is down, and the rollback's storage step is tried again until A answers, so A
     ends PRIMARY and ASYNC (one failed try used to leave it SYNC for good, "rollback incomplete").
 Throughout: probes from h1 (UDP echo, one TCP connection that must survive); at the end every
 write the guest acknowledged is in the image where it runs (A, or B after (i)), no guest I/O
 error, the guest never rebooted.
Each migration is bounded (60 s to act, 90 s to end). Writes DIR/report.json; exit 1 on a failure.
"""

import json
import os
import signal
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import wanmig_vmbed as vb       # noqa: E402
import wanmig_testbed as tb     # noqa: E402
import wanmig_qemu as wq        # noqa: E402


def kill_destination(bed):
    """kill -9 of the destination QEMU by its PID (checked to be QEMU first): (vm, pid, when)."""
    dest = bed.vm('dcB')
    pid = dest.proc.pid
    with open('/proc/%d/comm' % pid) as f:
        comm = f.read().strip()
    if not comm.startswith('qemu'):
        raise RuntimeError('PID %d of the destination is %r, not QEMU' % (pid, comm))
    os.kill(pid, signal.SIGKILL)
    return dest, pid, time.time()


class WriteStall(threading.Thread):
    """Samples how many writes the guest acknowledged (its ack log) every 0.2 s; longest() is the
    longest span with none, in s: how long its disk stalled."""

    def __init__(self, acks_path):
        super().__init__(daemon=True)
        self.path, self.samples, self.done = acks_path, [], threading.Event()

    def run(self):
        while not self.done.wait(0.2):
            self.samples.append((time.time(), len(wq.read_acks(self.path)[0])))

    def longest(self):
        self.done.set()
        self.join(5)
        longest, since = 0.0, None
        for (t, n), (_, before) in zip(self.samples[1:], self.samples):
            if n == before:
                since = since if since is not None else t
                longest = max(longest, t - since)
            else:
                since = None
        return round(longest, 1)


def caught_up(bed):
    """'in sync' once A, made SYNC, has its replica in sync (then back to ASYNC), else why not."""
    try:
        bed.stor.sync_up('dcA', then_async=True)
        return 'in sync'
    except RuntimeError as e:
        return str(e)


def answering(query, dc):
    """query(dc) (qemu_status, migrate_status), or None while the QEMU's monitor does not answer."""
    try:
        return query(dc)
    except wq.QmpError:
        return None


def tcp_probe_drained(h1, port=7001):
    """True when h1's TCP probe connection to the VM is established with nothing unacknowledged."""
    fields = h1.cmd('ss -tnH state established "( dport = :%d )"' % port).split()
    return len(fields) >= 4 and fields[1] == '0'


def check_rolled_back(bed, mid, final, want_state, checks):
    """The common checks after a migration given up before completion; appends failures."""
    def expect(ok, what):
        checks.append({'check': what, 'ok': bool(ok)})
    expect(final.get('state') == want_state, 'state %s (is %s: %s)' % (want_state, final.get('state'),
                                                                        final.get('error')))
    expect(bed.qemu_status('dcA') == 'running', 'source QEMU running (is %s)' % bed.qemu_status('dcA'))
    tb.wait_until(lambda: bed.vm('dcB') is None, 30, 0.2, 'the destination QEMU stopped by its agent')
    roles = bed.roles()
    expect(roles['dcA'] == ('PRIMARY', 'ASYNC') and roles['dcB'][0] == 'REPLICA',
           'storage A PRIMARY ASYNC, B REPLICA (is %s)' % roles)
    left = tb.migration_flows(mid)
    expect(not left, 'no rule of the migration left (%d left)' % len(left))
    expect(vb.udp_echo_ok(bed.net.get('h1')), 'vs1 answers UDP echo at A')
    return roles


def case_a(bed, args, report):
    """(a) abort during pre-copy"""
    checks = []
    mid = tb.start_migration('vs1', 'dcB')['id']
    bed.wait_precopy(mid)
    time.sleep(2)
    at_migrating = bed.roles()
    checks.append({'check': 'storage A PRIMARY SYNC while MIGRATING (is %s)' % at_migrating,
                   'ok': at_migrating['dcA'] == ('PRIMARY', 'SYNC')})
    status, body = tb.rest('POST', '/migrations/%s/abort' % mid)
    aborted = time.time()
    checks.append({'check': 'POST abort -> 200 (%s)' % status, 'ok': status == 200})
    final = tb.watch_migration(mid, timeout=90)
    check_rolled_back(bed, mid, final, 'ROLLED_BACK', checks)
    checks.append({'check': 'QEMU migration cancelled (is %s)' % bed.migrate_status('dcA'),
                   'ok': bed.migrate_status('dcA') == 'cancelled'})
    report['cases']['abortDuringPrecopy'] = {'migration': mid, 'state': final.get('state'),
                                             'abortToEndS': round(time.time() - aborted, 2),
                                             'timeline': [(e['state'], e.get('detail', '')[:200])
                                                          for e in final.get('timeline', [])],
                                             'checks': checks}


def case_b(bed, args, report):
    """(b) the destination QEMU killed in pre-copy"""
    checks = []
    mid = tb.start_migration('vs1', 'dcB')['id']
    bed.wait_precopy(mid)
    time.sleep(2)
    dest, pid, killed = kill_destination(bed)
    final = tb.watch_migration(mid, timeout=90)
    checks.append({'check': 'the destination QEMU (PID %d) is dead' % pid, 'ok': dest.proc.poll() is not None})
    check_rolled_back(bed, mid, final, 'FAILED', checks)
    checks.append({'check': 'QEMU migration failed at the source (is %s)' % bed.migrate_status('dcA'),
                   'ok': bed.migrate_status('dcA') == 'failed'})
    report['cases']['destinationKilled'] = {'migration': mid, 'state': final.get('state'),
                                            'error': final.get('error'),
                                            'killToEndS': round(time.time() - killed, 2),
                                            'timeline': [(e['state'], e.get('detail', '')[:200])
                                                         for e in final.get('timeline', [])],
                                            'checks': checks}


def case_c(bed, args, report):
    """(c) the destination QEMU killed after the switchover, while the source sends the rest"""
    src_vm = bed.vm('dcA')
    checks = []
    since = len(src_vm.qmp.events)
    mid = tb.start_migration('vs1', 'dcB')['id']
    bed.wait_precopy(mid)
    bed.speed_up('dcA', args.bw)
    src_vm.qmp.wait_event('MIGRATION', 90, {'status': 'device'}, since=since)
    dest, pid, killed = kill_destination(bed)
    after_kill = bed.migrate_status('dcA')
    final = tb.watch_migration(mid, timeout=90)
    checks.append({'check': 'the destination QEMU (PID %d) is dead' % pid, 'ok': dest.proc.poll() is not None})
    checks.append({'check': 'the switchover happened in the pause before the kill',
                   'ok': any('inside the hypervisor' in d for d in vb.timeline_details(final))})
    # the guest resumed at A only once storage was back: it goes on writing there
    if not vb.writes_go_on(src_vm.acks):
        raise RuntimeError('the guest does not write at A again')
    check_rolled_back(bed, mid, final, 'FAILED', checks)
    report['cases']['destinationKilledAfterSwitchover'] = {
        'migration': mid, 'state': final.get('state'), 'error': final.get('error'),
        'sourceMigrationAfterKill': after_kill, 'killToEndS': round(time.time() - killed, 2),
        # writes that met A's demoted copy before the restore: held by werror=stop, retried by cont
        'sourceStoppedOnWriteError': sum(1 for e in src_vm.qmp.events[since:] if e['event'] == 'BLOCK_IO_ERROR'),
        'timeline': [(e['state'], e.get('detail', '')[:200]) for e in final.get('timeline', [])],
        'checks': checks}


def case_d(bed, args, report):
    """(d) the destination's replication agent cut off from the MMS inside the pause"""
    src_vm = bed.vm('dcA')
    checks = []
    generation_before = bed.stor.status('dcA')['generation']
    since = len(src_vm.qmp.events)
    mid = tb.start_migration('vs1', 'dcB')['id']
    bed.wait_precopy(mid)
    paused = bed.freeze_runtime_into_pause('dcA', args.bw)
    try:
        bed.stor.cut_control('dcB')
    finally:
        bed.thaw_runtime()
    tb.wait_until(lambda: bed.qemu_status('dcA') == 'running', 30, 0.05, 'the guest going on at A')
    pause_s = time.time() - paused
    final = tb.watch_migration(mid, timeout=90)
    details = vb.timeline_details(final)
    checks.append({'check': 'FAILED in the pause (is %s: %s)' % (final.get('state'), final.get('error')),
                   'ok': final.get('state') == 'FAILED'
                   and 'switchover in the pause failed' in (final.get('error') or '')})
    checks.append({'check': 'the rollback notes dcB not demoted',
                   'ok': any('dcB not demoted' in d for d in details)})
    checks.append({'check': 'the guest paused %.1f s at A (the 2 s take-over budget, not the demote of B)'
                   % pause_s, 'ok': pause_s < 8})
    status_a = bed.stor.status('dcA')
    checks.append({'check': 'storage A PRIMARY ASYNC above the take-over B might have done (is %s %s, generation'
                   ' %s from %s)' % (status_a['role'], status_a['mode'], status_a['generation'], generation_before),
                   'ok': status_a['role'] == 'PRIMARY' and status_a['mode'] == 'ASYNC'
                   and status_a['generation'] >= generation_before + 2})
    checks.append({'check': 'the guest writes at A', 'ok': vb.writes_go_on(src_vm.acks)})
    left = tb.migration_flows(mid)
    checks.append({'check': 'no rule of the migration left (%d left)' % len(left), 'ok': not left})
    checks.append({'check': 'vs1 answers UDP echo at A', 'ok': vb.udp_echo_ok(bed.net.get('h1'))})
    bed.stor.restore_control('dcB')
    checks.append({'check': 'B follows A as its replica, in sync (%s)' % caught_up(bed),
                   'ok': caught_up(bed) == 'in sync' and bed.roles()['dcB'][0] == 'REPLICA'})
    report['cases']['destinationAgentCutOffInThePause'] = {
        'migration': mid, 'state': final.get('state'), 'error': final.get('error'),
        'pauseSeconds': round(pause_s, 2),
        # for a guest that stalls afterwards (once, unexplained): its QEMU's account, s from the pause
        'sourceEvents': [(round(wq.event_stamp(e) - paused, 3), e['event'],
                          e.get('data', {}).get('status') or e.get('data', {}).get('reason', ''))
                         for e in src_vm.qmp.events[since:]
                         if e['event'] in ('STOP', 'RESUME', 'BLOCK_IO_ERROR', 'MIGRATION')],
        'sourceStatusAtEnd': answering(bed.qemu_status, 'dcA'),
        'timeline': [(e['state'], e.get('detail', '')[:300]) for e in final.get('timeline', [])],
        'checks': checks}


def case_e(bed, args, report):
    """(e) the WAN between the DCs fails during pre-copy"""
    wan_fails_during_precopy(bed, report, silent=False)


def case_h(bed, args, report):
    """(h) the WAN between the DCs goes silent during pre-copy (ports up)"""
    wan_fails_during_precopy(bed, report, silent=True)


def wan_fails_during_precopy(bed, report, silent):
    """(e) and (h): the link between the DCs down at both ends (the switches report it: no path for
    the tunnel), or silent, its ports up (B's stream from A stops: the take-over check, asked again
    every 2 s while QEMU copies, fails the migration)."""
    src_vm = bed.vm('dcA')
    checks = []
    mid = tb.start_migration('vs1', 'dcB')['id']
    bed.wait_precopy(mid)
    time.sleep(1)
    stall = WriteStall(src_vm.acks)
    stall.start()
    time.sleep(1)
    cut = time.time()
    if silent:
        bed.wan_silent(True)
    else:
        bed.wan(up=False)
    try:
        final = tb.watch_migration(mid, timeout=90)
        ended_s = time.time() - cut
        why = 'can no longer take over' if silent else 'no WAN path'
        checks.append({'check': 'FAILED: %s (is %s: %s)' % (why, final.get('state'), final.get('error')),
                       'ok': final.get('state') == 'FAILED' and why in (final.get('error') or '')})
        checks.append({'check': 'source QEMU running (is %s)' % bed.qemu_status('dcA'),
                       'ok': bed.qemu_status('dcA') == 'running'})
        try:   # QEMU drains the guest's block I/O first: a write waiting on A's dead replica link
            tb.wait_until(lambda: bed.migrate_status('dcA') == 'cancelled', 20, 0.1, 'the migration cancelled')
        except Exception:  # noqa: BLE001 - reported as a check
            pass
        checks.append({'check': 'QEMU migration cancelled (is %s)' % bed.migrate_status('dcA'),
                       'ok': bed.migrate_status('dcA') == 'cancelled'})
        tb.wait_until(lambda: bed.vm('dcB') is None, 30, 0.2, 'the destination QEMU stopped by its agent')
        status_a = bed.stor.status('dcA')
        checks.append({'check': 'storage A PRIMARY ASYNC (is %s %s)' % (status_a['role'], status_a['mode']),
                       'ok': status_a['role'] == 'PRIMARY' and status_a['mode'] == 'ASYNC'})
        checks.append({'check': 'the guest writes at A with the WAN down', 'ok': vb.writes_go_on(src_vm.acks)})
        stall_s = stall.longest()
        # a synchronous write over the dead link waits the agents' ack timeout (5 s), not the
        # peer link's 30 s idle deadline (before: 29.6 s, and the guest frozen by QEMU's drain)
        checks.append({'check': 'the guest\'s writes stalled %.1f s (at most 15)' % stall_s, 'ok': stall_s <= 15})
        left = tb.migration_flows(mid)
        checks.append({'check': 'no rule of the migration left (%d left)' % len(left), 'ok': not left})
        checks.append({'check': 'vs1 answers UDP echo at A', 'ok': vb.udp_echo_ok(bed.net.get('h1'))})
    finally:
        if silent:
            bed.wan_silent(False)
        else:
            bed.wan(up=True)
    synced = caught_up(bed)
    checks.append({'check': 'B caught up as A\'s replica with the WAN back (%s, B %s)' % (synced, bed.roles()['dcB'],),
                   'ok': synced == 'in sync' and bed.roles()['dcB'][0] == 'REPLICA'})
    report['cases']['wanSilentDuringPrecopy' if silent else 'wanFailsDuringPrecopy'] = {
        'migration': mid, 'state': final.get('state'), 'error': final.get('error'),
        'cutToEndS': round(ended_s, 2), 'longestWriteStallS': stall_s,
        'timeline': [(e['state'], e.get('detail', '')[:300]) for e in final.get('timeline', [])],
        'checks': checks}


def kill_and_restart_source_agent(bed, src_vm, down_s=1):
    """A's replication agent killed (SIGKILL by its PID) and started again 1 s later, the guest's
    writes sampled from 1 s before: (the WriteStall, s from the kill to the agent answering)."""
    stall = WriteStall(src_vm.acks)
    stall.start()
    time.sleep(1)
    killed = time.time()
    bed.stor.kill_agent('dcA')
    time.sleep(down_s)
    bed.stor.restart_agent('dcA')
    return stall, time.time() - killed


def case_f(bed, args, report):
    """(f) A's replication agent killed and started again under the running guest"""
    src_vm = bed.vm('dcA')
    checks = []
    since = len(src_vm.qmp.events)
    stall, restarted_s = kill_and_restart_source_agent(bed, src_vm)
    writing = vb.writes_go_on(src_vm.acks, timeout=40)
    stall_s = stall.longest()
    checks.append({'check': 'the guest writes after the agent restarted (stalled %.1f s)' % stall_s,
                   'ok': writing})
    stops = [e for e in src_vm.qmp.events[since:] if e['event'] in ('BLOCK_IO_ERROR', 'STOP')]
    checks.append({'check': 'no I/O error reached QEMU, the guest never stopped (%d events)' % len(stops),
                   'ok': not stops and bed.qemu_status('dcA') == 'running'})
    checks.append({'check': 'storage A PRIMARY, B REPLICA (is %s)' % (bed.roles(),),
                   'ok': bed.roles()['dcA'][0] == 'PRIMARY' and bed.roles()['dcB'][0] == 'REPLICA'})
    synced = caught_up(bed)
    checks.append({'check': 'B caught up with the restarted A (%s)' % synced, 'ok': synced == 'in sync'})
    checks.append({'check': 'vs1 answers UDP echo at A', 'ok': vb.udp_echo_ok(bed.net.get('h1'))})
    report['cases']['sourceAgentRestartedUnderTheGuest'] = {
        'killToAnsweringS': round(restarted_s, 2), 'longestWriteStallS': stall_s, 'checks': checks}


def case_g(bed, args, report):
    """(g) the WAN goes silent right after the switchover, for longer than the driver's budget"""
    report['cases']['wanSilentAfterTheSwitchover'] = wan_silent_after_the_switchover(bed, args, restart=False)


def case_j(bed, args, report):
    """(j) as (g), and the runtime killed (kill -9) and started again while QEMU's stream stalls"""
    report['cases']['wanSilentAfterTheSwitchoverAndTheRuntimeRestarted'] = \
        wan_silent_after_the_switchover(bed, args, restart=True)


def case_k(bed, args, report):
    """(k) as (j), and B's replication agent cut off from the MMS while the runtime restarts"""
    report['cases']['wanSilentAfterTheSwitchoverRuntimeRestartedDestinationAgentSilent'] = \
        wan_silent_after_the_switchover(bed, args, restart=True, destination_silent=True)


def wan_silent_after_the_switchover(bed, args, restart, destination_silent=False):
    """The WAN silent from the source's pause on, beyond the completion budget; with `restart`,
    the runtime that sent migrate-continue is killed once QEMU sends the rest, and a new one on
    its state directory, which knows nothing of that stream, frees the guest. With
    `destination_silent`, B's agent is cut off from the MMS before the new runtime starts, so it
    cannot learn whether B took over, until the rollback is done."""
    with open(vb.CONFIG_VM) as f:
        hypervisor = json.load(f)['apps']['org.wanmig.app']['wanmig']['migration']['hypervisor']
    budget_s = hypervisor['completionBudgetMs'] / 1000.0   # the qemu driver's, set in the bed's netcfg
    # after a restart: the new runtime's start, then a monitor that does not greet it within the
    # budget, then the cut (it knows of the switchover from B's agent) and the rollback
    bound_s = budget_s + 8 if not restart else budget_s + 20 if not destination_silent else 60
    case = {}
    checks = []
    src_vm = bed.vm('dcA')
    if src_vm is None:
        raise RuntimeError('this case starts with vs1 at dcA, which (i) moves to dcB: run (i) last')
    since = len(src_vm.qmp.events)
    generation_before = bed.stor.status('dcA')['generation']
    log_before = os.path.getsize(bed.runtime.log_path)
    mid = tb.start_migration('vs1', 'dcB')['id']
    bed.wait_precopy(mid)
    bed.speed_up('dcA', args.bw)
    src_vm.qmp.wait_event('MIGRATION', 90, {'status': 'pre-switchover'}, since=since)
    paused = time.time()
    try:
        # At once, while the runtime's hook runs: the hook goes through (B's stream from A has been
        # silent for less than its 1.5 s, and the switches are reached over the control network),
        # then QEMU sends the last RAM and the device state into a WAN that forwards nothing. Its
        # monitor answers nothing meanwhile (the migration thread holds the big lock): events only.
        bed.wan_silent(True)
        src_vm.qmp.wait_event('MIGRATION', 30, {'status': 'device'}, since=since)
        if restart:
            case['killedPid'] = bed.runtime.process.pid
            bed.runtime.kill(signal.SIGKILL)
            if destination_silent:
                bed.stor.cut_control('dcB')
            t = time.time()
            bed.runtime.start()
            case['restartSeconds'] = round(time.time() - t, 2)
        tb.wait_until(lambda: answering(bed.qemu_status, 'dcA') == 'running', 90, 0.1, 'the guest going on at A')
        pause_s = time.time() - paused
        final = tb.watch_migration(mid, timeout=90)
        # the guest may have run and stopped again (a write to A's copy before its reclaim, held by
        # werror=stop until the abort's cont): its pause ends with its last RESUME
        resumes = [wq.event_stamp(e) for e in src_vm.qmp.events[since:] if e['event'] == 'RESUME']
        if resumes:
            pause_s = max(pause_s, resumes[-1] - paused)
        details = vb.timeline_details(final)
        if destination_silent:
            # the record's mark may have reached the disk before the kill; else B's silence is noted
            case['switchoverKnownFrom'] = ('the record' if any('inside the hypervisor' in d for d in details)
                                           else 'nowhere (B silent)')
            checks.append({'check': 'the successor noted that B did not say whether it took over, or had the mark',
                           'ok': any('did not say whether it took over' in d or 'inside the hypervisor' in d
                                     for d in details)})
            checks.append({'check': 'the rollback notes dcB not demoted', 'ok': any('dcB not demoted' in d
                                                                                 for d in details)})
        else:
            checks.append({'check': 'the switchover happened in the pause', 'ok': any('inside the hypervisor' in d
                                                                                   for d in details)})
        if restart and not destination_silent:
            # the record's mark, or B's agent when the mark did not reach the disk before the kill
            case['switchoverKnownFrom'] = ("B's agent" if any('before the restart: storage primary at dcB' in d
                                                              for d in details) else 'the record')
        error = final.get('error') or ''
        # after a restart that cannot ask B, how the successor fails depends on when its checks
        # time out (the monitor, B's take-over check): FAILED is what counts
        why = (() if destination_silent else ('after the switchover in the pause',) if restart
               else ('did not complete within', 'migrate-continue refused'))
        checks.append({'check': 'FAILED%s (is %s: %s)' % (', ' + ' or '.join(why) if why else '',
                                                          final.get('state'), error),
                       'ok': final.get('state') == 'FAILED' and (not why or any(w in error for w in why))})
        checks.append({'check': 'the guest paused %.1f s at A: %s, no more than %.0f s'
                       % (pause_s, 'the restart, the monitor unanswered, the cut and the rollback' if restart
                          else 'the completion budget (%.0f s) and the rollback' % budget_s, bound_s),
                       'ok': pause_s < bound_s})
        # failed: the source's agent cut its stream (the monitor answered nothing before)
        checks.append({'check': 'QEMU migration failed or cancelled (is %s)' % bed.migrate_status('dcA'),
                       'ok': bed.migrate_status('dcA') in ('failed', 'cancelled')})
        with open(bed.runtime.log_path, errors='replace') as f:   # both runtimes' (appended) after a restart
            f.seek(log_before)
            cut = 'agent at dcA cut 1 migration stream connection' in f.read()
        checks.append({'check': "the migration stream cut by A's agent (runtime log)", 'ok': cut})
        tb.wait_until(lambda: bed.vm('dcB') is None, 30, 0.2, 'the destination QEMU stopped by its agent')
        status_a = bed.stor.status('dcA')
        checks.append({'check': 'storage A PRIMARY ASYNC above B\'s take-over (is %s %s, generation %s from %s)'
                       % (status_a['role'], status_a['mode'], status_a['generation'], generation_before),
                       'ok': status_a['role'] == 'PRIMARY' and status_a['mode'] == 'ASYNC'
                       and status_a['generation'] >= generation_before + 2})
        checks.append({'check': 'the guest writes at A with the WAN silent', 'ok': vb.writes_go_on(src_vm.acks)})
        errors = [e for e in src_vm.qmp.events[since:] if e['event'] == 'BLOCK_IO_ERROR']
        left = tb.migration_flows(mid)
        checks.append({'check': 'no rule of the migration left (%d left)' % len(left), 'ok': not left})
        checks.append({'check': 'vs1 answers UDP echo at A', 'ok': vb.udp_echo_ok(bed.net.get('h1'))})
    finally:
        bed.wan_silent(False)
        if destination_silent:
            bed.stor.restore_control('dcB')
    synced = caught_up(bed)
    checks.append({'check': 'B caught up as A\'s replica with the WAN back (%s, B %s)' % (synced, bed.roles()['dcB']),
                   'ok': synced == 'in sync' and bed.roles()['dcB'][0] == 'REPLICA'})
    checks.append({'check': 'no QEMU of vs1 at B after the WAN came back', 'ok': bed.vm('dcB') is None})
    # h1's TCP retransmissions backed off during the pause (the next one up to ~25 s after the
    # first loss): the connection survived once everything it sent is acknowledged
    try:
        tb.wait_until(lambda: tcp_probe_drained(bed.net.get('h1')), 40, 0.1, 'the TCP probe connection acknowledged')
        tcp_ok = True
    except TimeoutError:
        tcp_ok = False
    checks.append({'check': "the TCP probe connection's data all acknowledged again", 'ok': tcp_ok})
    case.update({
        'migration': mid, 'state': final.get('state'), 'error': final.get('error'),
        'pauseSeconds': round(pause_s, 2),
        # the source's own account of its pause, in seconds from pre-switchover
        'sourceEvents': [(round(wq.event_stamp(e) - paused, 3), e['event'],
                          e.get('data', {}).get('status') or e.get('data', {}).get('reason', ''))
                         for e in src_vm.qmp.events[since:]
                         if e['event'] in ('STOP', 'RESUME', 'BLOCK_IO_ERROR', 'MIGRATION')],
        # writes that met A's demoted copy before the restore: held by werror=stop, retried by cont
        'sourceStoppedOnWriteError': len(errors),
        'timeline': [(e['state'], e.get('detail', '')[:300]) for e in final.get('timeline', [])],
        'checks': checks})
    return case


def case_i(bed, args, report):
    """(i) the WAN silent for a few seconds the moment the source pauses before switchover: the
    pause is longer, and the migration completes (the VM ends at B)"""
    silence_s = 2   # well inside the driver's completion budget (5 s here)
    checks = []
    src_vm = bed.vm('dcA')
    since = len(src_vm.qmp.events)
    mid = tb.start_migration('vs1', 'dcB')['id']
    bed.wait_precopy(mid)
    bed.speed_up('dcA', args.bw)
    src_vm.qmp.wait_event('MIGRATION', 90, {'status': 'pre-switchover'}, since=since)
    bed.wan_silent(True)
    try:
        time.sleep(silence_s)
    finally:
        bed.wan_silent(False)
    final = tb.watch_migration(mid, timeout=90)
    if final.get('state') == 'COMPLETED':
        EARLIER.append(src_vm)
    details = vb.timeline_details(final)
    checks.append({'check': 'COMPLETED (is %s: %s)' % (final.get('state'), final.get('error')),
                   'ok': final.get('state') == 'COMPLETED'})
    checks.append({'check': 'the switchover happened in the pause',
                   'ok': any('inside the hypervisor' in d for d in details)})
    downtime = [d for d in details if d.startswith('hypervisor: QEMU completed')]
    checks.append({'check': 'the guest runs at B (is %s)' % answering(bed.qemu_status, 'dcB'),
                   'ok': answering(bed.qemu_status, 'dcB') == 'running'})
    roles = bed.roles()
    checks.append({'check': 'storage B PRIMARY, A REPLICA (is %s)' % roles,
                   'ok': roles['dcB'][0] == 'PRIMARY' and roles['dcA'][0] == 'REPLICA'})
    checks.append({'check': 'the guest writes at B', 'ok': vb.writes_go_on(bed.vm('dcB').acks)})
    checks.append({'check': 'vs1 answers UDP echo at B', 'ok': vb.udp_echo_ok(bed.net.get('h1'))})
    left = tb.migration_flows(mid)
    checks.append({'check': 'no tunnel or redirect rule of the migration left (%d left)' % len(left), 'ok': not left})
    report['cases']['wanSilentForAFewSecondsAtTheSwitchover'] = {
        'migration': mid, 'state': final.get('state'), 'silenceSeconds': silence_s,
        'qemu': downtime[0][:200] if downtime else None,
        'timeline': [(e['state'], e.get('detail', '')[:300]) for e in final.get('timeline', [])],
        'checks': checks}


def case_l(bed, args, report):
    """(l) A's replication agent killed (kill -9) during pre-copy and started again 1 s later"""
    report['cases']['sourceAgentKilledDuringPrecopy'] = source_agent_killed_in_precopy(bed, args, 1)


def case_m(bed, args, report):
    """(m) as (l), A's agent down for 8 s: the migration fails, and the rollback's storage step
    waits for it"""
    report['cases']['sourceAgentDownDuringPrecopy'] = source_agent_killed_in_precopy(bed, args, 8, 'FAILED')


def source_agent_killed_in_precopy(bed, args, down_s, must_end=None):
    """(l) and (m): A's agent killed with storage SYNC, started again `down_s` later."""
    src_vm = bed.vm('dcA')
    checks = []
    since = len(src_vm.qmp.events)
    generation_before = bed.stor.status('dcA')['generation']
    mid = tb.start_migration('vs1', 'dcB')['id']
    bed.wait_precopy(mid)
    time.sleep(1)
    stall, restarted_s = kill_and_restart_source_agent(bed, src_vm, down_s)
    if bed.migrate_status('dcA') == 'active':
        bed.speed_up('dcA', args.bw)    # if it goes on, it ends within the case's bound
    final = tb.watch_migration(mid, timeout=90)
    stall_s = stall.longest()
    state = final.get('state')
    checks.append({'check': '%s (is %s: %s)' % (must_end or 'COMPLETED, or FAILED and rolled back', state,
                                                 final.get('error')),
                   'ok': state == must_end if must_end else state in ('COMPLETED', 'FAILED')})
    stops = [e for e in src_vm.qmp.events[since:] if e['event'] == 'BLOCK_IO_ERROR']
    checks.append({'check': 'no I/O error reached the source QEMU (%d)' % len(stops), 'ok': not stops})
    back = None
    if state == 'FAILED':
        check_rolled_back(bed, mid, final, 'FAILED', checks)
        checks.append({'check': 'the guest writes at A', 'ok': vb.writes_go_on(src_vm.acks)})
        details = vb.timeline_details(final)
        checks.append({'check': 'the rollback complete, its storage step tried again while A was down',
                       'ok': not any('rollback incomplete' in d for d in details)
                       and (down_s < 3 or any(d.startswith('storage back at dcA') for d in details))})
    elif state == 'COMPLETED':
        # B took over inside the pause: only a B holding every write A acknowledged may do so
        # (checked at the end, over the guest's whole life); then the guest goes back to A
        roles = bed.roles()
        checks.append({'check': 'storage B PRIMARY, A REPLICA (is %s)' % roles,
                       'ok': roles['dcB'][0] == 'PRIMARY' and roles['dcA'][0] == 'REPLICA'})
        at_b = bed.vm('dcB')
        checks.append({'check': 'the guest writes at B', 'ok': vb.writes_go_on(at_b.acks)})
        EARLIER.append(src_vm)
        back_id = tb.start_migration('vs1', 'dcA')['id']
        bed.wait_precopy(back_id, src='dcB')
        bed.speed_up('dcB', args.bw)
        back = tb.watch_migration(back_id, timeout=90)
        checks.append({'check': 'back to A: COMPLETED (is %s: %s)' % (back.get('state'), back.get('error')),
                       'ok': back.get('state') == 'COMPLETED'})
        EARLIER.append(at_b)
    status_a = bed.stor.status('dcA')
    checks.append({'check': 'storage A PRIMARY ASYNC (is %s %s at generation %s, was %s)' % (
        status_a['role'], status_a['mode'], status_a['generation'], generation_before),
        'ok': status_a['role'] == 'PRIMARY' and status_a['mode'] == 'ASYNC'})
    checks.append({'check': 'the guest runs at A (is %s)' % answering(bed.qemu_status, 'dcA'),
                   'ok': answering(bed.qemu_status, 'dcA') == 'running'})
    synced = caught_up(bed)
    checks.append({'check': 'B caught up as A\'s replica (%s, B %s)' % (synced, bed.roles()['dcB']),
                   'ok': synced == 'in sync' and bed.roles()['dcB'][0] == 'REPLICA'})
    checks.append({'check': 'vs1 answers UDP echo at A', 'ok': vb.udp_echo_ok(bed.net.get('h1'))})
    return {'migration': mid, 'state': state, 'error': final.get('error'), 'downSeconds': down_s,
            'killToAnsweringS': round(restarted_s, 2), 'longestWriteStallS': stall_s,
            'timeline': [(e['state'], e.get('detail', '')[:300]) for e in final.get('timeline', [])],
            'back': None if back is None else back.get('state'), 'checks': checks}


# The QEMUs the guest ran in before the one it runs in now, in order (cases that move it add to it)
EARLIER = []

# in this order by default: (i) leaves the VM at B, every other case starts with it at A
CASES = {'a': case_a, 'b': case_b, 'c': case_c, 'd': case_d, 'e': case_e, 'f': case_f, 'g': case_g, 'h': case_h,
         'j': case_j, 'k': case_k, 'l': case_l, 'm': case_m, 'i': case_i}


def main():
    args, out, report = vb.failure_test_args('vm-mms-e2e-', case_letters=''.join(CASES))
    failures = []
    vb.exit_on_sigterm()
    bed = vb.VmBed(out, bw=args.bw, delay=args.delay, mem_mb=args.mem_mb, max_bandwidth_mbps=args.max_bw_mbit)
    client = None
    try:
        bed.start()
        probes_path = os.path.join(out, 'probes.json')
        client = bed.start_probes(probes_path, rate=50, duration=600)
        time.sleep(2)

        for letter in args.cases:
            CASES[letter](bed, args, report)
        time.sleep(2)     # the guest goes on writing and answering (at A, or at B after (i))
        report['probes'] = vb.stop_probes(client, probes_path)
        if not report['probes']['tcpSurvived']:
            failures.append('the TCP connection did not survive')
        # A stayed primary until (i), if it ran, moved the guest to B: every acknowledged write is
        # in the image where it runs now
        at = 'dcB' if bed.roles()['dcB'][0] == 'PRIMARY' else 'dcA'
        report['writes'], bad = vb.guest_writes_at(bed.image(at), bed.vm(at), EARLIER)
        report['writes']['at'] = at
        failures.extend(bad)
    except Exception as e:  # report, then clean up
        failures.append('%s: %s' % (type(e).__name__, e))
    finally:
        bed.stop()
    return vb.finish_report('vm mms e2e test', out, report, failures)


if __name__ == '__main__':
    sys.exit(main())
