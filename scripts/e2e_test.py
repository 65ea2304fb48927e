#!/usr/bin/python3
"""
End-to-end tests of wanmig on the 2-DC Mininet testbed with the embedded runtime, the emulated
hypervisor and the probes. Run as root after building:

    /usr/bin/python3 scripts/e2e_test.py -v [E2E.test_abort_during_precopy ...]

E2EStorage adds the storage hosts with real replication agents (wanmig-2dc-storage.json) and a
disk writer in vs1: (f) migration with storage, (g) abort during pre-copy with storage.

Every test builds its own net and runtime and tears them down (mn -c included), also on failure.
Traffic goes only to the Mininet hosts and to loopback (the runtime's REST API).
"""

import json
import os
import signal
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import wanmig_testbed as tb                     # noqa: E402
import wanmig_storage as st                     # noqa: E402
from wanmig_hypervisor import where_is          # noqa: E402

HAPPY_PATH = ['REQUESTED', 'PREPARING', 'MIGRATING', 'CUTOVER', 'ROUTES_UPDATED', 'DRAINING', 'COMPLETED']
SHORT_PRECOPY = dict(mem_mb=64, dirty_mb_s=20, bw_mbit=1000)       # about 0.6 s
LONG_PRECOPY = dict(mem_mb=4000, dirty_mb_s=20, bw_mbit=1000)      # about 33 s: time to act while MIGRATING
MEDIUM_PRECOPY = dict(mem_mb=600, dirty_mb_s=20, bw_mbit=1000)     # about 5 s


class Testbed(unittest.TestCase):
    """Net + runtime + hypervisor per test; with storage = True also the storage hosts, their
    replication agents (dcA PRIMARY, dcB REPLICA) and the relays to their control APIs."""
    precopy = SHORT_PRECOPY
    storage = False

    def setUp(self):
        self.workdir = tempfile.mkdtemp(prefix='wanmig-e2e-')
        tb.ensure_ovs()
        tb.mininet_cleanup()
        self.addCleanup(tb.mininet_cleanup)     # cleanups run last-in first-out: this one last
        self.runtime = tb.Runtime(config=st.CONFIG_2DC_STORAGE if self.storage else tb.CONFIG_2DC,
                                  state_dir=os.path.join(self.workdir, 'state'),
                                  log_path=os.path.join(self.workdir, 'runtime.log'))
        os.makedirs(self.runtime.state_dir)
        self.addCleanup(self.runtime.kill)
        self.runtime.start()
        self.net = tb.start_net(storage=self.storage)
        self.addCleanup(tb.stop_net, self.net)
        self.hypervisor = tb.Hypervisor(model=tb.PrecopyModel(**self.precopy)).start()
        self.addCleanup(self.hypervisor.stop)
        self.h1, self.vs1 = self.net.get('h1', 'vs1')
        tb.wait_until(lambda: len(tb.switches_connected(tb.SWITCHES_2DC)) == 5, 60, 0.5,
                      'all switches connected')
        tb.wait_until(lambda: tb.pings(self.h1, tb.VS1_IP), 60, 0.5, 'h1 reaching vs1')
        if self.storage:
            self.stor = st.Storage(self.net, os.path.join(self.workdir, 'storage'))
            self.addCleanup(self.stor.stop)
            self.stor.start()
            tb.wait_until(lambda: tb.pings(self.vs1, st.SIDES['dcA'][1]), 30, 0.5, 'vs1 reaching storA')

    def run(self, result=None):
        """On failure, show the runtime's last log lines."""
        failures = len(result.failures) + len(result.errors) if result else 0
        outcome = super().run(result)
        if result and len(result.failures) + len(result.errors) > failures and hasattr(self, 'runtime'):
            print('\n--- runtime log (%s) ---\n%s' % (self.runtime.log_path, self.runtime.log_tail(60)))
        return outcome

    # ---- helpers

    def start_probes(self, duration=120, rate=200):
        server = tb.start_probe_server(self.vs1, duration=duration + 60)
        self.addCleanup(tb.stop_process, server)
        path = os.path.join(self.workdir, 'probes.json')
        client = tb.start_probe_client(self.h1, path, rate=rate, duration=duration)
        self.addCleanup(tb.stop_process, client)
        time.sleep(1)
        return client, path

    def wait_state(self, mid, state, timeout=60):
        def reached():
            status, m = tb.rest('GET', '/migrations/%s' % mid)
            self.assertEqual(status, 200, m)
            self.assertNotIn(m['state'], [s for s in tb.TERMINAL if s != state], m)
            return m if m['state'] == state else None
        return tb.wait_until(reached, timeout, 0.05, 'migration %s in %s' % (mid, state))

    def assert_served_at(self, pe):
        self.assertEqual(where_is('vs1-sw'), (pe, 2), 'vs1 attachment')
        self.assertTrue(tb.pings(self.h1, tb.VS1_IP, count=5), 'h1 gets answers from vs1 at ' + pe)

    def assert_no_rules_of(self, mid):
        self.assertEqual(tb.migration_flows(mid), [], 'rules of migration %s left on the switches' % mid)


class E2E(Testbed):

    # ---- (a)

    def test_migration_completes_and_tcp_survives(self):
        client, path = self.start_probes()
        migration = tb.start_migration('vs1', 'dcB')
        migration = tb.watch_migration(migration['id'], timeout=120)
        time.sleep(2)
        probes = tb.stop_probe_client(client, path)

        self.assertEqual([e['state'] for e in migration['timeline']], HAPPY_PATH, migration)
        self.assertTrue(probes['tcp']['survived'], probes['tcp'])
        self.assertGreater(probes['tcp']['echoed'], 0)
        self.assert_served_at('peB')
        self.assert_no_rules_of(migration['id'])
        hv = self.hypervisor.migrations[int(migration['id'])].as_dict()
        d = tb.downtime(probes, tb.pause_window(hv))
        print('\n(a) downtime %s' % json.dumps(d))
        self.assertLess(d['longestOutageMs'], 2000, d)

    # ---- (b)

    def test_abort_during_precopy(self):
        self.hypervisor.model = tb.PrecopyModel(**LONG_PRECOPY)
        migration = tb.start_migration('vs1', 'dcB')
        self.wait_state(migration['id'], 'MIGRATING')
        # abort once the hypervisor is copying (on a loaded machine it may take a while to start)
        copying = lambda: getattr(self.hypervisor.migrations.get(int(migration['id'])), 'phase', None) == 'PRECOPY'
        tb.wait_until(copying, 30, 0.02, 'the hypervisor copying')
        time.sleep(1)   # well inside the pre-copy
        status, body = tb.rest('POST', '/migrations/%s/abort' % migration['id'])
        self.assertEqual(status, 200, body)
        migration = tb.watch_migration(migration['id'], timeout=60)

        self.assertEqual(migration['state'], 'ROLLED_BACK', migration)
        hv = self.hypervisor.migrations[int(migration['id'])]
        tb.wait_until(lambda: hv.phase == 'ABORTED', 10, 0.05, 'the hypervisor to stop copying (it is %s)' % hv.phase)
        self.assert_served_at('peA')
        self.assert_no_rules_of(migration['id'])

    # ---- (c)

    def test_runtime_killed_during_migrating_still_ends(self):
        self.hypervisor.model = tb.PrecopyModel(**MEDIUM_PRECOPY)
        client, path = self.start_probes()
        migration = tb.start_migration('vs1', 'dcB')
        self.wait_state(migration['id'], 'MIGRATING')
        # kill once the hypervisor is copying, so its report is what the restarted runtime awaits
        copying = lambda: getattr(self.hypervisor.migrations.get(int(migration['id'])), 'phase', None) == 'PRECOPY'
        tb.wait_until(copying, 30, 0.02, 'the hypervisor copying')
        self.runtime.kill(signal.SIGKILL)
        time.sleep(2)
        self.runtime.start()    # same --state-dir
        migration = tb.watch_migration(migration['id'], timeout=180)
        time.sleep(2)
        probes = tb.stop_probe_client(client, path)

        self.assertIn(migration['state'], ('COMPLETED', 'ROLLED_BACK'), migration)
        self.assert_served_at('peB' if migration['state'] == 'COMPLETED' else 'peA')
        self.assert_no_rules_of(migration['id'])
        print('\n(c) ended %s; tcp %s' % (migration['state'], json.dumps(probes['tcp'])))

    # ---- (d)

    def test_switch_reconnect_gets_its_rules_back(self):
        before = tb.flow_tables(['peA'])['peA']
        self.assertTrue(before, 'peA has rules to lose')
        controller = tb.run(['ovs-vsctl', 'get-controller', 'peA']).stdout.split()
        self.assertTrue(controller)
        tb.run(['ovs-vsctl', 'del-controller', 'peA'], check=True)
        tb.run(['ovs-ofctl', '-O', 'OpenFlow13', 'del-flows', 'peA'], check=True)
        self.assertEqual(tb.flow_tables(['peA'])['peA'], [])
        self.assertFalse(tb.pings(self.h1, tb.VS1_IP), 'vs1 unreachable without peA rules')

        tb.run(['ovs-vsctl', 'set-controller', 'peA'] + controller, check=True)
        tb.wait_until(lambda: tb.flow_tables(['peA'])['peA'] == before, 30, 0.5, 'peA rules restored')
        tb.wait_until(lambda: tb.pings(self.h1, tb.VS1_IP), 10, 0.5, 'h1 reaching vs1 again')

    # ---- hitless restart (issue 7, e2e (c))

    def restart_under_probing(self):
        """kill -9 the runtime and start it again on the same state directory (h1 probing vs1); checks
        that the restarted runtime changed no rule, and returns the window to count probes in (from
        just before the kill to 3 s after the take-over) and the flow tables before and after."""
        before = tb.flow_tables()
        took_over = lambda: [l for l in self.runtime.log_tail(100000).splitlines() if 'took over:' in l]
        takeovers = len(took_over())
        t_kill = time.time()
        self.runtime.kill(signal.SIGKILL)
        time.sleep(1)
        self.runtime.start()    # same --state-dir
        tb.wait_until(lambda: len(tb.switches_connected(tb.SWITCHES_2DC)) == 5, 60, 0.2, 'switches reconnected')
        tb.wait_until(lambda: len(took_over()) > takeovers, 30, 0.1, 'the restarted runtime to take over')
        # what the runtime itself did: it read the tables and found nothing to change
        self.assertTrue(took_over()[-1].endswith('took over: 0 added, 0 replaced, 0 removed'), took_over()[-1])
        time.sleep(3)
        t_end = time.time()
        return t_kill - 0.5, t_end, before, tb.flow_tables()

    def test_kill_9_and_restart_under_probing_loses_no_probe(self):
        client, path = self.start_probes(duration=60, rate=500)
        time.sleep(2)
        since, until, before, after = self.restart_under_probing()
        probes = tb.stop_probe_client(client, path)
        d = tb.downtime(probes, since=since, until=until)
        print('\n(restart) kill -9 + restart at 500 probes/s: %s' % json.dumps(d))
        self.assertGreater(d['probesSent'], 500 * 4, d)
        self.assertEqual(d['probesLost'], 0, d)
        self.assertEqual(after, before, 'the restarted runtime changed rules the switches already had')

    def test_kill_9_and_restart_with_a_migration_in_flight_loses_no_probe(self):
        self.hypervisor.model = tb.PrecopyModel(**LONG_PRECOPY)
        client, path = self.start_probes(duration=120, rate=500)
        migration = tb.start_migration('vs1', 'dcB')
        self.wait_state(migration['id'], 'MIGRATING')
        time.sleep(1)
        since, until, before, after = self.restart_under_probing()
        self.assertEqual(tb.rest('GET', '/migrations/%s' % migration['id'])[1]['state'], 'MIGRATING')
        self.assertEqual(after, before, 'the restarted runtime changed rules the switches already had')
        migration = tb.watch_migration(migration['id'], timeout=120)
        probes = tb.stop_probe_client(client, path)
        d = tb.downtime(probes, since=since, until=until)
        print('\n(restart) kill -9 + restart with migration %s in MIGRATING: %s; ended %s'
              % (migration['id'], json.dumps(d), migration['state']))
        self.assertEqual(d['probesLost'], 0, d)
        self.assertEqual(migration['state'], 'COMPLETED', migration)
        self.assert_served_at('peB')
        self.assert_no_rules_of(migration['id'])

    # ---- netcfg change + restart while MIGRATING (issue 7, e2e (d))

    def test_netcfg_change_and_restart_while_migrating_still_completes(self):
        """The configuration gains a client site while vs1 is in MIGRATING and the runtime restarts
        on it: the migration resumes from its stored plan (a plan recomputed from the new
        configuration would need a tunnel label for the new site) and ends COMPLETED."""
        self.hypervisor.model = tb.PrecopyModel(**LONG_PRECOPY)
        migration = tb.start_migration('vs1', 'dcB')
        self.wait_state(migration['id'], 'MIGRATING')
        with open(self.runtime.config) as f:
            netcfg = json.load(f)
        netcfg['apps']['org.wanmig.app']['wanmig']['clientSites'].append({
            'name': 'site9', 'switch': 'of:0000000000000003', 'port': 9, 'prefixes': ['10.0.9.0/24'],
            'gateway': '10.0.9.254', 'mac': '00:00:00:00:09:09'})
        changed = os.path.join(self.workdir, 'wanmig-2dc-site9.json')
        with open(changed, 'w') as f:
            json.dump(netcfg, f, indent=2)
        self.runtime.kill(signal.SIGKILL)
        self.runtime.config = changed
        self.runtime.start()    # same --state-dir, new configuration
        migration = tb.watch_migration(migration['id'], timeout=150)

        self.assertEqual(migration['state'], 'COMPLETED', migration)
        self.assertEqual(migration['plan']['revision'], 0, 'the stored plan, not a new one')
        self.assert_served_at('peB')
        self.assert_no_rules_of(migration['id'])
        print('\n(netcfg) migration %s resumed on the changed configuration: %s'
              % (migration['id'], ' > '.join(e['state'] for e in migration['timeline'])))

    # ---- (e)

    def test_bad_requests_change_nothing(self):
        self.hypervisor.model = tb.PrecopyModel(**LONG_PRECOPY)

        def snapshot():
            return (json.dumps(tb.migrations_list(), sort_keys=True), tb.flow_tables())

        def expect_refused(body, status, field=None):
            before = snapshot()
            code, answer = tb.rest('POST', '/migrations', body)
            self.assertEqual(code, status, answer)
            self.assertIsInstance(answer, dict, answer)
            self.assertIn('error', answer)
            self.assertIn('field', answer)
            if field:
                self.assertEqual(answer['field'], field, answer)
            time.sleep(0.5)
            self.assertEqual(snapshot(), before, 'a refused request changed migrations or flows')

        expect_refused({'server': 'nosuchvs', 'destination': 'dcB'}, 404, field='server')
        expect_refused({'server': 'vs1'}, 400, field='destination')
        expect_refused({'destination': 'dcB'}, 400, field='server')
        expect_refused({'server': 'vs1', 'destination': 'dcA'}, 400, field='destination')
        expect_refused({'server': 'vs1', 'destination': 'dcZ'}, 404, field='destination')

        migration = tb.start_migration('vs1', 'dcB')
        self.wait_state(migration['id'], 'MIGRATING')
        expect_refused({'server': 'vs1', 'destination': 'dcB'}, 409, field='server')
        tb.rest('POST', '/migrations/%s/abort' % migration['id'])
        tb.watch_migration(migration['id'], timeout=60)



class E2EStorage(Testbed):
    """The VS's disk replicated between agents on storA and storB across the WAN core, written
    over NBD by a writer in vs1 throughout the migration (frozen while the hypervisor pauses vs1)."""
    storage = True

    def start_writer(self):
        path = os.path.join(self.workdir, 'writes.json')
        writer = st.start_writer(self.vs1, path, rate=50, duration=240)
        self.addCleanup(tb.stop_process, writer)
        self.hypervisor.on_pause, self.hypervisor.on_resume = st.pause_hooks(writer)
        time.sleep(1)   # writing before the migration starts
        return writer, path

    # ---- (f)

    def test_migration_with_storage(self):
        writer, path = self.start_writer()
        sampler = st.Sampler(self.stor, interval=0.1).start()
        self.addCleanup(sampler.stop)
        at_migrating = {}

        def on_change(m):
            if m['state'] == 'MIGRATING':
                at_migrating.update(self.stor.status('dcA'))
        migration = tb.start_migration('vs1', 'dcB')
        migration = tb.watch_migration(migration['id'], timeout=120, on_change=on_change)
        after = {dc: self.stor.status(dc) for dc in ('dcA', 'dcB')}
        time.sleep(1)       # the writer goes on at dcB
        writes = st.stop_writer(writer, path)
        samples = sampler.stop()

        self.assertEqual([e['state'] for e in migration['timeline']], HAPPY_PATH, migration)
        detail = next(e['detail'] for e in migration['timeline'] if e['state'] == 'MIGRATING')
        self.assertIn('storage in sync in', detail)
        # at MIGRATING the primary is synchronous; with the VS writing, at most the one write in
        # flight (not yet acknowledged to the VS, which waits for dcB) is not at dcB yet
        self.assertEqual((at_migrating['role'], at_migrating['mode']), ('PRIMARY', 'SYNC'), at_migrating)
        self.assertTrue(at_migrating['peerConnected'], at_migrating)
        self.assertTrue(at_migrating['inSync'] or at_migrating['lagBytes'] <= 4096, at_migrating)
        spans = {e['state']: e['epochMillis'] / 1000 for e in migration['timeline']}
        during = [x for t, dc, x in samples if dc == 'dcA' and spans['MIGRATING'] <= t < spans['CUTOVER']
                  and 'error' not in x]
        self.assertTrue(during, 'no dcA status sampled while MIGRATING')
        self.assertTrue(all(x['mode'] == 'SYNC' and x['role'] == 'PRIMARY' and x['lagBytes'] < 2 * 4096
                            for x in during), during)   # the writer has one write outstanding at a time
        self.assertTrue(any(x['inSync'] for x in during), during)
        # roles reversed
        self.assertEqual(after['dcB']['role'], 'PRIMARY', after)
        self.assertEqual(after['dcA']['role'], 'REPLICA', after)
        self.assert_served_at('peB')
        self.assert_no_rules_of(migration['id'])
        # the writer wrote at dcA, then at dcB, and nothing acknowledged is missing at dcB
        by_target = [sum(1 for w in writes['acked'] if w[2] == i) for i in (0, 1)]
        self.assertGreater(by_target[0], 0, writes['errors'])
        self.assertGreater(by_target[1], 0, writes['errors'])
        self.assertEqual(st.missing_writes(self.stor.image('dcB'), writes), [])
        final = self.stor.resync_back()
        identical, first = st.images_identical(self.stor.image('dcA'), self.stor.image('dcB'))
        self.assertTrue(identical, 'images differ at offset %s' % first)
        print('\n(f) %d writes acked (%d at dcA, %d at dcB), errors %s; at MIGRATING %s; %s; dcB after resync %s'
              % (len(writes['acked']), by_target[0], by_target[1], writes['errors'],
                 json.dumps({k: at_migrating[k] for k in ('mode', 'inSync', 'lagBytes')}), detail.split(';')[1].strip(),
                 json.dumps({k: final[k] for k in ('role', 'mode', 'inSync')})))

    # ---- (g)

    def test_abort_during_precopy_returns_storage_to_async(self):
        self.hypervisor.model = tb.PrecopyModel(**LONG_PRECOPY)
        writer, path = self.start_writer()
        migration = tb.start_migration('vs1', 'dcB')
        self.wait_state(migration['id'], 'MIGRATING')
        self.assertEqual(self.stor.status('dcA')['mode'], 'SYNC')
        time.sleep(1)   # well inside the pre-copy
        status, body = tb.rest('POST', '/migrations/%s/abort' % migration['id'])
        self.assertEqual(status, 200, body)
        migration = tb.watch_migration(migration['id'], timeout=60)
        aborted = time.time()
        time.sleep(1)
        writes = st.stop_writer(writer, path)

        self.assertEqual(migration['state'], 'ROLLED_BACK', migration)
        self.assert_served_at('peA')
        a, b = self.stor.status('dcA'), self.stor.status('dcB')
        self.assertEqual((a['role'], a['mode']), ('PRIMARY', 'ASYNC'), a)
        self.assertEqual(b['role'], 'REPLICA', b)
        # the VS kept writing at dcA the whole time, also after the abort
        self.assertTrue(writes['acked'] and all(w[2] == 0 for w in writes['acked']), writes['errors'])
        self.assertTrue(any(w[3] > aborted for w in writes['acked']), 'no write after the abort')
        tb.wait_until(lambda: self.stor.status('dcA')['lagBytes'] == 0, 30, 0.2, 'dcB caught up (ASYNC)')
        self.assertEqual(st.missing_writes(self.stor.image('dcB'), writes), [])
        print('\n(g) %d writes acked at dcA, dcA %s %s after the abort' % (len(writes['acked']), a['role'], a['mode']))


if __name__ == '__main__':
    if os.geteuid() != 0:
        sys.exit('run as root (Mininet needs it)')
    try:
        # Mininet leaves its host shells to the OS: no ResourceWarnings about them at exit
        program = unittest.main(warnings='ignore', exit=False)
    finally:
        # Ctrl-C skips unittest's cleanups: stop what we started and clear Mininet anyway
        tb.kill_started()
        tb.mininet_cleanup()
    sys.exit(not program.result.wasSuccessful())
