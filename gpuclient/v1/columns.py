"""Column sets, defined once per noun, and the cells that keep structure
for -f json/yaml while reading well in a table."""
from __future__ import annotations

from osc_lib.cli import format_columns
from osc_lib import exceptions


class ListColumn(format_columns.ListColumn):
    def human_readable(self):
        return '\n'.join(str(v) for v in self._value or ())


class DictListColumn(format_columns.ListDictColumn):
    """A list of records: one line each in a table."""

    def human_readable(self):
        return '\n'.join(', '.join('%s=%s' % kv for kv in item.items())
                         for item in self._value or ())


class FailsAfterOutput:
    """For a command whose output still matters when it fails (devices it
    could not change, checks that failed): take_action sets self.failure
    to one line; run() prints the output first, then exits 1 with it."""

    failure: str | None = None

    def run(self, parsed_args):
        self.failure = None
        super().run(parsed_args)
        if self.failure:
            raise exceptions.CommandError(self.failure)
        return 0


def _cell(value):
    if isinstance(value, (list, tuple)):
        if value and isinstance(value[0], dict):
            return DictListColumn(list(value))
        return ListColumn(list(value))
    if isinstance(value, dict):
        return format_columns.DictColumn(value)
    return value


def row(spec, item) -> tuple:
    """One row: spec is ((heading, attribute or key), ...)."""
    get = item.get if isinstance(item, dict) else (
        lambda name: getattr(item, name))
    return tuple(_cell(get(attr)) for _, attr in spec)


def table(spec, items) -> tuple:
    """A Lister's (columns, rows)."""
    return tuple(h for h, _ in spec), [row(spec, i) for i in items]


def record(spec, item) -> tuple:
    """A ShowOne's (columns, values)."""
    return tuple(h for h, _ in spec), row(spec, item)
