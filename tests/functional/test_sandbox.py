"""The sandbox cloud itself: the GPUs Nova reports, and what servers get."""
import os
import subprocess
import sys
import tempfile
import time

from gpuclient.sandbox import client
from tests.functional import base

PCI_TRAITS = {'COMPUTE_MANAGED_PCI_DEVICE', 'OWNER_NOVA'}


class TestDefaultFleet(base.SandboxTestCase):

    def test_every_device_is_in_placement_as_nova_makes_it(self):
        expected = {
            'gpu-a30-1_0000:81:00.0': ('CUSTOM_PCI_10DE_20B7', PCI_TRAITS),
            'gpu-a30-1_0000:82:00.0': ('CUSTOM_PCI_10DE_20B7', PCI_TRAITS),
            'gpu-rtx-1_0000:41:00.0': ('CUSTOM_PCI_10DE_2204', PCI_TRAITS),
        }
        for address in ('25', '2B', '48', '4D'):
            expected['gpu-a100-1_0000:%s:00.0' % address] = (
                'CUSTOM_A100', PCI_TRAITS | {'CUSTOM_NVLINK'})
        for address in ('C1', 'C2'):
            expected['gpu-h100-1_0000:%s:00.0' % address] = (
                'CUSTOM_PCI_10DE_2330', PCI_TRAITS | {'HW_PCI_ONE_TIME_USE'})
        for address in ('84', '85', '86', '87'):
            expected['vgpu-1_pci_0000_%s_00_0' % address] = (
                'VGPU', {'OWNER_NOVA'})
        providers = self.placement('GET', '/resource_providers')[
            'resource_providers']
        roots = {p['uuid']: p['name'] for p in providers
                 if p['parent_provider_uuid'] is None}
        self.assertEqual({'gpu-a30-1', 'gpu-a100-1', 'gpu-h100-1',
                          'gpu-rtx-1', 'vgpu-1'}, set(roots.values()))
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
            seen[p['name']] = (list(inventories), set(traits))
            rc = expected[p['name']][0]
            self.assertEqual(16 if rc == 'VGPU' else 1,
                             inventories[rc]['total'])
        self.assertEqual({n: ([rc], t) for n, (rc, t) in expected.items()},
                         seen)

    def test_a30_alias_server_holds_one_a30(self):
        flavor = self.create_flavor({'pci_passthrough:alias': 'a30:1'})
        server = self.boot(flavor)
        held = self.allocations(server['id'])
        gpus = {n: r for n, r in held.items() if n.startswith('gpu-a30-1_')}
        self.assertEqual(1, len(gpus), held)
        self.assertEqual([{'CUSTOM_PCI_10DE_20B7': 1}], list(gpus.values()))
        self.assertIn('gpu-a30-1', held)  # VCPU etc. on the compute node

    def test_vgpu_server_holds_a_vgpu_on_vgpu_1(self):
        flavor = self.create_flavor({'resources:VGPU': '1'})
        server = self.boot(flavor)
        held = self.allocations(server['id'])
        gpus = [n for n, r in held.items() if r == {'VGPU': 1}]
        self.assertEqual(1, len(gpus), held)
        self.assertRegex(gpus[0], r'^vgpu-1_pci_0000_8[4-7]_00_0$')

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
        self.assertEqual({'gpu-a30-1', 'gpu-a100-1', 'gpu-h100-1', 'gpu-rtx-1',
                          'vgpu-1'}, set(out.split()))


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

    def sandbox_cli(self, state, *args):
        return subprocess.run(
            [sys.executable, '-m', 'gpuclient.sandbox.cli', '--state-dir',
             state] + list(args), capture_output=True, text=True, timeout=300)

    def test_start_status_boot_stop(self):
        state = tempfile.mkdtemp(prefix='gpu-sandbox-test-')
        fleet_file = os.path.join(state, 'my-fleet.yaml')
        with open(fleet_file, 'w') as f:
            f.write(self.FLEET)
        self.addCleanup(self.sandbox_cli, state, 'stop')
        started = self.sandbox_cli(state, 'start', '--fleet', fleet_file)
        self.assertEqual(0, started.returncode, started.stderr)
        self.assertIn('1 GPU providers in Placement', started.stdout)
        again = self.sandbox_cli(state, 'start')
        self.assertIn('already running', again.stdout)

        status = self.sandbox_cli(state, 'status')
        self.assertEqual(0, status.returncode)
        self.assertEqual(2, status.stdout.count('running'), status.stdout)
        env = self.sandbox_cli(state, 'env').stdout
        self.assertIn('export OS_CLIENT_CONFIG_FILE=%s/clouds.yaml' % state,
                      env)

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
        stopped = self.sandbox_cli(state, 'stop')
        self.assertEqual(0, stopped.returncode)
        time.sleep(0.5)
        for pid in pids:
            self.assertFalse(os.path.exists('/proc/%d' % pid),
                             'process %d survived stop' % pid)
        self.assertNotEqual(0, self.sandbox_cli(state, 'status').returncode)

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
