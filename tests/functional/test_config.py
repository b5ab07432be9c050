"""openstack gpu config generate | check: the real `openstack` program,
run as an operator runs it on a compute host, with no cloud credentials
at all (no OS_* variables, no clouds.yaml). Needs no sandbox."""
import json
import os
import shutil
import tempfile

import testtools

from tests.functional import base

SYSFS = base.SYSFS
NOVA = base.NOVA


class TestConfig(testtools.TestCase):

    def setUp(self):
        super().setUp()
        self.home = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, self.home)

    def openstack(self, *args):
        return base.openstack_without_cloud(self.home, 'gpu', 'config',
                                            *args)

    def test_generate_needs_no_credentials(self):
        code, out, err = self.openstack(
            'generate', '--sysfs', os.path.join(SYSFS, 'sriov'))
        self.assertEqual((0, ''), (code, err))
        self.assertIn('device_spec = {"vendor_id": "1002", "product_id": '
                      '"686c"}\n', out)
        self.assertIn('alias = {"name": "mi25-vf", "vendor_id": "1002", '
                      '"product_id": "686c", "device_type": "type-VF"}\n',
                      out)

    def test_one_block_for_a_file_and_warnings_on_stderr(self):
        code, out, err = self.openstack(
            'generate', '--sysfs', os.path.join(SYSFS, 'passthrough'),
            '-c', 'compute')
        self.assertEqual(0, code, err)
        self.assertNotIn('alias', out)
        self.assertIn('report_in_placement = true', out)
        self.assertIn('warning: 0000:41:00.1 is the audio function of GPU '
                      '0000:41:00.0', err)

    def test_generate_as_data(self):
        code, out, err = self.openstack(
            'generate', '--sysfs', os.path.join(SYSFS, 'vgpu'), '-f', 'json')
        self.assertEqual(0, code, err)
        data = json.loads(out)
        self.assertEqual({'devices': {'enabled_mdev_types': ['nvidia-11']},
                          'mdev_nvidia-11': {'device_addresses': [
                              '0000:84:00.0', '0000:85:00.0']}},
                         data['compute'])
        self.assertEqual(['vgpu', 'vgpu'], [d['use'] for d in
                                            data['devices']])

    def test_generated_settings_check_clean(self):
        for host in ('passthrough', 'sriov', 'vgpu'):
            sysfs = os.path.join(SYSFS, host)
            path = os.path.join(self.home, '%s.conf' % host)
            code, out, _ = self.openstack('generate', '--sysfs', sysfs)
            with open(path, 'w') as f:
                f.write(out)
            code, out, err = self.openstack('check', path, '--sysfs', sysfs)
            self.assertEqual(
                (0, '', 'no problems found in %s\n' % path),
                (code, out.strip(), err), host)

    def test_check_exits_1_on_an_error(self):
        path = os.path.join(NOVA, 'pf-and-vfs.conf')
        code, out, err = self.openstack(
            'check', path, '--sysfs', os.path.join(SYSFS, 'sriov'),
            '-f', 'value')
        self.assertEqual(1, code)
        self.assertIn('error %s:4 PF 0000:4d:00.0 and its VFs' % path, out)
        self.assertEqual('1 error in %s\n' % path, err)

    def test_bad_input_is_one_line(self):
        for args in (('check', os.path.join(NOVA, 'no-such.conf')),
                     ('generate', '--sysfs', NOVA),
                     ('generate', '--vendor-id', 'zzzz'),
                     ('generate', '--resource-class', 'CUSTOM_A100'),
                     ('generate', '--sysfs', ''),
                     ('check', ''),
                     ('check', os.path.join(NOVA, 'pf-and-vfs.conf'),
                      '--sysfs', ' ')):
            code, out, err = self.openstack(*args)
            self.assertEqual((1, 1), (code, len(err.splitlines())),
                             (args, err))
            self.assertNotIn('Traceback', err)
