"""Which server holds which GPU, and whether that agrees with its flavor.

Pure functions, no I/O: GPU devices (devices.build), a consumer's
allocations as Placement returns them, a server record as Nova returns it
(microversion 2.47 and later embed the flavor with its extra specs).
"""
from __future__ import annotations

import dataclasses
import re

from gpuclient.model import devices
from gpuclient.model import flavors


@dataclasses.dataclass
class GpuRequest:
    """What a flavor asks for: PCI aliases (their resource class lives only
    in nova.conf) and GPU resource classes asked of Placement directly."""
    aliases: dict[str, int] = dataclasses.field(default_factory=dict)
    resources: dict[str, int] = dataclasses.field(default_factory=dict)
    invalid: list[str] = dataclasses.field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.aliases or self.resources or self.invalid)


@dataclasses.dataclass
class Held:
    """One GPU device a consumer holds, and how much of it."""
    device: devices.Device
    amount: int

    def record(self) -> dict:
        d = self.device
        record = {'host': d.host, 'address': d.address, 'kind': d.kind,
                  'resource_class': d.resource_class, 'model': d.model,
                  'amount': self.amount, 'provider': d.provider_uuid}
        if d.hypervisor and d.hypervisor != d.host:
            record['hypervisor'] = d.hypervisor
        if d.kind == devices.BAREMETAL:   # a whole node: all its GPUs
            record['gpus'] = d.total
        if d.kind == devices.VGPU and d.gpu_address not in (None, d.address):
            record['gpu'] = d.gpu_address   # the VF's physical GPU
        if d.vgpu_type:
            record['vgpu_type'] = d.vgpu_type
        if d.vf_pool:
            # Nova counts a PF's VFs on one provider: the server holds
            # `amount` VFs of it, and nothing in Placement says which.
            record['vf_pool'] = d.vf_pool
            record['note'] = (
                '%d of the %d VFs of the PF at %s; Placement does not record '
                'which VF' % (self.amount, d.vf_pool, d.address))
        return record


NOT_IN_PLACEMENT = ('address not known to Placement: this host does not '
                    'report PCI devices to it ([pci] report_in_placement)')


def unplaced(request: GpuRequest, host: str | None) -> list[dict]:
    """The passthrough GPUs a flavor's aliases gave a server on a host that
    does not report PCI devices to Placement (PciPassthroughFilter
    scheduling): alias and count from the flavor, host from Nova; no
    address, as no API says which device Nova attached."""
    return [{'host': host, 'address': None, 'kind': devices.PASSTHROUGH,
             'alias': alias, 'amount': count, 'note': NOT_IN_PLACEMENT}
            for alias, count in sorted(request.aliases.items())]


@dataclasses.dataclass
class Check:
    check: str
    ok: bool
    detail: str

    def record(self) -> dict:
        return {'check': self.check, 'result': 'ok' if self.ok else 'FAILED',
                'detail': self.detail}


def parse_request(specs: dict[str, str],
                  found: list[devices.Device] = ()) -> GpuRequest:
    """The GPU part of a flavor's extra specs, GPU classes told apart by
    the devices `found` (see flavors.gpu_classes). Specs Nova could not
    have used (it validates them from compute 2.86 only) land in
    `invalid`."""
    request = GpuRequest()
    for a in flavors.alias_entries(specs.get(flavors.ALIAS_SPEC)):
        if not isinstance(a, flavors.Alias):
            request.invalid.append('%s=%s' % (flavors.ALIAS_SPEC, a))
            continue
        request.aliases[a.name] = request.aliases.get(a.name, 0) + a.count
    pci_classes, vgpu_classes = flavors.gpu_classes(found)
    node_classes = {d.resource_class for d in found
                    if d.kind == devices.BAREMETAL}
    for group, rc, value in flavors.resources(specs):
        if not (rc in vgpu_classes or flavors.is_pci_class(rc, pci_classes)
                or rc in node_classes):
            continue
        if value.strip().isdigit():
            request.resources[rc] = request.resources.get(rc, 0) + int(value)
        else:
            request.invalid.append('resources%s:%s=%s' % (group, rc, value))
    return request


def join(allocations: dict, found: list[devices.Device]) -> list[Held]:
    """The GPUs in a consumer's allocations ({provider uuid: {'resources':
    {class: amount}}}, as GET /allocations/{consumer} returns them)."""
    by_provider = {d.provider_uuid: d for d in found}
    held = []
    for uuid, allocation in allocations.items():
        d = by_provider.get(uuid)
        amount = d and allocation['resources'].get(d.resource_class)
        if amount:
            held.append(Held(d, amount))
    return sorted(held, key=lambda h: (h.device.host,
                                       h.device.address or ''))


def _squash(text: str) -> str:
    return re.sub(r'[^a-z0-9]', '', text.lower())


def alias_classes(aliases: dict[str, int],
                  held: list[Held]) -> dict[str, str | None]:
    """alias -> the resource class it was given, read off the passthrough
    devices held (the alias config is in nova.conf, not in any API): the
    only class held for a single alias, else the class whose model the
    alias is named after (a30 -> A30, rtx3090 -> RTX 3090); None if unsure.
    """
    classes = {h.device.resource_class: h.device.model for h in held
               if h.device.kind == devices.PASSTHROUGH}
    if len(aliases) == 1 and len(classes) == 1:
        return {name: next(iter(classes)) for name in aliases}
    return {name: next((rc for rc, model in classes.items()
                        if _squash(model or rc) == _squash(name)), None)
            for name in aliases}


def _asked(aliases: dict[str, int], resources: dict[str, int]) -> str:
    """A request in the words of flavors.describe: '1 × a30, 2 × VGPU'."""
    return ', '.join(['%d × %s' % (n, name)
                      for name, n in sorted(aliases.items())]
                     + ['%d × %s' % (n, rc)
                        for rc, n in sorted(resources.items())])


def _amounts(held: list[Held]) -> dict[str, int]:
    totals: dict[str, int] = {}
    for h in held:
        rc = h.device.resource_class
        totals[rc] = totals.get(rc, 0) + h.amount
    return totals


def _words(amounts: dict[str, int]) -> str:
    return _asked({}, amounts) or 'no GPU'


def match_flavor(request: GpuRequest, held: list[Held],
                 pci_in_placement: bool = True) -> Check:
    """Count and class of what is held against what the flavor asks.
    Without PCI in Placement (the server's host reports no PCI device to
    it) a flavor's aliases hold nothing there: they are not counted."""
    name = 'allocation matches flavor'
    if not pci_in_placement and request.aliases:
        rest = match_flavor(dataclasses.replace(request, aliases={}), held)
        if not rest.ok:
            return rest
        detail = ('asks for %s; the host does not report PCI devices to '
                  'Placement, which holds none of %s' % (
                      _asked(request.aliases, request.resources),
                      _asked(request.aliases, {})))
        return Check(name, True, detail + ('; holds %s' % _words(
            _amounts(held)) if held else ''))
    problems = ['the flavor has an unusable extra spec %s' % spec
                for spec in request.invalid]
    for rc, asked in sorted(request.resources.items()):
        got = sum(h.amount for h in held if h.device.resource_class == rc)
        if got != asked:
            problems.append('asks for %d × %s, holds %d' % (asked, rc, got))
    # Proven on nova 34: Placement allocates such a device, Nova attaches
    # none, and the device is lost to everyone until the server goes.
    unattached = sorted({h.device.resource_class for h in held
                         if h.device.kind == devices.PASSTHROUGH
                         and h.device.resource_class in request.resources})
    if unattached:
        problems.append('asks for %s through resources: instead of %s, so '
                        'Nova attaches no device to the server'
                        % (', '.join(unattached), flavors.ALIAS_SPEC))
    rest = [h for h in held
            if h.device.resource_class not in request.resources]
    if request.aliases:
        by_alias = [h for h in rest if h.device.kind == devices.PASSTHROUGH]
        classes = alias_classes(request.aliases, by_alias)
        asked = sum(request.aliases.values())
        got = sum(h.amount for h in by_alias)
        if got != asked:
            problems.append('asks for %s, holds %d passthrough GPU(s)' % (
                _asked(request.aliases, {}), got))
        else:
            for alias, rc in sorted(classes.items()):
                got = sum(h.amount for h in by_alias
                          if h.device.resource_class == rc)
                if rc and got != request.aliases[alias]:
                    problems.append('asks for %d × %s, holds %d %s' % (
                        request.aliases[alias], alias, got, rc))
        rest = [h for h in rest if h.device.kind != devices.PASSTHROUGH]
    if rest:
        problems.append('holds %s the flavor does not ask for'
                        % _words(_amounts(rest)))
    if problems:
        return Check(name, False, '; '.join(problems))
    return Check(name, True, 'asks for %s; holds %s' % (
        _asked(request.aliases, request.resources) or 'no GPU',
        _words(_amounts(held))))


def on_server_host(server: dict, held: list[Held]) -> Check:
    """GPU providers must sit in the tree of the compute node the server
    runs on (its root provider is named after the node)."""
    name = 'GPUs on server host'
    nodes = {server.get('OS-EXT-SRV-ATTR:hypervisor_hostname'),
             server.get('OS-EXT-SRV-ATTR:host')} - {None}
    where = server.get('OS-EXT-SRV-ATTR:host') or 'no host'
    # a bare-metal node is its own host: its hypervisor is the node UUID
    away = ['%s:%s' % (h.device.host, h.device.address) for h in held
            if h.device.host not in nodes
            and h.device.hypervisor not in nodes]
    if away:
        return Check(name, False, '%s not on the server host (%s)'
                     % (', '.join(away), where))
    return Check(name, True, 'all on %s' % where if held
                 else 'no GPU held')


def is_active(server: dict) -> Check:
    status = server.get('status')
    if status == 'ACTIVE':
        return Check('server ACTIVE', True, 'status ACTIVE')
    return Check('server ACTIVE', False, 'status %s' % status)


def check(server: dict, request: GpuRequest, held: list[Held],
          pci_in_placement: bool = True) -> list[Check]:
    """What seed 000 section 5 checks by hand: the allocation matches the
    flavor, the GPUs are on the server's host, the server is ACTIVE."""
    return [match_flavor(request, held, pci_in_placement),
            on_server_host(server, held), is_active(server)]


def reports_pci(found: list[devices.Device], *host: str | None) -> bool:
    """Whether a host (named by its service host or hypervisor hostname)
    reports its PCI devices to Placement: its tree has a device Nova
    manages (trait COMPUTE_MANAGED_PCI_DEVICE)."""
    return bool(set(host) & _pci_hosts(found))


def _pci_hosts(found: list[devices.Device]) -> set[str]:
    return {name for d in found if d.kind == devices.PASSTHROUGH
            and d.owner != devices.CYBORG
            for name in (d.host, d.hypervisor) if name}


def failed(checks: list[Check]) -> list[Check]:
    return [c for c in checks if not c.ok]


class NoSuchServer(LookupError):
    pass


def select_server(servers: list[dict], text: str,
                  project: str | None = None) -> dict:
    """The one server whose UUID or exact name is `text` (of `project`
    only, when given); several servers of that name are an error that
    lists them, with their projects when those tell them apart."""
    servers = [s for s in servers
               if project in (None, s.get('tenant_id'))]
    by_id = [s for s in servers if s['id'] == text.lower()]
    found = by_id or [s for s in servers if s['name'] == text]
    where = ' in project %s' % project if project else ''
    if not found:
        raise NoSuchServer('no server named or with ID %r%s' % (text, where))
    if len(found) > 1:
        projects = {s.get('tenant_id') for s in found}
        if len(projects) > 1:
            return_one = 'name one by UUID or narrow with --project'
            listed = ['%s (project %s)' % (s['id'], s.get('tenant_id'))
                      for s in sorted(found, key=lambda s: s['id'])]
        else:
            return_one = 'name one by UUID'
            listed = sorted(s['id'] for s in found)
        raise NoSuchServer('%d servers are named %r%s; %s: %s' % (
            len(found), text, where, return_one, ', '.join(listed)))
    return found[0]


NO_SERVER = 'no server'


def without_server(found: list[devices.Device], servers: dict[str, dict],
                   migrations: dict[str, dict] | None = None) -> list[str]:
    """GPU consumers that are neither a server Nova knows nor a migration
    in progress (which holds the source host's allocation under its own
    UUID, nova's migration-based allocations): leaked allocations."""
    return sorted({c for d in found for c in d.consumers}
                  - set(servers) - set(migrations or ()))


def migration_status(migration: dict) -> str:
    """'migration finished (resize)': what the consumer is and how far."""
    return 'migration %s (%s)' % (migration.get('status'),
                                  migration.get('migration_type'))


def consumer_rows(found: list[devices.Device], servers: dict[str, dict],
                  projects: dict[str, str | None],
                  migrations: dict[str, dict] | None = None) -> list[dict]:
    """One row per (consumer, device). `servers` maps server UUID -> Nova's
    record, `migrations` migration UUID -> Nova's record of a migration in
    progress (its row names the server it moves); `projects` gives the
    Placement project of the other consumers, whose rows stay, marked with
    status NO_SERVER and the consumer in place of the server."""
    rows = []
    for d in found:
        for consumer, amount in sorted(d.consumers.items()):
            migration = (migrations or {}).get(consumer)
            uuid = migration['instance_uuid'] if migration else consumer
            server = servers.get(uuid)
            if migration:
                status = migration_status(migration)
            else:
                status = server['status'] if server else NO_SERVER
            project = (server['tenant_id'] if server
                       else (migration or {}).get('project_id')
                       or projects.get(consumer))
            rows.append(dict(
                Held(d, amount).record(), server=uuid, consumer=consumer,
                name=server['name'] if server else None, project=project,
                status=status))
    return rows


def unplaced_rows(servers: list[dict], found: list[devices.Device]
                  ) -> list[dict]:
    """Rows for the passthrough GPUs of servers on hosts that do not report
    PCI devices to Placement (found: the devices of those hosts' trees):
    one per alias of the server's flavor, no address, no provider."""
    rows = []
    pci_hosts = _pci_hosts(found)
    for server in servers:
        host = server.get('OS-EXT-SRV-ATTR:host')
        if not host or {host, server.get(
                'OS-EXT-SRV-ATTR:hypervisor_hostname')} & pci_hosts:
            continue
        specs = (server.get('flavor') or {}).get('extra_specs') or {}
        for record in unplaced(parse_request(specs, found), host):
            rows.append(dict(
                record, resource_class=None, model=None, provider=None,
                server=server['id'], consumer=server['id'],
                name=server['name'], project=server.get('tenant_id'),
                status=server['status']))
    return rows
