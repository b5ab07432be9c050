"""gpu-sandbox's own start, use and stop: tests that start a one-host
sandbox of their own (a second clone's, a rehearsal's), so they run in
this package, when no other sandbox runs."""
import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import time

import fixtures
import testtools

from gpu_sandbox import client
from tests.functional import base


class TestSandboxLifecycle(testtools.TestCase):
    """A second, one-host sandbox from a fleet file: start, use, stop."""

    FLEET = """
hosts:
  tiny-1:
    pci:
      - {address: "0000:3b:00.0", vendor_id: "10de", product_id: "1eb8"}
aliases:
  - {name: t4, vendor_id: "10de", product_id: "1eb8"}
"""

    def sandbox_cli(self, state, *args, python=sys.executable):
        return base.sandbox_cli(state, *args, python=python)

    def second_clone_venv(self):
        """A venv of its own (as a second clone's .venv is) that runs this
        checkout's code: its python, and its default state dir."""
        venv = tempfile.mkdtemp(prefix='gpu-sandbox-clone-')
        self.addCleanup(shutil.rmtree, venv, True)
        subprocess.run([sys.executable, '-m', 'venv', '--without-pip', venv],
                       check=True, timeout=120)
        site = sysconfig.get_paths()['purelib']
        [lib] = os.listdir(os.path.join(venv, 'lib'))
        with open(os.path.join(venv, 'lib', lib, 'site-packages',
                               'this-checkout.pth'), 'w') as f:
            f.write('import site; site.addsitedir(%r)\n' % site)
        # what pip installs outside site-packages: scripts and data files
        os.symlink(os.path.join(os.path.dirname(sys.executable),
                                'keystone-manage'),
                   os.path.join(venv, 'bin', 'keystone-manage'))
        os.symlink(os.path.join(sys.prefix, 'etc'),
                   os.path.join(venv, 'etc'))
        return (os.path.join(venv, 'bin', 'python'),
                os.path.join(venv, 'var', 'gpu-sandbox'))

    def test_a_second_clone_starts_uses_and_stops_its_own_sandbox(self):
        python, state = self.second_clone_venv()
        fleet_file = os.path.join(os.path.dirname(state), 'my-fleet.yaml')
        os.makedirs(os.path.dirname(fleet_file))
        with open(fleet_file, 'w') as f:
            f.write(self.FLEET)
        # This clone's own sandbox, in its venv's default state dir: the
        # other clone's start and stop must leave its record alone.
        self.useFixture(fixtures.EnvironmentVariable('GPU_SANDBOX_STATE_DIR'))
        ours = client.State()
        before = ours.read()
        self.addCleanup(self.sandbox_cli, None, 'stop', python=python)
        # no --state-dir, no GPU_SANDBOX_STATE_DIR: that venv's own dir
        started = self.sandbox_cli(None, 'start', '--fleet', fleet_file,
                                   python=python)
        self.assertEqual(0, started.returncode, started.stderr)
        self.assertIn('1 device providers in Placement', started.stdout)
        self.assertTrue(os.path.exists(os.path.join(state, 'sandbox.json')))
        again = self.sandbox_cli(None, 'start', python=python)
        self.assertIn('already running', again.stdout)

        status = self.sandbox_cli(None, 'status', python=python)
        self.assertEqual(0, status.returncode)
        self.assertEqual(2, status.stdout.count('running'), status.stdout)
        self.assertIn('nova.conf  %s/nova.conf.d' % state, status.stdout)
        env = self.sandbox_cli(None, 'env', python=python).stdout
        self.assertIn('export OS_CLIENT_CONFIG_FILE=%s/clouds.yaml' % state,
                      env)
        self.assertIn('export GPU_SANDBOX_STATE_DIR=%s\n' % state, env)

        tiny = client.Sandbox(state)
        tiny.compute('POST', '/flavors', json={'flavor': {
            'name': 't4', 'vcpus': 1, 'ram': 512, 'disk': 1}})
        tiny.compute('POST', '/flavors/%s/os-extra_specs' % tiny.flavor_id(
            't4'), json={'extra_specs': {'pci_passthrough:alias': 't4:1'}})
        booted = self.sandbox_cli(state, 'boot', '--flavor', 't4', '--wait',
                                  'vm1')
        self.assertEqual(0, booted.returncode, booted.stderr)
        self.assertIn('"status": "ACTIVE"', booted.stdout)
        self.assertIn('periodic update ran',
                      self.sandbox_cli(state, 'periodic').stdout)

        pids = list(client.State(state).read()['pids'].values())
        stopped = self.sandbox_cli(None, 'stop', python=python)
        self.assertEqual(0, stopped.returncode)
        time.sleep(0.5)
        for pid in pids:
            self.assertFalse(os.path.exists('/proc/%d' % pid),
                             'process %d survived stop' % pid)
        self.assertNotEqual(0, self.sandbox_cli(
            None, 'status', python=python).returncode)
        # the other clone's start and stop left this sandbox alone
        self.assertEqual(before, ours.read())

    def test_bad_fleet_file_fails_start_with_one_line(self):
        state = tempfile.mkdtemp(prefix='gpu-sandbox-test-')
        fleet_file = os.path.join(state, 'bad.yaml')
        with open(fleet_file, 'w') as f:
            f.write('hosts:\n  h1:\n    pci:\n      - {address: nope, '
                    'vendor_id: "10de", product_id: "1eb8"}\n')
        started = self.sandbox_cli(state, 'start', '--fleet', fleet_file)
        self.assertEqual(1, started.returncode)
        self.assertNotIn('Traceback', started.stderr)
        self.assertIn('not a PCI address', started.stderr)
        self.assertFalse(os.path.exists(os.path.join(state, 'sandbox.json')))

    def test_unknown_fleet_name_fails_start_with_one_line(self):
        state = tempfile.mkdtemp(prefix='gpu-sandbox-test-')
        started = self.sandbox_cli(state, 'start', '--fleet', 'legcy')
        self.assertEqual(1, started.returncode)
        self.assertEqual(1, len(started.stderr.splitlines()), started.stderr)
        self.assertIn('cannot read fleet file legcy', started.stderr)


def write_sysfs(root, functions):
    """A copy of a host's /sys as gpuclient.hostconfig.sysfs reads it: for each
    (address, vendor, device, class, extra) a device directory linked from
    bus/pci/devices, with its IOMMU group; extra may name 'physfn', list
    'virtfns', or give 'mdev_types' {type: (name, available instances)}."""
    for group, (address, vendor, device, pci_class, extra) in enumerate(
            functions, start=40):
        path = os.path.join(root, 'devices', 'pci0000:00', address)
        os.makedirs(path)
        values = {'vendor': '0x' + vendor, 'device': '0x' + device,
                  'class': '0x' + pci_class, 'numa_node': '0'}
        if extra.get('virtfns'):
            values['sriov_totalvfs'] = values['sriov_numvfs'] = str(
                len(extra['virtfns']))
        for name, value in values.items():
            with open(os.path.join(path, name), 'w') as f:
                f.write(value + '\n')
        if extra.get('physfn'):
            os.symlink('../' + extra['physfn'], os.path.join(path, 'physfn'))
        for n, vf in enumerate(extra.get('virtfns', ())):
            os.symlink('../' + vf, os.path.join(path, 'virtfn%d' % n))
        for mdev_type, (name, count) in extra.get('mdev_types', {}).items():
            type_dir = os.path.join(path, 'mdev_supported_types', mdev_type)
            os.makedirs(os.path.join(type_dir, 'devices'))
            for attr, value in (('name', name), ('device_api', 'vfio-pci'),
                                ('available_instances', str(count))):
                with open(os.path.join(type_dir, attr), 'w') as f:
                    f.write(value + '\n')
        groups = os.path.join(root, 'kernel', 'iommu_groups', str(group),
                              'devices')
        os.makedirs(groups)
        os.symlink('../../../../kernel/iommu_groups/%d' % group,
                   os.path.join(path, 'iommu_group'))
        os.makedirs(os.path.join(root, 'bus', 'pci', 'devices'),
                    exist_ok=True)
        os.symlink('../../../devices/pci0000:00/' + address,
                   os.path.join(root, 'bus', 'pci', 'devices', address))


class TestRehearsal(testtools.TestCase):
    """gpu-sandbox start --sysfs DIR --nova-conf FILE: one host with the
    hardware of a /sys copy and the operator's nova.conf."""

    sandbox_cli = TestSandboxLifecycle.sandbox_cli
    VFS = ['0000:4d:00.%d' % n for n in range(1, 5)]
    NOVA_CONF = """\
[pci]
device_spec = {"vendor_id": "1002", "product_id": "686c"}
alias = {"name": "mi25-vf", "vendor_id": "1002", "product_id": "686c", \
"device_type": "type-VF"}
report_in_placement = true
[filter_scheduler]
pci_in_placement = true
[devices]
enabled_mdev_types = nvidia-11, nvidia-12
[mdev_nvidia-11]
device_addresses = 0000:84:00.0
[mdev_nvidia-12]
device_addresses = 0000:85:00.0
mdev_class = CUSTOM_M60_0Q
"""

    def host_copy(self):
        root = tempfile.mkdtemp(prefix='gpu-sandbox-sysfs-')
        self.addCleanup(shutil.rmtree, root, True)
        m60 = {'nvidia-11': ('GRID M60-0B', 16), 'nvidia-12': ('GRID M60-0Q',
                                                                8)}
        write_sysfs(os.path.join(root, 'sys'), [
            ('0000:4d:00.0', '1002', '6860', '038000',
             {'virtfns': self.VFS})] + [
            (vf, '1002', '686c', '038000', {'physfn': '0000:4d:00.0'})
            for vf in self.VFS] + [
            ('0000:84:00.0', '10de', '13f2', '030000', {'mdev_types': m60}),
            ('0000:85:00.0', '10de', '13f2', '030000', {'mdev_types': m60}),
            ('0000:3b:00.0', '8086', '1572', '020000', {})])
        conf = os.path.join(root, 'nova.conf')
        with open(conf, 'w') as f:
            f.write(self.NOVA_CONF)
        return os.path.join(root, 'sys'), conf, os.path.join(root, 'state')

    def test_rehearsal_shows_what_placement_will_show_and_boots(self):
        sysfs, conf, state = self.host_copy()
        self.addCleanup(self.sandbox_cli, state, 'stop')
        started = self.sandbox_cli(state, 'start', '--sysfs', sysfs,
                                   '--nova-conf', conf)
        self.assertEqual(0, started.returncode, started.stderr)
        self.assertIn('1 hosts, 3 device providers in Placement',
                      started.stdout)
        shown = [line.split() for line in started.stdout.splitlines()
                 if line.startswith('  rehearsal-1_')]
        self.assertEqual(
            [['rehearsal-1_0000:4D:00.0', 'CUSTOM_PCI_1002_686C', 'total',
              '4'],
             ['rehearsal-1_pci_0000_84_00_0', 'VGPU', 'total', '16'],
             ['rehearsal-1_pci_0000_85_00_0', 'CUSTOM_M60_0Q', 'total', '8']],
            shown)
        with open(os.path.join(state, 'nova.conf.d',
                               'compute-rehearsal-1.conf')) as f:
            self.assertEqual(self.NOVA_CONF, f.read())

        rehearsal = client.Sandbox(state)
        rehearsal.compute('POST', '/flavors', json={'flavor': {
            'name': 'vf', 'vcpus': 1, 'ram': 512, 'disk': 1}})
        rehearsal.compute('POST', '/flavors/%s/os-extra_specs'
                          % rehearsal.flavor_id('vf'), json={
                              'extra_specs': {
                                  'pci_passthrough:alias': 'mi25-vf:2'}})
        booted = self.sandbox_cli(state, 'boot', '--flavor', 'vf', '--wait',
                                  'vm1')
        self.assertEqual(0, booted.returncode, booted.stderr)
        self.assertIn('"status": "ACTIVE"', booted.stdout)

    def test_bad_rehearsal_input_is_one_line(self):
        sysfs, conf, state = self.host_copy()
        for args, message in (
                (['--sysfs', sysfs], 'both --sysfs and --nova-conf'),
                (['--sysfs', state, '--nova-conf', conf], 'is not a sysfs'),
                (['--sysfs', sysfs, '--nova-conf', sysfs + '/nope.conf'],
                 'cannot read nova.conf')):
            started = self.sandbox_cli(state, 'start', *args)
            self.assertEqual(1, started.returncode)
            self.assertEqual(1, len(started.stderr.splitlines()),
                             started.stderr)
            self.assertIn(message, started.stderr)
        self.assertFalse(os.path.exists(os.path.join(state, 'sandbox.json')))
