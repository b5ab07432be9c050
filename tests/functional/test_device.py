"""openstack gpu device list | show | summary against the sandbox."""
import uuid

from gpuclient import devices
from gpuclient import http
from gpuclient import placement as placement_mod
from gpuclient.sandbox import client
from tests.functional import base

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
}
VGPU = {('vgpu-1', '0000:%s:00.0' % bus): ('VGPU', None)
        for bus in ('84', '85', '86', '87')}


class TestDeviceList(base.SandboxTestCase):

    def test_lists_every_gpu_of_the_default_fleet(self):
        rows = self.gpu('device', 'list')
        by_kind = {}
        for r in rows:
            by_kind.setdefault(r['Kind'], {})[(r['Host'], r['Address'])] = (
                r['Resource Class'], r['Model'])
        self.assertEqual(PASSTHROUGH, by_kind['passthrough'])
        self.assertEqual(VGPU, by_kind['vgpu'])
        self.assertEqual(13, len(rows))
        a30 = [r for r in rows if r['Model'] == 'A30'][0]
        self.assertEqual('10de:20b7', a30['PCI ID'])
        self.assertEqual(1, a30['Total'])  # numbers stay numbers in JSON

    def test_host_filter(self):
        rows = self.gpu('device', 'list', '--host', 'gpu-h100-1')
        self.assertEqual({('gpu-h100-1', '0000:c1:00.0'),
                          ('gpu-h100-1', '0000:c2:00.0')},
                         {(r['Host'], r['Address']) for r in rows})

    def test_filters(self):
        def addresses(*args):
            return sorted((r['Host'], r['Address'])
                          for r in self.gpu('device', 'list', *args))

        self.assertEqual(sorted(VGPU), addresses('--kind', 'vgpu'))
        self.assertEqual(4, len(addresses('--model', 'a100')))
        self.assertEqual(addresses('--model', 'A30'),
                         addresses('--product-id', '20B7'))
        self.assertEqual(4, len(addresses('--trait', 'CUSTOM_NVLINK')))
        self.assertEqual(4, len(addresses('--resource-class', 'CUSTOM_A100')))
        # A100s have a custom resource class: Placement does not say their
        # vendor, so a vendor filter cannot find them.
        self.assertEqual(5, len(addresses('--vendor-id', '10de')))

    def test_long_adds_provider_traits_and_consumers_as_lists(self):
        rows = self.gpu('device', 'list', '--long', '--host', 'gpu-a100-1')
        for r in rows:
            self.assertEqual(['COMPUTE_MANAGED_PCI_DEVICE', 'CUSTOM_NVLINK',
                              'OWNER_NOVA'], r['Traits'])
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
        [row] = [r for r in self.gpu('device', 'list', '--host', 'gpu-h100-1',
                                     '--state', 'reserved')]
        self.assertEqual((address, 1, 0, 0),
                         (row['Address'], row['Reserved'], row['Used'],
                          row['Free']))

    def test_summary_agrees_with_list(self):
        rows = self.gpu('device', 'list')
        summary = self.gpu('device', 'summary')
        for group in summary:
            members = [r for r in rows if group['Model'] in (
                r['Model'], r['Resource Class'])]
            self.assertEqual(len(members), group['Devices'])
            for field in ('Total', 'Used', 'Reserved', 'Free'):
                self.assertEqual(sum(r[field] for r in members), group[field])
        self.assertEqual(len(rows), sum(g['Devices'] for g in summary))
        a100 = [g for g in summary if g['Model'] == 'A100'][0]
        self.assertEqual(4, a100['Total'])

    def test_summary_by_host(self):
        summary = self.gpu('device', 'summary', '--by', 'host')
        self.assertEqual({('gpu-a30-1', 'A30', 2), ('gpu-a100-1', 'A100', 4),
                          ('gpu-h100-1', 'H100', 2),
                          ('gpu-rtx-1', 'RTX 3090', 1),
                          ('vgpu-1', 'VGPU', 4)},
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
        self.assertIn("no resource provider named 'nope'",
                      self.gpu_fails('device', 'show', 'nope'))
        self.gpu_fails('device', 'show', str(uuid.uuid4()))


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
        snap = placement_mod.Snapshot(listed, {gone['uuid']}, set())
        placement._fetch(snap, [(gone['uuid'], 'inventories'),
                                (gone['uuid'], 'allocations')])
        self.assertEqual({}, snap.inventories)
        self.assertEqual([], devices.build(snap))
