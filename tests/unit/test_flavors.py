"""GPU flavor requests: parsing, extra specs, refusals, words."""
import dataclasses

import testtools

from gpuclient.model import devices
from gpuclient.model import flavors
from tests import factories


def request(**kwargs):
    kwargs.setdefault('aliases', ['a30'])
    return flavors.build_request(**kwargs)


def specs(**kwargs):
    return flavors.extra_specs(request(**kwargs))


class TestCase(testtools.TestCase):

    def refused(self, fn, *args, **kwargs) -> str:
        """The one-line message fn refuses the request with."""
        message = str(self.assertRaises(flavors.InvalidFlavor, fn, *args,
                                        **kwargs))
        self.assertNotIn('\n', message)
        return message


class TestAlias(TestCase):

    def test_count_defaults_to_one(self):
        self.assertEqual(flavors.Alias('a30', 1), flavors.parse_alias('a30'))
        self.assertEqual(flavors.Alias('a100', 2),
                         flavors.parse_alias('a100:2'))

    def test_malformed(self):
        for text in ('a30:x', 'a30:0', 'a30:-1', 'a30:', 'a30:1:2'):
            self.assertIn("--alias %r: the count must be a whole number"
                          % text, self.refused(flavors.parse_alias, text))
        for text in (':2', '', 'a,b:1', 'a 30'):
            self.assertIn('give the alias name',
                          self.refused(flavors.parse_alias, text))

    def test_several_aliases_make_one_spec(self):
        self.assertEqual({'pci_passthrough:alias': 'a30:1,a100:2'},
                         specs(aliases=['a30', 'a100:2']))

    def test_same_alias_twice_is_refused(self):
        self.assertIn('a30 given more than once',
                      self.refused(request, aliases=['a30', 'a30:2']))


class TestRequest(TestCase):

    def test_every_option(self):
        self.assertEqual({
            'hw:hide_hypervisor_id': 'true',
            'hw:pci_numa_affinity_policy': 'socket',
            'hw:cpu_policy': 'dedicated',
            'pci_passthrough:alias': 'rtx3090:1',
            'trait:CUSTOM_CONSUMER': 'required',
            'trait:CUSTOM_SLOW': 'forbidden',
        }, specs(aliases=['rtx3090'], traits=['custom_consumer'],
                 forbidden=['CUSTOM_SLOW'], numa_policy='socket',
                 hide_hypervisor_id=True,
                 properties=['hw:cpu_policy=dedicated']))

    def test_vgpus_are_one_request_group(self):
        self.assertEqual({'resources:VGPU': '2'},
                         specs(aliases=(), vgpus=2))
        self.assertEqual({'resources:CUSTOM_NVIDIA_35': '1'},
                         specs(aliases=(), vgpus=1,
                               vgpu_class='custom_nvidia_35'))

    def test_exactly_one_kind_of_gpu(self):
        self.assertIn("--alias NAME[:COUNT]",
                      self.refused(request, aliases=()))
        self.assertIn('do not go together',
                      self.refused(request, aliases=['a30'], vgpus=1))
        self.assertIn('1 to 64', self.refused(request, aliases=(), vgpus=0))
        self.assertIn('goes with --vgpu',
                      self.refused(request, vgpu_class='VGPU'))
        self.assertIn('CUSTOM_ class', self.refused(
            request, aliases=(), vgpus=1, vgpu_class='NVIDIA_35'))

    def test_traits(self):
        self.assertIn('not a trait name', self.refused(request,
                                                  traits=['CUSTOM-X']))
        self.assertIn('both required and forbidden', self.refused(
            request, traits=['CUSTOM_X'], forbidden=['custom_x']))
        self.assertEqual(('CUSTOM_X',), request(
            traits=['CUSTOM_X', 'custom_x']).required)

    def test_properties(self):
        self.assertIn('KEY=VALUE', self.refused(request, properties=['hw:x']))
        self.assertEqual({'a': 'b=c'}, request(properties=['a=b=c'])
                         .properties)
        for key, option in (('pci_passthrough:alias', '--alias'),
                            ('resources:VGPU', '--vgpu'),
                            ('trait:CUSTOM_X', '--trait'),
                            ('hw:pci_numa_affinity_policy', '--numa-policy'),
                            ('hw:hide_hypervisor_id',
                             '--hide-hypervisor-id')):
            self.assertIn(option, self.refused(request,
                                          properties=['%s=1' % key]))


class TestCheck(TestCase):

    def test_kvm_hidden_points_at_hide_hypervisor_id(self):
        message = self.refused(flavors.check, specs(
            properties=['hw:kvm_hidden=true']))
        self.assertIn('--hide-hypervisor-id', message)
        self.assertIn('hw:hide_hypervisor_id=true', message)

    def test_machine_type_points_at_the_image(self):
        for key in ('hw_machine_type', 'hw:machine_type'):
            message = self.refused(flavors.check, specs(
                properties=['%s=q35' % key]))
            self.assertIn(key, message)
            self.assertIn('openstack image set --property '
                          'hw_machine_type=q35', message)

    def test_pci_class_next_to_an_alias_never_schedules(self):
        message = self.refused(flavors.check, specs(
            properties=['resources:CUSTOM_PCI_10DE_20B7=1']))
        self.assertIn('never schedules', message)
        # a class Placement says is a PCI device's, in a numbered group
        message = self.refused(flavors.check, specs(
            properties=['resources1:CUSTOM_A100=1']), {'CUSTOM_A100'})
        self.assertIn('resources1:CUSTOM_A100', message)

    def test_pci_class_alone_leaks(self):
        message = self.refused(flavors.check, specs(
            aliases=(), vgpus=1, properties=['resources:CUSTOM_A100=1']),
            {'CUSTOM_A100'})
        self.assertIn('never attaches', message)
        self.assertIn('--alias', message)

    def test_good_flavors_pass(self):
        flavors.check(specs(properties=['resources:CUSTOM_A100=1']))
        flavors.check(specs(aliases=(), vgpus=2), {'CUSTOM_A100'})
        flavors.check({'hw:hide_hypervisor_id': 'true'})

    def test_vgpu_class_that_is_a_pci_class(self):
        self.assertIn('--alias', self.refused(flavors.check_vgpu_class,
                                         'CUSTOM_A100', {'CUSTOM_A100'}))
        flavors.check_vgpu_class('CUSTOM_NVIDIA_35', {'CUSTOM_A100'})

    def test_classes_to_judge_are_the_unnamed_custom_ones(self):
        self.assertEqual([], flavors.classes_to_judge([
            {'resources:VGPU': '1'}, {'resources:CUSTOM_PCI_10DE_20B7': '1'},
            {'pci_passthrough:alias': 'a30:1'}]))
        self.assertEqual(['CUSTOM_BAREMETAL_GOLD', 'CUSTOM_NVIDIA_35'],
                         flavors.classes_to_judge([
                             {'resources_gpu:CUSTOM_NVIDIA_35': '1'},
                             {'resources:CUSTOM_BAREMETAL_GOLD': '1'},
                             {'resources:CUSTOM_NVIDIA_35': '2'}]))


class TestJudgeClass(TestCase):
    """A custom class is a GPU's by who holds it."""

    NIC = {'uuid': 'nic', 'name': 'h1_0000:3b:00.0',
           'parent_provider_uuid': 'h1'}
    A100 = {'uuid': 'a100', 'name': 'h1_0000:81:00.0',
            'parent_provider_uuid': 'h1'}
    VGPU_GPU = {'uuid': 'g', 'name': 'h2_pci_0000_84_00_0',
                'parent_provider_uuid': 'h2'}
    IRONIC_NODE = {'uuid': 'node', 'name': 'node-1',
                   'parent_provider_uuid': None}

    def test_nova_pci_device(self):
        self.assertEqual('pci', flavors.judge_class(
            'CUSTOM_A100', [self.A100], {'a100', 'nic'}))
        # Nova's, but a NIC: no GPU flavor asks for it.
        self.assertEqual('other', flavors.judge_class(
            'CUSTOM_NIC_X710', [self.NIC], {'a100', 'nic'}))

    def test_vgpu_gpu(self):
        self.assertEqual(flavors.VGPU, flavors.judge_class(
            'CUSTOM_NVIDIA_35', [self.VGPU_GPU], set()))

    def test_ironic_node_and_unknown_class(self):
        self.assertEqual('other', flavors.judge_class(
            'CUSTOM_BAREMETAL_GOLD', [self.IRONIC_NODE], {'a100'}))
        self.assertEqual('other', flavors.judge_class(
            'CUSTOM_BAREMETAL_GOLD', None, {'a100'}))

    def test_no_holder_tells_nothing(self):
        self.assertIsNone(flavors.judge_class('CUSTOM_A100', [], {'a100'}))
        # A device of no known owner (not traited, not named by libvirt).
        self.assertEqual('other', flavors.judge_class(
            'CUSTOM_A100', [self.A100], set()))


def device(host, kind, rc, uuid):
    return factories.device(host, None, rc, kind, uuid=uuid, pci_id=None,
                            provider_name=uuid, inventory={})


FLEET = [device('gpu-a100-1', devices.PASSTHROUGH, 'CUSTOM_A100', 'a100'),
         device('vgpu-1', devices.VGPU, 'VGPU', 'gpu84'),
         device('vgpu-2', devices.VGPU, 'CUSTOM_NVIDIA_35', 'gpu85')]


def provider(uuid, root=True):
    return {'uuid': uuid, 'name': uuid,
            'parent_provider_uuid': None if root else 'parent'}


class TestTraitFindings(TestCase):

    def findings(self, holders, **kwargs):
        return flavors.trait_findings(request(**kwargs), FLEET, holders)

    def test_vgpu_gpu_or_its_host_has_the_trait(self):
        ask = dict(aliases=(), vgpus=1, traits=['CUSTOM_T'])
        self.assertEqual([], self.findings(
            {'CUSTOM_T': [provider('gpu84', root=False)]}, **ask))
        self.assertEqual([], self.findings(
            {'CUSTOM_T': [provider('vgpu-1')]}, **ask))

    def test_vgpu_of_another_class_does_not_count(self):
        warnings = self.findings(
            {'CUSTOM_T': [provider('gpu85', root=False)]}, aliases=(),
            vgpus=1, traits=['CUSTOM_T'])
        self.assertEqual(1, len(warnings))
        self.assertIn('no VGPU GPU (nor its host) has trait CUSTOM_T',
                      warnings[0])

    def test_nobody_has_it_is_a_warning(self):
        warnings = self.findings({'CUSTOM_T': []}, aliases=['a100'],
                                 traits=['CUSTOM_T'])
        self.assertIn('no passthrough GPU', warnings[0])

    def test_alias_needs_the_trait_on_the_host(self):
        self.assertEqual([], self.findings(
            {'CUSTOM_T': [provider('gpu-a100-1')]}, aliases=['a100'],
            traits=['CUSTOM_T']))
        message = self.refused(self.findings,
                          {'CUSTOM_T': [provider('a100', root=False)]},
                          aliases=['a100'], traits=['CUSTOM_T'])
        self.assertIn('would never schedule', message)
        self.assertIn('[pci] alias', message)

    def test_gpu_classes(self):
        self.assertEqual(({'CUSTOM_A100'}, {'VGPU', 'CUSTOM_NVIDIA_35'}),
                         flavors.gpu_classes(FLEET))


class TestDescribe(TestCase):

    def test_words(self):
        self.assertEqual(['1 × a30 (PCI passthrough)',
                          '2 × a100 (PCI passthrough)'],
                         flavors.describe({'pci_passthrough:alias':
                                           'a30:1, a100:2'}))
        self.assertEqual(['2 × VGPU', 'requires trait CUSTOM_NVIDIA_11',
                          'forbids trait CUSTOM_SLOW'], flavors.describe({
                              'resources:VGPU': '2',
                              'trait:CUSTOM_NVIDIA_11': 'required',
                              'trait:CUSTOM_SLOW': 'forbidden',
                              'hw:cpu_policy': 'dedicated',
                              'resources:VCPU': '4'}))

    def test_malformed_alias_entries_say_so(self):
        self.assertEqual(["malformed alias entry 'a30:x': Nova cannot boot "
                          "it", "malformed alias entry 'a100': Nova cannot "
                          "boot it", '1 × h100 (PCI passthrough)'],
                         flavors.describe({'pci_passthrough:alias':
                                           'a30:x, a100,h100:1'}))

    def test_custom_vgpu_class_and_groups(self):
        self.assertEqual(
            ['2 × CUSTOM_NVIDIA_35 (vGPU) in 2 request groups'],
            flavors.describe({'resources1:CUSTOM_NVIDIA_35': '1',
                              'resources2:CUSTOM_NVIDIA_35': '1',
                              'group_policy': 'isolate'},
                             vgpu_classes={'VGPU', 'CUSTOM_NVIDIA_35'}))

    def test_broken_pci_recipes_say_so(self):
        self.assertEqual(
            ['1 × CUSTOM_PCI_10DE_20B7 (resources: without an alias: no '
             'device attached, the GPU leaks)'],
            flavors.describe({'resources:CUSTOM_PCI_10DE_20B7': '1'}))
        self.assertIn('never schedules', flavors.describe(
            {'pci_passthrough:alias': 'a100:1', 'resources:CUSTOM_A100': '1'},
            pci_classes={'CUSTOM_A100'})[1])

    def test_which_flavors_ask_for_gpus(self):
        self.assertTrue(flavors.asks_for_gpu({'pci_passthrough:alias':
                                              'a30:1'}))
        self.assertTrue(flavors.asks_for_gpu({'resources2:VGPU': '1'}))
        self.assertTrue(flavors.asks_for_gpu(
            {'resources:CUSTOM_PCI_10DE_20B7': '1'}))
        self.assertTrue(flavors.asks_for_gpu(
            {'resources:CUSTOM_A100': '1'}, pci_classes={'CUSTOM_A100'}))
        self.assertFalse(flavors.asks_for_gpu(
            {'resources:CUSTOM_A100': '1'}))
        self.assertFalse(flavors.asks_for_gpu(
            {'trait:CUSTOM_X': 'required', 'hw:cpu_policy': 'dedicated'}))
        self.assertFalse(flavors.asks_for_gpu({}))


def gpus(host, rc, n, kind=devices.PASSTHROUGH, max_unit=None):
    found = []
    for i in range(n):
        uuid = '%s-%s-%d' % (host, rc, i)
        found.append(factories.device(
            host, None, rc, kind, max_unit or 1, used=0, uuid=uuid,
            pci_id=None, provider_name=uuid, inventory={
                'total': max_unit, 'max_unit': max_unit} if max_unit else {}))
    return found


BOUNDED = (gpus('gpu-a30-1', 'CUSTOM_PCI_10DE_20B7', 2)
           + gpus('gpu-a100-1', 'CUSTOM_A100', 4)
           + gpus('vgpu-1', 'VGPU', 4, devices.VGPU, max_unit=16))


class TestBounds(TestCase):

    def test_hard_ceiling_before_anything(self):
        self.assertIn('at most 64 devices per flavor', self.refused(
            request, aliases=['a30:99999999999999999999']))
        self.assertIn('--vgpu 65: ask for 1 to 64 vGPUs', self.refused(
            request, aliases=[], vgpus=65))
        self.assertEqual(64, request(aliases=['a30:64']).aliases[0].count)

    def test_alias_count_with_its_class(self):
        classes = {'a30': 'CUSTOM_PCI_10DE_20B7', 'a100': 'CUSTOM_A100'}
        self.assertEqual(
            '--alias a30:3: no host has 3 a30 devices; the most on one host '
            'is 2 (CUSTOM_PCI_10DE_20B7 on gpu-a30-1)',
            self.refused(flavors.check_bounds, request(aliases=['a30:3']),
                         BOUNDED, classes))
        flavors.check_bounds(request(aliases=['a100:4']), BOUNDED, classes)
        self.assertIn('no host has h100 devices (class CUSTOM_H100)',
                      self.refused(flavors.check_bounds,
                                   request(aliases=['h100']), BOUNDED,
                                   {'h100': 'CUSTOM_H100'}))

    def test_alias_count_without_nova_conf(self):
        flavors.check_bounds(request(aliases=['a30:4']), BOUNDED)
        self.assertIn('no host has 5 GPUs of one class; the most on one host '
                      'is 4 (CUSTOM_A100 on gpu-a100-1)',
                      self.refused(flavors.check_bounds,
                                   request(aliases=['a30:5']), BOUNDED))

    def test_nothing_known_nothing_refused(self):
        # PCI devices not in Placement (report_in_placement off)
        flavors.check_bounds(request(aliases=['a30:8']), [])
        flavors.check_bounds(request(aliases=[], vgpus=8), [])

    def test_vgpus_bounded_by_max_unit(self):
        flavors.check_bounds(request(aliases=[], vgpus=16), BOUNDED)
        self.assertIn('--vgpu 17: one GPU gives at most 16 VGPU',
                      self.refused(flavors.check_bounds,
                                   request(aliases=[], vgpus=17), BOUNDED))


def vfs(host, n, rc='CUSTOM_VGPU_A40', vgpu_type='A40-2Q'):
    """An SR-IOV GPU's VF providers: one vGPU each (max_unit 1)."""
    return [dataclasses.replace(d, vgpu_type=vgpu_type)
            for d in gpus(host, rc, n, devices.VGPU, max_unit=1)]


class TestPlaceVgpus(TestCase):

    def place(self, found, vgpus, vgpu_type=None, vgpu_class=None):
        return flavors.place_vgpus(
            request(aliases=[], vgpus=vgpus, vgpu_class=vgpu_class), found,
            vgpu_type, class_given=vgpu_class is not None)

    def test_one_group_where_one_gpu_gives_them_all(self):
        placed = self.place(BOUNDED, 16)
        self.assertFalse(placed.vgpu_groups)
        self.assertEqual({'resources:VGPU': '16'},
                         flavors.extra_specs(placed))

    def test_a_group_per_vgpu_on_vfs_each_with_the_type_trait(self):
        placed = self.place(vfs('vgpu-a40-1', 8), 2, 'a40-2q')
        self.assertEqual(
            {'group_policy': 'isolate',
             'resources1:CUSTOM_VGPU_A40': '1',
             'resources2:CUSTOM_VGPU_A40': '1',
             'trait1:CUSTOM_VGPU_TYPE_A40_2Q': 'required',
             'trait2:CUSTOM_VGPU_TYPE_A40_2Q': 'required'},
            flavors.extra_specs(placed))
        self.assertEqual(['2 × CUSTOM_VGPU_A40 (vGPU) in 2 request groups',
                          'requires trait CUSTOM_VGPU_TYPE_A40_2Q'],
                         flavors.describe(flavors.extra_specs(placed),
                                          vgpu_classes={'CUSTOM_VGPU_A40'}))

    def test_one_vgpu_of_a_type_is_one_group_with_its_trait(self):
        self.assertEqual({'resources:CUSTOM_VGPU_A40': '1',
                          'trait:CUSTOM_VGPU_TYPE_A40_2Q': 'required'},
                         flavors.extra_specs(self.place(
                             vfs('vgpu-a40-1', 8), 1, 'A40-2Q')))

    def test_no_host_with_that_many_vfs_is_refused_naming_the_most(self):
        found = vfs('vgpu-a40-1', 8) + vfs('vgpu-a40-2', 3)
        self.assertEqual(
            '--vgpu 9: one CUSTOM_VGPU_A40 provider gives at most 1 (its '
            'max_unit) and no host has 9 of them; the most on one host is 8 '
            '(vgpu-a40-1)', self.refused(self.place, found, 9, 'A40-2Q'))
        self.assertTrue(self.place(found, 8, 'A40-2Q').vgpu_groups)

    def test_only_the_types_vfs_count(self):
        found = vfs('vgpu-a10-1', 6, 'CUSTOM_VGPU_A10', 'A10-4Q') + vfs(
            'vgpu-a10-1', 3, 'CUSTOM_VGPU_A10', 'A10-8Q')
        self.assertIn('the most on one host is 3', self.refused(
            self.place, found, 4, 'A10-8Q'))
        self.assertTrue(self.place(found, 4, 'A10-4Q').vgpu_groups)


class TestAliasesFromNovaConf(TestCase):

    def test_defined_and_not(self):
        from gpuclient.hostconfig import novaconf

        defined = {'a30': novaconf.parse_alias(
            '{"name": "a30", "vendor_id": "10de", "product_id": "20b7", '
            '"device_type": "type-PCI", "numa_policy": "preferred"}')}
        self.assertEqual([{'name': 'a30', 'count': 2,
                           'device_type': 'type-PCI',
                           'resource_class': 'CUSTOM_PCI_10DE_20B7',
                           'traits': [], 'numa_policy': 'preferred'}],
                         flavors.check_aliases(request(aliases=['a30:2']),
                                               defined))
        self.assertEqual(
            'alias nosuch is not defined in nova.conf [pci] alias (defined: '
            'a30): every boot of the flavor would fail',
            self.refused(flavors.check_aliases, request(aliases=['nosuch']),
                         defined))
