"""Bounded reads of host files, and what reaches nova.conf text."""
import os
import shutil
import tempfile

import testtools

from gpuclient.hostconfig import files
from gpuclient.hostconfig import nova_settings
from gpuclient.model import pciids


class TestFiles(testtools.TestCase):

    def setUp(self):
        super().setUp()
        self.dir = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, self.dir)

    def file(self, data):
        path = os.path.join(self.dir, 'f')
        with open(path, 'wb') as f:
            f.write(data)
        return path

    def test_a_file_at_the_bound_is_read_and_one_byte_over_is_not(self):
        self.assertEqual('abcd', files.read_text(self.file(b'abcd'), 4))
        e = self.assertRaises(files.FileError, files.read_text,
                              self.file(b'abcde'), 4)
        self.assertIn('is larger than 4 bytes', str(e))

    def test_the_line_of_the_first_byte_that_is_not_utf8(self):
        path = self.file('a\nb\nMüller\n'.encode('latin-1'))
        e = self.assertRaises(files.FileError, files.read_text, path, 100,
                              fix='save it as UTF-8')
        self.assertEqual('%s:3: byte 0xfc is not UTF-8: save it as UTF-8'
                         % path, str(e))

    def test_missing_is_told_apart(self):
        self.assertRaises(files.Missing, files.read_bytes,
                          os.path.join(self.dir, 'nothing'), 10)

    def test_a_directory_is_refused(self):
        e = self.assertRaises(files.FileError, files.read_bytes, self.dir, 10)
        self.assertIn('is a directory, not a regular file', str(e))

    def test_pci_ids_names_with_control_characters_are_left_out(self):
        db = pciids.Database('\n10de  NVIDIA\x1b[2J\n\t2330  H1\x0700\n'
                             '\t20b7  A30\n')
        self.assertIsNone(db.vendor_name('10de'))
        self.assertIsNone(db.device_name('10de', '2330'))
        self.assertEqual('A30', db.device_name('10de', '20b7'))
        self.assertEqual(['A30'], db.device_names('10de'))


class TestIni(testtools.TestCase):

    def test_a_value_with_a_line_break_is_refused(self):
        for setting in (
                nova_settings.Setting('devices', 'enabled_mdev_types',
                                      ['nvidia-11\n[DEFAULT]']),
                nova_settings.Setting('pci\n[DEFAULT]', 'alias', {}),
                nova_settings.Setting('pci', 'alias', {}, 'a\x0bb')):
            self.assertRaises(ValueError, nova_settings.ini, [setting])

    def test_json_values_stay_on_their_line(self):
        text = nova_settings.ini([nova_settings.Setting(
            'pci', 'alias', {'name': 'a\n[DEFAULT]\nx = 1'})])
        self.assertEqual('[pci]\nalias = {"name": "a\\n[DEFAULT]\\nx = 1"}\n',
                         text)
