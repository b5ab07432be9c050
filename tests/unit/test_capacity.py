"""capacity: a flavor's request groups and how many servers fit a host."""
import testtools

from gpuclient.model import capacity
from gpuclient.model import devices

A30 = 'CUSTOM_PCI_10DE_20B7'
A100 = 'CUSTOM_A100'
GPU_CLASSES = {A30, A100, 'VGPU'}


def inventory(total, reserved=0, ratio=1.0, max_unit=None, min_unit=1,
              step_size=1):
    return {'total': total, 'reserved': reserved, 'allocation_ratio': ratio,
            'min_unit': min_unit, 'max_unit': total if max_unit is None
            else max_unit, 'step_size': step_size}


def root(vcpu=32, ram=65536, disk=1000, used=None, traits=(), **kwargs):
    return capacity.Provider('host1', {
        'VCPU': kwargs.get('vcpu_inventory', inventory(vcpu)),
        'MEMORY_MB': kwargs.get('ram_inventory', inventory(ram)),
        'DISK_GB': inventory(disk)}, used or {}, frozenset(traits))


def device(rc=A30, total=1, used=0, reserved=0, traits=(), pci=True,
           name='host1_0000:81:00.0'):
    return capacity.Provider(name, {rc: inventory(total, reserved)},
                             {rc: used}, frozenset(traits), pci)


def flavor(vcpus=1, ram=512, disk=10, **specs):
    return {'name': 'gpu.test', 'vcpus': vcpus, 'ram': ram, 'disk': disk,
            'OS-FLV-EXT-DATA:ephemeral': 0, 'swap': 0,
            'extra_specs': {k.replace('__', ':'): v
                            for k, v in specs.items()}}


def a30(vcpus=1, ram=512, disk=10, count=1, **specs):
    return capacity.need(flavor(vcpus, ram, disk, **dict(
        specs, pci_passthrough__alias='a30:%d' % count)),
        {'a30': (A30, ())})


def fit(need, root_provider, children):
    return capacity.fit(need, capacity.Host('host1', root_provider,
                                            children), GPU_CLASSES)


class TestNeed(testtools.TestCase):

    def test_flavor_sizes_go_to_the_unnumbered_group(self):
        f = flavor(vcpus=4, ram=2048, disk=20)
        f.update({'OS-FLV-EXT-DATA:ephemeral': 5, 'swap': 1025})
        need = capacity.need(f, {})
        # swap 1025 MB rounds up to 2 GB, as Nova's convert_mb_to_ceil_gb
        self.assertEqual((('DISK_GB', 27), ('MEMORY_MB', 2048), ('VCPU', 4)),
                         need.unnumbered.resources)
        self.assertEqual([], need.groups)

    def test_each_aliased_device_is_its_own_group_with_the_alias_traits(self):
        need = capacity.need(flavor(**{'pci_passthrough__alias': 'a100:2'}),
                             {'a100': (A100, ('CUSTOM_NVLINK',))})
        group = capacity.Group(((A100, 1),), frozenset({'CUSTOM_NVLINK'}),
                               pci=True)
        self.assertEqual([group, group], need.groups)

    def test_vgpu_and_traits_join_the_unnumbered_group(self):
        need = capacity.need(flavor(**{
            'resources__VGPU': '1', 'trait__CUSTOM_NVIDIA_35': 'required',
            'trait__CUSTOM_OLD': 'forbidden'}), {})
        self.assertIn(('VGPU', 1), need.unnumbered.resources)
        self.assertEqual({'CUSTOM_NVIDIA_35'}, need.unnumbered.required)
        self.assertEqual({'CUSTOM_OLD'}, need.unnumbered.forbidden)

    def test_dedicated_cpus_ask_for_pcpu(self):
        need = capacity.need(flavor(vcpus=4, **{
            'hw__cpu_policy': 'dedicated'}), {})
        self.assertIn(('PCPU', 4), need.unnumbered.resources)
        self.assertNotIn('VCPU', dict(need.unnumbered.resources))

    def test_resources_spec_overrides_and_zero_drops_a_class(self):
        need = capacity.need(flavor(disk=10, **{'resources__DISK_GB': '0',
                                                'resources__VCPU': '3'}), {})
        self.assertEqual({'VCPU': 3, 'MEMORY_MB': 512},
                         dict(need.unnumbered.resources))

    def test_numbered_groups_and_isolate(self):
        need = capacity.need(flavor(**{
            'resources1:VGPU': '1', 'resources2:VGPU': '1',
            'trait1:CUSTOM_A': 'required', 'group_policy': 'isolate'}), {})
        self.assertTrue(need.isolate)
        self.assertEqual([frozenset({'CUSTOM_A'}), frozenset()],
                         [g.required for g in need.groups])

    def test_unknown_alias_class(self):
        e = self.assertRaises(capacity.Unknown, capacity.need, flavor(**{
            'pci_passthrough__alias': 'a30:1'}), {})
        self.assertIn('alias a30', str(e))


class TestFit(testtools.TestCase):

    def test_one_server_per_free_passthrough_gpu(self):
        result = fit(a30(), root(), [device(), device(name='b')])
        self.assertEqual((2, ['GPUs']), (result.servers, result.limited_by))

    def test_used_and_reserved_gpus_do_not_count(self):
        result = fit(a30(), root(), [device(used=1), device(reserved=1),
                                     device()])
        self.assertEqual(1, result.servers)

    def test_vcpu_limited_with_allocation_ratio_and_reserved(self):
        # (8 - 2) x 4.0 = 24 VCPU, 10 used: 14 left, 3 per server -> 4
        r = root(vcpu_inventory=inventory(8, reserved=2, ratio=4.0),
                 used={'VCPU': 10})
        result = fit(a30(vcpus=3), r, [device(name=str(i)) for i in range(6)])
        self.assertEqual((4, ['VCPU']), (result.servers, result.limited_by))

    def test_ram_limited(self):
        r = root(ram_inventory=inventory(16384, reserved=512),
                 used={'MEMORY_MB': 4096})
        result = fit(a30(ram=4000), r, [device(name=str(i))
                                        for i in range(6)])
        self.assertEqual((2, ['MEMORY_MB']),
                         (result.servers, result.limited_by))

    def test_disk_limited(self):
        result = fit(a30(disk=400), root(disk=1000),
                     [device(name=str(i)) for i in range(4)])
        self.assertEqual((2, ['DISK_GB']), (result.servers, result.limited_by))

    def test_ties_name_every_limit(self):
        result = fit(a30(vcpus=16), root(vcpu=32), [device(), device(
            name='b')])
        self.assertEqual((2, ['GPUs', 'VCPU']),
                         (result.servers, result.limited_by))

    def test_more_than_max_unit_never_fits(self):
        r = root(vcpu_inventory=inventory(64, ratio=4.0, max_unit=8))
        result = fit(a30(vcpus=16), r, [device()])
        self.assertEqual((0, ['VCPU max_unit 8']),
                         (result.servers, result.limited_by))

    def test_min_unit_and_step_size(self):
        r = root(ram_inventory=inventory(65536, min_unit=1024,
                                         step_size=1024))
        self.assertEqual(['MEMORY_MB min_unit 1024'],
                         fit(a30(ram=512), r, [device()]).limited_by)
        self.assertEqual(['MEMORY_MB step_size 1024'],
                         fit(a30(ram=1536), r, [device()]).limited_by)
        self.assertEqual(1, fit(a30(ram=2048), r, [device()]).servers)

    def test_two_gpu_flavor_needs_two_devices_each(self):
        gpus = [device(A100, name=str(i)) for i in range(5)]
        need = capacity.need(flavor(**{'pci_passthrough:alias': 'a100:2'}),
                             {'a100': (A100, ())})
        self.assertEqual(2, fit(need, root(), gpus).servers)

    def test_a_vf_pool_gives_several_devices_to_one_server(self):
        pool = [device('CUSTOM_PCI_1002_686C', total=4)]
        need = capacity.need(flavor(**{'pci_passthrough:alias': 'mi25:2'}),
                             {'mi25': ('CUSTOM_PCI_1002_686C', ())})
        self.assertEqual(2, fit(need, root(), pool).servers)
        need.isolate = True   # group_policy=isolate: one device per provider
        self.assertEqual(0, fit(need, root(), pool).servers)
        pools = pool + [device('CUSTOM_PCI_1002_686C', total=1, name='b')]
        self.assertEqual(1, fit(need, root(), pools).servers)

    def test_alias_traits_pick_devices(self):
        gpus = [device(A100, traits={'CUSTOM_NVLINK'}), device(A100, name='b')]
        need = capacity.need(flavor(**{'pci_passthrough:alias': 'a100:1'}),
                             {'a100': (A100, ('CUSTOM_NVLINK',))})
        self.assertEqual(1, fit(need, root(), gpus).servers)
        self.assertEqual(['trait CUSTOM_NVLINK'],
                         fit(need, root(), gpus[1:]).limited_by)

    def test_alias_devices_are_nova_pci_devices_only(self):
        # a Cyborg GPU of the same class is not Nova's to hand out
        result = fit(a30(), root(), [device(pci=False)])
        self.assertEqual(0, result.servers)

    def vgpu_flavor(self, **specs):
        return capacity.need(flavor(**dict(
            {'resources:VGPU': '1', 'trait:CUSTOM_NVIDIA_35': 'required'},
            **specs)), {})

    def test_vgpu_trait_counts_only_tagged_gpus(self):
        gpus = [device('VGPU', total=16, used=3, pci=False, name='a',
                       traits={'CUSTOM_NVIDIA_35'}),
                device('VGPU', total=16, pci=False, name='b')]
        result = fit(self.vgpu_flavor(), root(), gpus)
        self.assertEqual((13, ['GPUs']), (result.servers, result.limited_by))

    def test_vgpu_trait_on_the_host_counts_every_gpu(self):
        gpus = [device('VGPU', total=16, pci=False, name=str(i))
                for i in range(2)]
        result = fit(self.vgpu_flavor(), root(traits={'CUSTOM_NVIDIA_35'}),
                     gpus)
        self.assertEqual(32, result.servers)

    def test_vgpu_trait_nowhere(self):
        gpus = [device('VGPU', total=16, pci=False)]
        result = fit(self.vgpu_flavor(), root(), gpus)
        self.assertEqual((0, ['trait CUSTOM_NVIDIA_35']),
                         (result.servers, result.limited_by))

    def test_trait_required_of_a_passthrough_flavor_is_the_hosts(self):
        need = a30(**{'trait:CUSTOM_FAST': 'required'})
        self.assertEqual(['trait CUSTOM_FAST'],
                         fit(need, root(), [device()]).limited_by)
        self.assertEqual(1, fit(need, root(traits={'CUSTOM_FAST'}),
                                [device()]).servers)

    def test_forbidden_trait(self):
        need = a30(**{'trait:CUSTOM_SLOW': 'forbidden'})
        result = fit(need, root(traits={'CUSTOM_SLOW'}), [device()])
        self.assertEqual((0, ['forbidden trait CUSTOM_SLOW']),
                         (result.servers, result.limited_by))
        self.assertEqual(1, fit(need, root(), [device()]).servers)

    def test_disk_on_shared_storage_does_not_limit(self):
        # DISK_GB of a sharing provider is not in the host's tree
        r = root()
        del r.inventories['DISK_GB']
        self.assertEqual(1, fit(a30(disk=10), r, [device()]).servers)

    def test_a_class_the_host_lacks(self):
        need = a30(**{'hw:cpu_policy': 'dedicated'})
        self.assertEqual((0, ['PCPU']), tuple(
            getattr(fit(need, root(), [device()]), f)
            for f in ('servers', 'limited_by')))

    def test_disabled_host(self):
        result = fit(a30(), root(traits={capacity.DISABLED}), [device()])
        self.assertEqual((0, ['disabled']),
                         (result.servers, result.limited_by))

    def test_vgpu_flavor_with_several_vgpus_takes_them_from_one_gpu(self):
        gpus = [device('VGPU', total=3, pci=False, name=str(i))
                for i in range(2)]
        need = capacity.need(flavor(**{'resources:VGPU': '2'}), {})
        self.assertEqual(2, fit(need, root(), gpus).servers)


class TestRelevantAndTotal(testtools.TestCase):

    def test_host_without_the_class_is_not_relevant(self):
        host = capacity.Host('h', root(), [device(A100)])
        self.assertFalse(capacity.relevant(a30(), host, GPU_CLASSES))
        host.children.append(device())
        self.assertTrue(capacity.relevant(a30(), host, GPU_CLASSES))

    def test_total(self):
        fits = [capacity.Fit('a', 2, ['GPUs']), capacity.Fit('b', 3, ['VCPU'])]
        self.assertEqual((5, ['GPUs', 'VCPU']), capacity.total(fits))


class TestLearnedClasses(testtools.TestCase):

    def gpu(self, consumers):
        return devices.Device(
            host='h', address='0000:81:00.0', kind=devices.PASSTHROUGH,
            resource_class=A30, pci_id='10de:20b7', model='A30', total=1,
            used=1, reserved=0, free=0, state='in-use', provider_uuid='p',
            provider_name='h_0000:81:00.0', generation=1, inventory={},
            consumers=consumers, one_time_use=False)

    def test_class_read_off_a_server_of_the_flavor(self):
        servers = [{'id': 's1', 'name': 'vm', 'flavor': {
            'original_name': 'gpu.test'}}]
        classes, server = capacity.learned_classes(
            flavor(), ['a30'], servers, [self.gpu({'s1': 1})])
        self.assertEqual(({'a30': A30}, 's1'), (classes, server['id']))

    def test_no_server_of_the_flavor(self):
        servers = [{'id': 's1', 'name': 'vm', 'flavor': {
            'original_name': 'other'}}]
        self.assertEqual(({}, None), capacity.learned_classes(
            flavor(), ['a30'], servers, [self.gpu({'s1': 1})]))


class TestRows(testtools.TestCase):

    def test_rows_per_flavor_and_per_host(self):
        estimates = {
            'gpu.a30': [capacity.Fit('a', 2, ['GPUs']),
                        capacity.Fit('b', 1, ['VCPU'])],
            'gpu.a100': None, 'gpu.bad': 'never schedules', 'gpu.h100': []}
        self.assertEqual([
            ('gpu.a30', None, 3, ['GPUs', 'VCPU']),
            ('gpu.a100', None, None, ['unknown alias class']),
            ('gpu.bad', None, 0, ['never schedules']),
            ('gpu.h100', None, 0, ['no matching GPU'])],
            [tuple(r.values()) for r in capacity.rows(estimates)])
        self.assertEqual(
            [('a', 2), ('b', 1)],
            [(r['host'], r['servers']) for r in capacity.rows(
                {'gpu.a30': estimates['gpu.a30']}, by_host=True)])


class TestFlavorsToEstimates(testtools.TestCase):

    def a30_device(self, consumers=None):
        return devices.Device(
            host='gpu-a30-1', address='0000:81:00.0',
            kind=devices.PASSTHROUGH, resource_class=A30, pci_id='10de:20b7',
            model='A30', total=1, used=len(consumers or {}), reserved=0,
            free=1 - len(consumers or {}), state='free', provider_uuid='p1',
            provider_name='gpu-a30-1_0000:81:00.0', generation=1,
            inventory=inventory(1), consumers=consumers or {},
            one_time_use=False, hypervisor='gpu-a30-1.example.org',
            owner=devices.NOVA)

    def test_gpu_flavors_by_default_and_by_name(self):
        gpu = dict(flavor(pci_passthrough__alias='a30:1'), name='gpu', id='1')
        plain = dict(flavor(), name='plain', id='2')
        found = [self.a30_device()]
        self.assertEqual([gpu], capacity.gpu_flavors([plain, gpu], found))
        self.assertEqual([gpu], capacity.gpu_flavors([plain, gpu], found,
                                                     ['1']))
        for name, why in (('plain', 'asks for no GPU'),
                          ('nope', 'no flavor named')):
            e = self.assertRaises(capacity.BadFlavor, capacity.gpu_flavors,
                                  [plain, gpu], found, [name])
            self.assertIn(why, str(e))

    def test_alias_class_from_nova_conf_learned_or_unknown(self):
        f = flavor(pci_passthrough__alias='a30:1')
        conf = type('Conf', (), {'paths': ['nova.conf'], 'aliases': {
            'a30': type('Alias', (), {
                'placement_class': lambda self: A30,
                'placement_traits': lambda self: ('CUSTOM_X',)})()}})()
        warnings = []
        [need] = capacity.needs([f], [], conf, None, warnings.append).values()
        self.assertEqual(([((A30, 1),)], ['CUSTOM_X'], []),
                         ([g.resources for g in need.groups],
                          sorted(need.groups[0].required), warnings))
        server = {'id': 's1', 'name': 'vm',
                  'flavor': {'original_name': 'gpu.test'}}
        found = [self.a30_device({'s1': 1})]
        [need] = capacity.needs([f], found, None, [server],
                                warnings.append).values()
        self.assertEqual([((A30, 1),)], [g.resources for g in need.groups])
        self.assertIn('learned from server vm (s1)', warnings[-1])
        self.assertEqual({'gpu.test': None}, capacity.needs(
            [f], found, None, [], warnings.append))
        self.assertIn('alias a30 is unknown: give --nova-conf', warnings[-1])

    def test_alias_next_to_resources_never_schedules(self):
        f = flavor(pci_passthrough__alias='a30:1', **{'resources:' + A30: 1})
        self.assertEqual({'gpu.test': capacity.NEVER}, capacity.needs(
            [f], [self.a30_device()], None, [], lambda line: None))

    def test_only_hosts_with_the_class_asked_are_read_and_fitted(self):
        gpu = self.a30_device()
        vgpu = dict(vars(gpu), hypervisor='vgpu-1', host='vgpu-1',
                    resource_class='VGPU', kind=devices.VGPU)
        found = [gpu, devices.Device(**vgpu)]
        need = a30()
        by_root = capacity.roots_asked([need], found)
        self.assertEqual({'gpu-a30-1.example.org': [gpu]}, by_root)
        host = capacity.host(by_root['gpu-a30-1.example.org'], 'r',
                             root().inventories, {}, {'CUSTOM_X': {'p1'}})
        self.assertEqual(('gpu-a30-1', frozenset({'CUSTOM_X'}), True),
                         (host.name, host.children[0].traits,
                          host.children[0].pci))
        self.assertEqual({'f': [capacity.Fit('gpu-a30-1', 1, ['GPUs'])]},
                         capacity.estimate({'f': need}, [host], found,
                                           lambda line: None))
