"""GPU flavors: the extra specs an operator's options make, the recipes
Nova gets wrong or silently ignores, and a flavor's GPU request in words.
Pure functions, no I/O.

What Nova does with each spec was proven on nova 34 (see the notes): a
flavor trait applies to the flavor's unnumbered request group (the host,
and a vGPU GPU asked for there), never to the device of a PCI alias, whose
request group Nova builds from nova.conf; a `resources:` spec for a
Nova-managed PCI class next to an alias never schedules, and alone it
allocates a GPU that Nova never attaches.
"""
from __future__ import annotations

import dataclasses
import re

from gpuclient.model import devices
from gpuclient.model import labels
from gpuclient.hostconfig import novaconf

ALIAS_SPEC = 'pci_passthrough:alias'
NUMA_SPEC = 'hw:pci_numa_affinity_policy'
HIDE_SPEC = 'hw:hide_hypervisor_id'
GROUP_POLICY_SPEC = 'group_policy'
BAREMETAL_ZERO = ('VCPU', 'MEMORY_MB', 'DISK_GB')
NUMA_POLICIES = ('required', 'preferred', 'legacy', 'socket')
VGPU = 'VGPU'
PCI_CLASS_PREFIX = 'CUSTOM_PCI_'
# The most GPUs (devices of an alias, or vGPUs) one flavor may ask for,
# refused before any request: Nova builds the PCI request of a count in
# memory (a30:99999999999999999999 grew nova-api past 8 GB), and no server
# holds more GPUs than this (8-GPU hosts are the largest sold; 64 leaves
# room for VF pools).
MAX_COUNT = 64

# Nova's own grammar for these keys (nova/api/validation/extra_specs).
_RESOURCE_SPEC = re.compile(r'^resources([a-zA-Z0-9_-]{1,64})?:(.+)$')
_TRAIT_SPEC = re.compile(r'^trait([a-zA-Z0-9_-]{1,64})?:(.+)$')
_TRAIT = re.compile(r'^[A-Z0-9_]+$')
_ALIAS_NAME = re.compile(r'^[^:,\s]+$')
# one entry of a pci_passthrough:alias value as Nova reads it: NAME:COUNT
_ALIAS_ENTRY = re.compile(r'^\s*([^:,\s]+)\s*:\s*(\d+)\s*$')

# Keys an option writes: given as --property they would bypass its checks.
_OPTION_KEYS = {ALIAS_SPEC: '--alias', NUMA_SPEC: '--numa-policy',
                HIDE_SPEC: '--hide-hypervisor-id',
                'resources:%s' % VGPU: '--vgpu', GROUP_POLICY_SPEC: '--vgpu'}


class InvalidFlavor(ValueError):
    """A flavor request that Nova would reject, ignore or mis-schedule."""


@dataclasses.dataclass(frozen=True)
class Alias:
    name: str
    count: int


@dataclasses.dataclass
class Request:
    """The GPU part of a flavor, as the operator's options give it."""
    aliases: tuple[Alias, ...] = ()
    vgpus: int | None = None
    vgpu_class: str = VGPU
    # traits the vGPU providers themselves must have (--vgpu-type's label)
    vgpu_traits: tuple[str, ...] = ()
    # one request group per vGPU (SR-IOV: a VF holds one), see place_vgpus
    vgpu_groups: bool = False
    baremetal: str | None = None   # a bare-metal node's Placement class
    required: tuple[str, ...] = ()
    forbidden: tuple[str, ...] = ()
    numa_policy: str | None = None
    hide_hypervisor_id: bool = False
    properties: dict[str, str] = dataclasses.field(default_factory=dict)


def parse_alias(text: str) -> Alias:
    """NAME[:COUNT] (COUNT defaults to 1), as --alias takes it."""
    name, sep, count = text.strip().partition(':')
    if not _ALIAS_NAME.match(name):
        raise InvalidFlavor(
            '--alias %r: give the alias name from nova.conf [pci] alias, '
            'then optionally :COUNT (e.g. a30 or a30:2)' % text)
    if sep and not (count.isdigit() and int(count) > 0):
        raise InvalidFlavor(
            '--alias %r: the count must be a whole number of 1 or more '
            '(NAME[:COUNT], e.g. a30:2)' % text)
    if sep and int(count) > MAX_COUNT:
        raise InvalidFlavor('--alias %r: at most %d devices per flavor'
                            % (text, MAX_COUNT))
    return Alias(name, int(count) if sep else 1)


def parse_property(text: str) -> tuple[str, str]:
    key, sep, value = text.partition('=')
    if not sep or not key.strip():
        raise InvalidFlavor('--property %r: write it as KEY=VALUE' % text)
    return key.strip(), value.strip()


def trait_name(text: str) -> str:
    name = text.strip().upper()
    if not _TRAIT.match(name):
        raise InvalidFlavor('%r is not a trait name (letters, digits and '
                            '"_", e.g. CUSTOM_NVIDIA_11)' % text)
    return name


def build_request(aliases=(), vgpus=None, vgpu_class=None, traits=(),
                  forbidden=(), numa_policy=None, hide_hypervisor_id=False,
                  properties=(), baremetal=None) -> Request:
    """A well-formed Request from the command's options (as strings)."""
    parsed = tuple(parse_alias(a) for a in aliases)
    if baremetal is not None:
        if parsed or vgpus is not None:
            raise InvalidFlavor('--baremetal goes alone: a bare-metal flavor '
                                'asks for a whole node, not --alias or '
                                '--vgpu')
        baremetal = baremetal_class(baremetal)
        vgpus = None
    names = [a.name for a in parsed]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise InvalidFlavor('--alias %s given more than once: give it once '
                            'with the count you want' % twice[0])
    if parsed and vgpus is not None:
        raise InvalidFlavor('--alias and --vgpu do not go together: a GPU '
                            'flavor asks for passthrough GPUs or for vGPUs')
    if not parsed and vgpus is None and baremetal is None:
        raise InvalidFlavor('say which GPUs the flavor asks for: --alias '
                            'NAME[:COUNT] (PCI passthrough), --vgpu COUNT or '
                            '--baremetal CLASS (a bare-metal node)')
    if vgpus is not None and not 1 <= vgpus <= MAX_COUNT:
        raise InvalidFlavor('--vgpu %d: ask for 1 to %d vGPUs'
                            % (vgpus, MAX_COUNT))
    if vgpu_class and vgpus is None:
        raise InvalidFlavor('--vgpu-class goes with --vgpu COUNT')
    vgpu_class = (vgpu_class or VGPU).strip().upper()
    if not novaconf.MDEV_CLASS.match(vgpu_class):
        raise InvalidFlavor('--vgpu-class %r: a vGPU class is VGPU or the '
                            'CUSTOM_ class of [mdev_<type>] mdev_class'
                            % vgpu_class)
    required = tuple(dict.fromkeys(trait_name(t) for t in traits))
    forbid = tuple(dict.fromkeys(trait_name(t) for t in forbidden))
    both = sorted(set(required) & set(forbid))
    if both:
        raise InvalidFlavor('trait %s is both required and forbidden'
                            % both[0])
    props = {}
    for text in properties:
        key, value = parse_property(text)
        option = _OPTION_KEYS.get(key) or (
            '--trait/--forbid-trait' if key.startswith('trait:') else None)
        if option:
            raise InvalidFlavor('%s is what %s sets: use that option, not '
                                '--property' % (key, option))
        props[key] = value
    return Request(aliases=parsed, vgpus=vgpus, vgpu_class=vgpu_class,
                   required=required, forbidden=forbid,
                   numa_policy=numa_policy,
                   hide_hypervisor_id=hide_hypervisor_id, properties=props,
                   baremetal=baremetal)


def baremetal_class(text: str) -> str:
    """--baremetal: Ironic's class (baremetal.gpu-h100) or Placement's
    (CUSTOM_BAREMETAL_GPU_H100), as Placement's class."""
    from gpuclient.model import baremetal

    name = text.strip()
    rc = name.upper() if name.upper().startswith('CUSTOM_') else (
        baremetal.placement_class(name))
    if not rc or not novaconf.MDEV_CLASS.match(rc) or rc == VGPU:
        raise InvalidFlavor('--baremetal %r: an Ironic node\'s resource '
                            'class (baremetal.gpu-h100) or its Placement '
                            'class (CUSTOM_BAREMETAL_GPU_H100)' % text)
    return rc


def extra_specs(request: Request) -> dict[str, str]:
    """The flavor's extra specs, sorted by key.

    Several vGPUs are one request group (resources:VGPU=N): Placement
    takes them all from one physical GPU, which hosts a single vGPU type,
    and the libvirt driver creates the N mediated devices there; or, where
    each provider holds one vGPU (an SR-IOV GPU's VFs), N groups of one
    (resources1:..., resources2:...), isolated so each is its own VF.
    """
    specs = dict(request.properties)
    if request.aliases:
        specs[ALIAS_SPEC] = ','.join('%s:%d' % (a.name, a.count)
                                     for a in request.aliases)
    if request.vgpu_groups:
        for n in range(1, request.vgpus + 1):
            specs['resources%d:%s' % (n, request.vgpu_class)] = '1'
            for trait in request.vgpu_traits:
                specs['trait%d:%s' % (n, trait)] = 'required'
        specs[GROUP_POLICY_SPEC] = 'isolate'
    elif request.vgpus is not None:
        specs['resources:%s' % request.vgpu_class] = str(request.vgpus)
        for trait in request.vgpu_traits:
            specs['trait:%s' % trait] = 'required'
    if request.baremetal:
        # Ironic's flavors: the node's class, and none of the host's
        # (Nova's ironic driver reports no VCPU, MEMORY_MB or DISK_GB)
        specs['resources:%s' % request.baremetal] = '1'
        specs.update({'resources:%s' % rc: '0' for rc in BAREMETAL_ZERO})
    for trait in request.required:
        specs['trait:%s' % trait] = 'required'
    for trait in request.forbidden:
        specs['trait:%s' % trait] = 'forbidden'
    if request.numa_policy:
        specs[NUMA_SPEC] = request.numa_policy
    if request.hide_hypervisor_id:
        specs[HIDE_SPEC] = 'true'
    return dict(sorted(specs.items()))


def resources(specs: dict[str, str]) -> list[tuple[str, str, str]]:
    """(group, resource class, amount) of every resources spec; group ''
    is the unnumbered one."""
    found = []
    for key, value in specs.items():
        m = _RESOURCE_SPEC.match(key)
        if m:
            found.append((m.group(1) or '', m.group(2), value))
    return found


def traits(specs: dict[str, str]) -> list[tuple[str, str, str]]:
    """(group, trait, 'required' or 'forbidden') of every trait spec; group
    '' is the unnumbered one."""
    found = []
    for key, value in specs.items():
        m = _TRAIT_SPEC.match(key)
        if m and value in ('required', 'forbidden'):
            found.append((m.group(1) or '', m.group(2), value))
    return found


def custom_classes(specs: dict[str, str]) -> set[str]:
    """CUSTOM_ classes the resources specs name (what only Placement can
    tell to be PCI devices or vGPUs)."""
    return {rc for _, rc, _ in resources(specs) if rc.startswith('CUSTOM_')}


def classes_to_judge(specs_list) -> list[str]:
    """The CUSTOM_ classes the specs name that only Placement can tell to
    be a GPU's (CUSTOM_PCI_ ones say so by name)."""
    return sorted({rc for specs in specs_list for rc in custom_classes(specs)
                   if not rc.startswith(PCI_CLASS_PREFIX)})


def judge_class(resource_class: str, holders, pci_managed) -> str | None:
    """What the providers `holders` of a custom class make it: 'pci' (a
    GPU class Nova manages), VGPU (the libvirt driver's GPUs hold it) or
    'other' (an Ironic node's, a NIC's); None when `holders` is empty and
    nothing tells. holders None: Placement knows no such class ('other').
    pci_managed: UUIDs of the providers with COMPUTE_MANAGED_PCI_DEVICE."""
    if holders is None:
        return 'other'
    for p in holders:
        if p['uuid'] in pci_managed:
            # Nova gives each PCI provider one class; GPUs only, as
            # gpu_classes() counts the GPU devices.
            return 'pci' if devices.is_gpu_class(resource_class) else 'other'
        if p['parent_provider_uuid'] and devices.is_libvirt_gpu_name(
                p['name']):
            return VGPU
    return 'other' if holders else None


def gpu_classes(found) -> tuple[set[str], set[str]]:
    """(Nova-managed PCI classes, vGPU classes) of a cloud's devices."""
    return ({d.resource_class for d in found
             if d.kind == devices.PASSTHROUGH},
            {VGPU} | {d.resource_class for d in found
                      if d.kind == devices.VGPU})


def is_pci_class(resource_class: str, pci_classes) -> bool:
    """A class Nova manages for PCI devices: held by a provider with trait
    COMPUTE_MANAGED_PCI_DEVICE, or named as Nova names them."""
    return (resource_class in pci_classes
            or resource_class.startswith(PCI_CLASS_PREFIX))


def check(specs: dict[str, str], pci_classes=frozenset()) -> None:
    """Refuse the recipes Nova rejects, ignores or mis-schedules."""
    if 'hw:kvm_hidden' in specs:
        raise InvalidFlavor(
            'hw:kvm_hidden is not a Nova extra spec (Nova rejects it): use '
            '--hide-hypervisor-id, which sets hw:hide_hypervisor_id=true')
    for key in ('hw_machine_type', 'hw:machine_type'):
        if key in specs:
            raise InvalidFlavor(
                '%s does nothing on a flavor: the machine type is an image '
                'property (openstack image set --property '
                'hw_machine_type=q35 IMAGE) or nova.conf [libvirt] '
                'hw_machine_type' % key)
    for group, rc, _ in resources(specs):
        if not is_pci_class(rc, pci_classes):
            continue
        key = 'resources%s:%s' % (group, rc)
        if ALIAS_SPEC in specs:
            raise InvalidFlavor(
                '%s next to pci_passthrough:alias makes a flavor that never '
                'schedules (NoValidHost): the alias alone asks for the device'
                % key)
        raise InvalidFlavor(
            '%s without an alias allocates a GPU in Placement that Nova never '
            'attaches to the server, and leaks it: ask for PCI devices with '
            '--alias' % key)


def place_vgpus(request: Request, found, vgpu_type: str | None = None,
                class_given: bool = False) -> Request:
    """The request's vGPUs placed on what the hosts hold (found: the
    cloud's devices.Device list): --vgpu-type's class and label trait, and
    whether the N vGPUs are N request groups (no provider of the class
    gives N: SR-IOV GPUs' VFs hold one each) or one. A count no host can
    give is refused here (check_bounds bounds one group)."""
    vgpu_class, vgpu_traits = request.vgpu_class, ()
    if vgpu_type:
        vgpu_class, trait = _vgpu_type(
            vgpu_type, found, vgpu_class if class_given else None)
        vgpu_traits = (trait,)
    gpus = [d for d in found if d.kind == devices.VGPU
            and d.resource_class == vgpu_class
            and (not vgpu_type or labels.type_matches(vgpu_type,
                                                       d.vgpu_type))]
    units = [d.inventory.get('max_unit', d.total) for d in gpus]
    groups = bool(units) and request.vgpus > max(units)
    if groups:
        per_host = {}
        for d in gpus:
            per_host[d.host] = per_host.get(d.host, 0) + 1
        host, most = max(per_host.items(), key=lambda kv: kv[1])
        if request.vgpus > most:
            raise InvalidFlavor(
                '--vgpu %d: one %s provider gives at most %d (its max_unit) '
                'and no host has %d of them; the most on one host is %d (%s)'
                % (request.vgpus, vgpu_class, max(units), request.vgpus,
                   most, host))
    return dataclasses.replace(request, vgpu_class=vgpu_class,
                               vgpu_traits=vgpu_traits, vgpu_groups=groups)


def _vgpu_type(text: str, found, vgpu_class: str | None
               ) -> tuple[str, str]:
    """--vgpu-type: (the vGPU class, the label trait) that pick GPUs of
    that type, from the labels `gpu host label` wrote. The trait is what
    picks the type: one class may hold several types (one per GPU, by
    [mdev_<type>] device_addresses)."""
    gpus = [d for d in found if d.kind == devices.VGPU
            and labels.type_matches(text, d.vgpu_type)
            and (not vgpu_class or d.resource_class == vgpu_class)]
    pools = sorted({d.resource_class for d in found
                    if d.kind == devices.PASSTHROUGH
                    and labels.type_matches(text, d.vgpu_type)})
    if not gpus and pools:
        raise InvalidFlavor(
            '--vgpu-type %s: GPUs of this type are VFs Nova passes through '
            '(NVIDIA\'s variant driver), asked for by a PCI alias: use '
            '--alias NAME:COUNT with the [pci] alias of class %s'
            % (text, ' or '.join(pools)))
    if not gpus:
        known = sorted({d.vgpu_type for d in found
                        if d.vgpu_type and d.kind == devices.VGPU})
        raise InvalidFlavor(
            '--vgpu-type %s: no vGPU GPU%s is labelled with that type (%s); '
            'labels are written by `openstack gpu host label` on each vGPU '
            'host' % (text, ' of class %s' % vgpu_class if vgpu_class else '',
                      'labelled types: %s' % ', '.join(known) if known
                      else 'none is labelled'))
    classes = sorted({d.resource_class for d in gpus})
    if len(classes) > 1:
        raise InvalidFlavor(
            '--vgpu-type %s: GPUs of this type hold different classes (%s): '
            'say which with --vgpu-class' % (text, ', '.join(classes)))
    return classes[0], labels.LABEL_TYPE + labels.type_trait_name(
        gpus[0].vgpu_type)


def baremetal_findings(request: Request, nodes) -> list[str]:
    """Warnings for a --baremetal request against Ironic's nodes (nodes:
    baremetal.node_device of each; None without Ironic in the catalog)."""
    if nodes is None:
        return ['Ironic is not in the catalog: class %s and the traits were '
                'checked against Placement only' % request.baremetal]
    of_class = [n for n in nodes if n.resource_class == request.baremetal]
    if not of_class:
        return ['Ironic lists no node of class %s: servers of this flavor '
                'get NoValidHost until there is one' % request.baremetal]
    gpus = [n for n in of_class if n.is_gpu]
    if not gpus:
        return ['the %d node(s) of class %s have no GPU by their inspection '
                'data: this flavor gives none' % (len(of_class),
                                                  request.baremetal)]
    fit = [n for n in gpus if set(request.required) <= set(n.traits)
           and not set(request.forbidden) & set(n.traits)]
    if not fit:
        return ['no GPU node of class %s has the traits asked (%s): servers '
                'of this flavor get NoValidHost until one does' % (
                    request.baremetal, ', '.join(request.required)
                    or 'none forbidden')]
    return []


def check_vgpu_class(resource_class: str, pci_classes) -> None:
    if is_pci_class(resource_class, pci_classes):
        raise InvalidFlavor(
            '--vgpu-class %s is a class of Nova-managed PCI devices, not of '
            'vGPUs: ask for those with --alias' % resource_class)


def trait_findings(request: Request, found, holders: dict[str, list[dict]]
                   ) -> list[str]:
    """Warnings for required traits that no GPU this flavor could get has.

    found: the cloud's devices.Device list; holders: trait ->
    the providers Placement lists for ?required=<trait>. A flavor trait
    is met by the host or, for vGPUs, by the GPU itself; the device of a
    PCI alias never meets it: a trait only PCI devices have is an error.
    """
    warnings = []
    for trait in request.required:
        providers = holders.get(trait, ())
        hosts = {p['name'] for p in providers
                 if p['parent_provider_uuid'] is None}
        uuids = {p['uuid'] for p in providers}
        if request.aliases:
            gpus = [d for d in found if d.kind == devices.PASSTHROUGH]
            if any(d.host in hosts for d in gpus):
                continue
            if any(d.provider_uuid in uuids for d in gpus):
                raise InvalidFlavor(
                    'trait:%s=required would never schedule: only PCI devices '
                    'have %s, and a flavor trait is matched against the host, '
                    'never the alias\'s device; tag the compute hosts, or put '
                    'the trait in the nova.conf [pci] alias' % (trait, trait))
        elif request.baremetal:
            continue    # checked against the nodes: baremetal_findings
        else:
            gpus = [d for d in found if d.kind == devices.VGPU
                    and d.resource_class == request.vgpu_class]
            if any(d.host in hosts or d.provider_uuid in uuids for d in gpus):
                continue
        warnings.append(
            'no %s GPU (nor its host) has trait %s yet: servers of this '
            'flavor get NoValidHost until one does'
            % ('passthrough' if request.aliases else
               'bare-metal' if request.baremetal else request.vgpu_class,
               trait))
    return warnings


def alias_entries(value: str) -> list[Alias | str]:
    """A flavor's pci_passthrough:alias value read as Nova reads it
    (NAME:COUNT, count required): an Alias per entry, or the entry's text
    where Nova could not use it."""
    entries = []
    for item in filter(None, (i.strip() for i in (value or '').split(','))):
        m = _ALIAS_ENTRY.match(item)
        entries.append(Alias(m.group(1), int(m.group(2))) if m else item)
    return entries


def describe(specs: dict[str, str], pci_classes=frozenset(),
             vgpu_classes=frozenset({VGPU})) -> list[str]:
    """What a flavor asks for, one phrase each: '1 × a30 (PCI
    passthrough)', '2 × VGPU', 'requires trait CUSTOM_X'. A `resources:`
    spec for a PCI class says how it goes wrong."""
    phrases = []
    alias = specs.get(ALIAS_SPEC)
    for a in alias_entries(alias):
        phrases.append('%d × %s (PCI passthrough)' % (a.count, a.name)
                       if isinstance(a, Alias) else 'malformed alias entry '
                       '%r: Nova cannot boot it' % a)
    if is_baremetal(specs):
        phrases += ['%s × bare-metal node of class %s' % (value, rc)
                    for _, rc, value in resources(specs)
                    if rc not in BAREMETAL_ZERO]
    amounts, groups = {}, {}
    for group, rc, value in resources(specs):
        if rc in vgpu_classes or is_pci_class(rc, pci_classes):
            amount = int(value) if value.strip().isdigit() else 0
            amounts[rc] = amounts.get(rc, 0) + amount
            groups[rc] = groups.get(rc, 0) + 1
    for rc, amount in sorted(amounts.items()):
        if is_pci_class(rc, pci_classes):
            how = ('next to an alias: never schedules' if alias else
                   'without an alias: no device attached, the GPU leaks')
            phrases.append('%d × %s (resources: %s)' % (amount, rc, how))
        else:
            phrases.append('%d × %s%s%s' % (
                amount, rc, '' if rc == VGPU else ' (vGPU)',
                ' in %d request groups' % groups[rc] if groups[rc] > 1
                else ''))
    for key, value in sorted(specs.items()):
        m = _TRAIT_SPEC.match(key)
        if m and value in ('required', 'forbidden'):
            phrases.append('%s trait %s' % (
                'requires' if value == 'required' else 'forbids', m.group(2)))
    return list(dict.fromkeys(phrases))   # a trait asked of each group once


def is_baremetal(specs: dict[str, str]) -> bool:
    """A flavor in Ironic's shape: VCPU, MEMORY_MB and DISK_GB zeroed."""
    return all(specs.get('resources:%s' % rc) == '0'
               for rc in BAREMETAL_ZERO)


def asks_for_gpu(specs: dict[str, str], pci_classes=frozenset(),
                 vgpu_classes=frozenset({VGPU}),
                 node_classes=frozenset()) -> bool:
    """node_classes: the Placement classes of bare-metal nodes with
    GPUs."""
    return ALIAS_SPEC in specs or any(
        rc in vgpu_classes or is_pci_class(rc, pci_classes)
        or rc in node_classes for _, rc, _ in resources(specs))


def check_aliases(request: Request, defined: dict) -> list[dict]:
    """Each alias of the request as nova.conf defines it ({alias name:
    novaconf.Alias}); an alias nova.conf lacks is refused."""
    found = []
    for a in request.aliases:
        alias = defined.get(a.name)
        if alias is None:
            raise InvalidFlavor(
                'alias %s is not defined in nova.conf [pci] alias (defined: '
                '%s): every boot of the flavor would fail' % (
                    a.name, ', '.join(sorted(defined)) or 'none'))
        found.append({'name': a.name, 'count': a.count,
                      'device_type': alias.device_type or 'any',
                      'resource_class': alias.placement_class(),
                      'traits': list(alias.placement_traits()),
                      'numa_policy': alias.numa_policy})
    return found


def check_bounds(request: Request, found, alias_classes=None) -> None:
    """Refuse a GPU count no host can ever give. found: the cloud's
    devices.Device list; alias_classes: {alias: resource class} from
    nova.conf, or None (then an alias's devices are bounded by the most
    GPUs of one class any host has). Nothing is refused where Placement
    shows no such devices at all (PCI devices not reported there)."""
    per_host: dict[tuple, int] = {}
    gpu_classes = set()
    for d in found:
        if d.kind == devices.PASSTHROUGH and d.owner != devices.CYBORG:
            key = (d.host, d.resource_class)
            per_host[key] = per_host.get(key, 0) + d.total
            if d.is_gpu:
                gpu_classes.add(d.resource_class)
    for a in request.aliases:
        rc = (alias_classes or {}).get(a.name)
        counts = {k: n for k, n in per_host.items()
                  if (k[1] == rc if rc else k[1] in gpu_classes)}
        if not counts:
            if rc and per_host:
                raise InvalidFlavor(
                    '--alias %s: no host has %s devices (class %s)'
                    % (a.name, a.name, rc))
            continue
        (host, most_rc), most = max(counts.items(), key=lambda kv: kv[1])
        if a.count > most:
            raise InvalidFlavor(
                '--alias %s:%d: no host has %d %s; the most on one host is '
                '%d (%s on %s)' % (
                    a.name, a.count, a.count,
                    '%s devices' % a.name if rc else 'GPUs of one class',
                    most, most_rc, host))
    if request.vgpus is not None and not request.vgpu_groups:
        # one group: all from one provider (place_vgpus bounds N groups)
        units = [d.inventory.get('max_unit', d.total) for d in found
                 if d.kind == devices.VGPU
                 and d.resource_class == request.vgpu_class]
        if units and request.vgpus > max(units):
            raise InvalidFlavor(
                '--vgpu %d: one GPU gives at most %d %s (its max_unit), and '
                'a flavor\'s vGPUs all come from one GPU'
                % (request.vgpus, max(units), request.vgpu_class))
