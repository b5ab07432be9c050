"""How many more servers of a flavor fit on each host, decided as Placement
decides it. Pure functions, no I/O.

A flavor becomes request groups as Nova's scheduler builds them
(nova/scheduler/utils.py ResourceRequest, nova/objects/request_spec.py
generate_request_groups_from_pci_requests):

- the unnumbered group: VCPU (PCPU with hw:cpu_policy=dedicated),
  MEMORY_MB, DISK_GB (root + ephemeral + swap rounded up to GB), each
  unless a ``resources`` spec names it, plus the unnumbered ``resources:``
  specs (e.g. VGPU) and ``trait:`` specs. Placement may take its classes
  from several providers of one tree; its traits must be met by the
  providers it takes from together, and none of them may have a forbidden
  one (placement/objects/allocation_candidate.py
  _check_traits_for_alloc_request);
- numbered groups (``resourcesN:``/``traitN:``): each from one provider;
- a PCI alias NAME:COUNT: COUNT groups of one device each, with the
  alias's traits, from Nova-managed PCI providers only (owner_nova_filter).
  Devices have total 1, so a 2-GPU flavor needs two devices; a VF pool
  (total N) may give several of one server's groups.

Nova's prefilter forbids COMPUTE_STATUS_DISABLED on the host. A provider's
room for an amount is Placement's: (total - reserved) × allocation_ratio -
used, in steps of step_size, within min_unit and max_unit.
"""
from __future__ import annotations

import dataclasses
import math

from gpuclient.model import allocations
from gpuclient.model import devices
from gpuclient.model import flavors

GPUS = 'GPUs'
DISABLED = 'COMPUTE_STATUS_DISABLED'
SOCKET_AFFINITY = 'COMPUTE_SOCKET_PCI_NUMA_AFFINITY'
HOST_CLASSES = ('VCPU', 'PCPU', 'MEMORY_MB', 'DISK_GB')


@dataclasses.dataclass(frozen=True)
class Group:
    resources: tuple[tuple[str, int], ...]   # (class, amount), sorted
    required: frozenset = frozenset()
    forbidden: frozenset = frozenset()
    pci: bool = False    # a PCI alias's device: Nova-managed PCI only


@dataclasses.dataclass
class Need:
    """A flavor's request groups."""
    unnumbered: Group
    groups: list[Group] = dataclasses.field(default_factory=list)
    isolate: bool = False     # group_policy=isolate

    def classes(self) -> set[str]:
        return {rc for g in [self.unnumbered] + self.groups
                for rc, _ in g.resources}

    def traits(self) -> set[str]:
        return {t for g in [self.unnumbered] + self.groups
                for t in g.required | g.forbidden}


@dataclasses.dataclass
class Provider:
    name: str
    inventories: dict[str, dict]     # class -> Placement's inventory record
    usages: dict[str, int]           # class -> used
    traits: frozenset = frozenset()  # (of the traits asked about)
    pci: bool = False                # a Nova-managed PCI device


@dataclasses.dataclass
class Host:
    name: str
    root: Provider
    children: list[Provider] = dataclasses.field(default_factory=list)


@dataclasses.dataclass
class Fit:
    host: str
    servers: int
    limited_by: list[str]


class Unknown(ValueError):
    """A flavor whose request cannot be worked out (one line: why)."""


def need(flavor: dict, alias_classes: dict[str, tuple[str, tuple]]) -> Need:
    """The request groups of a flavor record (Nova's, with extra_specs).

    alias_classes: alias name -> (resource class, required traits); an
    alias missing from it raises Unknown.
    """
    specs = flavor.get('extra_specs') or {}
    by_group: dict[str, dict[str, int]] = {}
    for group, rc, value in flavors.resources(specs):
        if not value.strip().isdigit():
            raise Unknown('%s has resources%s:%s=%s, which Nova refuses'
                          % (flavor['name'], group, rc, value))
        by_group.setdefault(group, {})[rc] = int(value)
    traits: dict[str, tuple[set, set]] = {}
    for name, trait, value in flavors.traits(specs):
        required, forbidden = traits.setdefault(name, (set(), set()))
        (required if value == 'required' else forbidden).add(trait)
    asked = {rc for amounts in by_group.values() for rc in amounts}
    unnumbered = by_group.setdefault('', {})
    if not asked & {'VCPU', 'PCPU'}:
        cpu = ('PCPU' if specs.get('hw:cpu_policy') == 'dedicated'
               else 'VCPU')
        unnumbered[cpu] = flavor['vcpus']
    if 'MEMORY_MB' not in asked:
        unnumbered['MEMORY_MB'] = flavor['ram']
    if 'DISK_GB' not in asked:
        unnumbered['DISK_GB'] = (
            flavor['disk'] + flavor.get('OS-FLV-EXT-DATA:ephemeral', 0)
            + math.ceil((flavor.get('swap') or 0) / 1024))
    if specs.get(flavors.NUMA_SPEC) == 'socket':
        traits.setdefault('', (set(), set()))[0].add(SOCKET_AFFINITY)

    def group(name, pci=False, resources=None):
        required, forbidden = traits.get(name, (set(), set()))
        amounts = by_group[name] if resources is None else resources
        return Group(tuple(sorted((rc, n) for rc, n in amounts.items()
                                  if n)),
                     frozenset(required), frozenset(forbidden), pci)

    result = Need(group(''), [group(g) for g in sorted(by_group) if g],
                  isolate=specs.get('group_policy') == 'isolate')
    for entry in flavors.alias_entries(specs.get(flavors.ALIAS_SPEC)):
        if not isinstance(entry, flavors.Alias):
            raise Unknown('%s has a malformed alias entry %r: Nova cannot '
                          'boot it' % (flavor['name'], entry))
        if entry.name not in alias_classes:
            raise Unknown('the resource class of alias %s is unknown'
                          % entry.name)
        rc, required = alias_classes[entry.name]
        result.groups += [Group(((rc, 1),), frozenset(required), pci=True)
                          ] * entry.count
    return result


def _room(provider: Provider, rc: str, amount: int) -> tuple[int, str | None]:
    """How many times `amount` of `rc` fits on the provider, and why none
    fits if a unit rule forbids it."""
    record = provider.inventories.get(rc)
    if not record:
        return 0, None
    if amount > record.get('max_unit', amount):
        return 0, '%s max_unit %d' % (rc, record['max_unit'])
    if amount < record.get('min_unit', 1):
        return 0, '%s min_unit %d' % (rc, record['min_unit'])
    if amount % record.get('step_size', 1):
        return 0, '%s step_size %d' % (rc, record['step_size'])
    capacity = ((record['total'] - record.get('reserved', 0))
                * record.get('allocation_ratio', 1.0))
    free = capacity - provider.usages.get(rc, 0)
    # Placement's test: used + amount <= capacity.
    return max(math.floor(free / amount + 1e-9), 0), None


def _label(rc: str, gpu_classes) -> str:
    return GPUS if rc in gpu_classes else rc


def _isolated(slots: list[int], k: int) -> int:
    """Most servers whose k groups each take a different provider."""
    low, high = 0, sum(slots) // k
    while low < high:
        mid = (low + high + 1) // 2
        if sum(min(s, mid) for s in slots) >= k * mid:
            low = mid
        else:
            high = mid - 1
    return low


def fit(need: Need, host: Host, gpu_classes=frozenset()) -> Fit:
    """How many more servers of `need` fit on `host`, and what limits it:
    'GPUs' (a class in gpu_classes), another class, a unit rule, a trait,
    or 'disabled'."""
    root = host.root
    if DISABLED in root.traits:
        return Fit(host.name, 0, ['disabled'])
    limits: list[tuple[int, str]] = []
    tree = [root] + host.children
    u = need.unnumbered
    if u.forbidden & root.traits:
        return Fit(host.name, 0, ['forbidden trait %s'
                                  % min(u.forbidden & root.traits)])
    missing = u.required - root.traits
    takes_child = False
    for rc, amount in u.resources:
        holders = [p for p in tree if rc in p.inventories]
        if not holders and rc == 'DISK_GB':
            # on a sharing provider (shared storage), not followed here
            continue
        usable = [p for p in holders if p is root or (
            missing <= p.traits and not u.forbidden & p.traits)]
        takes_child |= any(p is not root for p in usable)
        limits.append(_limit(usable, holders, rc, amount, missing,
                             u.forbidden, gpu_classes))
    if missing and not takes_child:
        limits.append((0, 'trait %s' % min(missing)))
    counts: dict[Group, int] = {}
    for g in need.groups:
        counts[g] = counts.get(g, 0) + 1
    for g, k in counts.items():
        holders = [p for p in host.children if p.pci == g.pci
                   and all(rc in p.inventories for rc, _ in g.resources)]
        usable = [p for p in holders if g.required <= p.traits
                  and not g.forbidden & p.traits]
        slots, why = [], None
        for p in usable:
            rooms = [_room(p, rc, n) for rc, n in g.resources]
            slots.append(min(r for r, _ in rooms))
            why = why or next((w for _, w in rooms if w), None)
        n = _isolated(slots, k) if need.isolate else sum(slots) // k
        rc = g.resources[0][0]
        if holders and not usable:
            label = _trait_reason(g.required, g.forbidden, holders[0])
        else:
            label = why if n == 0 and why else _label(rc, gpu_classes)
        limits.append((n, label))
    if not limits:
        return Fit(host.name, 0, ['asks for nothing'])
    servers = min(n for n, _ in limits)
    return Fit(host.name, servers,
               sorted({label for n, label in limits if n == servers}))


def _limit(usable, holders, rc, amount, missing, forbidden, gpu_classes):
    """(servers, label) for one class of the unnumbered group; `missing`:
    its required traits the root lacks."""
    if holders and not usable:
        return 0, _trait_reason(missing, forbidden, holders[0])
    rooms = [_room(p, rc, amount) for p in usable]
    n = sum(r for r, _ in rooms)
    why = next((w for _, w in rooms if w), None)
    return n, (why if n == 0 and why else _label(rc, gpu_classes))


def _trait_reason(required, forbidden, provider) -> str:
    lacking = required - provider.traits
    if lacking:
        return 'trait %s' % min(lacking)
    return 'forbidden trait %s' % min(forbidden & provider.traits)


def relevant(need: Need, host: Host, device_classes) -> bool:
    """Whether the host has any provider of the device classes asked for
    (not VCPU and the like, which every host has)."""
    asked = need.classes() & set(device_classes)
    return any(asked & set(p.inventories)
               for p in [host.root] + host.children)


def learned_classes(flavor: dict, aliases, servers: list[dict],
                    found: list[devices.Device]):
    """({alias: class}, server) read off the passthrough devices a server
    of this flavor holds, or ({}, None). Servers carry their flavor's
    original_name (compute 2.47+); devices their consumers."""
    for server in sorted(servers, key=lambda s: (s.get('name') or '',
                                                 s['id'])):
        if (server.get('flavor') or {}).get('original_name') != \
                flavor['name']:
            continue
        held = [allocations.Held(d, d.consumers[server['id']])
                for d in found if server['id'] in d.consumers]
        classes = allocations.alias_classes(dict.fromkeys(aliases, 1), held)
        if classes and all(classes.values()):
            return classes, server
    return {}, None


def total(fits: list[Fit]) -> tuple[int, list[str]]:
    """The flavor's servers over all hosts, and every limit met."""
    return (sum(f.servers for f in fits),
            sorted({label for f in fits for label in f.limited_by}))


# -- from flavors and devices to estimates ------------------------------------
ALIAS_HINT = ('give --nova-conf (its [pci] alias), or boot one server of the '
              'flavor to learn it from')
NEVER = 'never schedules'


class BadFlavor(ValueError):
    """A flavor named that does not exist or asks for no GPU."""


def gpu_flavors(all_flavors, found, names=()) -> list[dict]:
    """The flavors named (by name or ID), or every GPU flavor; a name no
    flavor has, or a flavor that asks for no GPU, raises BadFlavor."""
    pci_classes, vgpu_classes = flavors.gpu_classes(found)
    node_classes = {d.resource_class for d in found
                    if d.kind == devices.BAREMETAL and d.is_gpu}

    def asks(f):
        return flavors.asks_for_gpu(f.get('extra_specs') or {}, pci_classes,
                                    vgpu_classes, node_classes)

    if not names:
        return sorted((f for f in all_flavors if asks(f)),
                      key=lambda f: f['name'])
    chosen = []
    for name in names:
        match = [f for f in all_flavors if name in (f['name'], f['id'])]
        if not match:
            raise BadFlavor('no flavor named %r' % name)
        if not asks(match[0]):
            raise BadFlavor(
                'flavor %s asks for no GPU (no pci_passthrough:alias, no '
                'vGPU or PCI resources)' % match[0]['name'])
        chosen.append(match[0])
    return chosen


def alias_names(flavor: dict) -> list[str]:
    specs = flavor.get('extra_specs') or {}
    return [a.name for a in flavors.alias_entries(
        specs.get(flavors.ALIAS_SPEC)) if isinstance(a, flavors.Alias)]


def needs(chosen, found, nova_conf, servers, warn) -> dict:
    """{flavor name: Need, None (its alias class is unknown) or NEVER}.

    An alias's class (and traits) comes from nova_conf, else it is learned
    from one of `servers` using the flavor (warn() says which); a flavor
    with an alias next to resources: of a PCI class never schedules.
    """
    pci_classes, _ = flavors.gpu_classes(found)
    result = {}
    for f in chosen:
        specs = f.get('extra_specs') or {}
        aliases = alias_names(f)
        classes, hint = {}, ALIAS_HINT
        if aliases and nova_conf is not None:
            classes = {a: (nova_conf.aliases[a].placement_class(),
                           nova_conf.aliases[a].placement_traits())
                       for a in aliases if a in nova_conf.aliases}
            hint = 'no such alias in %s' % ', '.join(nova_conf.paths)
        elif aliases:
            learned, server = learned_classes(f, aliases, servers or [],
                                              found)
            if server:
                warn('%s: alias class %s learned from server %s (%s); '
                     '--nova-conf reads it from nova.conf' % (
                         f['name'], ', '.join('%s=%s' % kv for kv in sorted(
                             learned.items())), server['name'], server['id']))
            # nova.conf alias traits cannot be learned: none assumed
            classes = {a: (rc, ()) for a, rc in learned.items()}
        pci_resources = [rc for _, rc, _ in flavors.resources(specs)
                         if flavors.is_pci_class(rc, pci_classes)]
        if aliases and pci_resources:
            warn('%s: an alias next to resources:%s never schedules (see '
                 '"openstack gpu flavor list")' % (f['name'],
                                                    pci_resources[0]))
            result[f['name']] = NEVER
            continue
        try:
            result[f['name']] = need(f, classes)
        except Unknown as e:
            warn('%s: %s: %s' % (f['name'], e, hint))
            result[f['name']] = None
    return result


def _classes(found) -> tuple[set[str], set[str]]:
    """(GPU classes, device classes). Limits on GPUs read "GPUs"; a flavor
    may ask for other devices too (an alias for a NIC): those count, under
    their class's name."""
    gpu_classes = {d.resource_class for d in found if d.is_gpu} | {
        flavors.VGPU}
    return gpu_classes, {d.resource_class for d in found} | gpu_classes


def roots_asked(asked: list[Need], found) -> dict[str, list]:
    """{root provider name: its devices}, for the roots that have a device
    of a class some Need asks for: the only hosts worth reading."""
    wanted = {rc for n in asked for rc in n.classes()} & _classes(found)[1]
    by_root: dict[str, list] = {}
    for d in found:
        by_root.setdefault(d.hypervisor, []).append(d)
    return {name: devs for name, devs in sorted(by_root.items())
            if wanted & {d.resource_class for d in devs}}


def host(devs, root_uuid, inventories, usages, holders) -> Host:
    """A host's tree for fit(): its root, with the inventories and usages
    Placement gives for it, and one provider per device; holders: trait ->
    the provider UUIDs that have it."""
    def traits_of(uuid):
        return frozenset(t for t, us in holders.items() if uuid in us)

    return Host(devs[0].host, Provider(devs[0].hypervisor, inventories,
                                       usages, traits_of(root_uuid)),
                [Provider(d.provider_name, {d.resource_class: d.inventory},
                          {d.resource_class: d.used},
                          traits_of(d.provider_uuid),
                          pci=(d.kind == devices.PASSTHROUGH
                               and d.owner != devices.CYBORG))
                 # a bare-metal node's class is on its root
                 for d in devs if d.kind != devices.BAREMETAL])


def estimate(by_flavor: dict, hosts: list[Host], found, warn) -> dict:
    """{flavor name: [Fit] per host that has its GPU class}, from needs()'s
    {flavor name: Need}; its None and NEVER are kept as they are."""
    gpu_classes, device_classes = _classes(found)
    result = {}
    for name, request in by_flavor.items():
        if not isinstance(request, Need):
            result[name] = request
            continue
        result[name] = [fit(request, h, gpu_classes) for h in hosts
                        if relevant(request, h, device_classes)]
        pci = sorted({rc for g in request.groups if g.pci
                      for rc, _ in g.resources})
        if pci and not result[name]:
            warn('%s: no host has a %s device in Placement (Nova puts PCI '
                 'devices there only with [pci] report_in_placement)'
                 % (name, ' or '.join(pci)))
    return result


def rows(estimates: dict, by_host=False) -> list[dict]:
    """Rows for the command (and the metrics): per flavor, or per flavor
    and host; servers None where the flavor's request is unknown."""
    found = []
    for name, fits in estimates.items():
        if fits is None or fits == NEVER:
            found.append({'flavor': name, 'host': None,
                          'servers': None if fits is None else 0,
                          'limited_by': ['unknown alias class'
                                         if fits is None else fits]})
        elif not fits:
            found.append({'flavor': name, 'host': None, 'servers': 0,
                          'limited_by': ['no matching GPU']})
        elif by_host:
            found += [{'flavor': name, 'host': f.host, 'servers': f.servers,
                       'limited_by': f.limited_by} for f in fits]
        else:
            servers, limits = total(fits)
            found.append({'flavor': name, 'host': None, 'servers': servers,
                          'limited_by': limits})
    return found
