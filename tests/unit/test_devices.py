"""The pure device model, from Placement data shaped as Nova, Cyborg and
Neutron write it, and the pci.ids names."""
import testtools

from gpuclient.model import devices
from gpuclient.model import pciids
from gpuclient.model import selection
from gpuclient.model import snapshot as snapshot_mod
from tests import factories
from tests.factories import allocations
from tests.factories import inventory
from tests.factories import PciIds
from tests.factories import provider
from tests.factories import traits

FQDN = 'gpu-l40s-1.dc1.example.org'


def snapshot():
    """A host named with '_' holding two A30s (one used), a released
    one-time-use H100, and a vGPU host with Neutron's bandwidth provider
    beside its GPU."""
    snap = snapshot_mod.Snapshot(
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


def production():
    """The production shapes of the default sandbox fleet: an FQDN
    hypervisor with two L40S, a NIC, an NVMe drive and a GPU's audio
    function; a VF pool on its PF's provider; a custom-class vGPU GPU;
    Cyborg's GPUs (its providers named after its host setting, not the
    root); Neutron's agent and bridge under every root."""
    r = 'r-l40s'
    snap = snapshot_mod.Snapshot(
        providers=[
            provider(r, FQDN),
            provider('l1', FQDN + '_0000:1B:00.0', r),
            provider('l2', FQDN + '_0000:1C:00.0', r),
            provider('nic', FQDN + '_0000:3B:00.0', r),
            provider('nvme', FQDN + '_0000:5E:00.0', r),
            provider('audio', FQDN + '_0000:1B:00.1', r),
            provider('ovs', 'gpu-l40s-1:Open vSwitch agent', r, r),
            provider('br', 'gpu-l40s-1:Open vSwitch agent:br-ex', 'ovs', r),
            provider('r-sriov', 'gpu-sriov-1'),
            provider('pool', 'gpu-sriov-1_0000:4D:00.0', 'r-sriov'),
            provider('r-v2', 'vgpu-2'),
            provider('v2a', 'vgpu-2_pci_0000_3d_00_0', 'r-v2'),
            provider('r-cy', 'cyborg-1.dc1.example.org'),
            provider('cy1', 'cyborg-1_0000:af:00.0', 'r-cy'),
            provider('cy2', 'cyborg-1_0000:b0:00.0', 'r-cy'),
        ],
        pci_managed={'l1', 'l2', 'nic', 'nvme', 'audio', 'pool'},
        one_time_use=set(), cyborg={'cy1', 'cy2'})
    snap.inventories = {
        'l1': inventory('CUSTOM_PCI_10DE_26B9'),
        'l2': inventory('CUSTOM_PCI_10DE_26B9'),
        'nic': inventory('CUSTOM_PCI_8086_1572'),
        'nvme': inventory('CUSTOM_PCI_144D_A80A'),
        'audio': inventory('CUSTOM_PCI_10DE_1AEF'),
        'pool': inventory('CUSTOM_PCI_1002_686C', total=4),
        'v2a': inventory('CUSTOM_VGPU_A16', total=8),
        'cy1': inventory('PGPU'),
        'cy2': inventory('VGPU', total=16),
    }
    snap.allocations = {u: allocations() for u in snap.inventories}
    snap.allocations['pool'] = allocations(s1={'CUSTOM_PCI_1002_686C': 1})
    snap.traits = {
        'cy1': traits('OWNER_CYBORG', 'CUSTOM_NVIDIA_1EB8'),
        'cy2': traits('OWNER_CYBORG', 'CUSTOM_NVIDIA_1EB8_T4_2B'),
    }
    return snap


HOSTS = {FQDN: 'gpu-l40s-1', 'cyborg-1.dc1.example.org': 'cyborg-1'}


class TestBuild(testtools.TestCase):

    def setUp(self):
        super().setUp()
        self.useFixture(PciIds())

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
        self.assertEqual({'nova'}, {d.owner for d in found})

    def test_device_whose_details_vanished_is_left_out(self):
        snap = snapshot()
        del snap.inventories['a']
        self.assertNotIn('a', [d.provider_uuid for d in devices.build(snap)])

    def test_traits_only_when_read(self):
        snap = snapshot()
        snap.traits = {'a': traits('OWNER_NOVA', 'CUSTOM_X')}
        found = {d.provider_uuid: d for d in devices.build(snap)}
        self.assertEqual(['CUSTOM_X', 'OWNER_NOVA'], found['a'].traits)
        self.assertIsNone(found['c'].traits)

    def test_production_shapes(self):
        found = {d.provider_uuid: d
                 for d in devices.build(production(), HOSTS)}
        self.assertNotIn('ovs', found)
        self.assertNotIn('br', found)
        rows = {u: (d.host, d.address, d.kind, d.owner, d.is_gpu,
                    d.category, d.model, d.state)
                for u, d in found.items()}
        self.assertEqual({
            'l1': ('gpu-l40s-1', '0000:1b:00.0', 'passthrough', 'nova', True,
                   'GPU', 'L40S', 'free'),
            'l2': ('gpu-l40s-1', '0000:1c:00.0', 'passthrough', 'nova', True,
                   'GPU', 'L40S', 'free'),
            'nic': ('gpu-l40s-1', '0000:3b:00.0', 'passthrough', 'nova',
                    False, 'NIC', 'Ethernet Controller X710 for 10GbE SFP+',
                    'free'),
            'nvme': ('gpu-l40s-1', '0000:5e:00.0', 'passthrough', 'nova',
                     False, 'NVMe', 'NVMe SSD Controller PM9A1/PM9A3/980PRO',
                     'free'),
            'audio': ('gpu-l40s-1', '0000:1b:00.1', 'passthrough', 'nova',
                      False, 'audio',
                      'GA102 High Definition Audio Controller', 'free'),
            'pool': ('gpu-sriov-1', '0000:4d:00.0', 'passthrough', 'nova',
                     True, 'GPU', 'MI25 MxGPU', 'partly-used'),
            'v2a': ('vgpu-2', '0000:3d:00.0', 'vgpu', 'nova', True, 'GPU',
                    None, 'free'),
            'cy1': ('cyborg-1', '0000:af:00.0', 'passthrough', 'cyborg',
                    True, 'GPU', 'T4', 'free'),
            'cy2': ('cyborg-1', '0000:b0:00.0', 'vgpu', 'cyborg', True,
                    'GPU', 'T4', 'free'),
        }, rows)
        l40s = found['l1']
        self.assertEqual(FQDN, l40s.hypervisor)
        self.assertEqual(('NVIDIA Corporation', None),
                         (l40s.vendor_name, l40s.vf_pool))
        pool = found['pool']
        self.assertEqual((4, '1002:686c', 3), (pool.vf_pool, pool.pci_id,
                                                pool.free))
        self.assertEqual('10de:1eb8', found['cy1'].pci_id)
        self.assertEqual('VGPU', found['cy2'].resource_class)
        self.assertIsNone(found['l1'].vf_pool)
        # The Cyborg VGPU is not Nova's, and its PGPU is not invisible.
        self.assertEqual(2, len([d for d in found.values()
                                 if d.owner == 'cyborg']))

    def test_no_cell_is_the_string_none(self):
        for d in devices.build(production(), HOSTS):
            for value in vars(d).values():
                self.assertNotEqual('None', value)

    def test_unmapped_root_keeps_its_name(self):
        found = devices.build(production())
        self.assertIn(FQDN, {d.host for d in found})

    def test_nested_device_named_after_the_root_not_its_parent(self):
        snap = snapshot()
        snap.providers += [provider('numa', 'gpu_host_1_numa0', 'r1', 'r1'),
                           provider('n', 'gpu_host_1_0000:83:00.0', 'numa',
                                    'r1')]
        snap.pci_managed.add('n')
        snap.inventories['n'] = inventory('CUSTOM_PCI_10DE_20B7')
        snap.allocations['n'] = allocations()
        found = {d.provider_uuid: d for d in devices.build(snap)}
        self.assertEqual(('gpu_host_1', '0000:83:00.0'),
                         (found['n'].host, found['n'].address))


class TestWithoutSystemPciIds(testtools.TestCase):
    """CI's fresh machine may have no pci.ids: the built-in table names
    the fleet's devices and the GPU rule still holds."""

    def setUp(self):
        super().setUp()
        self.useFixture(PciIds(None))

    def test_same_gpus_and_models(self):
        found = {d.provider_uuid: d
                 for d in devices.build(production(), HOSTS)}
        self.assertEqual({'l1', 'l2', 'pool', 'v2a', 'cy1', 'cy2'},
                         {u for u, d in found.items() if d.is_gpu})
        self.assertEqual(('L40S', 'MI25 MxGPU', 'NIC', 'NVMe', 'audio'),
                         (found['l1'].model, found['pool'].model,
                          found['nic'].category, found['nvme'].category,
                          found['audio'].category))

    def test_unknown_gpu_lists_with_its_ids(self):
        self.assertIsNone(pciids.names('10de', '2901')[1])
        snap = snapshot()
        snap.inventories['c'] = inventory('CUSTOM_PCI_10DE_2901')
        found = {d.provider_uuid: d for d in devices.build(snap)}
        self.assertEqual((True, '10de:2901', None),
                         (found['c'].is_gpu, found['c'].pci_id,
                          found['c'].model))


class TestClassify(testtools.TestCase):

    def setUp(self):
        super().setUp()
        self.useFixture(PciIds())

    def classify(self, rc, kind=devices.PASSTHROUGH):
        ident = devices.pci_id(rc)
        name = pciids.names(*ident.split(':'))[1] if ident else None
        return devices.classify(kind, rc, ident, name)

    def test_rule(self):
        for rc, expected in (
                ('CUSTOM_PCI_10DE_20B7', (True, 'GPU')),      # table
                ('CUSTOM_PCI_10DE_2901', (True, 'GPU')),      # pci.ids B200
                ('CUSTOM_PCI_10DE_1AEF', (False, 'audio')),   # GPU's audio
                ('CUSTOM_PCI_10DE_2AD4', (False, 'USB')),
                ('CUSTOM_PCI_1002_AB38', (False, 'audio')),
                ('CUSTOM_PCI_10DE_FFFF', (True, 'GPU')),      # unknown NVIDIA
                ('CUSTOM_PCI_8086_56C0', (True, 'GPU')),      # Intel by name
                ('CUSTOM_PCI_8086_2330', (False, 'other')),
                ('CUSTOM_PCI_8086_1572', (False, 'NIC')),
                ('CUSTOM_PCI_8086_FFFF', (False, 'other')),   # unknown Intel
                ('CUSTOM_PCI_144D_A80A', (False, 'NVMe')),
                ('CUSTOM_A100', (True, 'GPU')),
                ('CUSTOM_NIC_X710', (False, 'NIC')),
                ('CUSTOM_FAST_STORAGE', (False, 'storage')),
                ('CUSTOM_WHATEVER', (True, 'GPU')),           # cannot tell
                ('PGPU', (True, 'GPU'))):
            self.assertEqual(expected, self.classify(rc), rc)
            self.assertEqual(expected[0], devices.is_gpu_class(rc), rc)
        self.assertEqual((True, 'GPU'),
                         self.classify('CUSTOM_NIC', devices.VGPU))


class TestPciIds(testtools.TestCase):

    def setUp(self):
        super().setUp()
        self.db = pciids.Database.load([factories.FIXTURE])

    def test_lookups(self):
        self.assertEqual('NVIDIA Corporation', self.db.vendor_name('10DE'))
        self.assertEqual('GA100GL [A30 PCIe]',
                         self.db.device_name('10de', '20b7'))
        # A device line after a comment, and not another vendor's id.
        self.assertEqual('GH100[H100 SXM5 80GB]',
                         self.db.device_name('10de', '2330'))
        self.assertEqual('DH89xxCC SMBus Controller',
                         self.db.device_name('8086', '2330'))
        # Subsystem lines are not devices.
        self.assertIsNone(self.db.device_name('10de', '1532'))
        self.assertIsNone(self.db.device_name('10de', 'ffff'))
        self.assertIsNone(self.db.vendor_name('ffff'))
        self.assertEqual(7, len(self.db.device_names('10de')))

    def test_missing_file(self):
        self.assertIsNone(pciids.Database.load(['/nonexistent/pci.ids']))

    def test_fallback_to_the_built_in_table(self):
        self.useFixture(PciIds(None))
        self.assertEqual(('NVIDIA Corporation', 'AD102GL [L40S]'),
                         pciids.names('10DE', '26B9'))
        self.useFixture(PciIds())
        # The fixture (like Debian's 2023 pci.ids) lacks the L40S.
        self.assertEqual('AD102GL [L40S]', pciids.names('10de', '26b9')[1])

    def test_system_file_is_read_once(self):
        pciids.system.cache_clear()
        self.addCleanup(pciids.system.cache_clear)
        self.assertIs(pciids.system(), pciids.system())


class TestNaming(testtools.TestCase):

    def test_normalise_address(self):
        for text in ('0000:81:00.0', '0000:81:00.0'.upper(), '81:00.0',
                     'pci_0000_81_00_0'):
            self.assertEqual('0000:81:00.0', devices.normalise_address(text))
        for text in ('81:00', 'gpu-1', '0000:81:00.9', ''):
            self.assertIsNone(devices.normalise_address(text))

    def test_address_strips_the_root_name_not_the_first_underscore(self):
        self.assertEqual('0000:3b:00.0', devices.address_from_name(
            'my_host_0000:3B:00.0', 'my_host'))
        self.assertEqual('0000:84:00.0', devices.address_from_name(
            'my_host_pci_0000_84_00_0', 'MY_HOST'))
        # Cyborg names it after its host setting, not the root.
        self.assertEqual('0000:af:00.0', devices.address_from_name(
            'cyborg-1_0000:af:00.0', 'cyborg-1.example.org'))

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
        # A VF pool is partly used too, not in use with 3 VFs free.
        self.assertEqual('partly-used', devices.state_of(P, 4, 1, 0))
        self.assertEqual('in-use', devices.state_of(P, 4, 1, 3))

    def test_cyborg_ids_from_traits(self):
        for names, expected in (
                (['OWNER_CYBORG', 'CUSTOM_NVIDIA_1EB8'], '10de:1eb8'),
                (['OWNER_CYBORG', 'CUSTOM_NVIDIA_1EB8_T4_2B'], '10de:1eb8'),
                (['CUSTOM_GPU_NVIDIA', 'CUSTOM_GPU_PRODUCT_ID_1EB8'],
                 '10de:1eb8'),
                (['CUSTOM_PCI_8086', 'CUSTOM_PCI_PRODUCT_ID_1572'],
                 '8086:1572'),
                (['OWNER_CYBORG'], None), (None, None)):
            self.assertEqual(expected, devices.cyborg_pci_id(names), names)
            # The traits listed for a Cyborg GPU (not read from it) are
            # those its ids come from: the same answer.
            self.assertEqual(expected, devices.cyborg_pci_id(
                [t for t in names or () if devices.is_cyborg_id_trait(t)]))
        for other in ('CUSTOM_NVLINK', 'CUSTOM_PCI_10DE_20B7', 'OWNER_CYBORG',
                      'CUSTOM_GPU_A100'):
            self.assertFalse(devices.is_cyborg_id_trait(other), other)

    def test_what_may_be_a_device_from_the_listings_alone(self):
        snap = production()
        by_uuid = {p['uuid']: p for p in snap.providers}
        maybe = {u for u, p in by_uuid.items() if devices.may_be_device(
            p, snap.pci_managed, snap.cyborg)}
        self.assertEqual(set(snap.inventories), maybe)


class TestHostNames(testtools.TestCase):

    def setUp(self):
        super().setUp()
        self.names = selection.HostNames([
            {'hypervisor_hostname': FQDN, 'service': {'host': 'gpu-l40s-1'}},
            {'hypervisor_hostname': 'gpu-a30-1',
             'service': {'host': 'gpu-a30-1'}},
            {'hypervisor_hostname': 'orphan', 'service': None}])

    def test_either_spelling_any_case(self):
        for name in ('gpu-l40s-1', 'GPU-L40S-1', FQDN, FQDN.upper()):
            self.assertEqual([FQDN], self.names.hypervisors(name))
        self.assertEqual([], self.names.hypervisors('gpu-l40s'))
        self.assertEqual('gpu-l40s-1', self.names.service_host(FQDN.upper()))
        self.assertEqual('elsewhere', self.names.service_host('elsewhere'))


class TestSelect(testtools.TestCase):

    def setUp(self):
        super().setUp()
        self.useFixture(PciIds())
        self.found = devices.build(snapshot())

    def test_by_name_or_host_and_address(self):
        for text in ('gpu_host_1_0000:81:00.0', 'GPU_HOST_1_0000:81:00.0',
                     'gpu_host_1:0000:81:00.0', 'gpu_host_1:81:00.0',
                     'GPU_HOST_1:81:00.0'):
            self.assertEqual('a', selection.select(self.found, text)
                             .provider_uuid)

    def test_either_host_name(self):
        found = devices.build(production(), HOSTS)
        for text in ('gpu-l40s-1:1b:00.0', FQDN + ':0000:1b:00.0'):
            self.assertEqual('l1', selection.select(found, text).provider_uuid)

    def test_vf_address_finds_its_pool(self):
        found = devices.build(production(), HOSTS)
        for function in '1234':
            self.assertEqual('pool', selection.select(
                found, 'gpu-sriov-1:0000:4d:00.%s' % function).provider_uuid)
        # No pool on another host's function 0: not found.
        self.assertRaises(selection.NoSuchDevice, selection.select, found,
                          'gpu-l40s-1:0000:1c:00.3')

    def test_uuid_any_case_with_or_without_dashes(self):
        uuid = '0d0f2f5c-8a9b-4c1e-9f7a-3b2c1d0e9f8a'
        self.found[0].provider_uuid = uuid
        for text in (uuid.upper(), uuid.replace('-', '')):
            self.assertTrue(devices.is_uuid(text))
            self.assertEqual(uuid, devices.normalise_uuid(text))
            self.assertIs(self.found[0], selection.select(self.found, text))

    def test_bare_address(self):
        self.assertEqual('g', selection.select(self.found, '0000:84:00.0')
                         .provider_uuid)
        e = self.assertRaises(selection.NoSuchDevice, selection.select,
                              self.found + self.found, '0000:84:00.0')
        self.assertIn('name the host too: HOST:ADDRESS', str(e))

    def test_malformed_and_empty(self):
        e = self.assertRaises(selection.NoSuchDevice, selection.select,
                              self.found, 'gpu-a30-1:81:00')
        self.assertIn('[DOMAIN:]BUS:SLOT.FUNCTION', str(e))
        e = self.assertRaises(selection.NoSuchDevice, selection.select,
                              self.found, '  ')
        self.assertIn('empty', str(e))

    def test_split_host_address(self):
        self.assertEqual(('h_1', '0000:81:00.0'),
                         devices.split_host_address('h_1:81:00.0'))
        self.assertIsNone(devices.split_host_address('h_1_0000:81'))

    def test_unknown(self):
        e = self.assertRaises(selection.NoSuchDevice, selection.select,
                              self.found, 'gpu_host_1:0000:99:00.0')
        self.assertIn('HOST:ADDRESS', str(e))


class TestFiltersAndSummary(testtools.TestCase):

    def setUp(self):
        super().setUp()
        self.useFixture(PciIds())

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

    def test_model_names_from_either_source(self):
        found = {d.provider_uuid: d
                 for d in devices.build(production(), HOSTS)}
        for model, uuids in (('L40S', {'l1', 'l2'}), ('l40s', {'l1', 'l2'}),
                             ('MI25', {'pool'}), ('t4', {'cy1', 'cy2'}),
                             ('Tesla T4', {'cy1', 'cy2'}), ('L40', set())):
            f = devices.Filters(model=model)
            self.assertEqual(uuids, {u for u, d in found.items()
                                     if f.match(d)}, model)
        for model in ('A30', 'B200', 'MI25', 'rtx 3090', 'RTX3090'):
            self.assertTrue(devices.is_known_model(model), model)
        self.assertFalse(devices.is_known_model('Z9000'))

    def test_summary(self):
        groups = devices.summarize(devices.build(snapshot()))
        self.assertEqual(
            [('A30', 2, 2, 1, 0, 1), ('H100', 1, 1, 0, 1, 0),
             ('VGPU', 1, 16, 3, 0, 13)],
            [(g['model'], g['devices'], g['total'], g['used'],
              g['reserved'], g['free']) for g in groups])
        by_host = devices.summarize(devices.build(snapshot()), by_host=True)
        self.assertEqual({'gpu_host_1', 'v1'}, {g['host'] for g in by_host})
