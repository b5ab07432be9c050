"""openstack gpu audit"""
from __future__ import annotations

from gpuclient.access import http
from gpuclient.operations import reading
from gpuclient.v1 import base
from gpuclient.v1 import columns
from gpuclient.v1 import options

FINDING = (('severity', 'severity'), ('check', 'check'),
           ('subject', 'subject'), ('detail', 'detail'), ('fix', 'fix'))
CHECK_LIST = (('check', 'name'), ('why', 'why'))
# Exit statuses, as a Nagios/Icinga check reads them: 0 OK (clean), 1
# WARNING (findings), 2 bad usage (as argparse's), 3 UNKNOWN (could not
# audit: a service unreachable, timing out or refusing), so a monitoring
# check tells a broken cloud from a broken probe.
USAGE = 2
CANNOT_AUDIT = 3


class UsageError(Exception):
    pass


class Audit(base.Lister):
    """Audit the GPU estate: every fault found, each with its fix.

    Reads Placement and Nova once and reports one row per finding:
    severity (error, warning, info), check, subject (a device HOST:ADDRESS,
    a server, a flavor or a host), what is wrong, and the command that
    fixes or inspects it. Exit status, as a Nagios/Icinga check reads it:
    0 when no finding is a warning or worse (OK), 1 otherwise (WARNING), 2
    for bad usage (an unknown check or host, an empty --host, an unreadable
    nova.conf), 3 when the audit could not run (UNKNOWN: Placement or Nova
    unreachable, timing out or refusing the request). --list-checks names
    the checks and why each matters.
    """

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument('--host', metavar='<host>',
                            help='only this compute host (flavor checks, '
                                 'which need the whole cloud, are skipped)')
        parser.add_argument('--check', metavar='<check>', action='append',
                            default=[], help='run only this check (repeat '
                            'for several; see --list-checks)')
        options.add_nova_conf(parser, 'flavors and device traits are '
                              'checked against it')
        parser.add_argument('--list-checks', action='store_true',
                            help='list the checks and why each matters')
        return parser

    def run(self, parsed_args):
        try:
            return super().run(parsed_args)
        except UsageError as e:
            self.app.stderr.write('%s\n' % e)
            return USAGE
        except http.CloudError as e:
            self.app.stderr.write('could not audit: %s\n' % e)
            return CANNOT_AUDIT

    def take_action(self, args):
        from gpuclient.model import audit

        if args.list_checks:
            return columns.table(CHECK_LIST, audit.CHECKS.values())
        try:
            names = audit.select(args.check) or list(audit.CHECKS)
        except audit.UnknownCheck as e:
            raise UsageError(e)
        nova_conf = None
        if args.nova_conf:
            from gpuclient.hostconfig import novaconf

            try:
                nova_conf = novaconf.load(args.nova_conf)
            except novaconf.ConfigError as e:
                raise UsageError(e)
        try:
            # An empty --host is refused there, never read as the cloud.
            estate = reading.read_estate(self.app.client_manager.gpu,
                                         args.host, nova_conf)
        except reading.NoSuchHost as e:
            raise UsageError(e)
        findings = audit.run(estate, names)
        failing = audit.failing(findings)
        return columns.table(
            FINDING, findings,
            note=None if findings else 'no problems found by %d checks'
            % len(names),
            failure=failing and '%d of %d findings are warnings or errors'
            % (len(failing), len(findings)))
