"""Who holds which GPU and whether it agrees with the flavor: pure logic,
from records shaped as Placement and Nova return them."""
import testtools

from gpuclient import allocations
from gpuclient import devices


def device(uuid, host, address, rc, kind=devices.PASSTHROUGH, model=None,
           consumers=None, total=1):
    consumers = consumers or {}
    used = sum(consumers.values())
    return devices.Device(
        host=host, address=address, kind=kind, resource_class=rc,
        pci_id=devices.pci_id(rc), model=model or devices.model_name(rc),
        total=total, used=used, reserved=0, free=total - used,
        state=devices.state_of(kind, total, used, 0), provider_uuid=uuid,
        provider_name='%s_%s' % (host, address), generation=1,
        inventory={'total': total}, consumers=consumers, one_time_use=False)


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
    return {'id': 's1', 'name': 'vm', 'status': status,
            'OS-EXT-SRV-ATTR:host': host,
            'OS-EXT-SRV-ATTR:hypervisor_hostname': host,
            'flavor': {'original_name': 'f', 'extra_specs': extra_specs}}


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
    SERVERS = [{'id': 'u1', 'name': 'vm'}, {'id': 'u2', 'name': 'vm'},
               {'id': 'u3', 'name': 'db'}]

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
