"""
The real VM of `scripts/demo --evacuate --vm` (scripts/demo_evacuate.py): vm1, a QEMU guest (TCG)
in dcA of the 3-DC testbed (wanmig_3dc with storage=True and vm=True), evacuated with the six emulated servers.
Built from the 2-DC VM bed's parts, not a copy of them: the replication agents of dcA (primary)
and dcB (replica) from wanmig_storage with the disk named vm1, a hypervisor agent per DC
(wanmig_hvagent; dcC's knows no vm1, as no disk of it is there), QEMU's figures, the pause
window, the storage roles per phase and the report lines from demo_vm, the guest-write check from
wanmig_qemu.

    vm = EvacuationVm(net, out_dir).start()    # agents, hypervisor agents, vm1 booted at dcA
    ...the evacuation...
    report, failures = vm.check(migration, probes, 'dcB')   # freezes vm1 at dcB: after the pings
    vm.stop()                                  # every process it started, by PID
"""

import os

import wanmig_testbed as tb
import wanmig_storage as st
import wanmig_qemu as wq
import wanmig_vmbed as vb
import demo_vm
from demo import phase_spans
from wanmig_hvagent import HypervisorAgent

NAME, IP, MAC, PORT = 'vm1', '10.2.0.70', '00:00:00:00:02:70', 9     # = wanmig-3dc-6vs-vm.json
GATEWAY = '10.2.0.254'
HV = {'dcA': ('hvA', 'peA', 18401), 'dcB': ('hvB', 'peB', 18402), 'dcC': ('hvC', 'peC', 18403)}
MB_PER_MIB = 1.048576


class EvacuationVm:
    def __init__(self, net, out_dir, mem_mb=128):
        self.net, self.out, self.mem_mb = net, out_dir, mem_mb
        self.stor = self.sampler = self.source = None
        self.agents = {}
        self.boot_seconds = None

    def start(self):
        guest = wq.build_guest()
        for dc in HV:
            self.host(dc).cmd('sysctl -qw net.ipv4.tcp_notsent_lowat=131072')
        storA, storB = self.net.get('storA', 'storB')
        tb.wait_until(lambda: all(tb.pings(self.host(dc), s.IP()) for dc in ('dcA', 'dcB') for s in (storA, storB))
                      and tb.pings(storA, storB.IP()) and tb.pings(self.host('dcA'), self.host('dcB').IP()),
                      60, 0.5, 'routes between hvA, hvB, storA, storB')
        self.stor = st.Storage(self.net, os.path.join(self.out, 'storage'), disks=(NAME,)).start()
        for dc, (host, bridge, port) in HV.items():
            vms = {}
            if dc in st.SIDES:      # vm1's disk has a copy on this DC's agent: it can run here
                vms[NAME] = dict(nbd=(st.SIDES[dc][1], st.NBD_PORT, NAME), mem_mb=self.mem_mb, mac=MAC,
                                 ip=IP + '/24', gateway=GATEWAY, ofport=PORT)
            self.agents[dc] = HypervisorAgent(dc, self.net.get(host), bridge, guest, self.out, vms,
                                              listen=('127.0.0.1', port)).start()
        self.boot_seconds = self.agents['dcA'].boot(NAME, 180)
        tb.wait_until(lambda: vb.udp_echo_ok(self.net.get('h1'), IP), 60, 0.5, 'UDP echo from vm1 at dcA')
        self.source = self.agents['dcA'].vm(NAME)
        self.sampler = st.Sampler(self.stor, interval=0.5, disk=NAME).start()
        return self

    def host(self, dc):
        return self.net.get(HV[dc][0])

    def roles(self):
        return {dc: (s['role'], s['mode']) for dc, s in ((dc, self.stor.status(dc, disk=NAME)) for dc in st.SIDES)}

    def check(self, migration, probes, destination):
        """(report in demo_vm's shape, failures) of vm1's move to `destination`. Freezes the guest
        there to read its disk, so it comes after the reachability checks."""
        failures = []
        samples = self.sampler.stop() if self.sampler else []
        if migration is None:
            return {'failures': ['vm1 was not migrated']}, ['vm1 was not migrated']
        if migration['state'] != 'COMPLETED':
            failures.append('vm1 migration %s: %s' % (migration['state'], migration.get('error')))
        target = self.agents[destination].vm(NAME) if destination in self.agents else None
        window = demo_vm.pause_wall(self.source, target) if target else None
        since = migration['timeline'][0]['epochMillis'] / 1000
        stop = window[0] if window else None
        report = {'migration': migration, 'qemu': demo_vm.qemu_figures(migration),
                  'outagesBeforePause': tb.downtime(probes, window, since=since, until=stop - 0.5 if stop else None),
                  'outagesAroundSwitchover': tb.downtime(probes, window, since=stop - 0.5 if stop else since),
                  'pauseMs': round((window[1] - window[0]) * 1000, 1) if window else None,
                  'pauseWindow': window, 'downtime': tb.downtime(probes, window, since=since), 'tcp': probes['tcp'],
                  'storagePhases': demo_vm.roles_per_phase(demo_vm.collapsed(migration), samples, phase_spans),
                  'settings': {'memMb': self.mem_mb}, 'bootSeconds': self.boot_seconds}
        if not probes['tcp']['survived']:
            failures.append('vm1: the TCP connection broke')
        if target is None:
            failures.append('no vm1 at %s' % destination)
            report['writes'] = {'acked': 0, 'ackedAtB': 0, 'missingCount': None, 'guestIoErrors': [],
                                'writeErrors': []}
        else:
            report['writes'], bad = wq.check_guest_writes(self.stor.image(destination, disk=NAME), self.source, target)
            failures.extend('vm1: ' + b for b in bad)
        roles = report['rolesAfter'] = self.roles()
        if migration['state'] == 'COMPLETED' and (roles['dcB'][0], roles['dcA'][0]) != ('PRIMARY', 'REPLICA'):
            failures.append('vm1: agents\' roles after the migration %s' % roles)
        tb.log('dcB (primary of vm1) resynchronising dcA for the image comparison')
        self.stor.resync_back(disk=NAME)
        identical, first = st.images_identical(self.stor.image('dcA', disk=NAME),
                                                self.stor.image('dcB', disk=NAME))
        report.update(imagesIdentical=identical, firstDifference=first, failures=failures)
        if not identical:
            failures.append('vm1: images differ at offset %s' % first)
        return report, failures

    def stop(self):
        """Everything started here, by PID (also after a failure half-way through start())."""
        if self.sampler is not None:
            self.sampler.stop()
        for dc, agent in self.agents.items():
            try:
                agent.stop()
            except Exception as e:  # noqa: BLE001 - keep cleaning
                tb.log('stopping the hypervisor agent of %s: %s' % (dc, e))
        if self.stor is not None:
            self.stor.stop()


def hypervisor_record(migration_id, report):
    """vm1's QEMU run in the emulated hypervisor's record shape, so that the evacuation report, the
    WAN use and the Gantt treat it like the others: pre-copy from (STOP - (total - downtime)) to
    STOP, the pause from STOP at the source to RESUME at the destination, copying at QEMU's average
    rate (RAM transferred / total time). None when QEMU's figures or the pause are unknown."""
    q, window = report.get('qemu', {}), report.get('pauseWindow')
    if not window or 'totalTimeMs' not in q or not q['totalTimeMs']:
        return None
    stop, resume = window
    precopy_start = stop - (q['totalTimeMs'] - q['downtimeMs']) / 1000
    rate = q['ramTransferredMiB'] * 8 * MB_PER_MIB / (q['totalTimeMs'] / 1000)
    wall = lambda t: {'wall': t}    # noqa: E731
    return {'id': migration_id, 'server': NAME, 'round': max(q['passes'] - 1, 0),
            'copiedMb': round(q['ramTransferredMiB'] * MB_PER_MIB, 3), 'pauseMs': q['downtimeMs'],
            'model': {'bw_mbit': round(rate, 3), 'source': 'QEMU: RAM transferred / total time'},
            'timestamps': {'precopyStart': wall(precopy_start), 'precopyEnd': wall(stop), 'detached': wall(stop),
                           'copied': wall(resume), 'pauseStart': wall(stop), 'attachedAtDestination': wall(resume)}}
