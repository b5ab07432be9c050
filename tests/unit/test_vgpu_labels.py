"""SR-IOV vGPU support, pure functions: the label traits `gpu host label`
writes, which physical GPU a vGPU provider belongs to, one row per GPU,
the labels planned from a host's sysfs and nova.conf, and --vgpu-type."""
import os
import re

import fixtures
import testtools

from gpuclient.hostconfig import novaconf
from gpuclient.hostconfig import sysfs
from gpuclient.model import audit
from gpuclient.model import devices
from gpuclient.model import flavors
from gpuclient.model import host_labels
from gpuclient.model import labels
from gpuclient.model import snapshot as snapshot_mod
from tests import factories
from tests.factories import allocations
from tests.factories import inventory
from tests.factories import provider
from tests.factories import traits

SYSFS = os.path.join(os.path.dirname(__file__), '..', 'fixtures', 'sysfs')
H, A40 = 'vgpu-a40-1', 'CUSTOM_VGPU_A40'
VFS_41 = ['0000:41:00.4', '0000:41:00.5', '0000:41:00.6', '0000:41:00.7',
          '0000:41:01.0', '0000:41:01.1', '0000:41:01.2', '0000:41:01.3']
# What `gpu host label` writes on a VF of the A40 at 41:00.0 (8 VFs).
A40_41 = {'CUSTOM_GPU_ADDR_0000_41_00_0', 'CUSTOM_GPU_PCI_10DE_2235',
          'CUSTOM_VGPU_TYPE_A40_2Q', 'CUSTOM_GPU_VFS_8'}


def vgpu(host, address, total=1, rc=A40, reserved=0, held=(), label=()):
    return host, address, total, rc, reserved, held, label


def build(*rows):
    """devices.build over vGPU providers named as Nova's libvirt driver
    names them, each server holding one vGPU of a provider."""
    snap = snapshot_mod.Snapshot([], set(), set())
    for host, address, total, rc, reserved, held, label in rows:
        if 'r-' + host not in {p['uuid'] for p in snap.providers}:
            snap.providers.append(provider('r-' + host, host))
        uuid = '%s/%s' % (host, address)
        snap.providers.append(provider(uuid, '%s_pci_%s' % (host, re.sub(
            '[:.]', '_', address)), 'r-' + host))
        snap.inventories[uuid] = inventory(rc, total, reserved)
        snap.allocations[uuid] = allocations(**{s: {rc: 1} for s in held})
        snap.traits[uuid] = traits(*label)
    return devices.build(snap)


def a30():
    return factories.device(host='gpu-a30-1', model='A30')


def m60(host='vgpu-1', address='0000:84:00.0', **fields):
    return vgpu(host, address, total=16, rc='VGPU', **fields)


class TestCase(testtools.TestCase):

    def setUp(self):
        super().setUp()
        self.useFixture(factories.PciIds())


class TestLabelTraits(TestCase):

    def test_type_names(self):
        for name, trait in (('NVIDIA A40-2Q', 'A40_2Q'), ('A40-2Q', 'A40_2Q'),
                            ('GRID M60-0B', 'M60_0B'), ('nvidia l4-4q',
                                                        'L4_4Q'),
                            ('NVIDIA A100-1-5C', 'A100_1_5C')):
            self.assertEqual(trait, labels.type_trait_name(name), name)
        for text in ('A40-2Q', 'a40-2q', 'A40 2Q', 'A40_2Q'):
            self.assertTrue(labels.type_matches(text, 'A40-2Q'), text)
        for text, label in (('A40-4Q', 'A40-2Q'), ('A40-2', 'A40-2Q'),
                            ('A40-2Q', None), ('', None)):
            self.assertFalse(labels.type_matches(text, label), text)

    def test_label_traits_read_back(self):
        written = labels.label_traits('0000:41:00.0', '10de:2235',
                                       'NVIDIA A40-2Q', 8)
        self.assertEqual(A40_41, written)
        label = labels.read_label(sorted(written) + [
            'OWNER_NOVA', 'CUSTOM_NVIDIA_2235_A40_2Q', 'CUSTOM_GPU_NVIDIA'])
        self.assertEqual(labels.Label('0000:41:00.0', '10de:2235',
                                       'A40-2Q', 8), label)
        self.assertTrue(label.complete)
        # a pre-Ampere GPU: no VFs label
        written = labels.label_traits('0000:84:00.0', '10de:13f2',
                                       'GRID M60-0B', None)
        self.assertEqual({'CUSTOM_GPU_ADDR_0000_84_00_0',
                          'CUSTOM_GPU_PCI_10DE_13F2',
                          'CUSTOM_VGPU_TYPE_M60_0B'}, written)
        self.assertEqual(labels.Label('0000:84:00.0', '10de:13f2',
                                       'M60-0B', None),
                         labels.read_label(written))

    def test_traits_that_are_no_labels(self):
        others = ('OWNER_NOVA', 'CUSTOM_NVIDIA_2235_A40_2Q', 'CUSTOM_PCI_10DE',
                  'CUSTOM_GPU_NVIDIA', 'CUSTOM_GPU_PRODUCT_ID_2235',
                  'COMPUTE_MANAGED_PCI_DEVICE')
        self.assertEqual(labels.Label(), labels.read_label(others))
        self.assertEqual(labels.Label(), labels.read_label(None))
        self.assertFalse(labels.read_label(
            ['CUSTOM_VGPU_TYPE_A40_2Q']).complete)
        self.assertEqual([], [t for t in others if labels.is_label_trait(t)])
        self.assertTrue(all(labels.is_label_trait(t) for t in A40_41))


class TestGpuOf(TestCase):

    def gpus(self, *rows):
        return {(d.host, d.address): (d.gpu_address, d.gpu_source)
                for d in build(*rows)}

    def test_vfs_on_one_bus_are_the_gpu_at_00_0(self):
        vfs = VFS_41[:3] + VFS_41[5:6]
        self.assertEqual({(H, a): ('0000:41:00.0', 'address') for a in vfs},
                         self.gpus(*[vgpu(H, a) for a in vfs]))

    def test_gpus_of_their_own(self):
        found = self.gpus(
            vgpu(H, '0000:41:00.4'),          # a lone VF provider
            m60(), m60(address='0000:85:00.0'),   # pre-Ampere, at 00.0
            # one at 00.0 on the bus: none is a VF
            vgpu('vgpu-2', '0000:17:00.0'), vgpu('vgpu-2', '0000:17:00.4'),
            # more than one vGPU on one: not VFs
            vgpu('vgpu-3', '0000:31:00.4', total=2),
            vgpu('vgpu-3', '0000:31:00.5'),
            # one provider on bus 61 of each of two hosts
            vgpu('vgpu-4', '0000:61:00.4'), vgpu('vgpu-5', '0000:61:00.5'))
        self.assertEqual(9, len(found))
        self.assertEqual({k: (k[1], 'address') for k in found}, found)

    def test_labels_win_over_the_rule(self):
        a10 = labels.label_traits('0000:17:00.0', '10de:2236',
                                   'NVIDIA A10-4Q', 6)
        found = {d.address: d for d in build(
            vgpu(H, '0000:41:00.4', label=A40_41),   # lone, labelled
            vgpu(H, '0000:18:00.4', label=a10),
            vgpu(H, '0000:18:00.5', label=a10))}
        self.assertEqual(
            {'0000:41:00.4': ('0000:41:00.0', 'label', 'A40', 'A40-2Q', 8),
             '0000:18:00.4': ('0000:17:00.0', 'label', 'A10', 'A10-4Q', 6),
             '0000:18:00.5': ('0000:17:00.0', 'label', 'A10', 'A10-4Q', 6)},
            {a: (d.gpu_address, d.gpu_source, d.model, d.vgpu_type,
                 d.gpu_vfs) for a, d in found.items()})
        self.assertEqual({True}, {d.labelled for d in found.values()})

    def test_a_new_vf_provider_joins_its_labelled_siblings(self):
        # max_instances raised from 6 to 7 after `gpu host label`: the bus
        # holds 7 VF providers, none at 00.0, so all are VFs of 41:00.0
        found = build(*[vgpu(H, a, label=A40_41) for a in VFS_41[:6]]
                      + [vgpu(H, VFS_41[6])])
        self.assertEqual({'0000:41:00.0'}, {d.gpu_address for d in found})
        [gpu] = devices.by_gpu(found)
        self.assertEqual(('0000:41:00.0', 7), (gpu.address, gpu.total))


def two_a40s_an_m60_and_an_a30():
    """vgpu-a40-1: the A40 at 41:00.0 (8 VFs, 4 with providers: s1 on
    two, one reserved), the A40 at 61:00.0 (2 VFs, both held);
    vgpu-1: an unlabelled M60, 2 of 16 vGPUs held; an A30 passed through."""
    a61 = labels.label_traits('0000:61:00.0', '10de:2235',
                               'NVIDIA A40-2Q', 2)
    return build(
        vgpu(H, VFS_41[0], held=('s1',), label=A40_41),
        vgpu(H, VFS_41[1], held=('s1',), label=A40_41),
        vgpu(H, VFS_41[2], reserved=1, label=A40_41),
        vgpu(H, VFS_41[3], label=A40_41),
        vgpu(H, '0000:61:00.4', held=('s2',), label=a61),
        vgpu(H, '0000:61:00.5', held=('s3',), label=a61),
        m60(held=('s4', 's5'))) + [a30()]


class TestByGpu(TestCase):

    def test_one_row_per_gpu(self):
        found = two_a40s_an_m60_and_an_a30()
        rows = devices.by_gpu(found)
        self.assertEqual({
            (H, '0000:41:00.0'): (4, 2, 1, 1, 'partly-used', 4, 4),
            (H, '0000:61:00.0'): (2, 2, 0, 0, 'in-use', 2, 0),
            ('vgpu-1', '0000:84:00.0'): (16, 2, 0, 14, 'partly-used', None,
                                         None),
            ('gpu-a30-1', '0000:81:00.0'): (1, 0, 0, 1, 'free', None, None),
        }, {(r.host, r.address): (r.total, r.used, r.reserved, r.free,
                                  r.state, r.vf_count, r.vfs_without_provider)
            for r in rows})
        self.assertEqual(4, len(rows))
        gpu = {r.address: r for r in rows}['0000:41:00.0']
        self.assertEqual({'s1': 2}, gpu.consumers)
        self.assertEqual(VFS_41[:4], [v.address for v in gpu.vfs])
        self.assertEqual(('A40', 'A40-2Q', A40, True, None),
                         (gpu.model, gpu.vgpu_type, gpu.resource_class,
                          gpu.labelled, gpu.provider_uuid))
        # the devices that are no VFs are the same rows; the VF providers
        # are left as they were
        for d in found:
            if d.address in ('0000:84:00.0', '0000:81:00.0'):
                self.assertIn(d, rows)
            else:
                self.assertEqual(1, d.total)

    def test_unlabelled_vfs_merge_by_address(self):
        [gpu] = devices.by_gpu(build(vgpu(H, VFS_41[0], held=('s1',)),
                                     vgpu(H, VFS_41[1])))
        self.assertEqual(('0000:41:00.0', 2, 1, 'partly-used', 2, None,
                          None, None, False),
                         (gpu.address, gpu.total, gpu.used, gpu.state,
                          gpu.vf_count, gpu.vfs_without_provider, gpu.model,
                          gpu.vgpu_type, gpu.labelled))

    def test_filter_and_summary(self):
        found = two_a40s_an_m60_and_an_a30()
        rows = devices.by_gpu(found)
        self.assertEqual(
            [['0000:41:00.0', '0000:61:00.0'], [], 4],
            [[r.address for r in rows if devices.Filters(
                vgpu_type=t).match(r)] for t in ('a40 2q', 'A40-4Q')]
            + [len([r for r in rows if devices.Filters().match(r)])])
        # a GPU of many VF providers is one device
        summary = {(g['model'], g['vgpu_type']): (
            g['devices'], g['total'], g['used'], g['reserved'], g['free'])
            for g in devices.summarize(found)}
        self.assertEqual({('A40', 'A40-2Q'): (2, 6, 4, 1, 1),
                          ('VGPU', None): (1, 16, 2, 0, 14),
                          ('A30', None): (1, 1, 0, 0, 1)}, summary)
        self.assertEqual(devices.summarize(found), devices.summarize(rows))
        self.assertEqual(2, {(g['host'], g['model']): g['devices'] for g in
                             devices.summarize(found, by_host=True)}[
                                 H, 'A40'])


class TestUnlabelled(TestCase):

    def test_which_providers_and_the_hint(self):
        found = build(vgpu(H, VFS_41[0], label=A40_41),
                      vgpu(H, VFS_41[1], label=['CUSTOM_VGPU_TYPE_A40_2Q']),
                      m60(), m60('vgpu-2', '0000:3d:00.0'))
        found += [a30(), factories.device(
            host='cyborg-1', kind=devices.VGPU, rc='VGPU', owner='cyborg')]
        missing = devices.unlabelled(found)
        self.assertEqual([('vgpu-1', '0000:84:00.0'),
                          ('vgpu-2', '0000:3d:00.0'), (H, VFS_41[1])],
                         [(d.host, d.address) for d in missing])
        hint = devices.label_hint(found)
        self.assertIn('3 vGPU provider(s)', hint)
        self.assertIn('(vgpu-1, vgpu-2, vgpu-a40-1)', hint)
        self.assertIn('openstack gpu host label', hint)
        self.assertIsNone(devices.label_hint(
            [d for d in found if d not in missing]))
        hint = devices.label_hint(build(*[m60('v%d' % i) for i in range(6)]))
        self.assertIn('6 vGPU provider(s) ', hint)
        self.assertIn('(v0, v1, v2, v3, v4, ...)', hint)


def a40_sysfs():
    """vgpu-a40-1's sysfs: A40s at 41:00.0 (4 VFs enabled) and 61:00.0
    (2), each VF offering A40-2Q and A40-4Q."""
    types = (sysfs.MdevType('nvidia-558', 'NVIDIA A40-2Q', 1, 'vfio-pci'),
             sysfs.MdevType('nvidia-559', 'NVIDIA A40-4Q', 1, 'vfio-pci'))
    functions = {}
    for pf, vfs in (('0000:41:00.0', VFS_41[:4]),
                    ('0000:61:00.0', ['0000:61:00.4', '0000:61:00.5'])):
        for address, physfn in [(pf, None)] + [(vf, pf) for vf in vfs]:
            functions[address] = sysfs.PciFunction(
                address, '10de', '2235', '030200', 'nvidia', None, 0,
                physfn, () if physfn else tuple(vfs),
                0 if physfn else 32, 0 if physfn else len(vfs),
                types if physfn else ())
    return sysfs.Host('/srv/sysfs/vgpu-a40-1', True,
                      dict(sorted(functions.items())))


class TestLabelPlan(TestCase):

    def conf(self, text):
        path = os.path.join(self.useFixture(fixtures.TempDir()).path,
                            'nova.conf')
        with open(path, 'w') as f:
            f.write(text)
        return novaconf.load([path])

    def test_mdev_type(self):
        one = self.conf('[devices]\nenabled_mdev_types = nvidia-558\n')
        self.assertEqual('nvidia-558',
                         host_labels.mdev_type('0000:41:00.4', one))
        two = self.conf(
            '[devices]\nenabled_mdev_types = nvidia-558,nvidia-559\n'
            '[mdev_nvidia-558]\ndevice_addresses = 0000:41:00.4\n'
            '[mdev_nvidia-559]\ndevice_addresses = 0000:41:00.5,'
            '0000:C1:00.4\n')
        self.assertEqual(['nvidia-558', 'nvidia-559', 'nvidia-559', None], [
            host_labels.mdev_type(a, two) for a in (
                '0000:41:00.4', '0000:41:00.5', '0000:c1:00.4',
                '0000:41:00.6')])
        self.assertIsNone(host_labels.mdev_type('0000:41:00.4', self.conf('')))

    def test_plan_for_an_sriov_host(self):
        conf = self.conf(
            '[devices]\nenabled_mdev_types = nvidia-558,nvidia-559\n'
            '[mdev_nvidia-558]\ndevice_addresses = %s\n'
            'mdev_class = CUSTOM_VGPU_A40\nmax_instances = 3\n'
            '[mdev_nvidia-559]\ndevice_addresses = 0000:61:00.5\n'
            % ','.join(VFS_41[:4]))
        found = build(*[vgpu(H, a) for a in VFS_41[:3]] + [
            vgpu(H, '0000:61:00.4'), vgpu(H, '0000:99:00.4')]) + [
            a30(), factories.device(host=H, kind=devices.VGPU, rc='VGPU',
                                    owner='cyborg', address='0000:41:00.7')]
        plans = {p.address: p
                 for p in host_labels.plan(found, a40_sysfs(), conf)}
        self.assertEqual(sorted(VFS_41[:4] + ['0000:61:00.4', '0000:61:00.5',
                                              '0000:99:00.4']), sorted(plans))
        wanted = A40_41 - {'CUSTOM_GPU_VFS_8'} | {'CUSTOM_GPU_VFS_4'}
        for a in VFS_41[:3]:
            p = plans[a]
            self.assertEqual(('0000:41:00.0', '10de:2235', 'A40', 'A40-2Q',
                              4, wanted, None, a),
                             (p.gpu, p.pci_id, p.model, p.vgpu_type, p.vfs,
                              set(p.wanted), p.problem, p.device.address))
        # VFs with no provider, named with the type Nova gives them
        self.assertIsNone(plans[VFS_41[3]].device)
        self.assertIn('no provider', plans[VFS_41[3]].problem)
        self.assertIn('[mdev_nvidia-558]', plans[VFS_41[3]].problem)
        self.assertIn('[mdev_nvidia-559]', plans['0000:61:00.5'].problem)
        # a provider nova.conf gives no type: no labels
        p = plans['0000:61:00.4']
        self.assertEqual(('0000:61:00.0', frozenset()), (p.gpu, p.wanted))
        self.assertIn('no mdev type', p.problem)
        # a provider the sysfs does not hold: the wrong host's copy?
        p = plans['0000:99:00.4']
        self.assertEqual(frozenset(), p.wanted)
        self.assertIn('0000:99:00.4', p.problem)
        self.assertIn('/srv/sysfs/vgpu-a40-1', p.problem)

    def test_plan_for_a_pre_ampere_host(self):
        # the M60s of tests/fixtures/sysfs/vgpu, one type each
        conf = self.conf(
            '[devices]\nenabled_mdev_types = nvidia-11,nvidia-12\n'
            '[mdev_nvidia-11]\ndevice_addresses = 0000:84:00.0\n'
            '[mdev_nvidia-12]\ndevice_addresses = 0000:85:00.0\n')
        plans = host_labels.plan(build(m60(), m60(address='0000:85:00.0')),
                            sysfs.read(os.path.join(SYSFS, 'vgpu')), conf)
        self.assertEqual([
            ('0000:84:00.0', '0000:84:00.0', None, None,
             {'CUSTOM_GPU_ADDR_0000_84_00_0', 'CUSTOM_GPU_PCI_10DE_13F2',
              'CUSTOM_VGPU_TYPE_M60_0B'}),
            ('0000:85:00.0', '0000:85:00.0', None, None,
             {'CUSTOM_GPU_ADDR_0000_85_00_0', 'CUSTOM_GPU_PCI_10DE_13F2',
              'CUSTOM_VGPU_TYPE_M60_0Q'})],
            [(p.address, p.gpu, p.vfs, p.problem, set(p.wanted))
             for p in plans])

    def test_a_gpu_past_max_instances_gets_a_row(self):
        # a pre-Ampere GPU max_instances leaves without a provider
        conf = self.conf('[devices]\nenabled_mdev_types = nvidia-11\n'
                         '[mdev_nvidia-11]\nmax_instances = 16\n')
        host = sysfs.read(os.path.join(SYSFS, 'vgpu'))
        plans = host_labels.plan(build(m60()), host, conf)
        hidden = [p for p in plans if p.device is None]
        self.assertEqual(
            sorted(a for a, f in host.functions.items()
                   if f.mdev_types and a != '0000:84:00.0'),
            [p.address for p in hidden])
        self.assertIn('Nova left this GPU out (past [mdev_nvidia-11] '
                      'max_instances?)', hidden[0].problem)

    def test_changed(self):
        stale = labels.label_traits('0000:41:00.0', '10de:2235',
                                     'NVIDIA A40-4Q', 4)
        # a type changed: other traits kept, the stale labels replaced
        self.assertEqual(sorted(A40_41 | {'OWNER_NOVA', 'CUSTOM_KEEP_ME'}),
                         host_labels.changed(['OWNER_NOVA', 'CUSTOM_KEEP_ME']
                                        + sorted(stale), A40_41))
        self.assertEqual(sorted(A40_41 | {'OWNER_NOVA'}),
                         host_labels.changed(['OWNER_NOVA'], A40_41))
        self.assertIsNone(host_labels.changed(
            ['OWNER_NOVA'] + sorted(A40_41, reverse=True), set(A40_41)))


def vgpu_type_specs(text, found, vgpu_class=None):
    """The vGPU extra specs of `flavor create --vgpu 1 --vgpu-type TEXT`
    (flavors.place_vgpus: the type's class and label trait)."""
    request = flavors.build_request(vgpus=1, vgpu_class=vgpu_class)
    return flavors.extra_specs(flavors.place_vgpus(
        request, found, text, class_given=vgpu_class is not None))


class TestFlavorVgpuType(testtools.TestCase):

    def setUp(self):
        super().setUp()
        self.found = [factories.device(
            host=H, address=a, kind=devices.VGPU, rc=rc, vgpu_type=t)
            for a, rc, t in ((VFS_41[0], A40, 'A40-2Q'),
                             ('0000:61:00.4', A40, 'A40-4Q'),
                             ('0000:84:00.0', 'VGPU', None))] + [a30()]

    def refused(self, *args):
        return str(self.assertRaises(flavors.InvalidFlavor, vgpu_type_specs,
                                     *args))

    def test_class_and_trait_of_the_type(self):
        self.assertEqual({'resources:%s' % A40: '1',
                          'trait:CUSTOM_VGPU_TYPE_A40_2Q': 'required'},
                         vgpu_type_specs('a40-2q', self.found))
        self.assertEqual({'resources:%s' % A40: '1',
                          'trait:CUSTOM_VGPU_TYPE_A40_4Q': 'required'},
                         vgpu_type_specs('A40 4Q', self.found, A40))

    def test_unknown_type_names_the_labelled_ones(self):
        e = self.refused('A40-8Q', self.found)
        self.assertIn('--vgpu-type A40-8Q', e)
        self.assertIn('labelled types: A40-2Q, A40-4Q', e)
        self.assertIn('none is labelled', self.refused('A40-2Q', [a30()]))

    def test_two_classes_for_one_type(self):
        found = self.found + [factories.device(
            host='vgpu-2', kind=devices.VGPU, rc='VGPU', vgpu_type='A40-2Q')]
        e = self.refused('A40-2Q', found)
        self.assertIn('(%s, VGPU)' % A40, e)
        self.assertIn('--vgpu-class', e)
        # --vgpu-class narrows to the GPUs of that class
        self.assertEqual({'resources:VGPU': '1',
                          'trait:CUSTOM_VGPU_TYPE_A40_2Q': 'required'},
                         vgpu_type_specs('A40-2Q', found, 'VGPU'))
        self.assertIn('of class VGPU', self.refused('A40-4Q', found, 'VGPU'))


class TestVanishedVfs(TestCase):
    """A reboot that did not enable the VFs again: Nova keeps their
    providers; the labels say how many VFs the GPU has now."""

    def test_plan_labels_the_vfs_the_gpu_has_now(self):
        path = os.path.join(self.useFixture(fixtures.TempDir()).path,
                            'nova.conf')
        with open(path, 'w') as f:
            f.write('[devices]\nenabled_mdev_types = nvidia-558\n')
        conf = novaconf.load([path])
        found = build(*[vgpu(H, a, label=A40_41, held=['s1'] if a == VFS_41[5]
                             else ()) for a in VFS_41])
        host = a40_sysfs()   # 41:00.0 has 4 of its 8 VFs enabled now
        plans = {p.address: p for p in host_labels.plan(found, host, conf)
                 if p.address in VFS_41[4:]}
        wanted = A40_41 - {'CUSTOM_GPU_VFS_8'} | {'CUSTOM_GPU_VFS_4'}
        for a, p in plans.items():
            self.assertEqual((wanted, None), (set(p.wanted), p.problem), a)
            self.assertIn('VF %s is not on this host: GPU 0000:41:00.0 has 4 '
                          'VFs enabled' % a, p.note)
        self.assertIn('a server holds there', plans[VFS_41[5]].note)
        self.assertNotIn('a server holds there', plans[VFS_41[4]].note)

    def test_the_providers_past_the_count_are_the_vanished_ones(self):
        label = A40_41 - {'CUSTOM_GPU_VFS_8'} | {'CUSTOM_GPU_VFS_6'}
        [gpu] = devices.by_gpu(build(*[
            vgpu(H, a, label=label, held=['s1'] if a == VFS_41[7] else ())
            for a in VFS_41]))
        self.assertEqual(VFS_41[6:], [v.address for v in gpu.vanished_vfs])
        finding, = audit.CHECKS['vgpu-vfs-vanished'].run(
            audit.Estate(devices=gpu.vfs))
        self.assertEqual(('error', '%s:0000:41:00.0' % H),
                         (finding.severity, finding.subject))
        self.assertIn('servers s1 hold vGPUs on VFs that are gone',
                      finding.detail)
        self.assertIn('0000:41:01.2, 0000:41:01.3', finding.detail)
        # all there: nothing to say; no VF count known: nothing either
        [whole] = devices.by_gpu(build(*[vgpu(H, a, label=A40_41)
                                         for a in VFS_41]))
        self.assertEqual([], whole.vanished_vfs)
        [unlabelled] = devices.by_gpu(build(*[vgpu(H, a) for a in VFS_41]))
        self.assertEqual([], unlabelled.vanished_vfs)


class TestVariantDriverPool(TestCase):
    """A variant-driver GPU's VF pool: a Nova PCI provider whose
    device_spec traits name its type and the GPU's ids."""

    def test_pool_shows_model_and_type(self):
        snap = snapshot_mod.Snapshot([provider('r', 'vgpu-l40s-1'), provider(
            'p', 'vgpu-l40s-1_0000:41:00.0', 'r')], {'p'}, set())
        snap.inventories['p'] = inventory('CUSTOM_VGPU_L40S_12Q', 4)
        snap.allocations['p'] = allocations(s1={'CUSTOM_VGPU_L40S_12Q': 2})
        snap.traits['p'] = traits('CUSTOM_GPU_PCI_10DE_26B9',
                                  'CUSTOM_VGPU_TYPE_L40S_12Q')
        [d] = devices.build(snap)
        self.assertEqual(
            (devices.PASSTHROUGH, 'L40S', 'L40S-12Q', '10de:26b9', 4, 2,
             '0000:41:00.0', '0000:41:00.0'),
            (d.kind, d.model, d.vgpu_type, d.pci_id, d.vf_pool, d.used,
             d.address, d.gpu_address))
        self.assertEqual([], devices.unlabelled([d]))
        e = str(self.assertRaises(flavors.InvalidFlavor, vgpu_type_specs,
                                  'L40S-12Q', [d]))
        self.assertIn('--alias NAME:COUNT with the [pci] alias of class '
                      'CUSTOM_VGPU_L40S_12Q', e)

