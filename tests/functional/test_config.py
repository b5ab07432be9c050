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

# Every run gets this address space: what a hostile or broken file does
# to an unbounded read is block (FIFO), never end (/dev/zero) or fill
# memory (10 MB); each must be one line and exit 1 instead.
MEMORY = 512 << 20
PLANTED = 'x\n[DEFAULT]\ninjected = 1\n[pci]\nalias = {"name": "injected"}'
# every line `config generate` means to write
_SECTIONS = ('[pci]', '[devices]', '[filter_scheduler]', '[mdev_nvidia-11]',
             '[mdev_nvidia-12]')
_OPTIONS = ('device_spec', 'alias', 'report_in_placement', 'pci_in_placement',
            'enabled_filters', 'enabled_mdev_types', 'device_addresses')


def _is_meant(line):
    return (not line or line.startswith('# ') or line in _SECTIONS
            or line.partition(' = ')[0] in _OPTIONS)


# What the verdict adds without --release or a cloud to ask.
NEWEST = (' (checked against 2026.2, the newest release: give --release, or '
          'credentials to ask the cloud)')


class TestConfig(testtools.TestCase):

    def setUp(self):
        super().setUp()
        self.home = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, self.home)

    def openstack(self, *args):
        return base.openstack_without_cloud(self.home, 'gpu', 'config',
                                            *args, memory=MEMORY)

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
                (0, '', 'no problems found in %s%s\n' % (path, NEWEST)),
                (code, out.strip(), err), host)

    def test_check_exits_1_on_an_error(self):
        path = os.path.join(NOVA, 'pf-and-vfs.conf')
        code, out, err = self.openstack(
            'check', path, '--sysfs', os.path.join(SYSFS, 'sriov'),
            '-f', 'value')
        self.assertEqual(1, code)
        self.assertIn('error %s:4 PF 0000:4d:00.0 and its VFs' % path, out)
        self.assertEqual('1 error in %s%s\n' % (path, NEWEST), err)

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


    def copy(self, host):
        root = os.path.join(self.home, host)
        shutil.copytree(os.path.join(SYSFS, host), root, symlinks=True)
        return root

    def replace(self, path, make):
        os.remove(path)
        make(path)

    def assertOneLine(self, result, path):
        code, out, err = result
        self.assertEqual((1, ''), (code, out), err)
        self.assertEqual(1, len(err.splitlines()), err)
        self.assertIn(path, err)

    def test_unreadable_sysfs_attributes_are_one_line(self):
        root = self.copy('passthrough')
        vendor = os.path.join(root, 'bus/pci/devices/0000:41:00.0/vendor')
        for make, says in (
                (os.mkfifo, 'is a FIFO'),
                (lambda p: os.symlink('/dev/zero', p),
                 'is a character device'),
                (lambda p: _write(p, b'0x10de' * ((10 << 20) // 6)),
                 'is larger than 4096 bytes'),
                (lambda p: _write(p, b'\x7fELF\x02\x01\x01\x00\xff'),
                 'byte 0xff is not UTF-8')):
            self.replace(vendor, make)
            result = self.openstack('generate', '--sysfs', root)
            self.assertOneLine(result, vendor)
            self.assertIn(says, result[2])
        root = self.copy('vgpu')
        name = os.path.join(root, 'bus/pci/devices/0000:84:00.0/'
                            'mdev_supported_types/nvidia-11/name')
        self.replace(name, os.mkfifo)
        self.assertOneLine(self.openstack('generate', '--sysfs', root), name)

    def test_unreadable_nova_conf_is_one_line(self):
        fifo = os.path.join(self.home, 'fifo.conf')
        os.mkfifo(fifo)
        zero = os.path.join(self.home, 'zero.conf')
        os.symlink('/dev/zero', zero)
        latin1 = os.path.join(self.home, 'latin1.conf')
        _write(latin1, '[pci]\n# Müller\'s GPUs\nalias = {"name": "a"}\n'
               .encode('latin-1'))
        for path, says in (('/dev/zero', 'is a character device'),
                           (zero, 'is a character device'),
                           (fifo, 'is a FIFO'),
                           (latin1, ':2: byte 0xfc is not UTF-8')):
            result = self.openstack('check', path)
            self.assertOneLine(result, path)
            self.assertIn(says, result[2])
        # where oslo.config would fail Nova's start, the line says so
        self.assertIn('Nova would not start', result[2])

    def test_no_sysfs_value_writes_a_line_into_nova_conf(self):
        # Every string the generator reads from sysfs, one at a time,
        # holding line breaks, a [section] and `key = value`.
        vgpu = 'bus/pci/devices/0000:84:00.0/'
        mdev = vgpu + 'mdev_supported_types/nvidia-11/'
        plants = [('vgpu', vgpu + f, 'file') for f in (
            'vendor', 'device', 'class', 'numa_node')]
        plants += [('vgpu', mdev + f, 'file') for f in (
            'name', 'device_api', 'available_instances')]
        plants += [('vgpu', vgpu + f, 'link') for f in ('driver',
                                                        'iommu_group')]
        plants += [('vgpu', mdev.rstrip('/'), 'rename'),
                   ('vgpu', vgpu.rstrip('/'), 'rename'),
                   ('sriov', 'bus/pci/devices/0000:4d:00.0/virtfn0', 'link'),
                   ('sriov', 'bus/pci/devices/0000:4d:00.1/physfn', 'link'),
                   ('sriov', 'bus/pci/devices/0000:4d:00.0/sriov_numvfs',
                    'file')]
        for host, relative, how in plants:
            root = self.copy(host)
            path = os.path.join(root, relative)
            if how == 'file':
                self.replace(path, lambda p: _write(p, PLANTED.encode()))
            elif how == 'link':
                self.replace(path, lambda p: os.symlink('../' + PLANTED, p))
            else:
                os.rename(path, os.path.join(os.path.dirname(path),
                                             PLANTED))
            code, out, err = self.openstack('generate', '--sysfs', root)
            shutil.rmtree(root)
            self.assertEqual(0, code, (relative, err))
            self.assertNotIn('injected', out, relative)
            self.assertEqual([], [line for line in out.splitlines()
                                  if not _is_meant(line)], relative)
            # the value is named in one warning line, shown escaped
            self.assertIn('\\n[DEFAULT]\\ninjected = 1', err, relative)
            self.assertTrue(all(line.startswith('warning: ')
                                for line in err.splitlines()), err)


def _write(path, data):
    with open(path, 'wb') as f:
        f.write(data)
