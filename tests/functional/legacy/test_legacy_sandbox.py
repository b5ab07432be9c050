"""The `legacy` fleet: the same hosts on a cloud that never enabled PCI in
Placement, so passthrough GPUs are scheduled by PciPassthroughFilter alone.

``make test`` runs this package against a second sandbox started with
``gpu-sandbox start --fleet legacy`` once the default one is stopped.
"""
import os


from tests.functional import base


class TestLegacyFleet(base.LegacySandboxTestCase):

    def test_no_pci_device_in_placement_but_vgpus_and_cyborg(self):
        providers = self.placement('GET', '/resource_providers', params={
            'required': 'COMPUTE_MANAGED_PCI_DEVICE'})['resource_providers']
        self.assertEqual([], providers)
        self.assertEqual(16, self.inventory('vgpu-1_pci_0000_84_00_0',
                                            'VGPU')['total'])
        self.assertEqual(1, self.inventory('cyborg-1_0000:af:00.0',
                                           'PGPU')['total'])
        self.provider('gpu-l40s-1.dc1.example.org:Open vSwitch agent:br-ex')

    def test_a30_server_is_scheduled_by_the_pci_filter(self):
        server = self.boot(self.create_flavor(
            {'pci_passthrough:alias': 'a30:1'}))
        self.assertEqual('gpu-a30-1',
                         server['OS-EXT-SRV-ATTR:host'])
        # Placement holds only the compute node's resources
        self.assertEqual(['gpu-a30-1'],
                         list(self.allocations(server['id'])))

    def test_more_a30s_than_a_host_has_get_no_valid_host(self):
        server = self.boot(self.create_flavor(
            {'pci_passthrough:alias': 'a30:3'}), status='ERROR')
        self.assertIn('No valid host', server['fault']['message'])

    def test_nova_conf_dump_says_pci_is_not_in_placement(self):
        conf_dir = self.sandbox().state.nova_conf_dir
        with open(os.path.join(conf_dir, 'controller.conf')) as f:
            self.assertIn('pci_in_placement = false', f.read())
        with open(os.path.join(conf_dir, 'compute-gpu-a30-1.conf')) as f:
            self.assertIn('report_in_placement = false', f.read())
