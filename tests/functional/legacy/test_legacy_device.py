"""gpu device list on the `legacy` fleet: a cloud that never enabled PCI
in Placement (``gpu-sandbox start --fleet legacy``)."""
from gpuclient.v1 import device
from tests.functional import base


class TestDeviceListWithoutPciInPlacement(base.LegacySandboxTestCase):

    def test_one_line_hint_and_the_vgpus_still_listed(self):
        code, out, err = self.run_openstack('gpu', 'device', 'list',
                                            '-f', 'value', '-c', 'Host',
                                            '-c', 'Kind')
        self.assertEqual(0, code, err)
        # and the fleet's unlabelled vGPU hosts' hint, a line each
        self.assertEqual(device.NO_PCI_IN_PLACEMENT, err.splitlines()[0])
        self.assertEqual(2, len(err.splitlines()), err)
        self.assertIn('openstack gpu host label', err.splitlines()[1])
        self.assertIn('report_in_placement = true', err)
        self.assertIn('pci_in_placement = true', err)
        rows = {tuple(line.split()) for line in out.splitlines()}
        # vGPUs are Nova's libvirt providers, Cyborg's GPUs its own: both
        # are in Placement whatever [pci] says.
        self.assertIn(('vgpu-1', 'vgpu'), rows)
        self.assertIn(('vgpu-2', 'vgpu'), rows)
        self.assertIn(('cyborg-1', 'passthrough'), rows)
        self.assertNotIn('gpu-a30-1', {host for host, _ in rows})
