"""openstack gpu allocation show | list against the sandbox."""
import json
import time
import uuid

from gpu_sandbox import client
from tests.functional import base

A30 = 'CUSTOM_PCI_10DE_20B7'


class AllocationTestCase(base.SandboxTestCase):

    def boot_a30_and_vgpu(self):
        a30 = self.boot(self.create_flavor({'pci_passthrough:alias': 'a30:1'}))
        vgpu = self.boot(self.create_flavor({'resources:VGPU': '1'}))
        return a30, vgpu

    def allocated_gpu(self, server_id, resource_class):
        """(provider name, host, address) of the one device Placement
        really allocated: PCI devices are named host_0000:81:00.0, vGPU
        GPUs host_pci_0000_84_00_0."""
        [name] = [n for n, resources in self.allocations(server_id).items()
                  if resource_class in resources]
        host, _, device = name.partition('_')
        if device.startswith('pci_'):
            domain, bus, slot, function = device[4:].split('_')
            device = '%s:%s:%s.%s' % (domain, bus, slot, function)
        return name, host, device.lower()

    def show_failing(self, server):
        """(record, error line) of an 'allocation show' that must exit 1."""
        code, out, err = self.run_openstack('gpu', 'allocation', 'show',
                                            server, '-f', 'json')
        self.assertEqual(1, code, err)
        lines = [line for line in err.splitlines() if line.strip()]
        self.assertEqual(1, len(lines), err)
        return json.loads(out), lines[0]

    def put_allocations(self, consumer, allocations, project, user,
                        generation):
        self.placement('PUT', '/allocations/%s' % consumer, '1.28', json={
            'allocations': {rp: {'resources': r}
                            for rp, r in allocations.items()},
            'project_id': project, 'user_id': user,
            'consumer_generation': generation})


class TestAllocationShow(AllocationTestCase):

    def test_names_the_gpu_placement_allocated_and_passes(self):
        a30, vgpu = self.boot_a30_and_vgpu()
        for server, rc, kind in ((a30, A30, 'passthrough'),
                                 (vgpu, 'VGPU', 'vgpu')):
            name, host, address = self.allocated_gpu(server['id'], rc)
            shown = self.gpu('allocation', 'show', server['name'])
            self.assertEqual(
                (server['id'], host, server['tenant_id'], 'ACTIVE'),
                (shown['Server'], shown['Host'], shown['Project'],
                 shown['Status']))
            [gpu] = shown['GPUs']
            self.assertEqual((host, address, kind, rc, 1),
                             (gpu['host'], gpu['address'], gpu['kind'],
                              gpu['resource_class'], gpu['amount']))
            self.assertEqual(self.provider(name)['uuid'], gpu['provider'])
            self.assertEqual(['ok'] * 3,
                             [c['result'] for c in shown['Checks']])
        shown = self.gpu('allocation', 'show', a30['id'])
        self.assertEqual(['1 × a30 (PCI passthrough)'], shown['GPU Request'])
        self.assertEqual('A30', shown['GPUs'][0]['model'])
        self.assertEqual('asks for 1 × a30; holds 1 × %s' % A30,
                         shown['Checks'][0]['detail'])

    def test_fewer_or_no_gpus_than_asked_fail_with_exit_1(self):
        # vGPUs: Nova 34 puts back a passthrough device's allocation on its
        # next periodic update (seen in the sandbox), not a vGPU's.
        server = self.boot(self.create_flavor({'resources:VGPU': '2'}))
        label = '%s (%s)' % (server['name'], server['id'])
        for left, detail in ((1, 'asks for 2 × VGPU, holds 1'),
                             (0, 'asks for 2 × VGPU, holds 0')):
            held = self.placement('GET', '/allocations/%s' % server['id'],
                                  '1.28')
            # The compute node's resources stay; the GPU shrinks or goes.
            changed = {rp: a['resources'] for rp, a
                       in held['allocations'].items()
                       if 'VGPU' not in a['resources']}
            if left:
                [gpu] = [rp for rp in held['allocations']
                         if rp not in changed]
                changed[gpu] = {'VGPU': left}
            self.put_allocations(server['id'], changed, held['project_id'],
                                 held['user_id'], held['consumer_generation'])
            self.assertEqual(left, sum(r.get('VGPU', 0) for r in
                                       self.allocations(server['id'])
                                       .values()))
            record, error = self.show_failing(server['id'])
            self.assertEqual([left] if left else [],
                             [g['amount'] for g in record['GPUs']])
            self.assertEqual(
                [{'check': 'allocation matches flavor', 'result': 'FAILED',
                  'detail': detail},
                 {'check': 'GPUs on server host', 'result': 'ok',
                  'detail': 'all on vgpu-1' if left else 'no GPU held'},
                 {'check': 'server ACTIVE', 'result': 'ok',
                  'detail': 'status ACTIVE'}], record['Checks'])
            self.assertEqual('server %s fails 1 of 3 checks: allocation '
                             'matches flavor: %s' % (label, detail), error)

    def test_passthrough_class_asked_without_alias_fails(self):
        # Proven: the server goes ACTIVE, Placement holds the device and
        # Nova attaches none: a GPU lost until the server is deleted.
        server = self.boot(self.create_flavor(
            {'resources:CUSTOM_PCI_10DE_2204': '1'}))
        record, error = self.show_failing(server['name'])
        self.assertEqual([('gpu-rtx-1', '0000:41:00.0')],
                         [(g['host'], g['address']) for g in record['GPUs']])
        self.assertIn('asks for CUSTOM_PCI_10DE_2204 through resources: '
                      'instead of pci_passthrough:alias, so Nova attaches no '
                      'device', error)

    def test_server_without_gpu_is_one_line_and_exit_0(self):
        server = self.boot(self.create_flavor({}))
        code, out, err = self.run_openstack('gpu', 'allocation', 'show',
                                            server['name'])
        self.assertEqual((0, 'server %s (%s) holds no GPU\n'
                          % (server['name'], server['id']), ''),
                         (code, out, err))
        record = self.gpu('allocation', 'show', server['id'])
        self.assertEqual(([], []), (record['GPUs'], record['GPU Request']))

    def test_unknown_and_ambiguous_servers_are_one_line(self):
        self.assertEqual("no server named or with ID 'nope'",
                         self.gpu_fails('allocation', 'show', 'nope'))
        ghost = str(uuid.uuid4())
        self.assertEqual("no server named or with ID '%s'" % ghost,
                         self.gpu_fails('allocation', 'show', ghost))
        flavor = self.create_flavor({})
        twins = [self.boot(flavor) for _ in range(2)]
        name = 'twin-%s' % uuid.uuid4().hex[:6]
        for s in twins:
            self.sandbox().compute('PUT', '/servers/%s' % s['id'],
                                   json={'server': {'name': name}})
        self.assertEqual(
            "2 servers are named '%s'; name one by UUID: %s" % (
                name, ', '.join(sorted(s['id'] for s in twins))),
            self.gpu_fails('allocation', 'show', name))

    def test_project_narrows_a_name_used_in_two_projects(self):
        flavor = self.create_flavor({'resources:VGPU': '1'})
        mine = self.boot(flavor, cloud=client.MEMBER_CLOUD)
        theirs = self.boot(flavor)
        name = 'twin-%s' % uuid.uuid4().hex[:6]
        for s in (mine, theirs):
            self.sandbox().compute('PUT', '/servers/%s' % s['id'],
                                   json={'server': {'name': name}})
        line = self.gpu_fails('allocation', 'show', name)
        self.assertIn("2 servers are named '%s'; name one by UUID or narrow "
                      "with --project" % name, line)
        for server, project in ((mine, client.MEMBER['project']),
                                (theirs, theirs['tenant_id'])):
            shown = self.gpu('allocation', 'show', name, '--project', project)
            self.assertEqual(server['id'], shown['Server'])
        self.assertIn("no server named or with ID 'nope' in project",
                      self.gpu_fails('allocation', 'show', 'nope',
                                     '--project', client.MEMBER['project']))

    def test_member_own_server_gets_one_line_naming_the_403(self):
        flavor = self.create_flavor({'pci_passthrough:alias': 'a30:1'})
        server = self.boot(flavor, cloud=client.MEMBER_CLOUD)
        line = self.gpu_fails('allocation', 'show', server['name'],
                              cloud=client.MEMBER_CLOUD)
        self.assertIn('Placement refused the request (HTTP 403)', line)
        self.assertIn('admin role', line)


class TestAllocationList(AllocationTestCase):

    def rows(self, *args):
        return {(r['Server'], r['Address']): r
                for r in self.gpu('allocation', 'list', *args)}

    def test_lists_both_servers_and_filters_by_host(self):
        a30, vgpu = self.boot_a30_and_vgpu()
        rows = self.rows()
        long = {(r['Server'], r['Address']): r
                for r in self.gpu('allocation', 'list', '--long')}
        # vgpu-1's GPUs have no model: nothing in Placement names it
        for server, rc, model in ((a30, A30, 'A30'), (vgpu, 'VGPU', None)):
            _, host, address = self.allocated_gpu(server['id'], rc)
            self.assertEqual(
                {'Server': server['id'], 'Name': server['name'],
                 'Status': 'ACTIVE', 'Host': host, 'Address': address,
                 'Model': model, 'Amount': 1}, rows[(server['id'], address)])
            self.assertEqual((server['tenant_id'], rc), (
                long[server['id'], address]['Project'],
                long[server['id'], address]['Resource Class']))
        # Other servers may hold GPUs there: only what this host has.
        on_a30 = self.rows('--host', 'gpu-a30-1')
        self.assertIn(a30['id'], {s for s, _ in on_a30})
        self.assertNotIn(vgpu['id'], {s for s, _ in on_a30})
        self.assertEqual({'gpu-a30-1'}, {r['Host'] for r in on_a30.values()})
        self.assertEqual([vgpu['id']], [s for s, _ in self.rows(
            '--server', vgpu['name'])])
        [row] = self.gpu('allocation', 'list', '--long', '--server',
                         a30['id'])
        self.assertEqual(('passthrough', 'A30'), (row['Kind'], row['Model']))

    def test_leaked_allocation_is_listed_as_no_server(self):
        [free] = [d for d in self.gpu('device', 'list', '--long', '--host',
                                      'gpu-a100-1', '--state', 'free')][:1]
        leaked, project = str(uuid.uuid4()), uuid.uuid4().hex
        self.put_allocations(leaked, {free['Provider']: {'CUSTOM_A100': 1}},
                             project, uuid.uuid4().hex, None)
        self.addCleanup(self.placement, 'DELETE', '/allocations/%s' % leaked)
        expected = {'Server': leaked, 'Name': None, 'Status': 'no server',
                    'Host': 'gpu-a100-1', 'Address': free['Address'],
                    'Model': 'A100', 'Amount': 1}
        self.assertEqual(expected, self.rows()[(leaked, free['Address'])])
        self.assertEqual([expected], self.gpu('allocation', 'list',
                                              '--server', leaked))
        self.assertEqual([expected], self.gpu('allocation', 'list',
                                              '--project', project))
        [row] = self.gpu('allocation', 'list', '--long', '--server', leaked)
        self.assertEqual((project, 'CUSTOM_A100'),
                         (row['Project'], row['Resource Class']))
        self.assertEqual(
            'no server %s in Nova, but Placement holds allocations for it '
            '(leaked?); see "openstack gpu allocation list --server %s"'
            % (leaked, leaked), self.gpu_fails('allocation', 'show', leaked))

    def test_resize_in_progress_is_a_migration_not_a_leak(self):
        # Nova moves the source host's allocation to the migration's UUID
        # until the resize is confirmed: vgpu-1's vGPU stays held by it.
        sandbox = self.sandbox()
        server = self.boot(self.create_flavor({'resources:VGPU': '1'}))
        _, host, address = self.allocated_gpu(server['id'], 'VGPU')
        plain = sandbox.flavor_id(self.create_flavor({}))
        sandbox.compute('POST', '/servers/%s/action' % server['id'],
                        json={'resize': {'flavorRef': plain}})
        deadline = time.monotonic() + 120
        while True:
            now = sandbox.compute('GET', '/servers/%s' % server['id']).json()[
                'server']
            if now['status'] == 'VERIFY_RESIZE':
                break
            self.assertNotEqual('ERROR', now['status'], now.get('fault'))
            self.assertLess(time.monotonic(), deadline, 'resize never ended')
            time.sleep(0.3)
        [migration] = sandbox.compute(
            'GET', '/os-migrations?instance_uuid=%s' % server['id']).json()[
            'migrations']
        self.assertEqual({'VGPU': 1}, {
            rc: n for resources in self.allocations(migration['uuid'])
            .values() for rc, n in resources.items() if rc == 'VGPU'})
        rows = self.gpu('allocation', 'list', '--long', '--server',
                        server['name'])
        self.assertEqual(
            [(server['id'], server['name'], server['tenant_id'],
              'migration finished (resize)', host, address,
              migration['uuid'])],
            [(r['Server'], r['Name'], r['Project'], r['Status'], r['Host'],
              r['Address'], r['Consumer']) for r in rows])
        # The migration's UUID names its rows too.
        self.assertEqual(rows, self.gpu('allocation', 'list', '--long',
                                        '--server', migration['uuid']))
        # Nova now lists the server under its new host: --host still finds
        # the server behind the source host's migration rows.
        self.assertEqual(rows, [r for r in self.gpu(
            'allocation', 'list', '--long', '--host', host)
            if r['Server'] == server['id']])

    def test_host_filter_equals_the_whole_list_filtered_by_hand(self):
        # --host asks Nova for that host's servers only; what it shows must
        # be exactly the whole cloud's rows for that host, leaks included.
        a30, vgpu = self.boot_a30_and_vgpu()
        [free] = self.gpu('device', 'list', '--long', '--host', 'gpu-a30-1',
                          '--state', 'free')[:1]
        leaked = str(uuid.uuid4())
        self.put_allocations(leaked, {free['Provider']: {A30: 1}},
                             uuid.uuid4().hex, uuid.uuid4().hex, None)
        self.addCleanup(self.placement, 'DELETE', '/allocations/%s' % leaked)
        everything = self.gpu('allocation', 'list', '--long')
        for host in ('gpu-a30-1', 'vgpu-1', 'gpu-l40s-1.dc1.example.org'):
            short = host.split('.')[0]
            expected = [r for r in everything if r['Host'] == short]
            self.assertEqual(
                sorted(expected, key=json.dumps),
                sorted(self.gpu('allocation', 'list', '--long', '--host',
                                host), key=json.dumps))
        servers = {r['Server'] for r in everything}
        self.assertLessEqual({a30['id'], vgpu['id'], leaked}, servers)

    def test_empty_values_are_refused(self):
        for option, expected in (('--server', 'a server name or UUID'),
                                 ('--project', 'a project name or ID')):
            self.assertEqual(
                '%s needs %s; it was given an empty value' % (option,
                                                              expected),
                self.gpu_fails('allocation', 'list', option, ' '))
        self.assertEqual('--project needs a project name or ID; it was '
                         'given an empty value',
                         self.gpu_fails('allocation', 'show', 'x',
                                        '--project', ''))
        self.assertEqual('<server> needs a server name or UUID; it was '
                         'given an empty value',
                         self.gpu_fails('allocation', 'show', ''))

    def test_project_filter_by_name(self):
        flavor = self.create_flavor({'resources:VGPU': '2'})
        mine = self.boot(flavor, cloud=client.MEMBER_CLOUD)
        self.boot(flavor)
        rows = self.gpu('allocation', 'list', '--project',
                        client.MEMBER['project'])
        self.assertEqual([(mine['id'], 2)],
                         [(r['Server'], r['Amount']) for r in rows])

    def test_member_gets_one_line_naming_the_403(self):
        line = self.gpu_fails('allocation', 'list', cloud=client.MEMBER_CLOUD)
        self.assertIn('HTTP 403', line)

    def test_bad_filters_are_one_line(self):
        self.assertEqual("no server named or with ID 'nope'", self.gpu_fails(
            'allocation', 'list', '--server', 'nope'))
        self.assertIn("no compute host named 'nope'", self.gpu_fails(
            'allocation', 'list', '--host', 'nope'))
        self.assertIn('nope', self.gpu_fails(
            'allocation', 'list', '--project', 'nope'))


class TestProductionShapes(AllocationTestCase):
    """The default fleet's production shapes (issue 11): a VF pool on
    gpu-sriov-1, an FQDN hypervisor on gpu-l40s-1."""

    def test_vf_server_draws_on_the_pool_not_the_pf(self):
        self.needs_provider('gpu-sriov-1_0000:4D:00.0')
        server = self.boot(self.create_flavor(
            {'pci_passthrough:alias': 'mi25-vf:1'}))
        shown = self.gpu('allocation', 'show', server['id'])
        [gpu] = shown['GPUs']
        self.assertEqual(
            ('gpu-sriov-1', '0000:4d:00.0', 'CUSTOM_PCI_1002_686C', 1, 4,
             '1 of the 4 VFs of the PF at 0000:4d:00.0; Placement does not '
             'record which VF'),
            (gpu['host'], gpu['address'], gpu['resource_class'],
             gpu['amount'], gpu['vf_pool'], gpu['note']))
        self.assertEqual(['ok'] * 3, [c['result'] for c in shown['Checks']])
        [row] = self.gpu('allocation', 'list', '--long', '--server',
                         server['id'])
        self.assertEqual(('gpu-sriov-1', '0000:4d:00.0', gpu['note']),
                         (row['Host'], row['Address'], row['Note']))
        code, out, err = self.run_openstack('gpu', 'allocation', 'show',
                                            server['id'])
        self.assertEqual(0, code, err)
        self.assertNotIn('None', out)

    def test_fqdn_hypervisor_is_spelled_as_the_service_host(self):
        fqdn = 'gpu-l40s-1.dc1.example.org'
        self.needs_provider(fqdn)
        server = self.boot(self.create_flavor(
            {'pci_passthrough:alias': 'l40s:1'}))
        self.assertEqual(fqdn, server['OS-EXT-SRV-ATTR:hypervisor_hostname'])
        shown = self.gpu('allocation', 'show', server['name'])
        [gpu] = shown['GPUs']
        self.assertEqual(('gpu-l40s-1', 'gpu-l40s-1', fqdn),
                         (shown['Host'], gpu['host'], gpu['hypervisor']))
        self.assertEqual(['ok'] * 3, [c['result'] for c in shown['Checks']])
        by_short = self.gpu('allocation', 'list', '--host', 'gpu-l40s-1')
        self.assertIn(server['id'], [r['Server'] for r in by_short])
        self.assertEqual({'gpu-l40s-1'}, {r['Host'] for r in by_short})
        self.assertEqual(by_short, self.gpu('allocation', 'list', '--host',
                                            fqdn.upper()))

    def test_unknown_host_either_spelling_is_one_line(self):
        self.needs_provider('gpu-l40s-1.dc1.example.org')
        for host in ('gpu-l40s-9', 'gpu-l40s-9.dc1.example.org'):
            self.assertIn("no compute host named '%s'" % host,
                          self.gpu_fails('allocation', 'list', '--host',
                                         host))
