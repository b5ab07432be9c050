"""openstack gpu device list | show | summary against the sandbox's
default fleet (the seeds' hosts plus production shapes: an FQDN hypervisor,
a NIC and an NVMe drive, a VF pool, a custom vGPU class, Cyborg's GPUs and
Neutron's bandwidth providers)."""
import json
import uuid

from gpuclient.access import cloud as cloud_mod
from gpuclient.model import devices
from gpuclient.model import releases
from gpuclient.access import http
from gpuclient.access import placement as placement_mod
from gpuclient.model import snapshot
from gpuclient.operations import reading
from gpu_sandbox import client
from tests.functional import base

L40S_HOST = 'gpu-l40s-1'
L40S_HYPERVISOR = 'gpu-l40s-1.dc1.example.org'
PASSTHROUGH = {
    ('gpu-a30-1', '0000:81:00.0'): ('CUSTOM_PCI_10DE_20B7', 'A30'),
    ('gpu-a30-1', '0000:82:00.0'): ('CUSTOM_PCI_10DE_20B7', 'A30'),
    ('gpu-a100-1', '0000:25:00.0'): ('CUSTOM_A100', 'A100'),
    ('gpu-a100-1', '0000:2b:00.0'): ('CUSTOM_A100', 'A100'),
    ('gpu-a100-1', '0000:48:00.0'): ('CUSTOM_A100', 'A100'),
    ('gpu-a100-1', '0000:4d:00.0'): ('CUSTOM_A100', 'A100'),
    ('gpu-h100-1', '0000:c1:00.0'): ('CUSTOM_PCI_10DE_2330', 'H100'),
    ('gpu-h100-1', '0000:c2:00.0'): ('CUSTOM_PCI_10DE_2330', 'H100'),
    ('gpu-rtx-1', '0000:41:00.0'): ('CUSTOM_PCI_10DE_2204', 'RTX 3090'),
    (L40S_HOST, '0000:1b:00.0'): ('CUSTOM_PCI_10DE_26B9', 'L40S'),
    (L40S_HOST, '0000:1c:00.0'): ('CUSTOM_PCI_10DE_26B9', 'L40S'),
    ('gpu-sriov-1', '0000:4d:00.0'): ('CUSTOM_PCI_1002_686C', 'MI25 MxGPU'),
    ('cyborg-1', '0000:af:00.0'): ('PGPU', 'T4'),
    ('cyborg-1', '0000:b0:00.0'): ('PGPU', 'T4'),
}
# NVIDIA's variant driver: a VF pool per L40S, its model and type from its
# device_spec traits (not on 2024.1, whose Nova has no device_spec managed)
VARIANT = {('vgpu-l40s-1', '0000:a1:00.0'): ('CUSTOM_VGPU_L40S_12Q', 'L40S'),
           ('vgpu-l40s-1', '0000:e1:00.0'): ('CUSTOM_VGPU_L40S_24Q', 'L40S')}
VGPU = {('vgpu-1', '0000:%s:00.0' % bus): ('VGPU', None)
        for bus in ('84', '85', '86', '87')}
VGPU.update({('vgpu-2', '0000:%s:00.0' % bus): ('CUSTOM_VGPU_A16', None)
             for bus in ('3d', '3e')})
# SR-IOV vGPU GPUs: a row per GPU (its VFs' providers), named by the labels
# the sandbox writes at start (tests/functional/test_vgpu_sriov.py)
VGPU.update({('vgpu-a40-1', '0000:51:00.0'): ('CUSTOM_VGPU_A40', 'A40'),
             ('vgpu-a40-1', '0000:61:00.0'): ('CUSTOM_VGPU_A40', 'A40'),
             ('vgpu-a10-1', '0000:17:00.0'): ('CUSTOM_VGPU_A10', 'A10'),
             ('vgpu-a10-1', '0000:31:00.0'): ('CUSTOM_VGPU_A10', 'A10'),
             ('vgpu-l4-1', '0000:ca:00.0'): ('CUSTOM_VGPU_L4', 'L4')})
NOT_GPUS = {(L40S_HOST, '0000:3b:00.0'): 'NIC',
            (L40S_HOST, '0000:5e:00.0'): 'NVMe'}
POOL = ('gpu-sriov-1', '0000:4d:00.0')


class Recording(http.Service):
    """The plugin's own Placement access, remembering every path."""

    def __init__(self, service):
        super().__init__(service.adapter, service.name)
        self.paths = []

    def request(self, method, path, microversion, **kwargs):
        self.paths.append(path)
        return super().request(method, path, microversion, **kwargs)


def pci_and_vgpu(rows):
    """The rows of Placement's devices: the sandbox's bare-metal nodes are
    test_baremetal's."""
    return [r for r in rows if r['Kind'] != 'baremetal']


class TestDeviceList(base.SandboxTestCase):

    def gpu_nodes(self, model=None):
        """The sandbox's bare-metal GPU nodes (of a model): none on a
        release without Ironic in the sandbox."""
        if 'baremetal' not in self.sandbox().urls:
            return 0
        return {None: 5, 'A100': 2, 'L40S': 1, '10de': 5}[model]

    def passthrough(self):
        """The passthrough rows: the variant-driver pools where the
        sandbox's release has them."""
        if releases.has('managed', self.sandbox().release.name):
            return {**PASSTHROUGH, **VARIANT}
        return PASSTHROUGH

    def test_lists_every_gpu_of_the_default_fleet(self):
        rows = pci_and_vgpu(self.gpu('device', 'list', '--long'))
        by_kind = {}
        for r in rows:
            by_kind.setdefault(r['Kind'], {})[(r['Host'], r['Address'])] = (
                r['Resource Class'], r['Model'])
        self.assertEqual(self.passthrough(), by_kind['passthrough'])
        self.assertEqual(VGPU, by_kind['vgpu'])
        self.assertEqual(len(self.passthrough()) + len(VGPU), len(rows))
        a30 = [r for r in rows if r['Model'] == 'A30'][0]
        self.assertEqual('10de:20b7', a30['PCI ID'])
        self.assertEqual(1, a30['Total'])  # numbers stay numbers in JSON
        owners = {(r['Host'], r['Address']): r['Owner'] for r in rows}
        self.assertEqual({'cyborg'}, {o for k, o in owners.items()
                                      if k[0] == 'cyborg-1'})
        self.assertEqual({'nova'}, {o for k, o in owners.items()
                                    if k[0] != 'cyborg-1'})
        t4 = [r for r in rows if r['Owner'] == 'cyborg'][0]
        self.assertEqual('10de:1eb8', t4['PCI ID'])

    def test_all_devices_adds_exactly_the_nic_and_the_nvme(self):
        gpus = {(r['Host'], r['Address'])
                for r in pci_and_vgpu(self.gpu('device', 'list'))}
        rows = pci_and_vgpu(self.gpu('device', 'list', '--all-devices',
                                     '--long'))
        added = {(r['Host'], r['Address']): r['Device Type'] for r in rows
                 if (r['Host'], r['Address']) not in gpus}
        self.assertEqual(NOT_GPUS, added)
        self.assertEqual({'GPU'}, {r['Device Type'] for r in rows
                                   if (r['Host'], r['Address']) in gpus})
        nic = [r for r in rows if r['Device Type'] == 'NIC'][0]
        self.assertEqual('8086:1572', nic['PCI ID'])
        summary = pci_and_vgpu(self.gpu('device', 'summary',
                                        '--all-devices'))
        self.assertEqual(len(rows), sum(g['Devices'] for g in summary))

    def test_the_default_table_is_what_an_operator_reads_first(self):
        code, out, err = self.run_openstack('gpu', 'device', 'list')
        self.assertEqual(0, code, err)
        lines = out.splitlines()
        self.assertEqual(['Host', 'Address', 'Model', 'Kind', 'vGPU Type',
                          'Total', 'Used', 'Free', 'State'],
                         [c.strip() for c in lines[1].strip('|').split('|')])
        self.assertLessEqual(max(len(line) for line in lines), 120)
        self.assertEqual(len(self.passthrough()) + len(VGPU)
                         + self.gpu_nodes() + 4, len(lines))

    def test_a_nic_out_of_service_is_still_no_gpu(self):
        # A device with no room left is not in Placement's listing of its
        # class: the plain list must judge it by its inventory instead.
        nic = '%s_0000:3B:00.0' % L40S_HYPERVISOR
        self.set_reserved(nic, 'CUSTOM_PCI_8086_1572', 1)
        self.addCleanup(self.set_reserved, nic, 'CUSTOM_PCI_8086_1572', 0)
        listed = {(r['Host'], r['Address'])
                  for r in self.gpu('device', 'list', '--host', L40S_HOST)}
        self.assertEqual({(L40S_HOST, '0000:1b:00.0'),
                          (L40S_HOST, '0000:1c:00.0')}, listed)
        row, = [r for r in self.gpu('device', 'list', '--all-devices',
                                    '--host', L40S_HOST)
                if r['Device Type'] == 'NIC']
        self.assertEqual(('0000:3b:00.0', 'reserved'),
                         (row['Address'], row['State']))

    def test_host_by_service_host_or_hypervisor_hostname(self):
        by_service = self.gpu('device', 'list', '--host', L40S_HOST)
        self.assertEqual({(L40S_HOST, '0000:1b:00.0'),
                          (L40S_HOST, '0000:1c:00.0')},
                         {(r['Host'], r['Address']) for r in by_service})
        for name in (L40S_HYPERVISOR, L40S_HYPERVISOR.upper(), 'GPU-L40S-1'):
            self.assertEqual(by_service,
                             self.gpu('device', 'list', '--host', name))
        long = self.gpu('device', 'list', '--long', '--host', L40S_HOST)
        self.assertEqual({L40S_HYPERVISOR}, {r['Hypervisor'] for r in long})
        a30 = self.gpu('device', 'list', '--long', '--host', 'gpu-a30-1')
        self.assertEqual({None}, {r['Hypervisor'] for r in a30})
        shown = self.gpu('device', 'show', L40S_HYPERVISOR + ':1b:00.0')
        self.assertEqual((L40S_HOST, L40S_HYPERVISOR),
                         (shown['Host'], shown['Hypervisor']))
        self.assertEqual(shown['Provider'], self.gpu(
            'device', 'show', 'gpu-l40s-1:0000:1b:00.0')['Provider'])

    def test_vf_pool_is_one_row_whose_state_follows_what_is_free(self):
        def pool():
            [row] = [r for r in self.gpu('device', 'list', '--long',
                                         '--host', 'gpu-sriov-1')
                     if (r['Host'], r['Address']) == POOL]
            return row

        row = pool()
        self.assertEqual((4, 4, 0, 4, 'free', '1002:686c'),
                         (row['VF Pool'], row['Total'], row['Used'],
                          row['Free'], row['State'], row['PCI ID']))
        server = self.boot(self.create_flavor(
            {'pci_passthrough:alias': 'mi25-vf:1'}))
        row = pool()
        self.assertEqual((1, 3, 'partly-used', [server['id']]),
                         (row['Used'], row['Free'], row['State'],
                          row['Consumers']))
        self.assertIn(row, self.gpu('device', 'list', '--long', '--state',
                                    'partly-used', '--model', 'MI25'))
        # A VF's address finds its pool; show says what Placement cannot.
        shown = self.gpu('device', 'show', 'gpu-sriov-1:0000:4d:00.3')
        self.assertEqual((POOL[1], 4), (shown['Address'], shown['VF Pool']))
        self.assertIn('4 VFs', shown['Pool'])
        self.assertIn('does not record', shown['Pool'])

    def test_neutron_providers_cost_no_request(self):
        providers = self.placement('GET', '/resource_providers')[
            'resource_providers']
        neutron = {p['uuid'] for p in providers
                   if ':Open vSwitch agent' in p['name']}
        self.assertTrue(neutron)
        cloud = cloud_mod.Cloud(self.sandbox().session(), 'RegionOne')
        service = Recording(cloud.placement.service)
        cloud.placement = placement_mod.Placement(service)
        code, out, err = self.run_openstack(
            'gpu', 'device', 'list', '--all-devices', '-f', 'json',
            gpu_client=cloud)
        self.assertEqual(0, code, err)
        rows = json.loads(out)
        read = [p for p in service.paths if p.count('/') > 2]
        self.assertEqual([], [p for p in read if p.split('/')[2] in neutron])
        # At most two reads per device, none for anything else.
        self.assertLessEqual(len(
            [p for p in read if not p.endswith('/traits')]), 2 * len(rows))

    def test_no_none_in_table_or_value_output(self):
        for args in (('device', 'list', '--long', '--all-devices'),
                     ('device', 'summary'),
                     ('device', 'show', 'vgpu-2:0000:3d:00.0'),
                     ('device', 'show', 'gpu-sriov-1:4d:00.0')):
            for fmt in ('table', 'value'):
                code, out, err = self.run_openstack('gpu', *args, '-f', fmt)
                self.assertEqual(0, code, err)
                self.assertNotIn('None', out, args)

    def test_filters(self):
        def addresses(*args):
            return sorted((r['Host'], r['Address'])
                          for r in self.gpu('device', 'list', *args))

        self.assertEqual(sorted(VGPU), addresses('--kind', 'vgpu'))
        self.assertEqual(4 + self.gpu_nodes('A100'),
                         len(addresses('--model', 'a100')))
        self.assertEqual(addresses('--model', 'A30'),
                         addresses('--product-id', '20B7'))
        self.assertEqual(4, len(addresses('--trait', 'CUSTOM_NVLINK')))
        self.assertEqual(4, len(addresses('--resource-class', 'CUSTOM_A100')))
        # A100s have a custom resource class: Placement does not say their
        # vendor, so a vendor filter cannot find them; Cyborg's traits and
        # the labels of the SR-IOV vGPU GPUs (5) do.
        # and the bare-metal nodes' inspection data
        # and the variant-driver pools' device_spec traits
        variant = len(self.passthrough()) - len(PASSTHROUGH)
        self.assertEqual(14 + variant + self.gpu_nodes('10de'),
                         len(addresses('--vendor-id', '10de')))
        self.assertEqual([POOL], addresses('--model', 'mi25'))
        self.assertEqual(2 + variant + self.gpu_nodes('L40S'),
                         len(addresses('--model', 'L40S')))

    def test_long_adds_provider_traits_and_consumers_as_lists(self):
        rows = self.gpu('device', 'list', '--long', '--host', 'gpu-a100-1')
        for r in rows:
            self.assertEqual(sorted({'COMPUTE_MANAGED_PCI_DEVICE',
                                     'CUSTOM_NVLINK'} | self.nova_traits()),
                             r['Traits'])
            self.assertIsInstance(r['Consumers'], list)
            self.assertEqual(self.provider('gpu-a100-1_%s'
                                           % r['Address'].upper())['uuid'],
                             r['Provider'])

    def test_a30_server_makes_exactly_one_a30_in_use(self):
        flavor = self.create_flavor({'pci_passthrough:alias': 'a30:1'})
        server = self.boot(flavor)
        rows = self.gpu('device', 'list', '--long', '--model', 'A30')
        in_use = [r for r in rows if r['State'] == 'in-use']
        self.assertEqual(1, len(in_use), rows)
        self.assertEqual([server['id']], in_use[0]['Consumers'])
        self.assertEqual((1, 0), (in_use[0]['Used'], in_use[0]['Free']))
        held = self.allocations(server['id'])
        self.assertIn('gpu-a30-1_%s' % in_use[0]['Address'].upper(), held)

    def test_vgpu_server_makes_its_gpu_partly_used(self):
        flavor = self.create_flavor({'resources:VGPU': '1'})
        server = self.boot(flavor)
        [row] = [r for r in self.gpu('device', 'list', '--long', '--kind',
                                     'vgpu') if r['Consumers']]
        self.assertEqual([server['id']], row['Consumers'])
        self.assertEqual(('partly-used', 1, 15),
                         (row['State'], row['Used'], row['Free']))

    def test_released_one_time_use_gpu_shows_reserved(self):
        device = self.released_h100()
        address = device.split('_', 1)[1].lower()
        [row] = [r for r in self.gpu('device', 'list', '--long', '--host',
                                     'gpu-h100-1', '--state', 'reserved')]
        self.assertEqual((address, 1, 0, 0),
                         (row['Address'], row['Reserved'], row['Used'],
                          row['Free']))

    def test_summary_agrees_with_list(self):
        rows = self.gpu('device', 'list', '--long')
        summary = self.gpu('device', 'summary')
        for group in summary:
            members = [r for r in rows if group['Model'] in (
                r['Model'], r['Resource Class'])
                and group['vGPU Type'] == r['vGPU Type']
                and group['Kind'] == r['Kind']]
            self.assertEqual(len(members), group['Devices'])
            for field in ('Total', 'Used', 'Reserved', 'Free'):
                self.assertEqual(sum(r[field] for r in members), group[field])
        self.assertEqual(len(rows), sum(g['Devices'] for g in summary))
        a100 = [g for g in summary if g['Model'] == 'A100'][0]
        self.assertEqual(4, a100['Total'])

    def test_summary_by_host(self):
        summary = pci_and_vgpu(self.gpu('device', 'summary', '--by',
                                        'host'))
        self.assertEqual({('gpu-a30-1', 'A30', 2), ('gpu-a100-1', 'A100', 4),
                          ('gpu-h100-1', 'H100', 2),
                          ('gpu-rtx-1', 'RTX 3090', 1),
                          ('vgpu-1', 'VGPU', 4), (L40S_HOST, 'L40S', 2),
                          ('gpu-sriov-1', 'MI25 MxGPU', 1),
                          ('vgpu-2', 'CUSTOM_VGPU_A16', 2),
                          ('vgpu-a40-1', 'A40', 2),
                          ('vgpu-a10-1', 'A10', 1), ('vgpu-a10-1', 'A10', 1),
                          ('vgpu-l4-1', 'L4', 1), ('cyborg-1', 'T4', 2)}
                         | ({('vgpu-l40s-1', 'L40S', 1)} if VARIANT.keys()
                            <= self.passthrough().keys() else set()),
                         {(g['Host'], g['Model'], g['Devices'])
                          for g in summary})

    def test_member_gets_one_line_naming_the_403(self):
        line = self.gpu_fails('device', 'list', cloud=client.MEMBER_CLOUD)
        self.assertIn('HTTP 403', line)
        self.assertIn('admin role', line)

    def test_bad_input_is_one_line(self):
        self.assertIn("no compute host named 'nope'",
                      self.gpu_fails('device', 'list', '--host', 'nope'))
        self.assertIn("no resource class 'CUSTOM_NOPE'", self.gpu_fails(
            'device', 'list', '--resource-class', 'CUSTOM_NOPE'))
        self.assertIn('unknown model', self.gpu_fails(
            'device', 'list', '--model', 'Z9000'))
        self.assertIn("no trait 'CUSTOM_NOPE'", self.gpu_fails(
            'device', 'list', '--trait', 'CUSTOM_NOPE'))
        self.assertIn("no compute host named 'nope.dc1.example.org'",
                      self.gpu_fails('device', 'list', '--host',
                                     'nope.dc1.example.org'))
        for option in ('--host', '--model', '--resource-class', '--trait',
                       '--vendor-id'):
            self.assertIn('empty', self.gpu_fails('device', 'list', option,
                                                  ''))
        self.assertIn('4 hex digits', self.gpu_fails(
            'device', 'list', '--vendor-id', 'zzzz'))

    def test_trait_is_filtered_by_placement(self):
        everything = self.gpu('device', 'list', '--long')
        by_hand = [(r['Host'], r['Address']) for r in everything
                   if 'CUSTOM_NVLINK' in r['Traits']]
        self.assertEqual(4, len(by_hand))
        self.assertEqual(by_hand, [(r['Host'], r['Address']) for r in
                                   self.gpu('device', 'list', '--trait',
                                            'custom_nvlink')])


class TestDeviceShow(base.SandboxTestCase):

    def test_named_three_ways_with_consumer_server_and_project(self):
        flavor = self.create_flavor({'pci_passthrough:alias': 'rtx3090:1'})
        server = self.boot(flavor)
        provider = self.provider('gpu-rtx-1_0000:41:00.0')
        for name in ('gpu-rtx-1:0000:41:00.0', 'gpu-rtx-1:41:00.0',
                     'gpu-rtx-1_0000:41:00.0', provider['uuid']):
            shown = self.gpu('device', 'show', name)
            self.assertEqual(('gpu-rtx-1', '0000:41:00.0', provider['uuid']),
                             (shown['Host'], shown['Address'],
                              shown['Provider']))
        self.assertEqual('in-use', shown['State'])
        [consumer] = shown['Consumers']
        self.assertEqual(server['id'], consumer['consumer'])
        self.assertEqual(server['name'], consumer['server'])
        self.assertEqual(server['tenant_id'], consumer['project'])
        self.assertEqual(1, shown['Inventory']['total'])
        self.assertIn('COMPUTE_MANAGED_PCI_DEVICE', shown['Traits'])

    def test_unknown_device_is_one_line(self):
        missing = 'gpu-rtx-1:0000:99:00.0'
        self.assertIn("no GPU device '%s'" % missing,
                      self.gpu_fails('device', 'show', missing))
        self.assertIn("no GPU device 'nope'",
                      self.gpu_fails('device', 'show', 'nope'))
        self.gpu_fails('device', 'show', str(uuid.uuid4()))
        self.assertIn('[DOMAIN:]BUS:SLOT.FUNCTION',
                      self.gpu_fails('device', 'show', 'gpu-a30-1:81:00'))
        self.assertIn('empty', self.gpu_fails('device', 'show', ''))
        # 0000:4d:00.0 is on gpu-a100-1 and gpu-sriov-1.
        self.assertIn('name the host too: HOST:ADDRESS',
                      self.gpu_fails('device', 'show', '0000:4d:00.0'))
        self.assertIn('no compute host named', self.gpu_fails(
            'device', 'show', 'nope.example.org:0000:81:00.0'))

    def test_uuid_any_case_and_bare_address_of_one_host(self):
        provider = self.provider('gpu-rtx-1_0000:41:00.0')['uuid']
        for name in (provider.upper(), provider.replace('-', ''),
                     '0000:41:00.0', '41:00.0'):
            self.assertEqual(provider,
                             self.gpu('device', 'show', name)['Provider'])


class TestVanishedDevice(base.SandboxTestCase):
    """A provider deleted between the listing and its detail requests."""

    def test_left_out_not_a_crash(self):
        sandbox = self.sandbox()
        from keystoneauth1 import adapter
        service = http.Service(adapter.Adapter(
            sandbox.session(), service_type='placement',
            endpoint_override=sandbox.urls['placement']), 'placement')
        placement = placement_mod.Placement(service)
        root = self.placement('POST', '/resource_providers', json={
            'name': 'ghost-%s' % uuid.uuid4().hex[:6]})
        gone = self.placement('POST', '/resource_providers', json={
            'name': root['name'] + '_0000:81:00.0',
            'parent_provider_uuid': root['uuid']})
        listed = placement.providers(in_tree=root['uuid'])
        self.assertEqual(2, len(listed))
        self.placement('DELETE', '/resource_providers/%s' % gone['uuid'])
        self.placement('DELETE', '/resource_providers/%s' % root['uuid'])
        # as if listed as a PCI device just before the delete
        snap = snapshot.Snapshot(listed, {gone['uuid']}, set())
        reading._fetch(placement, snap, [(gone['uuid'], 'inventories'),
                                         (gone['uuid'], 'allocations')])
        self.assertEqual({}, snap.inventories)
        self.assertEqual([], devices.build(snap))
