"""The sandbox cloud itself: the GPUs Nova reports, and what servers get."""
import os
import uuid

from gpu_sandbox import baremetal
from gpu_sandbox import client
from gpu_sandbox import fleet as fleet_mod
from tests.functional import base

PCI_TRAIT = 'COMPUTE_MANAGED_PCI_DEVICE'
HOSTS = ['gpu-a30-1', 'gpu-a100-1', 'gpu-h100-1', 'gpu-rtx-1', 'vgpu-1',
         'gpu-l40s-1', 'gpu-sriov-1', 'vgpu-2', 'vgpu-a40-1', 'vgpu-a10-1',
         'vgpu-l4-1', 'vgpu-l40s-1', 'cyborg-1']
# Placement's roots are the hypervisor hostnames
ROOTS = set(HOSTS) - {'gpu-l40s-1'} | {'gpu-l40s-1.dc1.example.org'}


class TestDefaultFleet(base.SandboxTestCase):

    def test_every_device_is_in_placement_as_nova_makes_it(self):
        l40s = 'gpu-l40s-1.dc1.example.org'
        nova = self.nova_traits()   # OWNER_NOVA from 2026.2
        PCI_TRAITS = {PCI_TRAIT} | nova
        one_time_use = ({'HW_PCI_ONE_TIME_USE'}
                        if self.sandbox().release.one_time_use else set())
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
                PCI_TRAITS | one_time_use)
        for address in ('84', '85', '86', '87'):
            expected['vgpu-1_pci_0000_%s_00_0' % address] = (
                'VGPU', 16, nova)
        for address in ('3d', '3e'):
            expected['vgpu-2_pci_0000_%s_00_0' % address] = (
                'CUSTOM_VGPU_A16', 8, nova)
        # SR-IOV vGPU GPUs: a provider per VF, of one vGPU (the labels the
        # sandbox writes at start: test_vgpu_sriov)
        a40 = {'CUSTOM_GPU_PCI_10DE_2235', 'CUSTOM_VGPU_TYPE_A40_2Q',
               'CUSTOM_GPU_VFS_8'}
        for bus in ('51', '61'):
            for vf in ('00_4', '00_5', '00_6', '00_7', '01_0', '01_1',
                       '01_2', '01_3'):
                expected['vgpu-a40-1_pci_0000_%s_%s' % (bus, vf)] = (
                    'CUSTOM_VGPU_A40', 1,
                    nova | a40 | {'CUSTOM_GPU_ADDR_0000_%s_00_0' % bus})
        # NVIDIA's variant driver: a VF pool per L40S, the VFs given a type,
        # with its device_spec's class and traits (Nova 31's managed: not on
        # 2024.1, where the host has no device)
        if self.sandbox().release.managed:
            for address, vgpu_type, vfs in (('A1', '12Q', 4),
                                            ('E1', '24Q', 2)):
                expected['vgpu-l40s-1_0000:%s:00.0' % address] = (
                    'CUSTOM_VGPU_L40S_' + vgpu_type, vfs, PCI_TRAITS | {
                        'CUSTOM_GPU_PCI_10DE_26B9',
                        'CUSTOM_VGPU_TYPE_L40S_' + vgpu_type})
        providers = self.placement('GET', '/resource_providers')[
            'resource_providers']
        roots = {p['uuid']: p['name'] for p in providers
                 if p['parent_provider_uuid'] is None}
        self.assertEqual(ROOTS | self.baremetal_nodes(), set(roots.values()))
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
        ironic = (['compute-%s.conf' % baremetal.COMPUTE_HOST]
                  if self.baremetal_nodes() else [])
        self.assertEqual(
            sorted(['controller.conf'] + ['compute-%s.conf' % h
                                          for h in HOSTS] + ironic),
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
        with open(os.path.join(conf_dir, 'compute-vgpu-l40s-1.conf')) as f:
            variant = f.read()
        if self.sandbox().release.managed:
            self.assertEqual(6, variant.count('"managed": "no"'))

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
        self.assertEqual(ROOTS | self.baremetal_nodes(), set(out.split()))

    def baremetal_nodes(self):
        """The UUIDs of the sandbox's Ironic nodes (test_sandbox_baremetal):
        Nova's ironic driver makes each a hypervisor and a Placement root."""
        fleet = fleet_mod.load(os.path.join(self.sandbox().state.dir,
                                            'fleet.yaml'))
        return {n.uuid for n in fleet.baremetal}

    def traits(self, rp_uuid):
        return set(self.placement('GET', '/resource_providers/%s/traits'
                                  % rp_uuid)['traits'])


class TestSandboxCli(base.SandboxTestCase):
    """gpu-sandbox's commands against the shared sandbox."""

    def sandbox_cli(self, state, *args):
        return base.sandbox_cli(state, *args)

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
