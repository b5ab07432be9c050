"""The sandbox's fleet file: nova.conf values and what Nova must report."""
import json

import testtools

from gpuclient.sandbox import fleet


class TestDefaultFleet(testtools.TestCase):

    def setUp(self):
        super().setUp()
        self.fleet = fleet.load()

    def test_hosts_and_providers(self):
        self.assertEqual(['gpu-a30-1', 'gpu-a100-1', 'gpu-h100-1',
                          'gpu-rtx-1', 'vgpu-1'],
                         [h.name for h in self.fleet.hosts])
        expected = self.fleet.expected_providers()
        self.assertEqual(13, len(expected))
        self.assertEqual('CUSTOM_PCI_10DE_20B7',
                         expected['gpu-a30-1_0000:81:00.0'])
        self.assertEqual('CUSTOM_A100', expected['gpu-a100-1_0000:2B:00.0'])
        self.assertEqual('VGPU', expected['vgpu-1_pci_0000_87_00_0'])

    def test_device_spec_is_one_entry_per_product_with_its_options(self):
        [spec] = self.fleet.host('gpu-a100-1').device_spec()
        self.assertEqual({'vendor_id': '10de', 'product_id': '20b0',
                          'resource_class': 'CUSTOM_A100',
                          'traits': 'CUSTOM_NVLINK'}, json.loads(spec))
        [spec] = self.fleet.host('gpu-h100-1').device_spec()
        self.assertEqual('true', json.loads(spec)['one_time_use'])
        self.assertEqual([], self.fleet.host('vgpu-1').device_spec())

    def test_aliases_are_written_as_given(self):
        aliases = [json.loads(a) for a in self.fleet.alias_config()]
        self.assertEqual(['a30', 'a100', 'h100', 'rtx3090'],
                         [a['name'] for a in aliases])
        self.assertEqual('CUSTOM_A100', aliases[1]['resource_class'])

    def test_vgpu_inventories_use_libvirt_names(self):
        self.assertEqual({'pci_0000_84_00_0': 16, 'pci_0000_85_00_0': 16,
                          'pci_0000_86_00_0': 16, 'pci_0000_87_00_0': 16},
                         self.fleet.host('vgpu-1').vgpu.inventories())

    def test_hypervisor_record(self):
        record = self.fleet.host('gpu-a100-1').pci[0].hypervisor_record()
        self.assertEqual(('0000:25:00.0', 'type-PF', '10de', '20b0'),
                         (record['address'], record['dev_type'],
                          record['vendor_id'], record['product_id']))


class TestBadFleet(testtools.TestCase):

    def assertRefused(self, data, message):
        e = self.assertRaises(fleet.FleetError, fleet.parse, data)
        self.assertIn(message, str(e))

    def device(self, **kw):
        d = {'address': '0000:81:00.0', 'vendor_id': '10de',
             'product_id': '20b7'}
        d.update(kw)
        return {'hosts': {'h1': {'pci': [d]}}}

    def test_refusals(self):
        self.assertRefused({}, 'needs a "hosts" mapping')
        self.assertRefused(self.device(address='81:00'), 'not a PCI address')
        self.assertRefused(self.device(vendor_id='nvda'), 'vendor_id')
        self.assertRefused(self.device(device_type='type-VF'), 'device_type')
        self.assertRefused(self.device(colour='green'), 'unknown keys')
        self.assertRefused(self.device(resource_class='a 100'),
                           'resource_class')
        self.assertRefused({'hosts': {'H_1': {}}}, 'host name')
        self.assertRefused({'hosts': {'h1': {'vgpu': {'per_gpu': 0}}}},
                           'per_gpu')
        two = self.device()
        two['hosts']['h1']['pci'].append(dict(
            two['hosts']['h1']['pci'][0], address='0000:82:00.0',
            one_time_use=True))
        self.assertRefused(two, 'must share their device_spec options')

    def test_upper_case_input_is_normalised(self):
        f = fleet.parse(self.device(address='0000:C1:00.0', vendor_id='10DE'))
        self.assertEqual(('0000:c1:00.0', '10de'),
                         (f.hosts[0].pci[0].address,
                          f.hosts[0].pci[0].vendor_id))

    def test_unreadable_file(self):
        e = self.assertRaises(fleet.FleetError, fleet.load, '/nonexistent')
        self.assertIn('cannot read fleet file', str(e))
