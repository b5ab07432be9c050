"""What ``openstack gpu config generate`` says Placement will show is what
real Nova shows: the command's nova.conf text, unedited, is the nova.conf
of a rehearsal of the same hardware, and the providers under the
rehearsal's compute node are exactly the predicted ones (names, classes,
totals, traits). The iommu-off fixture is left out: no VM can get its GPU
whatever nova.conf says (generate warns so), so it has no settings to
prove."""
import collections
import json
import os
import shutil
import tempfile

import testtools

from gpuclient.hostconfig import nova_settings
from gpu_sandbox import client
from gpu_sandbox import rehearsal
from tests.functional import base


class TestGeneratedSettingsInNova(testtools.TestCase):

    def openstack(self, *args):
        """The real command, with no cloud."""
        return base.openstack_without_cloud(self.home, 'gpu', 'config',
                                            *args)

    def sandbox_cli(self, state, *args):
        return base.sandbox_cli(state, *args)

    def setUp(self):
        super().setUp()
        self.home = tempfile.mkdtemp(prefix='gpu-rehearsal-')
        self.addCleanup(shutil.rmtree, self.home, True)

    def generate(self, sysfs, *options):
        """(nova.conf text as printed, the predicted providers)."""
        code, text, err = self.openstack('generate', '--sysfs', sysfs,
                                         *options)
        self.assertEqual(0, code, err)
        code, out, err = self.openstack('generate', '--sysfs', sysfs,
                                        '-f', 'json', *options)
        self.assertEqual(0, code, err)
        return text, json.loads(out)['placement']

    def shown(self, state):
        """{name: (class, total, traits)} of the providers Nova made under
        the rehearsal's compute node."""
        sandbox = client.Sandbox(state)
        sess, base = sandbox.session(), sandbox.urls['placement']

        def get(path):
            return sess.get(base + path, microversion='1.14',
                            microversion_service_type='placement').json()

        providers = get('/resource_providers')['resource_providers']
        [root] = [p for p in providers if p['parent_provider_uuid'] is None]
        self.assertEqual(rehearsal.HOST, root['name'])
        found = {}
        for p in providers:
            if p is root:
                continue
            [(rc, inventory)] = get('/resource_providers/%s/inventories'
                                    % p['uuid'])['inventories'].items()
            traits = get('/resource_providers/%s/traits' % p['uuid'])[
                'traits']
            found[p['name']] = (rc, inventory['total'], set(traits))
        return found

    def assert_rehearsal_shows_prediction(self, fixture, *options):
        sysfs = os.path.join(base.SYSFS, fixture)
        text, predicted = self.generate(sysfs, *options)
        self.assertNotEqual([], predicted)
        conf = os.path.join(self.home, 'nova.conf')
        with open(conf, 'w') as f:
            f.write(text)   # compute and controller blocks, as printed
        state = os.path.join(self.home, 'state')
        self.addCleanup(self.sandbox_cli, state, 'stop')
        started = self.sandbox_cli(state, 'start', '--sysfs', sysfs,
                                   '--nova-conf', conf)
        self.assertEqual(0, started.returncode, started.stderr)
        self.assertEqual(
            {p['provider'].replace(nova_settings.ROOT, rehearsal.HOST): (
                p['resource_class'], p['total'], set(p['traits']))
             for p in predicted},
            self.shown(state))
        return predicted

    def test_passthrough_host_with_classes_and_traits(self):
        # (not --live-migratable: the sandbox's libvirt is Nova's minimum,
        # older than the libvirt 10.0.0 / QEMU 8.2.2 Nova needs for it)
        predicted = self.assert_rehearsal_shows_prediction(
            'passthrough', '--one-time-use',
            '--resource-class', '10de:2204=CUSTOM_RTX_3090',
            '--trait', '10de:20b7=nvlink')
        self.assertEqual({'CUSTOM_RTX_3090': 1, 'CUSTOM_PCI_10DE_20B7': 3},
                         collections.Counter(p['resource_class']
                                             for p in predicted))
        self.assertEqual(4, sum('HW_PCI_ONE_TIME_USE' in p['traits']
                                for p in predicted))

    def test_sriov_host_vf_pool(self):
        predicted = self.assert_rehearsal_shows_prediction('sriov')
        self.assertEqual([4], [p['total'] for p in predicted])

    def test_vgpu_host_with_two_mdev_types(self):
        predicted = self.assert_rehearsal_shows_prediction(
            'vgpu', '--mdev-type', 'nvidia-11', '--mdev-type', 'nvidia-12')
        self.assertEqual(2, len(predicted))

    def test_variant_driver_host(self):
        # the sandbox's variant-driver L40S host as its sysfs copy
        from gpu_sandbox import fleet
        from gpu_sandbox import hardware

        sysfs = os.path.join(self.home, 'sys')
        hardware.write_sysfs(sysfs, hardware.fleet_functions(
            fleet.load().host('vgpu-l40s-1')))
        predicted = self.assert_rehearsal_shows_prediction(sysfs)
        self.assertEqual({'CUSTOM_VGPU_L40S_12Q': 4,
                          'CUSTOM_VGPU_L40S_24Q': 2},
                         {p['resource_class']: p['total']
                          for p in predicted})
