"""The bases of every command: osc-lib's (each command logs its run as
OSC's own do), each run with a request pool and progress count of its
own (pool.for_command), so nothing carries over from one command to the
next in OSC's interactive shell."""
from __future__ import annotations

from osc_lib.command import command

from gpuclient.access import pool
from gpuclient.v1 import columns


class _OwnPool:
    def run(self, parsed_args):
        with pool.for_command():
            return super().run(parsed_args)


class Command(_OwnPool, command.Command):
    pass


class Lister(_OwnPool, columns.ShowsVerdict, command.Lister):
    pass


class ShowOne(_OwnPool, columns.ShowsVerdict, command.ShowOne):
    pass
