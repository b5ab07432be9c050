"""Who holds which GPU and whether it agrees with the flavor: pure logic,
from records shaped as Placement and Nova return them."""
import testtools

from gpuclient.model import allocations
from gpuclient.model import devices
from tests import factories


def device(uuid, host, address, rc, kind=devices.PASSTHROUGH, model=None,
           consumers=None, total=1):
    return factories.device(host, address, rc, kind, total,
                            consumers=consumers, uuid=uuid,
                            model=model or devices.model_name(rc),
                            inventory={'total': total})


A30 = 'CUSTOM_PCI_10DE_20B7'
FLEET = [
    device('a30-1', 'gpu-a30-1', '0000:81:00.0', A30, consumers={'s1': 1}),
    device('a30-2', 'gpu-a30-1', '0000:82:00.0', A30, consumers={'gone': 1}),
    device('rtx', 'gpu-a30-1', '0000:41:00.0', 'CUSTOM_PCI_10DE_2204',
           consumers={'s1': 1}),
    device('a100', 'gpu-a100-1', '0000:25:00.0', 'CUSTOM_A100'),
    device('v1', 'vgpu-1', '0000:84:00.0', 'VGPU', kind=devices.VGPU,
           total=16, consumers={'s2': 2, 's3': 1}),
]


def allocation(**providers):
    """GET /allocations/{consumer}'s 'allocations': the compute node's
    resources beside the GPUs."""
    body = {'node': {'resources': {'VCPU': 1, 'MEMORY_MB': 512}}}
    body.update({p: {'resources': r} for p, r in providers.items()})
    return body


def server(status='ACTIVE', host='gpu-a30-1', **extra_specs):
    return factories.server(specs=extra_specs, host=host, status=status)


def checks(srv, held):
    request = allocations.parse_request(srv['flavor']['extra_specs'], FLEET)
    return {c.check: (c.ok, c.detail)
            for c in allocations.check(srv, request, held)}


class TestParseRequest(testtools.TestCase):

    def test_aliases_and_gpu_resources_of_every_group(self):
        request = allocations.parse_request({
            'pci_passthrough:alias': 'a30:1, rtx3090:2,a30:1',
            'resources:VGPU': '1', 'resources1:VGPU': '2',
            'resources_big:CUSTOM_A100': '1',
            'resources:VCPU': '4',                  # not a GPU
            'resources:CUSTOM_BAREMETAL': '1',      # not a GPU class here
            'hw:pci_numa_affinity_policy': 'preferred',
            'trait:CUSTOM_NVLINK': 'required'}, FLEET)
        self.assertEqual({'a30': 2, 'rtx3090': 2}, request.aliases)
        self.assertEqual({'VGPU': 3, 'CUSTOM_A100': 1}, request.resources)
        self.assertEqual([], request.invalid)

    def test_no_gpu(self):
        self.assertFalse(allocations.parse_request(
            {'hw:cpu_policy': 'dedicated'}, FLEET))

    def test_specs_nova_could_not_use_are_kept_as_invalid(self):
        request = allocations.parse_request({
            'pci_passthrough:alias': 'a100:x,a30:1,h100',
            'resources:VGPU': 'one'}, FLEET)
        self.assertEqual({'a30': 1}, request.aliases)
        # Nova needs NAME:COUNT in a flavor: 'h100' alone is unusable.
        self.assertEqual(['pci_passthrough:alias=a100:x',
                          'pci_passthrough:alias=h100',
                          'resources:VGPU=one'], request.invalid)
        self.assertTrue(request)


class TestJoin(testtools.TestCase):

    def test_gpus_of_a_consumer_with_amounts(self):
        held = allocations.join(
            allocation(v1={'VGPU': 2}, **{'a30-1': {A30: 1}}), FLEET)
        self.assertEqual(
            [{'host': 'gpu-a30-1', 'address': '0000:81:00.0',
              'kind': 'passthrough', 'resource_class': A30, 'model': 'A30',
              'amount': 1, 'provider': 'a30-1'},
             {'host': 'vgpu-1', 'address': '0000:84:00.0', 'kind': 'vgpu',
              'resource_class': 'VGPU', 'model': None, 'amount': 2,
              'provider': 'v1'}],
            [h.record() for h in held])

    def test_compute_node_and_unknown_providers_are_not_gpus(self):
        self.assertEqual([], allocations.join(
            allocation(elsewhere={'VGPU': 1}), FLEET))


class TestAliasClasses(testtools.TestCase):

    def held(self, *uuids):
        return [allocations.Held(d, 1) for d in FLEET if d.provider_uuid
                in uuids]

    def test_one_alias_takes_the_one_class_held(self):
        self.assertEqual({'gpu': A30}, allocations.alias_classes(
            {'gpu': 1}, self.held('a30-1')))

    def test_several_aliases_by_model_name(self):
        self.assertEqual(
            {'a30': A30, 'rtx3090': 'CUSTOM_PCI_10DE_2204', 'other': None},
            allocations.alias_classes({'a30': 1, 'rtx3090': 1, 'other': 1},
                                      self.held('a30-1', 'rtx')))

    def test_nothing_held_leaves_it_unknown(self):
        self.assertEqual({'a30': None},
                         allocations.alias_classes({'a30': 1}, []))


class TestChecks(testtools.TestCase):

    def test_alias_server_holding_its_gpu_passes(self):
        held = allocations.join(allocation(**{'a30-1': {A30: 1}}), FLEET)
        result = checks(server(**{'pci_passthrough:alias': 'a30:1'}), held)
        self.assertEqual({
            'allocation matches flavor': (
                True, 'asks for 1 × a30; holds 1 × %s' % A30),
            'GPUs on server host': (True, 'all on gpu-a30-1'),
            'server ACTIVE': (True, 'status ACTIVE')}, result)

    def test_gpu_flavor_with_no_gpu_allocation_fails(self):
        result = checks(server(**{'pci_passthrough:alias': 'a30:1'}), [])
        self.assertEqual(
            (False, 'asks for 1 × a30, holds 0 passthrough GPU(s)'),
            result['allocation matches flavor'])
        self.assertEqual((True, 'no GPU held'), result['GPUs on server host'])

    def test_fewer_vgpus_than_asked_fails(self):
        held = allocations.join(allocation(v1={'VGPU': 1}), FLEET)
        result = checks(server(host='vgpu-1', **{'resources:VGPU': '2'}),
                        held)
        self.assertEqual((False, 'asks for 2 × VGPU, holds 1'),
                         result['allocation matches flavor'])

    def test_wrong_model_for_named_aliases_fails(self):
        held = allocations.join(allocation(rtx={'CUSTOM_PCI_10DE_2204': 1}),
                                FLEET)
        result = checks(server(**{'pci_passthrough:alias': 'a30:1,h100:1'}),
                        held)
        self.assertEqual(
            (False, 'asks for 1 × a30, 1 × h100, holds 1 passthrough GPU(s)'),
            result['allocation matches flavor'])

    def test_right_count_wrong_class_for_named_aliases_fails(self):
        two_a30 = allocations.join(
            allocation(**{'a30-1': {A30: 1}, 'a30-2': {A30: 1}}), FLEET)
        result = checks(
            server(**{'pci_passthrough:alias': 'a30:1,rtx3090:1'}), two_a30)
        self.assertEqual((False, 'asks for 1 × a30, holds 2 %s' % A30),
                         result['allocation matches flavor'])

    def test_gpu_the_flavor_does_not_ask_for_fails(self):
        held = allocations.join(allocation(v1={'VGPU': 1}), FLEET)
        result = checks(server(host='vgpu-1'), held)
        self.assertEqual((False,
                          'holds 1 × VGPU the flavor does not ask for'),
                         result['allocation matches flavor'])

    def test_passthrough_class_through_resources_is_flagged(self):
        # Proven: Placement allocates the device, Nova attaches none.
        held = allocations.join(allocation(**{'a30-1': {A30: 1}}), FLEET)
        result = checks(server(**{'resources:%s' % A30: '1'}), held)
        ok, detail = result['allocation matches flavor']
        self.assertFalse(ok)
        self.assertIn('asks for %s through resources: instead of '
                      'pci_passthrough:alias, so Nova attaches no device'
                      % A30, detail)

    def test_unusable_spec_fails(self):
        result = checks(server(**{'pci_passthrough:alias': 'a30:x'}), [])
        self.assertEqual(
            (False, 'the flavor has an unusable extra spec '
                    'pci_passthrough:alias=a30:x'),
            result['allocation matches flavor'])

    def test_gpu_on_another_host_fails(self):
        held = allocations.join(allocation(a100={'CUSTOM_A100': 1}), FLEET)
        result = checks(server(**{'resources:CUSTOM_A100': '1'}), held)
        self.assertEqual(
            (False, 'gpu-a100-1:0000:25:00.0 not on the server host '
                    '(gpu-a30-1)'), result['GPUs on server host'])

    def test_not_active_fails(self):
        result = checks(server(status='SHUTOFF'), [])
        self.assertEqual((False, 'status SHUTOFF'), result['server ACTIVE'])
        self.assertEqual(['server ACTIVE'], [
            c.check for c in allocations.failed(allocations.check(
                server(status='SHUTOFF'), allocations.GpuRequest(), []))])


class TestSelectServer(testtools.TestCase):
    SERVERS = [{'id': 'u1', 'name': 'vm', 'tenant_id': 'p1'},
               {'id': 'u2', 'name': 'vm', 'tenant_id': 'p1'},
               {'id': 'u3', 'name': 'db', 'tenant_id': 'p1'},
               {'id': 'u4', 'name': 'web', 'tenant_id': 'p1'},
               {'id': 'u5', 'name': 'web', 'tenant_id': 'p2'}]

    def test_by_uuid_or_unique_name(self):
        self.assertEqual('u2', allocations.select_server(self.SERVERS,
                                                         'u2')['id'])
        self.assertEqual('u3', allocations.select_server(self.SERVERS,
                                                         'db')['id'])

    def test_shared_name_lists_the_servers(self):
        e = self.assertRaises(allocations.NoSuchServer,
                              allocations.select_server, self.SERVERS, 'vm')
        self.assertEqual("2 servers are named 'vm'; name one by UUID: u1, u2",
                         str(e))

    def test_unknown(self):
        e = self.assertRaises(allocations.NoSuchServer,
                              allocations.select_server, self.SERVERS, 'v')
        self.assertEqual("no server named or with ID 'v'", str(e))

    def test_names_in_several_projects_suggest_project(self):
        e = self.assertRaises(allocations.NoSuchServer,
                              allocations.select_server, self.SERVERS, 'web')
        self.assertEqual("2 servers are named 'web'; name one by UUID or "
                         "narrow with --project: u4 (project p1), u5 "
                         "(project p2)", str(e))

    def test_project_narrows_the_name(self):
        self.assertEqual('u5', allocations.select_server(
            self.SERVERS, 'web', 'p2')['id'])
        e = self.assertRaises(allocations.NoSuchServer,
                              allocations.select_server, self.SERVERS, 'db',
                              'p2')
        self.assertEqual("no server named or with ID 'db' in project p2",
                         str(e))
        e = self.assertRaises(allocations.NoSuchServer,
                              allocations.select_server, self.SERVERS, 'vm',
                              'p1')
        self.assertEqual("2 servers are named 'vm' in project p1; name one "
                         "by UUID: u1, u2", str(e))


class TestConsumerRows(testtools.TestCase):

    def test_one_row_per_consumer_and_device_leaked_ones_kept(self):
        servers = {s: {'id': s, 'name': 'vm-' + s, 'status': 'ACTIVE',
                       'tenant_id': 'p1'} for s in ('s1', 's2', 's3')}
        self.assertEqual(['gone'], allocations.without_server(FLEET, servers))
        rows = allocations.consumer_rows(FLEET, servers, {'gone': 'p9'})
        self.assertEqual(
            [('s1', 'vm-s1', 'p1', 'ACTIVE', '0000:81:00.0', 1),
             ('gone', None, 'p9', 'no server', '0000:82:00.0', 1),
             ('s1', 'vm-s1', 'p1', 'ACTIVE', '0000:41:00.0', 1),
             ('s2', 'vm-s2', 'p1', 'ACTIVE', '0000:84:00.0', 2),
             ('s3', 'vm-s3', 'p1', 'ACTIVE', '0000:84:00.0', 1)],
            [(r['server'], r['name'], r['project'], r['status'],
              r['address'], r['amount']) for r in rows])

    def test_migration_in_progress_is_named_not_leaked(self):
        servers = {s: {'id': s, 'name': 'vm-' + s, 'status': 'ACTIVE',
                       'tenant_id': 'p1'} for s in ('s1', 's2', 's3')}
        # 'gone' is the UUID of s2's resize: the source host's vGPU.
        migrations = {'gone': {'uuid': 'gone', 'instance_uuid': 's2',
                               'status': 'finished',
                               'migration_type': 'resize',
                               'project_id': 'p1'}}
        self.assertEqual([], allocations.without_server(FLEET, servers,
                                                        migrations))
        rows = allocations.consumer_rows(FLEET, servers, {}, migrations)
        [row] = [r for r in rows if r['consumer'] == 'gone']
        self.assertEqual(
            ('s2', 'vm-s2', 'p1', 'migration finished (resize)',
             '0000:82:00.0'),
            (row['server'], row['name'], row['project'], row['status'],
             row['address']))
        self.assertEqual({'s1', 's2', 's3'},
                         {r['consumer'] for r in rows} - {'gone'})

    def test_migration_of_a_deleted_server_keeps_its_project(self):
        migrations = {'gone': {'uuid': 'gone', 'instance_uuid': 'sX',
                               'status': 'migrating',
                               'migration_type': 'live-migration',
                               'project_id': 'p7'}}
        [row] = [r for r in allocations.consumer_rows(FLEET, {}, {},
                                                      migrations)
                 if r['consumer'] == 'gone']
        self.assertEqual(('sX', None, 'p7',
                          'migration migrating (live-migration)'),
                         (row['server'], row['name'], row['project'],
                          row['status']))


class TestWithoutPciInPlacement(testtools.TestCase):
    """A cloud (or host) that never enabled [pci] report_in_placement:
    Nova's PciPassthroughFilter placed the alias's GPUs; Placement has no
    record of them."""

    def test_alias_gpus_are_named_from_the_flavor(self):
        request = allocations.parse_request(
            {'pci_passthrough:alias': 'a30:2'}, [])
        self.assertEqual(
            [{'host': 'gpu-a30-1', 'address': None, 'kind': 'passthrough',
              'alias': 'a30', 'amount': 2,
              'note': allocations.NOT_IN_PLACEMENT}],
            allocations.unplaced(request, 'gpu-a30-1'))
        self.assertIn('not known to Placement', allocations.NOT_IN_PLACEMENT)

    def test_flavor_check_passes_without_pretending_to_check(self):
        srv = server(host='gpu-a30-1', **{'pci_passthrough:alias': 'a30:1'})
        request = allocations.parse_request(srv['flavor']['extra_specs'], [])
        [match, on_host, active] = allocations.check(srv, request, [],
                                                     pci_in_placement=False)
        self.assertEqual(
            (True, 'asks for 1 × a30; the host does not report PCI devices '
                   'to Placement, which holds none of 1 × a30'),
            (match.ok, match.detail))
        # With PCI in Placement the same allocation is a failure.
        [match, *_] = allocations.check(srv, request, [])
        self.assertFalse(match.ok)

    def test_vgpus_are_still_checked(self):
        srv = server(host='vgpu-1', **{'pci_passthrough:alias': 'a30:1',
                                       'resources:VGPU': '2'})
        request = allocations.parse_request(srv['flavor']['extra_specs'],
                                            FLEET)
        held = allocations.join(allocation(v1={'VGPU': 1}), FLEET)
        [match, *_] = allocations.check(srv, request, held,
                                        pci_in_placement=False)
        self.assertEqual((False, 'asks for 2 × VGPU, holds 1'),
                         (match.ok, match.detail))

    def test_host_reports_pci_when_its_tree_has_a_nova_pci_device(self):
        self.assertTrue(allocations.reports_pci(FLEET, 'gpu-a30-1'))
        self.assertFalse(allocations.reports_pci(FLEET, 'vgpu-1'))
        self.assertFalse(allocations.reports_pci(FLEET, 'legacy-1'))


class TestVfPool(testtools.TestCase):

    def test_record_names_the_pool_not_a_vf(self):
        pool = device('pool', 'gpu-sriov-1', '0000:4d:00.0',
                      'CUSTOM_PCI_1002_686C', total=4,
                      consumers={'s1': 1})
        pool.vf_pool = 4
        pool.hypervisor = 'gpu-sriov-1.dc1.example.org'
        [held] = allocations.join(allocation(pool={
            'CUSTOM_PCI_1002_686C': 1}), [pool])
        record = held.record()
        self.assertEqual(
            ('gpu-sriov-1', 'gpu-sriov-1.dc1.example.org', '0000:4d:00.0',
             4, '1 of the 4 VFs of the PF at 0000:4d:00.0; Placement does '
                'not record which VF'),
            (record['host'], record['hypervisor'], record['address'],
             record['vf_pool'], record['note']))

    def test_plain_device_record_has_no_pool_or_hypervisor(self):
        [held] = allocations.join(allocation(**{'a30-1': {A30: 1}}), FLEET)
        self.assertEqual({'host', 'address', 'kind', 'resource_class',
                          'model', 'amount', 'provider'},
                         set(held.record()))

    def test_list_rows_for_alias_servers_on_hosts_without_pci(self):
        legacy = dict(server(host='legacy-a30', **{
            'pci_passthrough:alias': 'a30:1,rtx3090:2'}), tenant_id='p1')
        placed = dict(server(host='gpu-a30-1', **{
            'pci_passthrough:alias': 'a30:1'}), id='s2', tenant_id='p1')
        plain = dict(server(host='legacy-a30'), id='s3', tenant_id='p1')
        rows = allocations.unplaced_rows([legacy, placed, plain], FLEET)
        self.assertEqual(
            [('s1', 'legacy-a30', None, 'a30', 1, None),
             ('s1', 'legacy-a30', None, 'rtx3090', 2, None)],
            [(r['server'], r['host'], r['address'], r['alias'], r['amount'],
              r['resource_class']) for r in rows])
        self.assertEqual({allocations.NOT_IN_PLACEMENT},
                         {r['note'] for r in rows})
