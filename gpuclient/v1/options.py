"""Argument types shared by every command's parser."""
from __future__ import annotations

from osc_lib import exceptions


def nonempty(option: str, expected: str):
    """An argparse type= for a value that must not be empty: a script
    with an unset variable (--host "$HOST") must fail, not widen the
    command to the whole cloud.

    It raises CommandError rather than ArgumentTypeError: argparse would
    print its usage and exit 2; cliff prints this one line and exits 1.
    """
    def parse(value: str) -> str:
        if not value.strip():
            raise exceptions.CommandError(
                '%s needs %s; it was given an empty value' % (option,
                                                              expected))
        return value.strip()

    parse.__name__ = expected  # argparse names the type in its messages
    return parse


def add_nova_conf(parser, why: str) -> None:
    """--nova-conf FILE (repeatable), for the commands that need what only
    nova.conf knows (an alias's class and traits); `why` ends its help."""
    parser.add_argument('--nova-conf', metavar='<file>', action='append',
                        default=[],
                        type=nonempty('--nova-conf', 'a nova.conf path'),
                        help='a nova.conf, read as Nova reads it (repeat for '
                             'several files): %s' % why)
