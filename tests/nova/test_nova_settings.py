"""nova.conf GPU settings from sysfs fixtures (nova_settings), and the
checks of a nova.conf (nova_checks); the generated settings are fed to
Nova's own parsers."""
import dataclasses
from unittest import mock
import os
import shutil
import tempfile

import testtools
import nova.conf
from nova.pci import request as nova_request
from nova.pci import whitelist as nova_whitelist
from oslo_config import fixture as config_fixture

from gpuclient.hostconfig import nova_checks
from gpuclient.hostconfig import nova_settings
from gpuclient.hostconfig import novaconf
from gpuclient.hostconfig import sysfs
from tests.factories import PciIds

HERE = os.path.dirname(__file__)
SYSFS = os.path.join(HERE, '..', 'fixtures', 'sysfs')
NOVA = os.path.join(HERE, '..', 'fixtures', 'nova')
HOSTS = ('passthrough', 'sriov', 'vgpu', 'iommu-off')
PCI_TRAITS = {'COMPUTE_MANAGED_PCI_DEVICE', 'OWNER_NOVA'}


def host(name):
    return sysfs.read(os.path.join(SYSFS, name))


class TestCase(testtools.TestCase):

    def setUp(self):
        super().setUp()
        # names from the test's pci.ids, not the machine's (CI may have none)
        self.useFixture(PciIds())

    def write(self, text):
        directory = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, directory)
        path = os.path.join(directory, 'nova.conf')
        with open(path, 'w') as f:
            f.write(text)
        return path

    def generated(self, name, **kwargs):
        found = nova_settings.generate(host(name), **kwargs)
        path = self.write(nova_settings.ini(found.compute) + '\n'
                          + nova_settings.ini(found.controller))
        return found, novaconf.load([path])


class TestSysfs(testtools.TestCase):

    def test_sriov_pf_and_vfs(self):
        found = host('sriov').functions
        pf = found['0000:4d:00.0']
        self.assertEqual(('type-PF', 16, 4, 'gim'), (
            pf.device_type, pf.sriov_totalvfs, pf.sriov_numvfs, pf.driver))
        self.assertEqual(('0000:4d:00.1', '0000:4d:00.2', '0000:4d:00.3',
                          '0000:4d:00.4'), pf.virtfns)
        vf = found['0000:4d:00.3']
        self.assertEqual(('type-VF', '0000:4d:00.0', '686c', '53'), (
            vf.device_type, vf.physfn, vf.product_id, vf.iommu_group))

    def test_passthrough_and_mdev(self):
        a30 = host('passthrough').functions['0000:81:00.0']
        self.assertEqual(('10de', '20b7', 'type-PCI', 'vfio-pci', 1, True),
                         (a30.vendor_id, a30.product_id, a30.device_type,
                          a30.driver, a30.numa_node, a30.is_gpu))
        gpu = host('vgpu').functions['0000:84:00.0']
        self.assertEqual([('nvidia-11', 'GRID M60-0B', 16, 'vfio-pci'),
                          ('nvidia-12', 'GRID M60-0Q', 16, 'vfio-pci')],
                         [(t.id, t.name, t.available_instances, t.device_api)
                          for t in gpu.mdev_types])

    def test_iommu_off(self):
        off = host('iommu-off')
        self.assertFalse(off.iommu)
        self.assertIsNone(off.functions['0000:81:00.0'].iommu_group)
        self.assertTrue(host('passthrough').iommu)

    def test_not_a_sysfs(self):
        e = self.assertRaises(sysfs.SysfsError, sysfs.read, NOVA)
        self.assertIn('is not a sysfs', str(e))


class TestGenerate(TestCase):

    def test_passthrough_host(self):
        found, conf = self.generated('passthrough')
        self.assertEqual([{'vendor_id': '10de', 'product_id': '20b7'},
                          {'vendor_id': '10de', 'product_id': '2204'}],
                         conf.device_specs)
        self.assertEqual({'a30': ('10de', '20b7', 'type-PCI'),
                          'rtx-3090': ('10de', '2204', 'type-PCI')},
                         {n: (a.vendor_id, a.product_id, a.device_type)
                          for n, a in conf.aliases.items()})
        self.assertTrue(conf.report_in_placement and conf.pci_in_placement)
        text = '\n'.join(found.warnings)
        self.assertIn('0000:41:00.1 is the audio function of GPU '
                      '0000:41:00.0', text)
        self.assertIn('0000:c1:00.0 (GA100GL [A30 PCIe]) is bound to nvidia',
                      text)
        self.assertEqual(2, len(found.warnings))

    def test_sriov_host_gets_the_vfs_not_the_pf(self):
        found, conf = self.generated('sriov', one_time_use=True)
        self.assertEqual([{'vendor_id': '1002', 'product_id': '686c'}],
                         conf.device_specs)
        self.assertEqual('type-VF', conf.aliases['mi25-vf'].device_type)
        self.assertEqual(['one_time_use left off 1002:686c: Nova refuses it '
                          'on VFs'], found.warnings)

    def test_options_go_into_specs_and_aliases(self):
        _, conf = self.generated('passthrough', one_time_use=True,
                                 live_migratable=True, alias_prefix='dc1-',
                                 vendor_ids=['10DE'])
        self.assertEqual({'vendor_id': '10de', 'product_id': '20b7',
                          'one_time_use': 'true', 'live_migratable': 'true'},
                         conf.device_specs[0])
        self.assertEqual('yes', conf.aliases['dc1-a30'].live_migratable)
        _, conf = self.generated('passthrough', vendor_ids=['1002'])
        self.assertEqual([], conf.device_specs)

    def test_classes_and_traits_where_asked(self):
        found, conf = self.generated(
            'passthrough', classes={'10de:20b7': 'a30 gpu'},
            traits={'10de:20b7': ['nvlink', 'HW_GPU_API_VULKAN'],
                    '1002:6860': ['CUSTOM_X']})
        self.assertEqual({'vendor_id': '10de', 'product_id': '20b7',
                          'resource_class': 'CUSTOM_A30_GPU',
                          'traits': 'CUSTOM_NVLINK,HW_GPU_API_VULKAN'},
                         conf.device_specs[0])
        self.assertEqual('CUSTOM_A30_GPU',
                         conf.aliases['a30'].placement_class())
        self.assertEqual('CUSTOM_PCI_10DE_2204',
                         conf.aliases['rtx-3090'].placement_class())
        self.assertIn('no passthrough device 1002:6860 on this host: its '
                      'resource class or traits are left out',
                      found.warnings)
        self.assertEqual([], nova_checks.check(conf, host('passthrough')))

    def test_vgpu_host(self):
        found, conf = self.generated('vgpu')
        self.assertEqual(['nvidia-11'], conf.enabled_mdev_types)
        self.assertEqual(('0000:84:00.0', '0000:85:00.0'),
                         conf.mdev_types['nvidia-11'].device_addresses)
        self.assertEqual([], conf.device_specs)
        self.assertIn('GRID M60-0B: 16 instances per GPU',
                      nova_settings.ini(found.compute))
        self.assertIn('offer mdev types nvidia-11, nvidia-12',
                      found.warnings[0])
        _, conf = self.generated('vgpu', mdev_types=['nvidia-11',
                                                     'nvidia-12'])
        self.assertEqual({'nvidia-11': ('0000:84:00.0',),
                          'nvidia-12': ('0000:85:00.0',)},
                         {t: m.device_addresses
                          for t, m in conf.mdev_types.items()})

    def test_without_pci_ids_names_come_from_the_built_in_table(self):
        self.useFixture(PciIds(None))
        found, conf = self.generated('passthrough')
        self.assertEqual(['a30', 'rtx-3090'], sorted(conf.aliases))
        self.assertIn('0000:c1:00.0 (10de:20b7) is bound to nvidia',
                      '\n'.join(found.warnings))

    def test_alias_names_from_the_model(self):
        a30 = host('passthrough').functions['0000:81:00.0']
        vf = host('sriov').functions['0000:4d:00.1']
        b200 = dataclasses.replace(a30, product_id='2901')  # pci.ids only
        unknown = dataclasses.replace(a30, product_id='ffff')
        self.assertEqual(['a30', 'mi25-vf', 'b200', 'x-10de-ffff'], [
            nova_settings.alias_name(f, prefix) for f, prefix in (
                (a30, ''), (vf, ''), (b200, ''), (unknown, 'x-'))])

    def test_iommu_off(self):
        found, _ = self.generated('iommu-off')
        self.assertIn('the IOMMU is off', found.warnings[0])
        self.assertIn('0000:81:00.0 (GA100GL [A30 PCIe]) is unbound',
                      found.warnings[1])

    def test_generated_settings_pass_the_check(self):
        for name in HOSTS:
            _, conf = self.generated(name)
            self.assertEqual([], nova_checks.check(conf, host(name)),
                             name)


class TestNovaAcceptsGenerated(TestCase):
    """Nova's own parsers take the generated settings, and Nova's device
    matcher picks exactly the devices the output says it will."""

    def test_against_nova(self):
        nova_conf = self.useFixture(config_fixture.Config(nova.conf.CONF))
        self.addCleanup(nova_request.get_alias_from_config.cache_clear)
        for name in HOSTS:
            found, conf = self.generated(
                name, one_time_use=True,
                classes={'10de:2204': 'CUSTOM_RTX'},
                traits={'10de:20b7': ['nvlink']})
            nova_conf.config(report_in_placement=True, group='pci')
            nova_conf.config(pci_in_placement=True, group='filter_scheduler')
            nova_conf.config(alias=[e.value for e in conf.entries
                                    if e.key == 'alias'], group='pci')
            nova_request.get_alias_from_config.cache_clear()
            aliases = nova_request.get_alias_from_config()
            self.assertEqual(sorted(conf.aliases), sorted(aliases), name)
            whitelist = nova_whitelist.Whitelist(
                [e.value for e in conf.entries if e.key == 'device_spec'])
            picked = sorted(
                f.address for f in host(name).functions.values()
                if whitelist.device_assignable({
                    'vendor_id': f.vendor_id, 'product_id': f.product_id,
                    'address': f.address, 'parent_addr': f.physfn}))
            self.assertEqual(sorted(d['address'] for d in found.devices
                                    if d['use'] == 'passthrough'),
                             picked, name)


class TestCheck(TestCase):
    """Each file under tests/fixtures/nova has one planted mistake."""

    PLANTED = {
        'deprecated-whitelist.conf': (None, nova_checks.WARNING, 3,
                                      'passthrough_whitelist is deprecated'),
        'pf-and-vfs.conf': ('sriov', nova_checks.ERROR, 4,
                            'PF 0000:4d:00.0 and its VFs'),
        'one-time-use-vf.conf': ('sriov', nova_checks.ERROR, 3,
                                 'one_time_use on VFs'),
        'wrong-device-type.conf': ('passthrough', nova_checks.ERROR, 4,
                                   'alias a30 says device_type type-PF, but '
                                   '10de:20b7 on this host is type-PCI'),
        'placement-without-report.conf': (
            None, nova_checks.ERROR, 7,
            'pci_in_placement = true without [pci] report_in_placement'),
        'alias-class-unmatched.conf': (
            None, nova_checks.ERROR, 4, 'alias a100 asks Placement for '
            'CUSTOM_A100, but the device_spec of 10de:20b0 reports '
            'CUSTOM_PCI_10DE_20B0'),
        'alias-trait-unmatched.conf': (
            None, nova_checks.ERROR, 4,
            'alias a100 requires trait CUSTOM_NVLINK'),
        'repeated-alias.conf': (None, nova_checks.ERROR, 6,
                                'alias a30 is defined again'),
        'malformed-json.conf': (None, nova_checks.ERROR, 3,
                                '[pci] device_spec: not JSON'),
        'unknown-key.conf': (None, nova_checks.ERROR, 3,
                             "device_spec key 'product' is not one Nova "
                             "reads"),
        'mdev-wrong-gpu.conf': ('vgpu', nova_checks.ERROR, 6,
                                '0000:86:00.0 does not offer nvidia-11'),
        'mdev-address-twice.conf': (
            None, nova_checks.ERROR, 9, '0000:84:00.0 is in '
            'device_addresses of both mdev_nvidia-11 and mdev_nvidia-12'),
        'no-pci-filter.conf': (None, nova_checks.ERROR, 9,
                               'enabled_filters lacks PciPassthroughFilter'),
        'unknown-option.conf': (None, nova_checks.ERROR, 6,
                                '[pci] pci_in_placement is not a Nova '
                                'option'),
    }

    def test_each_planted_mistake_is_found_alone(self):
        self.assertEqual(sorted(self.PLANTED),
                         sorted(f for f in os.listdir(NOVA)
                                if f.endswith('.conf')))
        for name, (hardware, level, line, text) in self.PLANTED.items():
            path = os.path.join(NOVA, name)
            found = nova_checks.check(novaconf.load([path]),
                                        host(hardware) if hardware else None)
            self.assertEqual([(level, '%s:%d' % (path, line))],
                             [(f.level, f.where) for f in found], name)
            self.assertIn(text, found[0].problem, name)
            self.assertNotIn('\n', found[0].problem)

    def test_hardware_mistakes_need_the_hardware(self):
        for name in ('pf-and-vfs.conf', 'one-time-use-vf.conf',
                     'wrong-device-type.conf', 'mdev-wrong-gpu.conf'):
            conf = novaconf.load([os.path.join(NOVA, name)])
            self.assertEqual([], nova_checks.check(conf), name)

    def test_repeated_alias_without_placement_is_a_warning(self):
        path = self.write(
            '[pci]\nalias = {"name": "a30", "vendor_id": "10de", '
            '"product_id": "20b7"}\nalias = {"name": "a30", "vendor_id": '
            '"10de", "product_id": "20b5"}\n[filter_scheduler]\n'
            'max_attempts = 3\n')
        repeated, filters = nova_checks.check(novaconf.load([path]))
        self.assertEqual((nova_checks.WARNING, '%s:3' % path),
                         (repeated.level, repeated.where))
        # a scheduler's file not setting it: Nova's default lacks the filter
        self.assertEqual((nova_checks.WARNING, ''),
                         (filters.level, filters.where))
        self.assertIn("Nova's default lacks PciPassthroughFilter",
                      filters.problem)

    def test_controller_files_alone_only_warn_about_report(self):
        path = self.write(
            '[pci]\nalias = {"name": "a30", "vendor_id": "10de", '
            '"product_id": "20b7"}\n[filter_scheduler]\n'
            'pci_in_placement = true\n'
            'enabled_filters = PciPassthroughFilter\n')
        [finding] = nova_checks.check(novaconf.load([path]))
        self.assertEqual((nova_checks.WARNING, '%s:4' % path),
                         (finding.level, finding.where))
        self.assertIn('report_in_placement = true in these files',
                      finding.problem)

    def test_the_sandboxs_own_nova_conf_files(self):
        # the files real Nova runs with in the sandbox: each compute's
        # alone is clean, the controller's only reminds that computes must
        # report to Placement; a controller's and a compute's read together
        # only warn (the same aliases in both)
        from gpu_sandbox import cli
        from gpu_sandbox import fleet

        directory = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, directory)
        cli.write_nova_conf(directory, fleet.load())
        paths = sorted(os.path.join(directory, n)
                       for n in os.listdir(directory))
        self.assertGreater(len(paths), 5)
        controller = os.path.join(directory, 'controller.conf')
        [reminder] = nova_checks.check(novaconf.load([controller]))
        self.assertIn('without [pci] report_in_placement = true in these '
                      'files', reminder.problem)
        self.assertEqual(nova_checks.WARNING, reminder.level)
        for path in paths:
            if path == controller:
                continue
            self.assertEqual(
                [], nova_checks.check(novaconf.load([path])), path)
            both = nova_checks.check(novaconf.load([controller, path]))
            self.assertEqual([], [f for f in both
                                  if f.level == nova_checks.ERROR], path)

    def test_spec_matching(self):
        a30 = host('passthrough').functions['0000:81:00.0']
        for spec, expected in (
                ({'vendor_id': '10de'}, True),
                ({'vendor_id': '10de', 'product_id': '20b5'}, False),
                ({'address': '0000:81:00.0'}, True),
                ({'address': ':81:00.'}, True),
                ({'address': '*:82:00.*'}, False),
                ({'address': {'bus': '8[0-9]', 'function': '0'}}, True),
                ({'devname': 'eth0'}, False)):
            self.assertEqual(expected, nova_checks.spec_matches(spec, a30),
                             spec)


class TestPlacement(TestCase):
    """The providers generate predicts, by Nova's rules (the rehearsal
    tests in tests/functional/rehearsal check them against real Nova)."""

    def predicted(self, name, **kwargs):
        return {p['provider'].replace(nova_settings.ROOT, 'h'): (
            p['resource_class'], p['total'], set(p['traits']))
            for p in nova_settings.generate(host(name), **kwargs).placement}

    def test_one_provider_per_device(self):
        a30 = ('CUSTOM_PCI_10DE_20B7', 1, PCI_TRAITS)
        # the A30 still on nvidia is matched too: Nova does not look at
        # the driver (generate warns about it)
        self.assertEqual({'h_0000:41:00.0': ('CUSTOM_PCI_10DE_2204', 1,
                                             PCI_TRAITS),
                          'h_0000:81:00.0': a30, 'h_0000:82:00.0': a30,
                          'h_0000:C1:00.0': a30},
                         self.predicted('passthrough'))

    def test_vfs_count_on_their_pf(self):
        found = nova_settings.generate(host('sriov'), one_time_use=True)
        self.assertEqual([{
            'provider': '<hypervisor>_0000:4D:00.0',
            'resource_class': 'CUSTOM_PCI_1002_686C', 'total': 4,
            'traits': sorted(PCI_TRAITS),
            'devices': ['0000:4d:00.%d' % n for n in range(1, 5)]}],
            found.placement)

    def test_classes_and_traits_from_the_spec(self):
        found = self.predicted(
            'passthrough', one_time_use=True, live_migratable=True,
            classes={'10de:20b7': 'a30 gpu'}, traits={'10de:20b7': [
                'nvlink', 'HW_GPU_API_VULKAN']})
        self.assertEqual(('CUSTOM_A30_GPU', 1, PCI_TRAITS | {
            'CUSTOM_NVLINK', 'HW_GPU_API_VULKAN', 'HW_PCI_ONE_TIME_USE',
            'HW_PCI_LIVE_MIGRATABLE'}), found['h_0000:81:00.0'])
        self.assertEqual(('CUSTOM_PCI_10DE_2204', 1, PCI_TRAITS | {
            'HW_PCI_ONE_TIME_USE', 'HW_PCI_LIVE_MIGRATABLE'}),
            found['h_0000:41:00.0'])

    def test_vgpus_per_gpu_of_its_type(self):
        self.assertEqual({'h_pci_0000_84_00_0': ('VGPU', 16, {'OWNER_NOVA'}),
                          'h_pci_0000_85_00_0': ('VGPU', 16, {'OWNER_NOVA'})},
                         self.predicted('vgpu'))

    def test_nova_rules_beyond_what_generate_writes(self):
        vgpu, passthrough = host('vgpu'), host('passthrough')
        spec = nova_settings.Setting('pci', 'device_spec', {
            'vendor_id': '10de', 'product_id': '20b7'})
        report = nova_settings.Setting('pci', 'report_in_placement', True)
        self.assertEqual([], nova_settings.placement(passthrough, [spec]))
        self.assertEqual(3, len(nova_settings.placement(
            passthrough, [spec, report])))
        # the first type without device_addresses is every other GPU's;
        # a GPU without that type (or with no instances left) gets none
        gpu = vgpu.functions['0000:85:00.0']
        vgpu.functions['0000:85:00.0'] = dataclasses.replace(
            gpu, mdev_types=gpu.mdev_types[1:])
        types = [nova_settings.Setting('devices', 'enabled_mdev_types',
                                       ['nvidia-11', 'nvidia-12'])]
        self.assertEqual(['<hypervisor>_pci_0000_84_00_0'], [
            p['provider'] for p in nova_settings.placement(vgpu, types)])
        vgpu.functions['0000:85:00.0'] = dataclasses.replace(
            gpu, mdev_types=(dataclasses.replace(
                gpu.mdev_types[0], available_instances=0),))
        self.assertEqual(['<hypervisor>_pci_0000_84_00_0'], [
            p['provider'] for p in nova_settings.placement(vgpu, types)])
        self.assertEqual([], nova_settings.placement(vgpu, types[:0]))

    def test_shown_as_comments_in_the_compute_block(self):
        found = nova_settings.generate(host('sriov'))
        self.assertEqual(
            "# Placement will show with 2026.2's Nova (<hypervisor>: this "
            "host's hypervisor hostname):\n#   <hypervisor>_0000:4D:00.0  "
            "CUSTOM_PCI_1002_686C total 4  "
            "COMPUTE_MANAGED_PCI_DEVICE,OWNER_NOVA\n",
            nova_settings.placement_text(found.placement))
        self.assertEqual('', nova_settings.placement_text([]))


class TestVariantDriver(TestCase):
    """NVIDIA's kernel variant driver: the sandbox's vgpu-l40s-1 hardware
    as its sysfs copy (two L40S; 4 VFs given L40S-12Q on one, 2 given
    L40S-24Q on the other)."""

    def setUp(self):
        super().setUp()
        from gpu_sandbox import fleet
        from gpu_sandbox import hardware

        self.root = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, self.root)
        self.functions = hardware.fleet_functions(
            fleet.load().host('vgpu-l40s-1'))
        hardware.write_sysfs(self.root, self.functions)
        self.host = sysfs.read(self.root)

    def test_sysfs_reads_the_type_of_each_vf(self):
        vf = self.host.functions['0000:a1:00.4']
        self.assertEqual('1102', vf.current_vgpu_type)
        self.assertEqual('NVIDIA L40S-12Q', self.host.vgpu_type_name(vf))
        untyped = self.host.functions['0000:a1:01.3']
        self.assertEqual(sysfs.NO_VGPU_TYPE, untyped.current_vgpu_type)
        self.assertIsNone(self.host.vgpu_type_name(untyped))

    def test_typed_vfs_unmanaged_with_a_class_per_type(self):
        found = nova_settings.generate(self.host)
        specs = nova_settings.as_data(found.compute)['pci']['device_spec']
        self.assertEqual(6, len(specs))
        self.assertEqual({'no'}, {s['managed'] for s in specs})
        self.assertEqual(
            {'CUSTOM_GPU_PCI_10DE_26B9,CUSTOM_VGPU_TYPE_L40S_12Q',
             'CUSTOM_GPU_PCI_10DE_26B9,CUSTOM_VGPU_TYPE_L40S_24Q'},
            {s['traits'] for s in specs})
        aliases = nova_settings.as_data(found.controller)['pci']['alias']
        self.assertEqual([('l40s-12q', 'CUSTOM_VGPU_L40S_12Q', 'type-VF'),
                          ('l40s-24q', 'CUSTOM_VGPU_L40S_24Q', 'type-VF')],
                         [(a['name'], a['resource_class'], a['device_type'])
                          for a in aliases])
        self.assertEqual([('<hypervisor>_0000:A1:00.0',
                           'CUSTOM_VGPU_L40S_12Q', 4),
                          ('<hypervisor>_0000:E1:00.0',
                           'CUSTOM_VGPU_L40S_24Q', 2)],
                         [(p['provider'], p['resource_class'], p['total'])
                          for p in found.placement])
        self.assertEqual(['0000:a1:00.0', '0000:e1:00.0'], found.sriov_gpus)
        self.assertEqual([], found.warnings)
        unit = nova_settings.vgpu_type_unit(found.vgpu_types)
        self.assertIn("ExecStart=/bin/sh -c 'echo 1103 > /sys/bus/pci/"
                      "devices/0000:e1:00.5/nvidia/current_vgpu_type'", unit)
        self.assertIn('After=nvidia-sriov-manage@0000:a1:00.0.service '
                      'nvidia-sriov-manage@0000:e1:00.0.service', unit)
        self.assertTrue(all(line.startswith('#')
                            for line in unit.splitlines()))

    def test_nova_takes_the_specs_and_picks_the_typed_vfs(self):
        found = nova_settings.generate(self.host)
        specs = [nova_settings._ini_value(s.value) for s in found.compute
                 if s.option == 'device_spec']
        with mock.patch('nova.pci.utils.is_physical_function',
                        return_value=False):
            whitelist = nova_whitelist.Whitelist(specs)
        picked = [f.address for f in self.functions
                  if whitelist.device_assignable({
                      'vendor_id': f.vendor_id, 'product_id': f.product_id,
                      'address': f.address, 'parent_addr': f.physfn})]
        self.assertEqual([v for v, _ in found.vgpu_types], picked)
        # Nova's own spelling of "no"
        self.assertEqual({'false'}, {s.tags['managed']
                                     for s in whitelist.specs})

    def test_generated_settings_pass_the_check(self):
        found = nova_settings.generate(self.host)
        conf = novaconf.load([self.write(
            nova_settings.ini(found.compute) + '\n'
            + nova_settings.ini(found.controller))])
        self.assertEqual([], nova_checks.check(conf, self.host))

    def test_a_gpu_with_no_typed_vf_is_a_warning(self):
        for f in self.host.functions.values():
            if f.physfn == '0000:e1:00.0':
                self.host.functions[f.address] = dataclasses.replace(
                    f, current_vgpu_type=sysfs.NO_VGPU_TYPE)
        found = nova_settings.generate(self.host)
        [warning] = found.warnings
        self.assertIn('0000:e1:00.0', warning)
        self.assertIn('none of its 4 VFs has a vGPU type', warning)
        self.assertIn('1104 NVIDIA L40S-48Q', warning)
        self.assertEqual(4, len(found.vgpu_types))

    def test_check_catches_managed_mixed_classes_and_untyped_vfs(self):
        path = self.write(
            '[pci]\nreport_in_placement = true\n'
            'device_spec = {"address": "0000:a1:00.4", "resource_class": '
            '"CUSTOM_VGPU_L40S_12Q"}\n'
            'device_spec = {"address": "0000:a1:00.5", "managed": "no", '
            '"resource_class": "CUSTOM_VGPU_L40S_8Q"}\n'
            'device_spec = {"address": "0000:a1:01.3", "managed": "no", '
            '"resource_class": "CUSTOM_VGPU_L40S_12Q"}\n')
        found = nova_checks.check(novaconf.load([path]), self.host)
        self.assertEqual(
            [(nova_checks.ERROR, ':3', 'without "managed": "no"'),
             (nova_checks.ERROR, ':4', 'get 2 resource classes'),
             (nova_checks.WARNING, ':5', 'no vGPU type is set')],
            [(f.level, f.where[-2:], next(
                w for w in ('without "managed": "no"',
                            'get 2 resource classes', 'no vGPU type is set')
                if w in f.problem)) for f in found])
        old = nova_checks.check(novaconf.load([path]), release=('2024.1',))
        self.assertEqual(2, len([f for f in old if 'managed' in f.problem
                                 and f.level == nova_checks.ERROR]))


class TestMaxInstance(TestCase):
    """The sandbox's vgpu-l4-1: an L4 with 8 VFs whose type, L4-4Q, fits 6
    vGPUs on the GPU (max_instance=6 in NVIDIA's type description)."""

    def setUp(self):
        super().setUp()
        from gpu_sandbox import fleet
        from gpu_sandbox import hardware

        self.root = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, self.root)
        hardware.write_sysfs(self.root, hardware.fleet_functions(
            fleet.load().host('vgpu-l4-1')))
        self.host = sysfs.read(self.root)

    def test_read_from_the_description(self):
        [t] = self.host.functions['0000:ca:00.4'].mdev_types
        self.assertEqual(('NVIDIA L4-4Q', 6), (t.name, t.max_instance))

    def test_generate_lists_what_the_gpu_holds(self):
        found = nova_settings.generate(self.host)
        group = nova_settings.as_data(found.compute)['mdev_nvidia-880']
        self.assertEqual((6, 6), (len(group['device_addresses']),
                                  group['max_instances']))
        self.assertEqual('0000:ca:01.1', group['device_addresses'][-1])
        [warning] = found.warnings
        self.assertIn('8 VFs of 0000:ca:00.0 offer nvidia-880, but the GPU '
                      'holds at most 6', warning)
        self.assertEqual(6, sum(p['total'] for p in found.placement))

    def test_check_warns_of_vfs_past_it(self):
        vfs = sorted(a for a, f in self.host.functions.items() if f.physfn)
        text = ('[devices]\nenabled_mdev_types = nvidia-880\n'
                '[mdev_nvidia-880]\ndevice_addresses = %s\n' % ','.join(vfs))
        [finding] = nova_checks.check(novaconf.load([self.write(text)]),
                                      self.host)
        self.assertEqual(nova_checks.WARNING, finding.level)
        self.assertIn('8 VFs of 0000:ca:00.0', finding.problem)
        # capped as Nova caps: the first 6 in order
        capped = text + 'max_instances = 6\n'
        self.assertEqual([], nova_checks.check(
            novaconf.load([self.write(capped)]), self.host))


class TestNovaRefusesTwoClassesOnOneGpu(testtools.TestCase):
    """What config check says of one GPU's VFs given two classes, against
    Nova's own PCI placement translator (and against the example of
    Nova's PCI passthrough guide, "Support for multiple types of VFs",
    which gives 0000:25:00.4 and 0000:25:00.5 two classes)."""

    def test_the_translator_refuses_it(self):
        import types

        from nova.compute import pci_placement_translator as translator
        from nova import exception

        pool = translator.PciResourceProvider('host_0000:25:00.0')
        vf = types.SimpleNamespace(vendor_id='10de', product_id='25b6',
                                   address='0000:25:00.4')
        pool.add_child(vf, {'resource_class': 'CUSTOM_A16_16A'})
        other = types.SimpleNamespace(vendor_id='10de', product_id='25b6',
                                      address='0000:25:00.5')
        self.assertRaises(exception.PlacementPciMixedResourceClassException,
                          pool.add_child, other,
                          {'resource_class': 'CUSTOM_A16_8A'})
