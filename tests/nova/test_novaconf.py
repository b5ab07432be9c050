"""nova.conf read as Nova reads it, checked against Nova's own parsers."""
import os
import tempfile

import testtools
from nova.compute import pci_placement_translator
import nova.conf
from nova import exception
from nova.pci import request as nova_request
from nova.pci import whitelist as nova_whitelist
from oslo_config import fixture as config_fixture

from gpuclient.hostconfig import novaconf

ALIASES = [
    '{"name": "a30", "vendor_id": "10de", "product_id": "20b7", '
    '"device_type": "type-PCI"}',
    '{"name": "mi25-vf", "vendor_id": "1002", "product_id": "686c", '
    '"device_type": "type-VF", "numa_policy": "preferred"}',
    '{"name": "big", "resource_class": "gpu big", "traits": "blue, '
    'HW_GPU_API_VULKAN", "device_type": "type-PF"}',
    '{"name": "lm", "vendor_id": "10de", "product_id": "2236", '
    '"live_migratable": "yes"}',
]
BAD_ALIASES = [
    '{"name": "a30", "vendor": "10de"}',            # unknown key
    '{"name": "a30", "device_type": "PCI"}',        # not a device type
    '{"name": "a30", "numa_policy": "strict"}',     # not a policy
    '{"vendor_id": "10de", "product_id": "20b7"}',  # no name
    '{"name": "a30", "vendor_id": "10de",}',        # not JSON
    '{"name": "a30", "vendor_id": "nvidia", "product_id": "20b7"}',
    '["a30"]',
]
SPECS = [
    '{"vendor_id": "10de", "product_id": "20b7"}',
    '[{"vendor_id": "1002", "product_id": "686c"}, {"address": '
    '"0000:3b:00.*"}]',
    '{"vendor_id": "10de", "product_id": "20b0", "resource_class": '
    '"CUSTOM_A100", "traits": "nvlink"}',
]
BAD_SPECS = [
    '{"vendor_id": "10de", "product_id": 20b7}',
    '"10de:20b7"',
    '{"vendor_id": "xyz"}',
    '{"address": "0000:3b:00.0", "devname": "eth0"}',
]


class TestCase(testtools.TestCase):

    def write(self, text, name='nova.conf'):
        directory = self.useFixture_tempdir()
        path = os.path.join(directory, name)
        with open(path, 'w') as f:
            f.write(text)
        return path

    def useFixture_tempdir(self):
        if not hasattr(self, '_dir'):
            self._dir = tempfile.mkdtemp()
            self.addCleanup(lambda: __import__('shutil').rmtree(self._dir))
        return self._dir

    def nova_conf(self):
        conf = self.useFixture(config_fixture.Config(nova.conf.CONF))
        nova_request.get_alias_from_config.cache_clear()
        self.addCleanup(nova_request.get_alias_from_config.cache_clear)
        return conf


class TestLoad(TestCase):

    def test_repeated_keys_deprecated_names_and_several_files(self):
        first = self.write(
            '[DEFAULT]\n'
            'pci_alias = {"name": "old", "vendor_id": "10de", '
            '"product_id": "1eb8"}\n'
            '[pci]\n'
            'passthrough_whitelist = {"vendor_id": "10de",\n'
            '    "product_id": "20b7"}\n'
            'alias = %s\n'
            'device_spec = %s\n'
            'report_in_placement = True\n' % (ALIASES[0], SPECS[1]),
            'nova.conf')
        second = self.write(
            '[pci]\nalias = %s\n[filter_scheduler]\npci_in_placement = yes\n'
            '[devices]\nenabled_vgpu_types = nvidia-11,nvidia-12\n'
            '[vgpu_nvidia-11]\ndevice_addresses = 0000:84:00.0\n'
            '[mdev_nvidia-12]\nmdev_class = CUSTOM_VGPU_A16\n'
            'max_instances = 8\n' % ALIASES[1], 'nova-compute.conf')
        conf = novaconf.load([first, second])
        self.assertEqual(['old', 'a30', 'mi25-vf'],
                         [a.name for a in conf.alias_list])
        self.assertEqual(['20b7', '686c', None],
                         [s.get('product_id') for s in conf.device_specs])
        self.assertEqual(['%s:4' % first, '%s:7' % first, '%s:7' % first],
                         [e.where for e in conf.spec_entries])
        self.assertEqual('%s:2' % second, conf.aliases['mi25-vf'].where)
        self.assertTrue(conf.report_in_placement)
        self.assertTrue(conf.pci_in_placement)
        self.assertEqual(['nvidia-11', 'nvidia-12'], conf.enabled_mdev_types)
        self.assertEqual(('0000:84:00.0',),
                         conf.mdev_types['nvidia-11'].device_addresses)
        self.assertEqual(
            novaconf.MdevType('nvidia-12', (), 'CUSTOM_VGPU_A16', 8),
            conf.mdev_types['nvidia-12'])
        self.assertEqual([], conf.errors)

    def test_defaults(self):
        conf = novaconf.load([self.write('[DEFAULT]\ndebug = true\n')])
        self.assertEqual(({}, [], False, False),
                         (conf.aliases, conf.device_specs,
                          conf.report_in_placement, conf.pci_in_placement))

    def test_entries_nova_refuses_are_errors_with_their_line(self):
        path = self.write('[pci]\nalias = %s\nalias = %s\ndevice_spec = %s\n'
                          'report_in_placement = maybe\n'
                          % (ALIASES[0], BAD_ALIASES[0], BAD_SPECS[0]))
        conf = novaconf.load([path])
        self.assertEqual(['a30'], list(conf.aliases))
        self.assertEqual(
            [(3, "[pci] alias: unknown key 'vendor'"),
             (4, '[pci] device_spec: not JSON'),
             (5, '[pci] report_in_placement is not a boolean')],
            [(e.line, m[:len(m.split(' (')[0])]) for e, m in conf.errors])

    def test_unreadable_files_are_one_line(self):
        missing = os.path.join(self.useFixture_tempdir(), 'nope.conf')
        e = self.assertRaises(novaconf.ConfigError, novaconf.load, [missing])
        self.assertIn('cannot read %s' % missing, str(e))
        garbage = self.write('alias = 1\n')
        e = self.assertRaises(novaconf.ConfigError, novaconf.load, [garbage])
        self.assertNotIn('\n', str(e))
        self.assertIn(garbage, str(e))


class TestAgainstNova(TestCase):
    """Our reading of each value is the one Nova's own code makes."""

    def test_aliases_nova_accepts(self):
        conf = self.nova_conf()
        conf.config(alias=ALIASES, group='pci')
        conf.config(pci_in_placement=True, group='filter_scheduler')
        theirs = nova_request.get_alias_from_config()
        ours = {a.name: a for a in map(novaconf.parse_alias, ALIASES)}
        self.assertEqual(sorted(theirs), sorted(ours))
        for name, (policy, [spec]) in theirs.items():
            self.assertEqual(policy, ours[name].numa_policy)
            self.assertEqual(spec.get('dev_type'), ours[name].device_type)
            self.assertEqual(spec.get('vendor_id'), ours[name].vendor_id)

    def test_aliases_nova_refuses(self):
        conf = self.nova_conf()
        for text in BAD_ALIASES:
            conf.config(alias=[text], group='pci')
            nova_request.get_alias_from_config.cache_clear()
            self.assertRaises(exception.PciInvalidAlias,
                              nova_request.get_alias_from_config)
            self.assertRaises(ValueError, novaconf.parse_alias, text)

    def test_device_specs(self):
        self.nova_conf().config(report_in_placement=True, group='pci')
        theirs = nova_whitelist.Whitelist(SPECS).specs
        ours = [s for text in SPECS for s in novaconf.parse_device_spec(text)]
        self.assertEqual([s.dev_spec_conf for s in theirs], ours)
        for text in BAD_SPECS:
            self.assertRaises(exception.NovaException,
                              nova_whitelist.Whitelist, [text])
            self.assertRaises(ValueError, novaconf.parse_device_spec, text)

    def test_placement_names(self):
        for text in ALIASES[:3]:
            alias = novaconf.parse_alias(text)
            self.assertEqual(
                pci_placement_translator.get_resource_class(
                    alias.resource_class, alias.vendor_id, alias.product_id),
                alias.placement_class())
            self.assertEqual(
                pci_placement_translator.get_traits(','.join(alias.traits)),
                set(alias.placement_traits()))
        self.assertEqual('CUSTOM_GPU_BIG',
                         novaconf.parse_alias(ALIASES[2]).placement_class())
        self.assertEqual('CUSTOM_PCI_10DE_20B7',
                         novaconf.parse_alias(ALIASES[0]).placement_class())
