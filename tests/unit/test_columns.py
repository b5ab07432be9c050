"""Cells in every output format, through cliff's own formatters."""
import argparse
import io
import json

from cliff.formatters import commaseparated
from cliff.formatters import json_format
from cliff.formatters import shell
from cliff.formatters import table
from cliff.formatters import value
from cliff.formatters import yaml_format
from osc_lib import exceptions
import testtools
import yaml

from gpuclient.v1 import columns
from gpuclient.v1 import options

SPEC = (('Traits', 'traits'), ('Inventory', 'inventory'),
        ('Consumers', 'consumers'), ('PCI ID', 'pci_id'), ('Total', 'total'))
ITEM = {'traits': ['OWNER_NOVA', 'COMPUTE_MANAGED_PCI_DEVICE'],
        'inventory': {'total': 16, 'reserved': 0},
        'consumers': [{'id': 'c1', 'project': 'p1'}],
        'pci_id': None, 'total': 16}


def emit(formatter, spec=SPEC, item=ITEM, **args):
    """What a Lister prints with this formatter (cliff's real code)."""
    names, rows = columns.table(spec, [item])
    parsed = argparse.Namespace(
        quote_mode='nonnumeric', noindent=True, variables=[], prefix='',
        max_width=0, fit_width=False, print_empty=False, sort_columns=True,
        **args)
    out = io.StringIO()
    formatter.emit_list(names, rows, out, parsed)
    return out.getvalue()


class TestFormats(testtools.TestCase):

    def test_value_has_no_reprs(self):
        out = emit(value.ValueFormatter())
        self.assertEqual('OWNER_NOVA,COMPUTE_MANAGED_PCI_DEVICE '
                         'total=16,reserved=0 '
                         '[{"id":"c1","project":"p1"}]  16\n', out)
        self.assertNotIn('None', out)
        self.assertNotIn("'", out)

    def test_csv(self):
        out = emit(commaseparated.CSVLister())
        self.assertIn('"OWNER_NOVA,COMPUTE_MANAGED_PCI_DEVICE",'
                      '"total=16,reserved=0"', out)
        self.assertNotIn('None', out)

    def test_shell(self):
        names, row = columns.record(SPEC, ITEM)
        out = io.StringIO()
        shell.ShellFormatter().emit_one(names, row, out, argparse.Namespace(
            variables=[], prefix=''))
        self.assertIn('traits="OWNER_NOVA,COMPUTE_MANAGED_PCI_DEVICE"\n',
                      out.getvalue())
        self.assertIn('pci_id=""\n', out.getvalue())

    def test_json_keeps_structure_and_null(self):
        [row] = json.loads(emit(json_format.JSONFormatter()))
        self.assertEqual(ITEM['traits'], row['Traits'])
        self.assertEqual(ITEM['inventory'], row['Inventory'])
        self.assertEqual(ITEM['consumers'], row['Consumers'])
        self.assertIsNone(row['PCI ID'])

    def test_yaml_keeps_structure_and_null(self):
        [row] = yaml.safe_load(emit(yaml_format.YAMLFormatter()))
        self.assertEqual(ITEM['inventory'], row['Inventory'])
        self.assertIsNone(row['PCI ID'])

    def test_table_shows_none_as_empty(self):
        out = emit(table.TableFormatter())
        self.assertNotIn('None', out)
        self.assertIn('OWNER_NOVA', out)

    def test_as_text(self):
        self.assertEqual('', columns.as_text(None))
        self.assertEqual('', columns.as_text([]))
        self.assertEqual('a,b', columns.as_text(('a', 'b')))
        self.assertEqual('x=,y=1', columns.as_text({'x': None, 'y': 1}))
        self.assertEqual('{"A":{"total":1}}',
                         columns.as_text({'A': {'total': 1}}))


class TestNonEmpty(testtools.TestCase):

    def test_refuses_empty_and_blank_in_one_line(self):
        parse = options.nonempty('--host', 'a compute host name')
        for bad in ('', '   '):
            e = self.assertRaises(exceptions.CommandError, parse, bad)
            self.assertEqual('--host needs a compute host name; it was '
                             'given an empty value', str(e))

    def test_keeps_a_value(self):
        self.assertEqual('gpu-a30-1', options.nonempty('--host', 'a host')(
            ' gpu-a30-1 '))

    def test_argparse_lets_the_error_through(self):
        parser = argparse.ArgumentParser()
        parser.add_argument('--host', type=options.nonempty('--host', 'a '
                                                            'host'))
        self.assertRaises(exceptions.CommandError, parser.parse_args,
                          ['--host', ''])
