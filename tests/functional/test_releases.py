"""The release a command works against, told by the cloud: `gpu config
check` with credentials asks the sandbox's Nova, and judges the settings a
release lacks by that answer. make test runs this suite on 2026.2 and
2024.1 sandboxes (make test-releases on 2025.2 too)."""
import json
import os

from tests.functional import base

ONE_TIME_USE = os.path.join(base.FIXTURES, 'releases',
                            'one-time-use-h100.conf')
# What gpu-sandbox's Nova of each release answers (its _MAX_API_VERSION).
TOLD = {'2024.1': 'checked against 2024.1 or 2024.2: the cloud\'s compute API '
                  'goes up to 2.96',
        '2025.2': 'checked against 2025.1 or 2025.2: the cloud\'s compute API '
                  'goes up to 2.100',
        '2026.2': 'checked against 2026.2: the cloud\'s compute API goes up '
                  'to 2.104'}


class TestRelease(base.SandboxTestCase):

    def test_config_check_asks_the_cloud_its_release(self):
        release = self.sandbox().release.name
        path = ONE_TIME_USE
        code, out, err = self.run_openstack('gpu', 'config', 'check', path,
                                            '-f', 'value')
        self.assertIn(TOLD[release], err)
        if release == '2024.1':
            self.assertEqual(1, code, err)
            self.assertIn('one_time_use needs 2025.2 or later; this cloud '
                          'runs 2024.1 or 2024.2', out)
            self.assertIn('%s:3' % path, out)
        elif release == '2025.2':   # 2.100 is 2025.1's too: a warning
            self.assertEqual(0, code, err)
            self.assertIn('warning', out)
            self.assertIn('this cloud may run 2025.1 or 2025.2', out)
        else:
            self.assertEqual((0, ''), (code, out), err)
        # --release overrides what the cloud says
        code, out, err = self.run_openstack('gpu', 'config', 'check', path,
                                            '--release', '2026.2')
        self.assertEqual(0, code, out + err)
        self.assertNotIn('checked against', err)

    def test_generate_predicts_what_the_release_writes(self):
        release = self.sandbox().release.name
        code, out, err = self.run_openstack(
            'gpu', 'config', 'generate', '--sysfs',
            os.path.join(base.SYSFS, 'passthrough'), '-c', 'placement',
            '-f', 'json')
        self.assertEqual(0, code, err)
        traits = {t for p in json.loads(out)['placement']
                  for t in p['traits']}
        self.assertIn('COMPUTE_MANAGED_PCI_DEVICE', traits)
        # OWNER_NOVA is Nova 34's (2026.2)
        self.assertEqual(release == '2026.2', 'OWNER_NOVA' in traits)
        # and what the sandbox's Nova of that release really wrote
        a30 = self.provider('gpu-a30-1_0000:81:00.0')['uuid']
        written = set(self.placement(
            'GET', '/resource_providers/%s/traits' % a30)['traits'])
        self.assertEqual(release == '2026.2', 'OWNER_NOVA' in written)
