"""openstack gpu allocation show | list on the `legacy` fleet: no PCI
device in Placement, passthrough GPUs scheduled by PciPassthroughFilter."""
import json

from tests.functional import base


class TestAllocationWithoutPciInPlacement(base.LegacySandboxTestCase):

    def test_alias_server_is_named_from_its_flavor(self):
        server = self.boot(self.create_flavor(
            {'pci_passthrough:alias': 'a30:1'}))
        shown = self.gpu('allocation', 'show', server['name'])
        [gpu] = shown['GPUs']
        self.assertEqual(
            (server['OS-EXT-SRV-ATTR:host'], None, 'passthrough', 'a30', 1),
            (gpu['host'], gpu['address'], gpu['kind'], gpu['alias'],
             gpu['amount']))
        self.assertIn('address not known to Placement', gpu['note'])
        self.assertEqual(['ok'] * 3, [c['result'] for c in shown['Checks']])
        self.assertIn('the host does not report PCI devices to Placement',
                      shown['Checks'][0]['detail'])

        code, out, err = self.run_openstack(
            'gpu', 'allocation', 'list', '--long', '--server', server['id'],
            '-f', 'json')
        self.assertEqual(0, code, err)
        self.assertIn('not known to Placement', err)
        [row] = json.loads(out)
        self.assertEqual(
            (server['id'], 'gpu-a30-1', None, 'a30', 1),
            (row['Server'], row['Host'], row['Address'], row['Alias'],
             row['Amount']))
