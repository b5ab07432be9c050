"""The sandbox cloud itself: the GPUs Nova reports, and what servers get."""
import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import time
import uuid

from gpuclient.sandbox import client
from tests.functional import base

PCI_TRAITS = {'COMPUTE_MANAGED_PCI_DEVICE', 'OWNER_NOVA'}
HOSTS = ['gpu-a30-1', 'gpu-a100-1', 'gpu-h100-1', 'gpu-rtx-1', 'vgpu-1',
         'gpu-l40s-1', 'gpu-sriov-1', 'vgpu-2', 'cyborg-1']
# Placement's roots are the hypervisor hostnames
ROOTS = set(HOSTS) - {'gpu-l40s-1'} | {'gpu-l40s-1.dc1.example.org'}


class TestDefaultFleet(base.SandboxTestCase):

    def test_every_device_is_in_placement_as_nova_makes_it(self):
        l40s = 'gpu-l40s-1.dc1.example.org'
        expected = {
            'gpu-a30-1_0000:81:00.0': ('CUSTOM_PCI_10DE_20B7', 1, PCI_TRAITS),
            'gpu-a30-1_0000:82:00.0': ('CUSTOM_PCI_10DE_20B7', 1, PCI_TRAITS),
            'gpu-rtx-1_0000:41:00.0': ('CUSTOM_PCI_10DE_2204', 1, PCI_TRAITS),
            l40s + '_0000:1B:00.0': ('CUSTOM_PCI_10DE_26B9', 1, PCI_TRAITS),
            l40s + '_0000:1C:00.0': ('CUSTOM_PCI_10DE_26B9', 1, PCI_TRAITS),
            l40s + '_0000:3B:00.0': ('CUSTOM_PCI_8086_1572', 1, PCI_TRAITS),
            l40s + '_0000:5E:00.0': ('CUSTOM_PCI_144D_A80A', 1, PCI_TRAITS),
            # the VF pool: named after the PF, counted in VFs, the VFs' class
            'gpu-sriov-1_0000:4D:00.0': ('CUSTOM_PCI_1002_686C', 4,
                                         PCI_TRAITS),
        }
        for address in ('25', '2B', '48', '4D'):
            expected['gpu-a100-1_0000:%s:00.0' % address] = (
                'CUSTOM_A100', 1, PCI_TRAITS | {'CUSTOM_NVLINK'})
        for address in ('C1', 'C2'):
            expected['gpu-h100-1_0000:%s:00.0' % address] = (
                'CUSTOM_PCI_10DE_2330', 1,
                PCI_TRAITS | {'HW_PCI_ONE_TIME_USE'})
        for address in ('84', '85', '86', '87'):
            expected['vgpu-1_pci_0000_%s_00_0' % address] = (
                'VGPU', 16, {'OWNER_NOVA'})
        for address in ('3d', '3e'):
            expected['vgpu-2_pci_0000_%s_00_0' % address] = (
                'CUSTOM_VGPU_A16', 8, {'OWNER_NOVA'})
        providers = self.placement('GET', '/resource_providers')[
            'resource_providers']
        roots = {p['uuid']: p['name'] for p in providers
                 if p['parent_provider_uuid'] is None}
        self.assertEqual(ROOTS, set(roots.values()))
        seen = {}
        for p in providers:
            if p['name'] not in expected:
                continue
            inventories = self.placement(
                'GET', '/resource_providers/%s/inventories' % p['uuid'])[
                'inventories']
            traits = self.placement(
                'GET', '/resource_providers/%s/traits' % p['uuid'])['traits']
            self.assertEqual(p['name'].split('_')[0],
                             roots[p['parent_provider_uuid']])
            seen[p['name']] = ({rc: i['total'] for rc, i in
                                inventories.items()}, set(traits))
        self.assertEqual({n: ({rc: total}, t)
                          for n, (rc, total, t) in expected.items()}, seen)

    def test_fqdn_hypervisor_with_a_short_service_host(self):
        hypervisors = self.sandbox().compute(
            'GET', '/os-hypervisors/detail').json()['hypervisors']
        hosts = {h['hypervisor_hostname']: h['service']['host']
                 for h in hypervisors}
        self.assertEqual('gpu-l40s-1', hosts['gpu-l40s-1.dc1.example.org'])
        self.assertEqual('gpu-a30-1', hosts['gpu-a30-1'])
        services = self.sandbox().compute(
            'GET', '/os-services?binary=nova-compute').json()['services']
        self.assertIn('gpu-l40s-1', {s['host'] for s in services})
        self.assertNotIn('gpu-l40s-1.dc1.example.org',
                         {s['host'] for s in services})
        self.provider('gpu-l40s-1.dc1.example.org')  # the root's name

    def test_a30_alias_server_holds_one_a30(self):
        flavor = self.create_flavor({'pci_passthrough:alias': 'a30:1'})
        server = self.boot(flavor)
        held = self.allocations(server['id'])
        gpus = {n: r for n, r in held.items() if n.startswith('gpu-a30-1_')}
        self.assertEqual(1, len(gpus), held)
        self.assertEqual([{'CUSTOM_PCI_10DE_20B7': 1}], list(gpus.values()))
        self.assertIn('gpu-a30-1', held)  # VCPU etc. on the compute node

    def test_vf_alias_server_draws_one_vf_from_the_pool(self):
        pool = 'gpu-sriov-1_0000:4D:00.0'
        flavor = self.create_flavor({'pci_passthrough:alias': 'mi25-vf:1'})
        server = self.boot(flavor)
        held = self.allocations(server['id'])
        self.assertEqual({'CUSTOM_PCI_1002_686C': 1}, held[pool])
        usages = self.placement('GET', '/resource_providers/%s/usages'
                                % self.provider(pool)['uuid'])['usages']
        self.assertEqual({'CUSTOM_PCI_1002_686C': 1}, usages)
        self.assertEqual(4, self.inventory(pool,
                                           'CUSTOM_PCI_1002_686C')['total'])

    def test_vgpu_server_holds_a_vgpu_on_vgpu_1(self):
        flavor = self.create_flavor({'resources:VGPU': '1'})
        server = self.boot(flavor)
        held = self.allocations(server['id'])
        gpus = [n for n, r in held.items() if r == {'VGPU': 1}]
        self.assertEqual(1, len(gpus), held)
        self.assertRegex(gpus[0], r'^vgpu-1_pci_0000_8[4-7]_00_0$')
        # Nova made the mediated device; the GPU's capacity is unchanged
        self.sandbox().periodic()
        self.assertEqual(16, self.inventory(gpus[0], 'VGPU')['total'])

    def test_custom_class_vgpu_server_lands_on_vgpu_2(self):
        flavor = self.create_flavor({'resources:CUSTOM_VGPU_A16': '1'})
        server = self.boot(flavor)
        held = self.allocations(server['id'])
        gpus = [n for n, r in held.items() if r == {'CUSTOM_VGPU_A16': 1}]
        self.assertEqual(1, len(gpus), held)
        self.assertRegex(gpus[0], r'^vgpu-2_pci_0000_3[de]_00_0$')

    def test_cyborg_gpus_are_written_as_cyborg_writes_them(self):
        root = self.provider('cyborg-1')
        for address in ('0000:af:00.0', '0000:b0:00.0'):
            name = 'cyborg-1_' + address
            rp = self.provider(name)
            self.assertEqual(str(uuid.uuid3(uuid.NAMESPACE_DNS, name)),
                             rp['uuid'])
            self.assertEqual(root['uuid'], rp['parent_provider_uuid'])
            self.assertEqual({'total': 1, 'max_unit': 1},
                             {k: v for k, v in self.inventory(
                                 name, 'PGPU').items()
                              if k in ('total', 'max_unit')})
            self.assertEqual({'OWNER_CYBORG', 'CUSTOM_NVIDIA_1EB8'},
                             self.traits(rp['uuid']))

    def test_neutron_bandwidth_subtree_under_every_root(self):
        providers = self.placement('GET', '/resource_providers')[
            'resource_providers']
        by_name = {p['name']: p for p in providers}
        for root in ROOTS:
            agent = by_name[root + ':Open vSwitch agent']
            bridge = by_name[root + ':Open vSwitch agent:br-ex']
            self.assertEqual(by_name[root]['uuid'],
                             agent['parent_provider_uuid'])
            self.assertEqual(agent['uuid'], bridge['parent_provider_uuid'])
            inventories = self.placement(
                'GET', '/resource_providers/%s/inventories'
                % bridge['uuid'])['inventories']
            self.assertEqual({'NET_BW_EGR_KILOBIT_PER_SEC',
                              'NET_BW_IGR_KILOBIT_PER_SEC'}, set(inventories))
            traits = self.traits(bridge['uuid'])
            self.assertIn('CUSTOM_PHYSNET_PHYSNET1', traits)
            self.assertIn('CUSTOM_VNIC_TYPE_NORMAL', traits)

    def test_other_services_providers_survive_nova_updates(self):
        names = ['cyborg-1_0000:af:00.0',
                 'gpu-l40s-1.dc1.example.org:Open vSwitch agent:br-ex']
        before = {n: self.provider(n)['uuid'] for n in names}
        self.sandbox().periodic(refresh_provider_cache=True)
        self.sandbox().periodic()
        for name, rp_uuid in before.items():
            self.assertEqual(rp_uuid, self.provider(name)['uuid'])
        self.assertIn('OWNER_CYBORG', self.traits(before[names[0]]))
        self.assertEqual(10000000, self.inventory(
            names[1], 'NET_BW_EGR_KILOBIT_PER_SEC')['total'])

    def test_nova_conf_dump_is_what_nova_runs_with(self):
        conf_dir = self.sandbox().state.nova_conf_dir
        self.assertEqual(
            sorted(['controller.conf'] + ['compute-%s.conf' % h
                                          for h in HOSTS]),
            sorted(os.listdir(conf_dir)))
        with open(os.path.join(conf_dir, 'compute-vgpu-2.conf')) as f:
            vgpu2 = f.read()
        self.assertIn('mdev_class = CUSTOM_VGPU_A16', vgpu2)
        with open(os.path.join(conf_dir, 'compute-gpu-sriov-1.conf')) as f:
            sriov = f.read()
        self.assertIn('device_spec = {"product_id": "686c", '
                      '"vendor_id": "1002"}', sriov)
        with open(os.path.join(conf_dir, 'controller.conf')) as f:
            controller = f.read()
        self.assertIn('"name": "mi25-vf"', controller)
        self.assertIn('pci_in_placement = true', controller)

    def test_deleted_h100_server_leaves_its_device_reserved(self):
        device = self.released_h100()
        self.sandbox().periodic()
        inventory = self.inventory(device, 'CUSTOM_PCI_10DE_2330')
        self.assertEqual((1, 1), (inventory['total'], inventory['reserved']))

    def test_member_cloud_is_refused_by_placement(self):
        sandbox = self.sandbox()
        response = sandbox.session(client.MEMBER_CLOUD).get(
            sandbox.urls['placement'] + '/resource_providers',
            raise_exc=False)
        self.assertEqual(403, response.status_code)

    def test_stock_openstack_cli_works_against_it(self):
        code, out, err = self.run_openstack(
            'hypervisor', 'list', '-f', 'value', '-c', 'Hypervisor Hostname')
        self.assertEqual(0, code, err)
        self.assertEqual(ROOTS, set(out.split()))

    def traits(self, rp_uuid):
        return set(self.placement('GET', '/resource_providers/%s/traits'
                                  % rp_uuid)['traits'])


class TestSandboxLifecycle(base.SandboxTestCase):
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
        state_dir = ['--state-dir', state] if state else []
        env = dict(os.environ)
        env.pop('GPU_SANDBOX_STATE_DIR', None)
        return subprocess.run(
            [python, '-m', 'gpuclient.sandbox.cli'] + state_dir + list(args),
            capture_output=True, text=True, timeout=300, env=env)

    def second_clone_venv(self):
        """A venv of its own (as a second clone's .venv is) that runs this
        checkout's code: its python, and its default state dir."""
        venv = tempfile.mkdtemp(prefix='gpu-sandbox-clone-')
        self.addCleanup(shutil.rmtree, venv, True)
        subprocess.run([sys.executable, '-m', 'venv', '--without-pip', venv],
                       check=True)
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
        ours = self.sandbox().state.read()['pids']
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
        self.assertEqual(ours, self.sandbox().state.read()['pids'])
        self.provider('gpu-a30-1')

    def test_boot_prints_novas_reason(self):
        flavor = self.create_flavor(
            {'pci_passthrough:alias': 'nosuchalias:1'})
        booted = self.sandbox_cli(self.sandbox().state.dir, 'boot',
                                  '--flavor', flavor, 'vm-bad')
        self.assertEqual(1, booted.returncode)
        self.assertEqual('', booted.stdout)
        self.assertEqual(
            ['gpu-sandbox: Nova refused the server: PCI alias nosuchalias '
             'is not defined (HTTP 400)'], booted.stderr.splitlines())

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
    """A copy of a host's /sys as gpuclient.sysfs reads it: for each
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


class TestRehearsal(base.SandboxTestCase):
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
