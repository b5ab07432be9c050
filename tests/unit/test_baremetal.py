"""Bare-metal GPU nodes from Ironic's node records and inspection data, in
the shapes Ironic 39 returns them (the sandbox's real Ironic:
tests/functional/test_sandbox_baremetal.py)."""
import testtools

from gpuclient.model import baremetal
from gpuclient.model import devices
from gpuclient.model import flavors
from tests import factories

UUID = '6b1c8e3e-2f7a-4c55-9d0e-1a2b3c4d5e6f'


def agent(*ids, cls='030200'):
    """GET /v1/nodes/{node}/inventory after the agent's pci-devices
    collector: the devices in plugin_data."""
    return {'inventory': {'cpu': {'architecture': 'x86_64'}},
            'plugin_data': {'pci_devices': [
                {'vendor_id': v, 'product_id': p, 'class': cls,
                 'revision': 'a1', 'bus': '0000:%02x:00.0' % (0x18 + n),
                 'numa_node_id': 0}
                for n, (v, p) in enumerate(i.split(':') for i in ids)]}}


def redfish(*ids, cls='DisplayController'):
    """Redfish inspection: the devices in the inventory, no bus or NUMA,
    as ironic/drivers/modules/redfish/inspect.py writes sushy's values."""
    return {'inventory': {'pci_devices': [
        {'vendor_id': '0x' + v.upper(), 'product_id': '0x' + p.upper(),
         'class': cls} for v, p in (i.split(':') for i in ids)]},
        'plugin_data': {}}


def node(name='bm-h100-1', rc='baremetal.gpu-h100', **fields):
    return dict({'uuid': UUID, 'name': name, 'resource_class': rc,
                 'traits': ['CUSTOM_GPU_H100'], 'maintenance': False,
                 'maintenance_reason': None, 'provision_state': 'available',
                 'power_state': 'power off', 'instance_uuid': None}, **fields)


class TestCase(testtools.TestCase):

    def setUp(self):
        super().setUp()
        self.useFixture(factories.PciIds())


class TestNodeDevice(TestCase):

    def test_eight_h100s_free(self):
        d = baremetal.node_device(node(), agent(*8 * ['10de:2330']))
        self.assertEqual(
            ('bm-h100-1', devices.BAREMETAL, 'H100', '10de:2330', 8, 0, 0,
             8, 'free', 'CUSTOM_BAREMETAL_GPU_H100', ['CUSTOM_GPU_H100'],
             'agent', UUID),
            (d.host, d.kind, d.model, d.pci_id, d.total, d.used, d.reserved,
             d.free, d.state, d.resource_class, d.traits, d.inspection,
             d.provider_uuid))
        self.assertEqual(8, len(d.gpu_buses))

    def test_redfish_shape_reads_the_same(self):
        d = baremetal.node_device(node(), redfish(*4 * ['10de:2330']))
        self.assertEqual(('H100', '10de:2330', 4, 'redfish', []),
                         (d.model, d.pci_id, d.total, d.inspection,
                          d.gpu_buses))
        # an NVSwitch is NVIDIA's, and no GPU: Redfish's class says so
        switch = baremetal.node_device(node(), redfish(
            '10de:22a3', cls='BridgeDevice'))
        self.assertEqual(0, switch.total)

    def test_in_use_and_maintenance(self):
        used = baremetal.node_device(node(instance_uuid='s1',
                                          provision_state='active'),
                                     agent('10de:20b0', '10de:20b0'))
        self.assertEqual(('in-use', 2, 0, {'s1': 1}),
                         (used.state, used.used, used.free, used.consumers))
        down = baremetal.node_device(
            node(maintenance=True, maintenance_reason='ECC errors, RMA 4711'),
            agent('10de:20b0', '10de:20b0'))
        self.assertEqual(('reserved', 2, 0, 'maintenance: ECC errors, RMA '
                          '4711'), (down.state, down.reserved, down.free,
                                    down.reason))
        cleaning = baremetal.node_device(node(provision_state='cleaning'),
                                         agent('10de:20b0'))
        self.assertEqual(('reserved', 'provision state cleaning'),
                         (cleaning.state, cleaning.reason))
        for fields, reason in (({'power_state': 'error'},
                                'power state error'),
                               ({'provision_state': 'active'},
                                'provision state active with no server')):
            d = baremetal.node_device(node(**fields), agent('10de:20b0'))
            self.assertEqual(('reserved', reason), (d.state, d.reason))

    def test_only_display_controllers_count(self):
        nic_and_gpus = agent('15b3:1017', cls='020000')
        nic_and_gpus['plugin_data']['pci_devices'] += agent(
            '10de:26b9', '10de:26b9')['plugin_data']['pci_devices']
        d = baremetal.node_device(node(rc='baremetal.general', traits=[]),
                                  nic_and_gpus)
        self.assertEqual((2, 'L40S', True), (d.total, d.model, d.is_gpu))
        cpu = baremetal.node_device(node(rc='baremetal.cpu'),
                                    agent('15b3:1017', cls='020000'))
        self.assertEqual((0, False, None), (cpu.total, cpu.is_gpu, cpu.model))

    def test_never_inspected_is_no_gpu_node(self):
        d = baremetal.node_device(node(), None)
        self.assertEqual((0, False, None), (d.total, d.is_gpu, d.inspection))

    def test_mixed_gpus_name_both(self):
        d = baremetal.node_device(node(), agent('10de:20b0', '10de:26b9'))
        self.assertEqual(('A100 + L40S', None), (d.model, d.pci_id))

    def test_placement_class_as_nova_normalizes_it(self):
        for rc, expected in (('baremetal.gpu-h100',
                              'CUSTOM_BAREMETAL_GPU_H100'),
                             ('baremetal.with-GPU',
                              'CUSTOM_BAREMETAL_WITH_GPU')):
            self.assertEqual(expected, baremetal.placement_class(rc))


class TestNotWritten(TestCase):

    def test_a_nodes_traits_and_state_are_ironics(self):
        from gpuclient.model import traits

        d = baremetal.node_device(node(), agent('10de:2330'))
        self.assertIn('openstack baremetal node add trait',
                      traits.unwritable(d, 'bm-h100-1'))


class TestFlavor(TestCase):

    def test_baremetal_flavor_is_ironics_shape(self):
        request = flavors.build_request(baremetal='baremetal.gpu-h100',
                                        traits=['CUSTOM_GPU_H100'])
        specs = flavors.extra_specs(request)
        self.assertEqual({'resources:CUSTOM_BAREMETAL_GPU_H100': '1',
                          'resources:VCPU': '0', 'resources:MEMORY_MB': '0',
                          'resources:DISK_GB': '0',
                          'trait:CUSTOM_GPU_H100': 'required'}, specs)
        self.assertEqual(['1 × bare-metal node of class '
                          'CUSTOM_BAREMETAL_GPU_H100',
                          'requires trait CUSTOM_GPU_H100'],
                         flavors.describe(specs))
        self.assertTrue(flavors.asks_for_gpu(
            specs, node_classes={'CUSTOM_BAREMETAL_GPU_H100'}))
        self.assertFalse(flavors.asks_for_gpu(specs))

    def test_findings_against_the_nodes(self):
        h100 = baremetal.node_device(node(), agent(*8 * ['10de:2330']))
        cpu = baremetal.node_device(node('bm-cpu-1', 'baremetal.cpu',
                                         traits=[]), None)

        def findings(rc, *traits):
            return flavors.baremetal_findings(flavors.build_request(
                baremetal=rc, traits=traits), [h100, cpu])

        self.assertEqual([], findings('baremetal.gpu-h100',
                                      'CUSTOM_GPU_H100'))
        self.assertIn('no GPU node of class CUSTOM_BAREMETAL_GPU_H100 has '
                      'the traits asked (CUSTOM_GPU_A100)',
                      findings('baremetal.gpu-h100', 'CUSTOM_GPU_A100')[0])
        self.assertIn('have no GPU by their inspection data',
                      findings('baremetal.cpu')[0])
        self.assertIn('Ironic lists no node of class CUSTOM_BAREMETAL_NOPE',
                      findings('baremetal.nope')[0])
        self.assertIn('Ironic is not in the catalog',
                      flavors.baremetal_findings(flavors.build_request(
                          baremetal='baremetal.cpu'), None)[0])

    def test_baremetal_goes_alone(self):
        for kwargs in ({'aliases': ['a30']}, {'vgpus': 1}):
            self.assertIn('--baremetal goes alone', str(self.assertRaises(
                flavors.InvalidFlavor, flavors.build_request,
                baremetal='baremetal.gpu-h100', **kwargs)))
        for text in ('CUSTOM_', 'custom_x-y'):
            self.assertIn('an Ironic node\'s resource class', str(
                self.assertRaises(flavors.InvalidFlavor,
                                  flavors.build_request, baremetal=text)))


class TestUnseen(testtools.TestCase):
    hypervisors = [{'hypervisor_hostname': 'gpu-a30-1',
                    'hypervisor_type': 'QEMU'},
                   {'hypervisor_hostname': UUID, 'hypervisor_type': 'ironic'},
                   {'hypervisor_hostname': 'n2', 'hypervisor_type': 'ironic'}]

    def test_nodes_ironic_hides_from_the_credential(self):
        note = baremetal.unseen_note(self.hypervisors, {UUID})
        self.assertIn('Ironic lists 1 of the 2 bare-metal nodes', note)
        self.assertIn('system scope', note)
        self.assertIsNone(baremetal.unseen_note(self.hypervisors,
                                                {UUID, 'n2'}))

    def test_no_ironic_in_the_catalog(self):
        self.assertIn('2 bare-metal node(s) but the catalog has no Ironic',
                      baremetal.unseen_note(self.hypervisors, None))
        self.assertIsNone(baremetal.unseen_note(self.hypervisors[:1], None))


class TestFind(TestCase):

    def test_an_empty_name_is_refused_before_ironic_is_asked(self):
        from osc_lib import exceptions

        from gpuclient.operations import reading

        cloud = factories.MemoryCloud()
        asked = []

        class Ironic:
            @property
            def listing(self):
                asked.append('nodes')
                return [dict(node(), name=None)]   # an unnamed node

            def inventory(self, uuid):
                return agent('10de:2330')

        cloud.baremetal = Ironic()
        for text in ('', '  '):
            self.assertIn('empty device name', str(self.assertRaises(
                exceptions.CommandError, reading.find, cloud, text)))
        self.assertEqual([], asked)
        # the unnamed node by its UUID, which then stands for its name
        found = reading.find(cloud, UUID)
        self.assertEqual((UUID, devices.BAREMETAL, 1),
                         (found.host, found.kind, found.total))
        self.assertEqual(['nodes'], asked)


class TestIronicInTheCatalog(testtools.TestCase):
    """An admin_token auth has no catalog: its one endpoint answers for
    every service type, so Ironic is there only where an override says."""

    def cloud(self, **endpoints):
        from keystoneauth1 import session
        from keystoneauth1 import token_endpoint

        from gpuclient.access import cloud as cloud_mod

        auth = token_endpoint.Token('http://127.0.0.1:8778', 'a-token')
        return cloud_mod.Cloud(session.Session(auth=auth),
                               endpoints=endpoints)

    def test_no_ironic_without_a_catalog(self):
        self.assertIsNone(self.cloud().baremetal)

    def test_an_override_names_it(self):
        self.assertIsNotNone(self.cloud(
            baremetal='http://127.0.0.1:6385').baremetal)
