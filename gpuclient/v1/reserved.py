"""openstack gpu reserved reset"""
from __future__ import annotations

from osc_lib import exceptions

from gpuclient.access import pool
from gpuclient.model import reserved
from gpuclient.operations import reading
from gpuclient.operations import writes
from gpuclient.v1 import base
from gpuclient.v1 import columns
from gpuclient.v1 import options

RESULT = (('Host', 'host'), ('Address', 'address'),
          ('Resource Class', 'resource_class'),
          ('Reserved Before', 'reserved_before'),
          ('Reserved After', 'reserved_after'), ('Result', 'result'))


class ResetReserved(base.Lister):
    """Return scrubbed one-time-use GPUs to service: reserved back to 0.

    Nova reserves a one-time-use GPU (trait HW_PCI_ONE_TIME_USE) when a
    server claims it, and keeps it reserved after the server is gone until
    an operator has scrubbed it. This sets reserved back to 0 on the
    devices named, or on every one-time-use GPU of a host (--host) or of
    the cloud (--all), changing nothing else in their inventory. A device
    in use is never reset: Nova would not reserve it again when its server
    leaves. Devices that are not one-time-use (reserved by hand to take
    them out of service) are left alone unless --any. --host and --all
    consider GPUs only (not NICs or NVMe drives passed through). GPUs that
    Cyborg manages are never written to, nor a single VF of a VF pool. One
    row per device considered; exits 1 if any device failed.
    """

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument('device', metavar='<device>', nargs='*',
                            type=options.DEVICE,
                            help=options.SELECTOR_HELP + ' (repeat for '
                            'several)')
        parser.add_argument('--host', metavar='<host>', type=options.HOST,
                            help="every one-time-use GPU of this compute "
                                 "host")
        parser.add_argument('--all', action='store_true',
                            help='every one-time-use GPU of the cloud')
        parser.add_argument('--any', action='store_true',
                            help='also reset devices that are not '
                                 'one-time-use')
        parser.add_argument('--dry-run', action='store_true',
                            help='show what would be reset; change nothing')
        return parser

    def take_action(self, args):
        chosen = [bool(args.device), bool(args.host), args.all]
        if not any(chosen):
            raise exceptions.CommandError(
                'name the devices to reset, or give --host <host> or --all')
        if sum(chosen) > 1:
            raise exceptions.CommandError(
                'name devices, --host or --all: one of them, not several')
        cloud = self.app.client_manager.gpu
        if args.device:
            found = writes.find_named(cloud, args.device)
        else:
            found = reserved.candidates(writes.writable(
                reading.load(cloud, args.host),
                '--host %s' % args.host if args.host else '--all'), args.any)
        outcomes = pool.gather(
            lambda d: writes.reset(cloud.placement, d, args.any, args.dry_run),
            found)
        return columns.table(RESULT, outcomes,
                             failure=reserved.failure_summary(outcomes))
