"""openstack gpu flavor capacity against the sandbox: the figure printed is
the number of servers that then boot, and the next one gets NoValidHost."""
import json
import uuid

from tests.functional import base

VGPU_HOST = 'vgpu-1'


class TestCapacity(base.CapacityTestCase):

    def test_a30_servers_that_fit_boot_and_the_next_does_not(self):
        flavor = self.create_flavor({'pci_passthrough:alias': 'a30:1'})
        row = self.capacity(flavor, '--nova-conf', self.nova_conf())
        self.assertEqual(['GPUs'], row['Limited By'])  # a small flavor
        self.assertGreater(row['Servers'], 0)
        by_host = self.gpu('flavor', 'capacity', flavor, '--by', 'host',
                           '--nova-conf', self.nova_conf())
        self.assertEqual([('gpu-a30-1', row['Servers'])],
                         [(r['Host'], r['Servers']) for r in by_host])
        self.boot_all(flavor, row['Servers'])
        self.assertEqual(0, self.capacity(
            flavor, '--nova-conf', self.nova_conf())['Servers'])

    def test_vgpu_flavor_with_a_trait(self):
        trait = 'CUSTOM_CAPACITY_%s' % uuid.uuid4().hex[:8].upper()
        # disk for two servers on the vGPU host, so that two boots prove it
        # (not RAM or vCPUs: the project's quota would refuse them first)
        flavor = self.create_flavor(
            {'resources:VGPU': '1', 'trait:%s' % trait: 'required'},
            disk=self.free(VGPU_HOST, 'DISK_GB') // 2)
        self.placement('PUT', '/traits/%s' % trait)
        self.addCleanup(self.placement, 'DELETE', '/traits/%s' % trait)
        row = self.capacity(flavor)
        self.assertEqual((0, ['trait %s' % trait]),
                         (row['Servers'], row['Limited By']))
        gpus = [p['name'] for p in self.placement(
            'GET', '/resource_providers', params={
                'in_tree': self.provider(VGPU_HOST)['uuid'],
                'resources': 'VGPU:1'})['resource_providers']]
        self.assertTrue(gpus)
        for name in gpus:   # tagged here, untagged at the end
            uuid_ = self.provider(name)['uuid']
            self.change_traits(uuid_, lambda traits: traits | {trait})
            self.addCleanup(self.change_traits, uuid_,
                            lambda traits: traits - {trait})
        row = self.capacity(flavor)
        self.assertEqual((2, ['DISK_GB']),
                         (row['Servers'], row['Limited By']))
        self.boot_all(flavor, row['Servers'])

    def test_two_gpu_a100_flavor_and_a_class_learned_from_a_server(self):
        flavor = self.create_flavor({'pci_passthrough:alias': 'a100:2'})
        code, out, err = self.run_openstack('gpu', 'flavor', 'capacity',
                                            flavor, '-f', 'json')
        self.assertEqual(0, code, err)
        self.assertEqual([None], [r['Servers'] for r in json.loads(out)])
        self.assertIn('the resource class of alias a100 is unknown', err)
        self.assertIn('--nova-conf', err)
        conf = self.nova_conf()
        servers = self.capacity(flavor, '--nova-conf', conf)['Servers']
        self.assertGreater(servers, 0)
        first = self.boot(flavor)
        # the alias's class is now read off the server holding two A100s
        code, out, err = self.run_openstack('gpu', 'flavor', 'capacity',
                                            flavor, '-f', 'json')
        self.assertEqual(0, code, err)
        self.assertIn('learned from server %s' % first['name'], err)
        self.assertEqual([servers - 1],
                         [r['Servers'] for r in json.loads(out)])
        self.boot_all(flavor, servers - 1)

    def test_every_gpu_flavor_by_default(self):
        gpu = self.create_flavor({'pci_passthrough:alias': 'h100:1'})
        plain = self.create_flavor({})
        names = [r['Flavor'] for r in self.gpu(
            'flavor', 'capacity', '--nova-conf', self.nova_conf())]
        self.assertIn(gpu, names)
        self.assertNotIn(plain, names)

    def test_bad_input(self):
        plain = self.create_flavor({})
        self.assertIn('no flavor named', self.gpu_fails(
            'flavor', 'capacity', 'no-such-flavor'))
        self.assertIn('asks for no GPU', self.gpu_fails(
            'flavor', 'capacity', plain))
        self.assertIn('/nonexistent/nova.conf', self.gpu_fails(
            'flavor', 'capacity', '--nova-conf', '/nonexistent/nova.conf'))

    def test_vf_pool_gives_one_server_several_vfs(self):
        # mi25-vf:2 asks for two VFs; the pool counts four on one provider
        flavor = self.create_flavor({'pci_passthrough:alias': 'mi25-vf:2'})
        row, = self.gpu('flavor', 'capacity', flavor, '--by', 'host',
                        '--nova-conf', self.nova_conf())
        self.assertEqual(('gpu-sriov-1', 2, ['GPUs']),
                         (row['Host'], row['Servers'], row['Limited By']))
        self.boot_all(flavor, row['Servers'])

    def test_host_named_by_its_service_host_and_read_by_its_fqdn(self):
        # gpu-l40s-1's Placement root is gpu-l40s-1.dc1.example.org
        flavor = self.create_flavor({'pci_passthrough:alias': 'l40s:1'})
        rows = self.gpu('flavor', 'capacity', flavor, '--by', 'host',
                        '--host', 'gpu-l40s-1', '--nova-conf',
                        self.nova_conf())
        self.assertEqual([('gpu-l40s-1', 2)],
                         [(r['Host'], r['Servers']) for r in rows])
        self.boot_all(flavor, 2)
