"""gpu flavor capacity on the `legacy` fleet: PCI devices are not in
Placement, so passthrough capacity cannot be read there, and says why."""
import json
import os

from tests.functional import base


class TestCapacityWithoutPciInPlacement(
        base.LegacySandboxTestCase):

    def test_passthrough_flavor_says_why_and_vgpus_still_count(self):
        a30 = self.create_flavor({'pci_passthrough:alias': 'a30:1'})
        vgpu = self.create_flavor({'resources:VGPU': '1'})
        conf = os.path.join(self.sandbox().state.nova_conf_dir,
                            'compute-gpu-a30-1.conf')
        code, out, err = self.run_openstack(
            'gpu', 'flavor', 'capacity', a30, vgpu, '--nova-conf', conf,
            '-f', 'json')
        self.assertEqual(0, code, err)
        rows = {r['Flavor']: (r['Servers'], r['Limited By'])
                for r in json.loads(out)}
        self.assertEqual((0, ['no matching GPU']), rows[a30])
        self.assertGreater(rows[vgpu][0], 0)
        self.assertEqual(['%s: no host has a CUSTOM_PCI_10DE_20B7 device in '
                          'Placement (Nova puts PCI devices there only with '
                          '[pci] report_in_placement)' % a30],
                         err.splitlines())
