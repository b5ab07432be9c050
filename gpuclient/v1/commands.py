"""openstack gpu: what the plugin's commands are and what each does.

cliff's own help lists a command group's names only; this command
answers `openstack gpu --help`, `openstack help gpu` and a bare
`openstack gpu device` with each command's one-line description.
"""
from __future__ import annotations

import argparse

from osc_lib import exceptions

from gpuclient.v1 import base


class Commands(base.Command):
    """List the openstack gpu commands and what each does."""

    auth_required = False  # reads no cloud

    def commands(self, words=()) -> list[tuple[str, str]]:
        """(name, first docstring line) of each gpu command under words."""
        prefix = ' '.join(('gpu',) + tuple(words)) + ' '
        found = []
        for name, entry_point in self.app.command_manager:
            if name.startswith(prefix):
                doc = (entry_point.load().__doc__ or '').strip()
                found.append((name, doc.splitlines()[0] if doc else ''))
        return sorted(found)

    def listing(self, words=()) -> str:
        found = self.commands(words)
        width = max((len(name) for name, _ in found), default=0)
        return '\n'.join('  openstack %-*s  %s' % (width, name, doc)
                         for name, doc in found)

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.formatter_class = argparse.RawDescriptionHelpFormatter
        parser.description = '%s\n\n%s\n\n%s' % (
            self.__doc__.splitlines()[0], self.listing(),
            'Help on one: openstack help gpu device list (or openstack gpu '
            'device list --help).')
        parser.add_argument('words', metavar='<word>', nargs='*',
                            help='only the commands that start with these '
                            'words, e.g. "device"')
        return parser

    def take_action(self, args):
        if not self.commands(args.words):
            raise exceptions.CommandError(
                'no command "openstack gpu %s"; see openstack gpu --help'
                % ' '.join(args.words))
        self.app.stdout.write(self.listing(args.words) + '\n')
        return 0
