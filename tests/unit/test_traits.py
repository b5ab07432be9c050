"""Trait names, trait changes and the device_spec hint: pure functions."""
import json
import re

import testtools

from gpuclient.model import devices
from gpuclient.model import traits
from tests import factories

NOVA = ['COMPUTE_MANAGED_PCI_DEVICE', 'OWNER_NOVA']


def device(host='gpu-a30-1', address='0000:81:00.0',
           rc='CUSTOM_PCI_10DE_20B7', one_time_use=False, extra=()):
    return factories.device(
        host, address, rc, uuid='u-' + address,
        provider_name='%s_%s' % (host, address.upper()), inventory={},
        one_time_use=one_time_use, traits=sorted(NOVA + list(extra)))


class TestValidate(testtools.TestCase):

    def test_custom_names_pass_unchanged(self):
        for name in ('CUSTOM_NVIDIA_11', 'CUSTOM_A', 'CUSTOM_1',
                     'CUSTOM__X', 'CUSTOM_' + 'X' * 248):
            self.assertEqual(name, traits.validate(name))

    def refusal(self, name):
        e = self.assertRaises(traits.BadTraitName, traits.validate, name)
        self.assertNotIn('\n', str(e))
        return str(e)

    def test_lower_case_or_unprefixed_gets_the_normalised_name(self):
        for name, meant in (('nvidia_11', 'CUSTOM_NVIDIA_11'),
                            ('CUSTOM_a', 'CUSTOM_A'),
                            ('custom_nvidia_11', 'CUSTOM_NVIDIA_11'),
                            ('NVIDIA_11', 'CUSTOM_NVIDIA_11'),
                            ('nvidia-11', 'CUSTOM_NVIDIA_11'),
                            ('CUSTOM_GRID A100 ', 'CUSTOM_GRID_A100'),
                            ('HW_GPU_API_CUDA', 'CUSTOM_HW_GPU_API_CUDA')):
            message = self.refusal(name)
            self.assertIn('invalid trait name %r' % name, message)
            self.assertTrue(message.endswith('did you mean %s?' % meant),
                            message)
            self.assertEqual(meant, traits.validate(meant))

    def test_no_name_after_the_prefix_gets_no_suggestion(self):
        for name in ('CUSTOM_', '', '-', 'custom-'):
            self.assertNotIn('did you mean', self.refusal(name))

    def test_placement_length_limit(self):
        self.assertIn('256 characters long; Placement allows at most 255',
                      self.refusal('CUSTOM_' + 'X' * 249))
        # a suggestion that would itself be too long is not made
        self.assertNotIn('did you mean', self.refusal('x' * 250))


class TestChange(testtools.TestCase):

    def test_tag_adds_only_the_trait(self):
        self.assertEqual(['COMPUTE_MANAGED_PCI_DEVICE', 'CUSTOM_B',
                          'CUSTOM_NVIDIA_35', 'OWNER_NOVA'],
                         traits.changed(NOVA + ['CUSTOM_B'],
                                        'CUSTOM_NVIDIA_35', True))

    def test_untag_removes_only_the_trait(self):
        self.assertEqual(['CUSTOM_B', 'OWNER_NOVA'], traits.changed(
            ['OWNER_NOVA', 'CUSTOM_NVIDIA_35', 'CUSTOM_B'],
            'CUSTOM_NVIDIA_35', False))

    def test_already_so_is_nothing_to_write(self):
        self.assertIsNone(traits.changed(['CUSTOM_X'], 'CUSTOM_X', True))
        self.assertIsNone(traits.changed(['OWNER_NOVA'], 'CUSTOM_X', False))

    def test_nova_managed_devices_refused_unless_transient(self):
        self.assertTrue(traits.refused(NOVA, 'CUSTOM_X', True, True, False))
        self.assertFalse(traits.refused(NOVA, 'CUSTOM_X', True, True, True))
        self.assertFalse(traits.refused(['OWNER_NOVA'], 'CUSTOM_X', True,
                                        False, False))
        # nothing would change: nothing to refuse
        self.assertFalse(traits.refused(NOVA + ['CUSTOM_X'], 'CUSTOM_X',
                                        True, True, False))
        self.assertFalse(traits.refused(NOVA, 'CUSTOM_X', False, True,
                                        False))

    def test_results(self):
        self.assertEqual('tagged', traits.result(True, True, False))
        self.assertEqual('untagged', traits.result(False, True, False))
        self.assertEqual('unchanged', traits.result(True, False, True))
        self.assertIn("until Nova's next provider refresh",
                      traits.result(True, True, True))
        self.assertIn('back at', traits.result(False, True, True))


class TestDeviceSpecHint(testtools.TestCase):

    def entry(self, message, host):
        m = re.search(r'on %s \[pci\] device_spec = (\{[^}]*\})' % host,
                      message)
        self.assertIsNotNone(m, message)
        return json.loads(m.group(1))

    def test_entry_for_vendor_and_product(self):
        message = traits.refusal([device(), device(address='0000:82:00.0')],
                                 'CUSTOM_NVIDIA_35', True)
        self.assertNotIn('\n', message)
        self.assertIn('(gpu-a30-1:0000:81:00.0, gpu-a30-1:0000:82:00.0)',
                      message)
        self.assertEqual({'vendor_id': '10de', 'product_id': '20b7',
                          'traits': 'CUSTOM_NVIDIA_35'},
                         self.entry(message, 'gpu-a30-1'))
        self.assertEqual(1, message.count('device_spec ='))  # one entry
        self.assertTrue(message.endswith('--transient tags them until then'))

    def test_entry_keeps_device_spec_options_and_traits(self):
        h100 = device('gpu-h100-1', '0000:c1:00.0', 'CUSTOM_PCI_10DE_2330',
                      one_time_use=True,
                      extra=['HW_PCI_ONE_TIME_USE', 'HW_PCI_LIVE_MIGRATABLE',
                             'CUSTOM_SCRUBBED'])
        message = traits.refusal([h100], 'CUSTOM_H100', True)
        self.assertEqual({'vendor_id': '10de', 'product_id': '2330',
                          'one_time_use': 'true', 'live_migratable': 'true',
                          'traits': 'CUSTOM_H100,CUSTOM_SCRUBBED'},
                         self.entry(message, 'gpu-h100-1'))

    def test_custom_resource_class_names_the_entry_by_class(self):
        a100 = device('gpu-a100-1', '0000:25:00.0', 'CUSTOM_A100',
                      extra=['CUSTOM_NVLINK'])
        message = traits.refusal([a100], 'CUSTOM_NVIDIA_35', True)
        self.assertIn('on gpu-a100-1 "traits": "CUSTOM_NVIDIA_35,'
                      'CUSTOM_NVLINK" in the [pci] device_spec entry with '
                      '"resource_class": "CUSTOM_A100"', message)

    def test_untag_hint_leaves_the_trait_out(self):
        a100 = device('gpu-a100-1', '0000:25:00.0', 'CUSTOM_A100',
                      extra=['CUSTOM_NVLINK', 'CUSTOM_FAST'])
        message = traits.refusal([a100], 'CUSTOM_NVLINK', False)
        self.assertIn('"traits": "CUSTOM_FAST" in the [pci] device_spec',
                      message)
        self.assertIn('comes back', message)
        self.assertTrue(message.endswith('--transient removes it now'))

    def test_one_entry_per_host_and_a_bounded_list_of_devices(self):
        found = [device('gpu-a30-%d' % n, '0000:%02x:00.0' % b)
                 for n in (1, 2) for b in range(4)]
        message = traits.refusal(found, 'CUSTOM_X', True)
        self.assertIn('gpu-a30-1:0000:03:00.0, and 4 more)', message)
        self.assertEqual(self.entry(message, 'gpu-a30-1'),
                         self.entry(message, 'gpu-a30-2'))
        self.assertEqual(2, message.count('device_spec ='))


class TestUnwritable(testtools.TestCase):

    def test_nova_devices_and_vgpus_may_be_written(self):
        self.assertIsNone(traits.unwritable(device()))
        self.assertIsNone(traits.unwritable(device(), 'gpu-a30-1:81:00.0'))

    def test_cyborg_device_is_refused_saying_why(self):
        d = device(host='cyborg-1', address='0000:af:00.0', rc='PGPU')
        d.owner = devices.CYBORG
        for selector in (None, 'cyborg-1:af:00.0'):
            why = traits.unwritable(d, selector)
            self.assertEqual(
                "cyborg-1:0000:af:00.0 is managed by Cyborg (trait "
                "OWNER_CYBORG), which owns its Placement records: change "
                "them through Cyborg's own API (openstack accelerator ...); "
                "nothing written", why)

    def test_a_vf_of_a_pool_is_refused_its_pool_is_not(self):
        pool = device(host='gpu-sriov-1', address='0000:4d:00.0',
                      rc='CUSTOM_PCI_1002_686C')
        pool.vf_pool = 4
        self.assertEqual(
            'gpu-sriov-1:0000:4d:00.2 is a VF in the pool of 4 VFs of the PF '
            'at gpu-sriov-1:0000:4d:00.0; Placement keeps one record for the '
            'whole pool and none per VF, so one VF cannot be changed; '
            'nothing written',
            traits.unwritable(pool, 'gpu-sriov-1:0000:4d:00.2'))
        for named in (None, 'gpu-sriov-1:4d:00.0', pool.provider_name,
                      pool.provider_uuid):
            self.assertIsNone(traits.unwritable(pool, named))


class TestWritableSelection(testtools.TestCase):
    """What --host/--all/--model select for a write: GPUs Nova or no
    known service owns; Cyborg's only when nothing else is there, as a
    one-line refusal."""

    def test_gpus_only_cyborg_left_out(self):
        from osc_lib import exceptions
        from gpuclient.operations import writes

        gpu, nic, t4 = (device(address='0000:81:00.0'),
                        device(address='0000:3b:00.0'),
                        device(host='cyborg-1', address='0000:af:00.0'))
        nic.is_gpu = False
        t4.owner = devices.CYBORG
        self.assertEqual([gpu], writes.writable([gpu, nic, t4], '--all'))
        self.assertEqual([], writes.writable([nic], '--host h'))
        e = self.assertRaises(exceptions.CommandError, writes.writable,
                              [t4], '--host cyborg-1')
        self.assertTrue(str(e).startswith(
            'the 1 GPU(s) --host cyborg-1 selects are managed by Cyborg'))
