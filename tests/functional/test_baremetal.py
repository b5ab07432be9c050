"""Bare-metal GPU nodes against the sandbox's real Ironic (and Nova's
ironic driver): a row per node with the GPUs its inspection found, a
flavor for a whole node that boots where its trait says, and the
allocation of the server it gets."""
import json
import time

from gpu_sandbox import baremetal as sandbox_baremetal
from tests.functional import base

# The default fleet's nodes: (GPUs, model, state, reason word, traits)
NODES = {
    'bm-h100-1': (8, 'H100', 'free', None, ['CUSTOM_GPU_H100']),
    'bm-a100-1': (4, 'A100', 'free', None, ['CUSTOM_GPU_A100']),
    'bm-l40s-1': (2, 'L40S', 'free', None, []),
    'bm-a100-2': (2, 'A100', 'reserved', 'RMA 4711', ['CUSTOM_GPU_A100']),
    'bm-h100-2': (4, 'H100', 'free', None, ['CUSTOM_GPU_H100']),
}


class BaremetalTestCase(base.CapacityTestCase):

    def setUp(self):
        super().setUp()
        if 'baremetal' not in self.sandbox().urls:
            self.skipTest('needs a sandbox with bare-metal nodes (the '
                          'default fleet on the default release)')

    def nodes(self, *args):
        return {r['Host']: r for r in self.gpu(
            'device', 'list', '--kind', 'baremetal', '--long', *args)}

    def wait_available(self):
        """The nodes back in service, and Nova's view of them refreshed
        (a deleted server's node is cleaned by Ironic first)."""
        ironic = sandbox_baremetal.Ironic(self.sandbox().data)
        deadline = time.monotonic() + 60
        while any(n['instance_uuid'] or n['provision_state'] != 'available'
                  for n in ironic.call(
                      'GET', '/v1/nodes?fields=instance_uuid,'
                      'provision_state', expect=200)['nodes']):
            self.assertLess(time.monotonic(), deadline)
            time.sleep(0.5)
        self.sandbox().periodic()


class TestListing(BaremetalTestCase):

    def test_each_node_shape_with_its_gpus_state_and_traits(self):
        rows = self.nodes()
        self.assertEqual(NODES, {
            host: (r['Total'], r['Model'], r['State'],
                   r['Reason'] and r['Reason'].split(', ')[-1], r['Traits'])
            for host, r in rows.items()})
        self.assertEqual({'baremetal'}, {r['Kind'] for r in rows.values()})
        self.assertEqual('CUSTOM_BAREMETAL_GPU_H100',
                         rows['bm-h100-1']['Resource Class'])
        self.assertIn('maintenance: GPU 1 uncorrectable ECC errors',
                      rows['bm-a100-2']['Reason'])
        # the CPU-only node only with --all-devices
        every = self.nodes('--all-devices')
        self.assertEqual((0, 'no GPU'), (every['bm-cpu-1']['Total'],
                                         every['bm-cpu-1']['Device Type']))

    def test_redfish_shaped_node_reads_like_the_agent_shaped_one(self):
        h100_1 = self.gpu('device', 'show', 'bm-h100-1')
        h100_2 = self.gpu('device', 'show', 'bm-h100-2')
        self.assertEqual(('agent', 8, '10de:2330'), (
            h100_1['Inspection'], len(h100_1['GPU Buses']), h100_1['PCI ID']))
        self.assertEqual(('redfish', [], '10de:2330', 'H100'), (
            h100_2['Inspection'], h100_2['GPU Buses'], h100_2['PCI ID'],
            h100_2['Model']))

    def test_summary_counts_the_nodes_gpus(self):
        summary = {(r['Model'], r['Kind']): r
                   for r in self.gpu('device', 'summary')}
        h100 = summary['H100', 'baremetal']
        self.assertEqual((2, 12, 12), (h100['Devices'], h100['Total'],
                                       h100['Free']))
        a100 = summary['A100', 'baremetal']
        self.assertEqual((2, 6, 2, 4), (a100['Devices'], a100['Total'],
                                        a100['Reserved'], a100['Free']))

    def test_a_node_name_is_a_host(self):
        [row] = self.gpu('device', 'list', '--host', 'bm-a100-1')
        self.assertEqual(('bm-a100-1', 4), (row['Host'], row['Total']))
        self.assertIn('bm-h100-1', {r['Host'] for r in self.gpu(
            'device', 'list', '--trait', 'CUSTOM_GPU_H100')})


class TestFlavor(BaremetalTestCase):

    def test_baremetal_flavor_boots_on_the_node_its_trait_names(self):
        self.addCleanup(self.wait_available)
        name = self.flavor_name()
        flavor = self.gpu('flavor', 'create', name, '--vcpus', 1, '--ram',
                          512, '--disk', 1, '--baremetal',
                          'baremetal.gpu-a100', '--trait', 'CUSTOM_GPU_A100')
        self.assertEqual({'resources:CUSTOM_BAREMETAL_GPU_A100': '1',
                          'resources:VCPU': '0', 'resources:MEMORY_MB': '0',
                          'resources:DISK_GB': '0',
                          'trait:CUSTOM_GPU_A100': 'required'},
                         flavor['Extra Specs'])
        listed = {f['Name']: f for f in self.gpu('flavor', 'list')}
        self.assertIn('1 × bare-metal node of class '
                      'CUSTOM_BAREMETAL_GPU_A100', listed[name]['GPU Request'])
        # bm-a100-2 is in maintenance: one node fits
        self.assertEqual(1, self.capacity(name)['Servers'])
        server = self.boot(name)
        shown = self.gpu('allocation', 'show', server['id'])
        [gpus] = shown['GPUs']
        self.assertEqual(('bm-a100-1', 4, 'A100'),
                         (gpus['host'], gpus['gpus'], gpus['model']))
        self.assertEqual(['ok'], sorted({c['result']
                                         for c in shown['Checks']}))
        [listed] = [r for r in self.gpu('allocation', 'list')
                    if r['Server'] == server['id']]
        # the amount is Placement's: the node's one unit
        self.assertEqual(('bm-a100-1', 'A100', 1), (
            listed['Host'], listed['Model'], listed['Amount']))
        self.sandbox().periodic()
        row = self.nodes()['bm-a100-1']
        self.assertEqual(('in-use', 4, [server['id']]),
                         (row['State'], row['Used'], row['Consumers']))
        self.assertEqual(0, self.capacity(name)['Servers'])

    def test_unknown_class_is_one_line(self):
        line = self.gpu_fails('flavor', 'create', self.flavor_name(),
                              '--vcpus', 1, '--ram', 512, '--disk', 1,
                              '--baremetal', 'baremetal.nope')
        self.assertIn('CUSTOM_BAREMETAL_NOPE', line)


class TestAudit(BaremetalTestCase):

    def findings(self, check):
        code, out, err = self.run_openstack('gpu', 'audit', '--check', check,
                                            '-f', 'json')
        self.assertNotIn('Traceback', err)
        return code, {f['subject']: f for f in json.loads(out or '[]')}

    def test_untagged_and_out_of_service_nodes(self):
        code, found = self.findings('baremetal-untagged')
        self.assertEqual((0, ['bm-l40s-1']), (code, sorted(found)))
        self.assertIn('2 × L40S', found['bm-l40s-1']['detail'])
        code, found = self.findings('baremetal-out-of-service')
        self.assertEqual((1, ['bm-a100-2']), (code, sorted(found)))
        self.assertIn('RMA 4711', found['bm-a100-2']['detail'])

    def test_a_trait_naming_a_model_inspection_did_not_find(self):
        ironic = sandbox_baremetal.Ironic(self.sandbox().data)
        path = '/v1/nodes/bm-h100-2/traits/CUSTOM_GPU_A100'
        ironic.call('PUT', path, expect=204)
        self.addCleanup(ironic.call, 'DELETE', path, expect=204)
        code, found = self.findings('baremetal-model-mismatch')
        self.assertEqual((1, ['bm-h100-2']), (code, sorted(found)))
        self.assertIn('trait CUSTOM_GPU_A100, but inspection found 4 × H100',
                      found['bm-h100-2']['detail'])
