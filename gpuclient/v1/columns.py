"""Column sets, defined once per noun, and the cells that keep structure
for -f json/yaml while reading well in a table and in -f value/csv/shell.

In -f value, csv and shell a list is its items joined by commas
(OWNER_NOVA,COMPUTE_MANAGED_PCI_DEVICE), a record is key=value pairs
joined by commas (total=16,reserved=0), anything nested deeper (a list of
records) is compact JSON, and a missing value (None) is empty. Tables show
a list one item per line and None as an empty cell; json and yaml keep the
structure and null.
"""
from __future__ import annotations

import json
import sys

from cliff import columns
from osc_lib.cli import format_columns
from osc_lib import exceptions

# cliff's value, csv and shell formatters print str(machine_readable());
# its json and yaml formatters serialise machine_readable(). Only the
# caller tells them apart, so a cell asks who called it.
_TEXT_FORMATTERS = frozenset(('cliff.formatters.value',
                              'cliff.formatters.commaseparated',
                              'cliff.formatters.shell'))


def _for_text() -> bool:
    """Called from a cell's machine_readable(): is its caller a text
    formatter?"""
    return sys._getframe(2).f_globals.get('__name__') in _TEXT_FORMATTERS


def _scalar(value) -> bool:
    return not isinstance(value, (list, tuple, dict))


def as_text(value) -> str:
    """A cell's value in -f value/csv/shell (see the module docstring)."""
    if value is None:
        return ''
    if isinstance(value, (list, tuple)) and all(map(_scalar, value)):
        return ','.join(as_text(v) for v in value)
    if isinstance(value, dict) and all(map(_scalar, value.values())):
        return ','.join('%s=%s' % (k, as_text(v)) for k, v in value.items())
    if _scalar(value):
        return str(value)
    return json.dumps(value, separators=(',', ':'), default=str)


class _Text:
    """Mixin: text in -f value/csv/shell, the structure in json/yaml."""

    def machine_readable(self):
        return as_text(self._value) if _for_text() else self._value


class ListColumn(_Text, format_columns.ListColumn):
    def human_readable(self):
        return '\n'.join(str(v) for v in self._value or ())


class DictColumn(_Text, format_columns.DictColumn):
    pass


class DictListColumn(_Text, format_columns.ListDictColumn):
    """A list of records: one line each in a table."""

    def human_readable(self):
        return '\n'.join(', '.join('%s=%s' % (k, as_text(v))
                                   for k, v in item.items())
                         for item in self._value or ())


class EmptyColumn(_Text, columns.FormattableColumn):
    """None: an empty cell, null in json and yaml."""

    def human_readable(self):
        return ''


class Rows(list):
    """A Lister's rows, or (Values) a ShowOne's values, with what the
    command says once they are shown: `note`, a line on stderr; `failure`,
    the one line of an exit 1; `instead`, a line that replaces a table
    that would say less. The command's verdict travels with its output,
    not on the command object (base.Lister and base.ShowOne show it)."""

    def __init__(self, rows=(), note=None, failure=None, instead=None):
        super().__init__(rows)
        self.note, self.failure, self.instead = note, failure, instead


class Values(tuple):
    def __new__(cls, values=(), note=None, failure=None, instead=None):
        self = super().__new__(cls, values)
        self.note, self.failure, self.instead = note, failure, instead
        return self


class ShowsVerdict:
    """The output first (it still matters when the command fails: devices
    it could not change, checks that failed), then its note on stderr,
    then its failure line with exit 1."""

    def produce_output(self, parsed_args, column_names, data):
        if data.instead and parsed_args.formatter == 'table':
            self.app.stdout.write(data.instead + '\n')
        else:
            super().produce_output(parsed_args, column_names, data)
        if data.note:
            self.app.stderr.write(data.note + '\n')
        if data.failure:
            raise exceptions.CommandError(data.failure)
        return 0


def _cell(value):
    if value is None:
        return EmptyColumn(None)
    if isinstance(value, (list, tuple)):
        if value and isinstance(value[0], dict):
            return DictListColumn(list(value))
        return ListColumn(list(value))
    if isinstance(value, dict):
        return DictColumn(value)
    return value


def row(spec, item, **extra) -> tuple:
    """One row: spec is ((heading, attribute or key), ...); `extra` gives
    the cells the item does not hold (the item is never changed)."""
    get = item.get if isinstance(item, dict) else (
        lambda name: getattr(item, name))
    return tuple(_cell(extra[attr] if attr in extra else get(attr))
                 for _, attr in spec)


def table(spec, items, empty=None, **verdict) -> tuple:
    """A Lister's (columns, rows); `verdict` as Rows takes it. `empty`:
    the note when there are no rows, saying what was looked for (an empty
    table is otherwise no output at all)."""
    rows = [row(spec, i) for i in items]
    if not rows and empty and not verdict.get('note'):
        verdict['note'] = empty
    return tuple(h for h, _ in spec), Rows(rows, **verdict)


def record(spec, item, verdict=None, **extra) -> tuple:
    """A ShowOne's (columns, values); `verdict` as Values takes it."""
    return tuple(h for h, _ in spec), Values(row(spec, item, **extra),
                                             **(verdict or {}))
