"""The sandbox's bare-metal nodes: what its real Ironic holds for them, and
the providers Nova's ironic driver puts in Placement."""
import os
import time

from gpu_sandbox import baremetal
from gpu_sandbox import client
from gpu_sandbox import fleet as fleet_mod
from tests.functional import base

H100_NODES = {'bm-h100-1', 'bm-h100-2'}


class TestBaremetal(base.SandboxTestCase):

    def setUp(self):
        super().setUp()
        sandbox = self.sandbox()
        if 'baremetal' not in sandbox.urls:
            self.skipTest('needs a sandbox fleet with bare-metal nodes '
                          '(the default fleet on the default release)')
        self.fleet = fleet_mod.load(os.path.join(sandbox.state.dir,
                                                 'fleet.yaml'))
        self.nodes = {n.name: n for n in self.fleet.baremetal}
        self.ironic = baremetal.Ironic(sandbox.data)

    def node(self, name):
        return self.ironic.call('GET', '/v1/nodes/%s' % name, expect=200)

    def test_default_fleet_has_each_node_shape(self):
        self.assertEqual(
            ['bm-h100-1', 'bm-a100-1', 'bm-cpu-1', 'bm-l40s-1', 'bm-a100-2',
             'bm-h100-2'], list(self.nodes))

    def test_ironic_lists_the_fleets_nodes(self):
        listed = self.ironic.call(
            'GET', '/v1/nodes?fields=uuid,name,resource_class,traits,'
            'maintenance,maintenance_reason,provision_state,driver,'
            'inspect_interface', expect=200)['nodes']
        seen = {n['name']: (n['uuid'], n['resource_class'],
                            sorted(n['traits']), n['maintenance'],
                            n['maintenance_reason'], n['provision_state'],
                            n['driver'], n['inspect_interface'])
                for n in listed}
        self.assertEqual(
            {n.name: (n.uuid, n.resource_class, sorted(n.traits),
                      bool(n.maintenance), n.maintenance, 'available',
                      'fake-hardware', 'agent')
             for n in self.nodes.values()}, seen)
        # the shapes the default fleet promises
        self.assertEqual(('baremetal.gpu-h100', ['CUSTOM_GPU_H100']),
                         seen['bm-h100-1'][1:3])
        self.assertEqual(('baremetal.general', []), seen['bm-l40s-1'][1:3])
        self.assertEqual('GPU 1 uncorrectable ECC errors, RMA 4711',
                         seen['bm-a100-2'][4])

    def test_agent_shaped_inspection_is_in_plugin_data(self):
        inventory = self.ironic.call(
            'GET', '/v1/nodes/bm-h100-1/inventory', expect=200)
        devices = inventory['plugin_data']['pci_devices']
        self.assertEqual(8, len(devices))
        self.assertEqual(self.nodes['bm-h100-1'].devices(), devices)
        self.assertEqual({'vendor_id': '10de', 'product_id': '2330',
                          'class': '030200', 'revision': 'a1',
                          'bus': '0000:18:00.0', 'numa_node_id': 0},
                         devices[0])
        self.assertNotIn('pci_devices', inventory['inventory'])
        # what the agent sent besides: the default hooks kept it
        self.assertEqual('x86_64',
                         inventory['inventory']['cpu']['architecture'])
        self.assertEqual([self.nodes['bm-h100-1'].mac],
                         inventory['plugin_data']['macs'])

    def test_redfish_shaped_inspection_is_in_the_inventory(self):
        inventory = self.ironic.call(
            'GET', '/v1/nodes/bm-h100-2/inventory', expect=200)
        devices = inventory['inventory']['pci_devices']
        self.assertEqual(4, len(devices))
        self.assertEqual(self.nodes['bm-h100-2'].devices(), devices)
        for device in devices:
            self.assertEqual(('0x10DE', '0x2330', 'DisplayController'), (
                device['vendor_id'], device['product_id'], device['class']))
            self.assertNotIn('bus', device)
            self.assertNotIn('numa_node_id', device)
        self.assertNotIn('pci_devices', inventory['plugin_data'])

    def test_each_node_shape_inspected(self):
        def plugin_devices(name):
            return self.ironic.call(
                'GET', '/v1/nodes/%s/inventory' % name,
                expect=200)['plugin_data']['pci_devices']

        self.assertEqual(4 * [('10de', '20b0')], [
            (d['vendor_id'], d['product_id'])
            for d in plugin_devices('bm-a100-1')])
        self.assertEqual([('15b3', '1017', '020000')], [
            (d['vendor_id'], d['product_id'], d['class'])
            for d in plugin_devices('bm-cpu-1')])
        self.assertEqual(2 * [('10de', '26b9')], [
            (d['vendor_id'], d['product_id'])
            for d in plugin_devices('bm-l40s-1')])
        self.assertEqual(2, len(plugin_devices('bm-a100-2')))

    def test_placement_holds_one_provider_per_node(self):
        nova = {'COMPUTE_NODE'} | self.nova_traits()
        for node in self.nodes.values():
            provider = self.provider(node.uuid)   # name = node UUID
            self.assertEqual(node.uuid, provider['uuid'])
            self.assertIsNone(provider['parent_provider_uuid'])
            self.assertEqual(node.uuid, provider['root_provider_uuid'])
            inventories = self.placement(
                'GET', '/resource_providers/%s/inventories'
                % node.uuid)['inventories']
            self.assertEqual([node.placement_class], list(inventories))
            record = inventories[node.placement_class]
            self.assertEqual(
                (1, 1 if node.maintenance else 0, 1, 1.0),
                (record['total'], record['reserved'], record['max_unit'],
                 record['allocation_ratio']), node.name)
            traits = set(self.placement(
                'GET', '/resource_providers/%s/traits'
                % node.uuid)['traits'])
            self.assertTrue(set(node.traits) | nova <= traits,
                            (node.name, traits))
            # no GPU trait the node does not have
            self.assertEqual(set(node.traits),
                             {t for t in traits if t.startswith('CUSTOM_')})
        self.assertEqual(
            'CUSTOM_BAREMETAL_GPU_H100',
            self.nodes['bm-h100-1'].placement_class)

    def test_nova_shows_the_nodes_as_hypervisors_of_ironic_1(self):
        hypervisors = self.sandbox().compute(
            'GET', '/os-hypervisors/detail').json()['hypervisors']
        ironic = {h['hypervisor_hostname']: h for h in hypervisors
                  if h['service']['host'] == baremetal.COMPUTE_HOST}
        self.assertEqual({n.uuid for n in self.nodes.values()}, set(ironic))
        self.assertEqual({'ironic'}, {h['hypervisor_type']
                                      for h in ironic.values()})

    def test_baremetal_flavor_boots_on_a_node_the_trait_names(self):
        flavor = self.create_flavor({
            'resources:CUSTOM_BAREMETAL_GPU_H100': '1',
            'resources:VCPU': '0', 'resources:MEMORY_MB': '0',
            'resources:DISK_GB': '0', 'trait:CUSTOM_GPU_H100': 'required'})
        # last clean-up: the node is available again and Nova has said so
        self.addCleanup(self.node_back_in_placement)
        server = self.boot(flavor)
        self.assertEqual(baremetal.COMPUTE_HOST,
                         server['OS-EXT-SRV-ATTR:host'])
        node_uuid = server['OS-EXT-SRV-ATTR:hypervisor_hostname']
        by_uuid = {n.uuid: n for n in self.nodes.values()}
        self.assertIn(by_uuid[node_uuid].name, H100_NODES)
        self.assertEqual({node_uuid: {'CUSTOM_BAREMETAL_GPU_H100': 1}},
                         self.allocations(server['id']))
        node = self.node(node_uuid)
        self.assertEqual((server['id'], 'active'),
                         (node['instance_uuid'], node['provision_state']))
        # in use: Nova's ironic driver reserves the node's one unit
        self.sandbox().periodic()
        record = self.inventory(node_uuid, 'CUSTOM_BAREMETAL_GPU_H100')
        self.assertEqual((1, 1), (record['total'], record['reserved']))
        usages = self.placement('GET', '/resource_providers/%s/usages'
                                % node_uuid)['usages']
        self.assertEqual({'CUSTOM_BAREMETAL_GPU_H100': 1}, usages)

    def node_back_in_placement(self):
        deadline = time.monotonic() + 60
        while any(n['instance_uuid'] or n['provision_state'] != 'available'
                  for n in self.ironic.call(
                      'GET', '/v1/nodes?fields=instance_uuid,'
                      'provision_state', expect=200)['nodes']):
            self.assertLess(time.monotonic(), deadline,
                            'a node was not available again in 60 s')
            time.sleep(0.5)
        self.sandbox().periodic()

    def test_project_admin_sees_the_nodes_its_project_owns(self):
        """Ironic's policy: a project-scoped admin (the clouds.yaml admin)
        sees the nodes its project owns (the sandbox enrols them so), and
        no other; the system scope or the service role sees them all."""
        sandbox = self.sandbox()
        sess = sandbox.session()
        listed = sess.get(
            sandbox.urls['baremetal'] + '/v1/nodes?fields=name,owner',
            headers={'X-OpenStack-Ironic-API-Version': '1.96'}).json()
        self.assertEqual(set(self.nodes), {n['name'] for n in listed['nodes']})
        self.assertEqual({sess.get_project_id()},
                         {n['owner'] for n in listed['nodes']})
        member = sandbox.session(cloud=client.MEMBER_CLOUD).get(
            sandbox.urls['baremetal'] + '/v1/nodes',
            headers={'X-OpenStack-Ironic-API-Version': '1.96'})
        self.assertEqual([], member.json()['nodes'])
