"""releases: the release told by Nova's compute API maximum, and the
settings each release lacks, as config check and generate report them."""
import os
import shutil
import tempfile

import testtools

from gpuclient.hostconfig import nova_checks
from gpuclient.hostconfig import nova_settings
from gpuclient.hostconfig import novaconf
from gpuclient.hostconfig import sysfs
from gpuclient.model import releases

SYSFS = os.path.join(os.path.dirname(__file__), '..', 'fixtures', 'sysfs')
ONE_TIME_USE = os.path.join(os.path.dirname(__file__), '..', 'fixtures',
                            'releases', 'one-time-use-h100.conf')


class TestFromCompute(testtools.TestCase):

    def test_each_maximum(self):
        self.assertEqual(('2024.1', '2024.2'), releases.from_compute('2.96'))
        self.assertEqual(('2025.1', '2025.2'), releases.from_compute('2.100'))
        self.assertEqual(('2026.1',), releases.from_compute('2.103'))
        self.assertEqual(('2026.2',), releases.from_compute('2.104'))
        # a newer Nova than the table: the newest; an older: none
        self.assertEqual(('2026.2',), releases.from_compute('2.110'))
        self.assertEqual((), releases.from_compute('2.95'))
        # between two maxima (a development Nova): the release before it
        self.assertEqual(('2025.2',), releases.from_compute('2.101'))

    def test_verdicts(self):
        self.assertEqual('no', releases.verdict('one_time_use', ('2024.1',)))
        self.assertEqual('maybe', releases.verdict('one_time_use',
                                                   ('2025.1', '2025.2')))
        self.assertIsNone(releases.verdict('one_time_use', ('2026.2',)))
        self.assertRaises(ValueError, releases.check, '2023.2')


class TestCheck(testtools.TestCase):

    def test_one_time_use_needs_2025_2(self):
        path = ONE_TIME_USE
        conf = novaconf.load([path])
        self.assertEqual([], nova_checks.check(conf))   # the newest
        self.assertEqual([], nova_checks.check(conf, release=('2025.2',)))
        [found] = nova_checks.check(conf, release=('2024.1', '2024.2'))
        self.assertEqual((nova_checks.ERROR, '%s:3' % path),
                         (found.level, found.where))
        self.assertIn('one_time_use needs 2025.2 or later', found.problem)
        self.assertIn('2024.1 or 2024.2', found.problem)
        [found] = nova_checks.check(conf, release=('2025.1', '2025.2'))
        self.assertEqual(nova_checks.WARNING, found.level)

    def test_an_alias_asking_live_migratable_before_2025_1(self):
        # the fixture, with an alias that asks for live_migratable
        directory = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, directory)
        path = os.path.join(directory, 'nova.conf')
        with open(ONE_TIME_USE) as src, open(path, 'w') as f:
            f.write(src.read().replace(
                '"type-PCI"}', '"type-PCI", "live_migratable": "yes"}'))
        conf = novaconf.load([path])
        self.assertEqual([], nova_checks.check(conf, release=('2025.2',)))
        [alias] = [f for f in nova_checks.check(conf, release=('2024.1',))
                   if 'alias' in f.problem]
        self.assertEqual((nova_checks.ERROR, '%s:4' % path),
                         (alias.level, alias.where))
        self.assertIn('needs 2025.1 or later', alias.problem)


class TestGenerate(testtools.TestCase):

    def test_providers_as_the_release_makes_them(self):
        host = sysfs.read(os.path.join(SYSFS, 'passthrough'))
        new = nova_settings.generate(host, live_migratable=True)
        old = nova_settings.generate(host, live_migratable=True,
                                     release='2025.1')
        self.assertTrue(new.placement)
        for provider in new.placement:
            self.assertIn('OWNER_NOVA', provider['traits'])
            self.assertIn('HW_PCI_LIVE_MIGRATABLE', provider['traits'])
        for provider in old.placement:
            self.assertEqual(['COMPUTE_MANAGED_PCI_DEVICE'],
                             provider['traits'])

    def test_a_setting_the_release_lacks_is_refused(self):
        host = sysfs.read(os.path.join(SYSFS, 'passthrough'))
        e = self.assertRaises(ValueError, nova_settings.generate, host,
                              one_time_use=True, release='2024.1')
        self.assertEqual('device_spec one_time_use needs 2025.2 or later; '
                         'this is 2024.1', str(e))
