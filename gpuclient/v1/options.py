"""Argument types shared by every command's parser."""
from __future__ import annotations

from osc_lib import exceptions

SELECTOR_HELP = ('a device: provider UUID, provider name '
                 '(gpu-a30-1_0000:81:00.0) or HOST:ADDRESS '
                 '(gpu-a30-1:0000:81:00.0, or gpu-a30-1:81:00.0); HOST is '
                 'the service host or the hypervisor hostname; a VF\'s '
                 'address finds its pool')


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


def add_host_option(parser):
    parser.add_argument('--host', metavar='<host>',
                        type=nonempty('--host', 'a compute host name'),
                        help='only this compute host: its service host or '
                             'hypervisor hostname, any case (reads only its '
                             'tree)')


def add_all_devices_option(parser):
    parser.add_argument('--all-devices', action='store_true',
                        help='every PCI device Nova or Cyborg manages, not '
                             'only GPUs (NICs, NVMe drives, GPU audio '
                             'functions...), each with its device type')


DEVICE = nonempty('<device>', SELECTOR_HELP)
HOST = nonempty('--host', 'a compute host name')


def given(args, *names) -> str:
    """The options among NAMES given, as typed ('--host h1 --state free'):
    what an empty listing says it looked for."""
    found = []
    for name in names:
        value = getattr(args, name, None)
        for item in value if isinstance(value, list) else [value]:
            if item:
                found.append('--%s %s' % (name.replace('_', '-'), item))
    return ' '.join(found)
