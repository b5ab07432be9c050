"""The pure device model, from Placement data shaped as Nova writes it."""
import testtools

from gpuclient import devices
from gpuclient import placement


def provider(uuid, name, parent=None, root=None):
    return {'uuid': uuid, 'name': name, 'parent_provider_uuid': parent,
            'root_provider_uuid': root or parent or uuid, 'generation': 1}


def inventory(rc, total=1, reserved=0, generation=3):
    return {'resource_provider_generation': generation, 'inventories': {
        rc: {'total': total, 'reserved': reserved, 'min_unit': 1,
             'max_unit': total, 'step_size': 1, 'allocation_ratio': 1.0}}}


def allocations(**consumers):
    return {'resource_provider_generation': 3, 'allocations': {
        c: {'resources': r} for c, r in consumers.items()}}


def snapshot():
    """A host named with '_' holding two A30s (one used), a released
    one-time-use H100, and a vGPU host with a NIC provider beside its GPU."""
    snap = placement.Snapshot(
        providers=[
            provider('r1', 'gpu_host_1'),
            provider('a', 'gpu_host_1_0000:81:00.0', 'r1'),
            provider('b', 'gpu_host_1_0000:C1:00.0', 'r1'),
            provider('c', 'gpu_host_1_0000:82:00.0', 'r1'),
            provider('r2', 'v1'),
            provider('g', 'v1_pci_0000_84_00_0', 'r2'),
            provider('nic', 'v1:Open vSwitch agent', 'r2'),
        ],
        pci_managed={'a', 'b', 'c'}, one_time_use={'b'})
    snap.inventories = {
        'a': inventory('CUSTOM_PCI_10DE_20B7'),
        'c': inventory('CUSTOM_PCI_10DE_20B7'),
        'b': inventory('CUSTOM_PCI_10DE_2330', reserved=1),
        'g': inventory('VGPU', total=16),
        'nic': inventory('NET_BW_EGR_KILOBIT_PER_SEC', total=1000),
    }
    snap.allocations = {
        'a': allocations(s1={'CUSTOM_PCI_10DE_20B7': 1}),
        'c': allocations(), 'b': allocations(),
        'g': allocations(s2={'VGPU': 2}, s3={'VGPU': 1}),
    }
    return snap


class TestBuild(testtools.TestCase):

    def test_rows(self):
        found = devices.build(snapshot())
        self.assertEqual(
            [('gpu_host_1', '0000:81:00.0', 'passthrough', 'A30', 'in-use'),
             ('gpu_host_1', '0000:82:00.0', 'passthrough', 'A30', 'free'),
             ('gpu_host_1', '0000:c1:00.0', 'passthrough', 'H100',
              'reserved'),
             ('v1', '0000:84:00.0', 'vgpu', None, 'partly-used')],
            [(d.host, d.address, d.kind, d.model, d.state) for d in found])
        vgpu = found[-1]
        self.assertEqual((16, 3, 0, 13), (vgpu.total, vgpu.used,
                                          vgpu.reserved, vgpu.free))
        self.assertEqual({'s2': 2, 's3': 1}, vgpu.consumers)
        self.assertEqual([False, False, True, False],
                         [d.one_time_use for d in found])
        self.assertEqual('10de:20b7', found[0].pci_id)
        self.assertEqual(3, found[0].generation)

    def test_device_whose_details_vanished_is_left_out(self):
        snap = snapshot()
        del snap.inventories['a']
        self.assertNotIn('a', [d.provider_uuid for d in devices.build(snap)])

    def test_traits_only_when_read(self):
        snap = snapshot()
        snap.traits = {'a': {'traits': ['OWNER_NOVA', 'CUSTOM_X']}}
        found = {d.provider_uuid: d for d in devices.build(snap)}
        self.assertEqual(['CUSTOM_X', 'OWNER_NOVA'], found['a'].traits)
        self.assertIsNone(found['c'].traits)


class TestNaming(testtools.TestCase):

    def test_normalise_address(self):
        for text in ('0000:81:00.0', '0000:81:00.0'.upper(), '81:00.0',
                     'pci_0000_81_00_0'):
            self.assertEqual('0000:81:00.0', devices.normalise_address(text))
        for text in ('81:00', 'gpu-1', '0000:81:00.9', ''):
            self.assertIsNone(devices.normalise_address(text))

    def test_address_strips_the_parent_name_not_the_first_underscore(self):
        self.assertEqual('0000:3b:00.0', devices.address_from_name(
            'my_host_0000:3B:00.0', 'my_host'))
        self.assertEqual('0000:84:00.0', devices.address_from_name(
            'my_host_pci_0000_84_00_0', 'my_host'))

    def test_model_from_class(self):
        self.assertEqual('A30', devices.model_name('CUSTOM_PCI_10DE_20B7'))
        self.assertEqual('A100', devices.model_name('CUSTOM_A100'))
        self.assertEqual('RTX 3090', devices.model_name('CUSTOM_RTX_3090'))
        self.assertIsNone(devices.model_name('CUSTOM_PCI_1234_5678'))
        self.assertIsNone(devices.model_name('VGPU'))

    def test_states(self):
        P, V = devices.PASSTHROUGH, devices.VGPU
        self.assertEqual('free', devices.state_of(P, 1, 0, 0))
        self.assertEqual('in-use', devices.state_of(P, 1, 1, 1))
        self.assertEqual('reserved', devices.state_of(P, 1, 0, 1))
        self.assertEqual('partly-used', devices.state_of(V, 16, 4, 0))
        self.assertEqual('in-use', devices.state_of(V, 16, 16, 0))

    def test_vgpu_with_custom_mdev_class_is_recognised_by_libvirt_name(self):
        parent = provider('r', 'h')
        by_uuid = {'r': parent}
        custom = inventory('CUSTOM_NVIDIA_35', total=8)
        self.assertTrue(devices.is_vgpu_provider(
            provider('g', 'h_pci_0000_84_00_0', 'r'), by_uuid, custom))
        self.assertFalse(devices.is_vgpu_provider(
            provider('n', 'h_nic_0', 'r'), by_uuid, custom))


class TestSelect(testtools.TestCase):

    def setUp(self):
        super().setUp()
        self.found = devices.build(snapshot())

    def test_by_name_or_host_and_address(self):
        for text in ('gpu_host_1_0000:81:00.0', 'GPU_HOST_1_0000:81:00.0',
                     'gpu_host_1:0000:81:00.0', 'gpu_host_1:81:00.0'):
            self.assertEqual('a', devices.select(self.found, text)
                             .provider_uuid)

    def test_uuid(self):
        uuid = '0d0f2f5c-8a9b-4c1e-9f7a-3b2c1d0e9f8a'
        self.found[0].provider_uuid = uuid
        self.assertTrue(devices.is_uuid(uuid.upper()))
        self.assertIs(self.found[0], devices.select(self.found, uuid.upper()))

    def test_split_host_address(self):
        self.assertEqual(('h_1', '0000:81:00.0'),
                         devices.split_host_address('h_1:81:00.0'))
        self.assertIsNone(devices.split_host_address('h_1_0000:81'))

    def test_unknown(self):
        e = self.assertRaises(devices.NoSuchDevice, devices.select,
                              self.found, 'gpu_host_1:0000:99:00.0')
        self.assertIn('HOST:ADDRESS', str(e))


class TestFiltersAndSummary(testtools.TestCase):

    def test_filters(self):
        found = devices.build(snapshot())
        f = devices.Filters(model='a30', state='free')
        self.assertEqual(['0000:82:00.0'],
                         [d.address for d in found if f.match(d)])
        f = devices.Filters(vendor_id='10DE', product_id='2330')
        self.assertEqual(['0000:c1:00.0'],
                         [d.address for d in found if f.match(d)])
        f = devices.Filters(kind='vgpu', resource_class='vgpu')
        self.assertEqual(1, len([d for d in found if f.match(d)]))

    def test_summary(self):
        groups = devices.summarize(devices.build(snapshot()))
        self.assertEqual(
            [('A30', 2, 2, 1, 0, 1), ('H100', 1, 1, 0, 1, 0),
             ('VGPU', 1, 16, 3, 0, 13)],
            [(g['model'], g['devices'], g['total'], g['used'],
              g['reserved'], g['free']) for g in groups])
        by_host = devices.summarize(devices.build(snapshot()), by_host=True)
        self.assertEqual({'gpu_host_1', 'v1'}, {g['host'] for g in by_host})
