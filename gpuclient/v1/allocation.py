"""openstack gpu allocation show | list"""
from __future__ import annotations

import re

from osc_lib import exceptions

from gpuclient.access import http
from gpuclient.access import pool
from gpuclient.model import allocations
from gpuclient.model import devices
from gpuclient.model import flavors
from gpuclient.operations import reading
from gpuclient.operations import servers as server_ops
from gpuclient.v1 import base
from gpuclient.v1 import columns
from gpuclient.v1 import options

SHOW = (('Server', 'id'), ('Name', 'name'), ('Status', 'status'),
        ('Host', 'host'), ('Project', 'project'), ('Flavor', 'flavor'),
        ('GPU Request', 'request'), ('GPUs', 'gpus'), ('Checks', 'checks'))
# The columns read first; the rest under --long (a 120-column table).
LIST = (('Server', 'server'), ('Name', 'name'), ('Status', 'status'),
        ('Host', 'host'), ('Address', 'address'), ('Model', 'model'),
        ('Amount', 'amount'))
LIST_LONG = LIST + (('Project', 'project'),
                    ('Resource Class', 'resource_class'), ('Kind', 'kind'),
                    ('Provider', 'provider'), ('Consumer', 'consumer'),
                    ('Alias', 'alias'), ('Note', 'note'))
SERVER = options.nonempty('<server>', 'a server name or UUID')
PROJECT = options.nonempty('--project', 'a project name or ID')
# Keystone's project IDs: 32 hex digits.
_PROJECT_ID = re.compile(r'^[0-9a-f]{32}$', re.I)


def project_id(app, text: str) -> str:
    """A project's ID from its name or ID."""
    from openstackclient.identity import common as identity_common

    try:
        return identity_common.find_project(
            app.client_manager.identity, text).id
    except exceptions.CommandError:
        # A deleted project's leaked allocations still carry its ID.
        if _PROJECT_ID.match(text):
            return text.lower()
        raise


class ShowAllocation(base.ShowOne):
    """Show which GPUs a server holds, and check them against its flavor.

    For each GPU the server holds in Placement: host, PCI address, kind,
    resource class, model, amount and provider. Checks: the allocation
    matches what the flavor asks for (count and class; a passthrough class
    asked through resources: without an alias is flagged, as Nova attaches
    no device then), the GPUs sit under the server's compute host, the
    server is ACTIVE. Hosts are Nova's service hosts (a GPU record adds the
    hypervisor hostname where it differs). A VF pool is named with its
    size: the server holds VFs of it, and Placement does not record which.
    On a host that does not report PCI devices to Placement, the flavor's
    aliases name the passthrough GPUs (alias and count, no address), and
    the flavor check does not count them. --project narrows a name.

    The record is printed either way; any failed check then makes the
    command exit 1 with a one-line summary on stderr. A server with no GPU
    whose flavor asks for none exits 0 with one line saying so (with -f
    other than table: its record, GPUs empty).
    """

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument('server', metavar='<server>', type=SERVER,
                            help='server name or UUID')
        parser.add_argument('--project', metavar='<project>', type=PROJECT,
                            help="only this project's servers (name or ID): "
                                 'tells apart servers of one name')
        return parser

    def take_action(self, args):
        cloud = self.app.client_manager.gpu
        project = args.project and project_id(self.app, args.project)
        try:
            server = server_ops.find_server(cloud, args.server, project)
        except exceptions.CommandError:
            if devices.is_uuid(args.server) and self._held_anyway(
                    cloud, args.server):
                raise exceptions.CommandError(
                    'no server %s in Nova, but Placement holds allocations '
                    'for it (leaked?); see "openstack gpu allocation list '
                    '--server %s"' % (args.server, args.server))
            raise
        held_allocations = cloud.placement.consumer_allocations(
            server['id'])['allocations']
        found = server_ops.server_devices(cloud, server, held_allocations)
        flavor = server.get('flavor') or {}
        specs = flavor.get('extra_specs') or {}
        request = allocations.parse_request(specs, found)
        held = allocations.join(held_allocations, found)
        host = server.get('OS-EXT-SRV-ATTR:host')
        pci_in_placement = allocations.reports_pci(
            found, host, server.get('OS-EXT-SRV-ATTR:hypervisor_hostname'))
        checks = allocations.check(server, request, held, pci_in_placement)
        label = '%s (%s)' % (server['name'], server['id'])
        failures = allocations.failed(checks)
        verdict = {
            'failure': failures and 'server %s fails %d of %d checks: %s' % (
                label, len(failures), len(checks), '; '.join(
                    '%s: %s' % (c.check, c.detail) for c in failures)),
            # A table of empty cells says less than one line; formats
            # meant for scripts keep their record.
            'instead': ('server %s holds no GPU' % label
                        if not held and not request else None)}
        return columns.record(SHOW, {
            'id': server['id'], 'name': server['name'],
            'status': server['status'],
            'host': host,
            'project': server.get('tenant_id'),
            'flavor': flavor.get('original_name'),
            'request': flavors.describe(specs,
                                        *flavors.gpu_classes(found)),
            'gpus': [h.record() for h in held] + (
                [] if pci_in_placement
                else allocations.unplaced(request, host)),
            'checks': [c.record() for c in checks]}, verdict)

    @staticmethod
    def _held_anyway(cloud, consumer):
        try:
            return bool(cloud.placement.consumer_allocations(
                consumer)['allocations'])
        except http.CloudError:  # e.g. a member: keep the first answer
            return False


class ListAllocation(base.Lister):
    """List every GPU consumer: which server holds which GPU.

    One row per (consumer, GPU device) from one read of Placement and one
    paged server listing from Nova. While a server migrates or resizes,
    Nova holds the source host's GPUs under the migration's UUID: that row
    names the server, with status "migration <status> (<type>)", and
    --long shows the migration's UUID as its consumer. A consumer that is
    neither a server nor a migration in progress keeps its row with status
    "no server": a leaked allocation; its project is the one Placement
    recorded.
    """

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        options.add_host_option(parser)
        parser.add_argument('--project', metavar='<project>', type=PROJECT,
                            help='only consumers of this project (name or '
                                 'ID)')
        parser.add_argument('--server', metavar='<server>',
                            type=options.nonempty('--server',
                                                  'a server name or UUID'),
                            help='only this server (name or UUID; the UUID '
                                 'of a consumer with no server works too)')
        parser.add_argument('--long', action='store_true',
                            help='also project, resource class, kind, '
                                 'provider and consumer UUIDs, alias and '
                                 'note')
        return parser

    def take_action(self, args):
        cloud = self.app.client_manager.gpu
        project = args.project and project_id(self.app, args.project)
        found = reading.load_with_nodes(cloud, args.host)
        servers = self._servers(cloud, args.host, found)
        # Nova is asked about migrations only when some consumer is no
        # server: a cloud without leaks or migrations pays nothing for it.
        migrations = {}
        if allocations.without_server(found, servers):
            migrations = {m['uuid']: m for m in
                          cloud.compute.migrations_in_progress()}
            if args.host:
                self._read_servers(cloud, servers, (
                    m['instance_uuid'] for m in migrations.values()))
        consumer = args.server and self._consumer(args.server, found,
                                                  servers)
        leaked = [c for c in allocations.without_server(found, servers,
                                                        migrations)
                  if consumer in (None, c)]
        projects = dict(zip(leaked, pool.gather(
            lambda c: cloud.placement.consumer_allocations(c).get(
                'project_id'), leaked)))
        rows = allocations.consumer_rows(found, servers, projects, migrations)
        unplaced = allocations.unplaced_rows(
            [s for s in servers.values() if self._on(cloud, args.host, s)],
            found)
        if unplaced:
            self.app.stderr.write(
                'note: %d passthrough GPU(s) listed from their servers\' '
                'flavor aliases, on hosts that do not report PCI devices to '
                'Placement: their addresses are not known to Placement\n'
                % sum(r['amount'] for r in unplaced))
        rows = [r for r in rows + unplaced
                if consumer in (None, r['server'], r['consumer'])
                and project in (None, r['project'])]
        looked_for = options.given(args, 'host', 'project', 'server')
        return columns.table(
            LIST_LONG if args.long else LIST, rows, empty='no GPUs allocated%s'
            ': servers get them from GPU flavors (openstack gpu flavor list)'
            % (looked_for and ' for ' + looked_for))

    @classmethod
    def _servers(cls, cloud, host, found):
        """Every server; with --host, only the servers Nova lists under
        that host and any other consumer of its GPUs (a migrating server),
        read one by one: the requests follow what the host holds, not the
        size of the cloud."""
        if not host:
            return {s['id']: s for s in cloud.compute.servers()}
        names = reading.host_names(cloud)
        servers = {}
        for service_host in sorted({names.service_host(h) for h in
                                    names.hypervisors(host)} or {host}):
            servers.update((s['id'], s) for s in
                           cloud.compute.servers(host=service_host))
        cls._read_servers(cloud, servers,
                          (c for d in found for c in d.consumers))
        return servers

    @staticmethod
    def _read_servers(cloud, servers, uuids):
        """Add the servers of `uuids` not read yet (a UUID that is no
        server, a leak or a migration, reads as None and stays out)."""
        missing = sorted(set(uuids) - set(servers))
        for server in pool.gather(cloud.compute.server, missing):
            if server:
                servers[server['id']] = server

    @staticmethod
    def _on(cloud, host, server):
        """Whether a server runs on --host (either spelling, any case)."""
        if not host:
            return True
        names = {n.lower() for n in reading.host_names(cloud).hypervisors(
            host)} | {host.lower()}
        return bool(names & {(server.get(k) or '').lower() for k in (
            'OS-EXT-SRV-ATTR:host', 'OS-EXT-SRV-ATTR:hypervisor_hostname')})

    @staticmethod
    def _consumer(text, found, servers):
        consumers = {c for d in found for c in d.consumers}
        if text.lower() in consumers:
            return text.lower()
        try:
            return allocations.select_server(list(servers.values()),
                                             text)['id']
        except allocations.NoSuchServer as e:
            raise exceptions.CommandError(str(e))
