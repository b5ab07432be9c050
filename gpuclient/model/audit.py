"""Everything wrong in the GPU estate, each with its fix: pure checks over
one read of Placement and Nova, no I/O.

A check is a function of an Estate (gpuclient/model/estate.py) returning
Findings; CHECKS registers each with a line saying why it matters. Adding
a check is one function, one registry entry and one test.
"""
from __future__ import annotations

import collections
import dataclasses
from collections.abc import Callable

from gpuclient.model import allocations
from gpuclient.model import devices
from gpuclient.model import flavors
from gpuclient.hostconfig import novaconf
from gpuclient.model import traits as traits_mod
from gpuclient.model.estate import ERROR
from gpuclient.model.estate import Estate
from gpuclient.model.estate import Finding
from gpuclient.model.estate import INFO
from gpuclient.model.estate import SEVERITIES
from gpuclient.model.estate import WARNING

# Resource classes of GPUs a flavor may ask Placement for directly.
_GPU_CLASSES = frozenset({flavors.VGPU, 'PGPU'})


def name(d: devices.Device) -> str:
    return '%s:%s' % (d.host, d.address or d.provider_name)


def _server(s: dict) -> str:
    return 'server %s (%s)' % (s.get('name'), s['id'])


def _specs(s: dict) -> dict:
    return (s.get('flavor') or {}).get('extra_specs') or {}


def _unattached(specs: dict, pci_classes) -> list[str]:
    """PCI classes asked through resources: with no alias at all."""
    if flavors.ALIAS_SPEC in specs:
        return []
    return sorted({rc for _, rc, _ in flavors.resources(specs)
                   if flavors.is_pci_class(rc, pci_classes)})


# -- the checks ------------------------------------------------------------
def leaked_allocations(e: Estate) -> list[Finding]:
    leaked = set(allocations.without_server(
        e.devices, e.servers, {m.get('uuid'): m for m in e.migrations}))
    return [Finding(
        ERROR, 'leaked-allocation', name(d),
        'consumer %s holds %d × %s, but Nova has no server %s and no '
        'migration in progress with that UUID' % (
            consumer, amount, d.resource_class, consumer),
        'openstack resource provider allocation delete %s' % consumer)
        for d in e.devices for consumer, amount in sorted(d.consumers.items())
        if consumer in leaked]


def not_attached(e: Estate) -> list[Finding]:
    pci_classes, _ = flavors.gpu_classes(e.nova_devices())
    found = []
    if e.host is None:
        for f in e.flavors:
            classes = _unattached(f.get('extra_specs') or {}, pci_classes)
            if classes:
                found.append(Finding(
                    WARNING, 'gpu-not-attached', 'flavor %s' % f['name'],
                    'asks for %s through resources: without %s: each server '
                    'gets the device in Placement and none attached by Nova'
                    % (', '.join(classes), flavors.ALIAS_SPEC),
                    'openstack flavor unset %s %s; openstack flavor set '
                    '--property %s=ALIAS:COUNT %s' % (
                        ' '.join('--property resources:%s' % rc
                                 for rc in classes), f['name'],
                        flavors.ALIAS_SPEC, f['name'])))
    held = _held(e)
    for s in e.servers.values():
        classes = _unattached(_specs(s), pci_classes)
        stuck = [h for h in held.get(s['id'], ())
                 if h.device.resource_class in classes]
        if stuck:
            found.append(Finding(
                ERROR, 'gpu-not-attached', _server(s),
                'holds %s in Placement through its flavor\'s resources: '
                'spec, but Nova attached no device: the GPU is lost to '
                'everyone while the server lives' % ', '.join(
                    name(h.device) for h in stuck),
                'openstack server resize --flavor <a flavor with %s> %s'
                % (flavors.ALIAS_SPEC, s['id'])))
    return found


def _held(e: Estate) -> dict[str, list[allocations.Held]]:
    """server UUID -> the Nova-managed devices it holds."""
    held = collections.defaultdict(list)
    for d in e.nova_devices():
        for consumer, amount in d.consumers.items():
            held[consumer].append(allocations.Held(d, amount))
    return held


def allocation_mismatch(e: Estate) -> list[Finding]:
    pci_classes, _ = flavors.gpu_classes(e.nova_devices())
    moving = {m.get('instance_uuid') for m in e.migrations}
    held = _held(e)
    found = []
    for s in e.servers.values():
        specs = _specs(s)
        host = s.get('OS-EXT-SRV-ATTR:host')
        # Unplaced servers hold nothing; a moving one holds two hosts'
        # GPUs for a while; gpu-not-attached reports its own.
        if (not host or s['id'] in moving
                or _unattached(specs, pci_classes)
                or not e.audits(s)):
            continue
        mine = held.get(s['id'], [])
        request = allocations.parse_request(specs, e.nova_devices())
        if not (request or mine):
            continue
        failed = allocations.failed([allocations.match_flavor(request, mine),
                                     allocations.on_server_host(s, mine)])
        if failed:
            found.append(Finding(
                ERROR, 'allocation-mismatch', _server(s),
                '; '.join(c.detail for c in failed),
                'openstack gpu allocation show %s' % s['id']))
    return found


def required_traits(specs: dict) -> list[str]:
    return sorted({trait for _, trait, value in flavors.traits(specs)
                   if value == 'required'})


def _request(specs: dict, vgpu_classes) -> flavors.Request:
    """A flavor's GPU request in the shape flavors.trait_findings takes."""
    aliases = tuple(a for a in flavors.alias_entries(
        specs.get(flavors.ALIAS_SPEC)) if isinstance(a, flavors.Alias))
    vgpu = [(rc, v) for _, rc, v in flavors.resources(specs)
            if rc in vgpu_classes]
    required = tuple(required_traits(specs))
    return flavors.Request(
        aliases=aliases, vgpus=(int(vgpu[0][1]) if vgpu and not aliases
                                and vgpu[0][1].isdigit() else None),
        vgpu_class=vgpu[0][0] if vgpu else flavors.VGPU, required=required)


def _gpu_like(resource_class: str) -> bool:
    """A class named as GPUs are (VGPU, PGPU, CUSTOM_PCI_..., CUSTOM_VGPU_A16,
    CUSTOM_A100): one no provider offers makes the flavor unschedulable."""
    return (resource_class in _GPU_CLASSES
            or flavors.is_pci_class(resource_class, ())
            or 'GPU' in resource_class
            or devices.model_name(resource_class) is not None)


def _refusals(request: flavors.Request, found, holders,
              aliases: dict | None) -> list[str]:
    """What `gpu flavor create` would say against the request: traits no
    GPU of the kind has, aliases nova.conf lacks (with its aliases), counts
    no host can give."""
    problems = []
    classes = None
    try:
        if request.aliases or request.vgpus:
            problems += flavors.trait_findings(request, found, holders)
    except flavors.InvalidFlavor as err:
        problems.append(str(err))
    if aliases is not None:
        try:
            flavors.check_aliases(request, aliases)
        except flavors.InvalidFlavor as err:
            problems.append(str(err))
        classes = {a.name: aliases[a.name].placement_class()
                   for a in request.aliases if a.name in aliases}
    try:
        flavors.check_bounds(request, found, classes)
    except flavors.InvalidFlavor as err:
        problems.append(str(err))
    return problems


def never_schedules(e: Estate) -> list[Finding]:
    if e.host is not None:   # needs the whole cloud's devices
        return []
    nova = e.nova_devices()
    pci_classes, vgpu_classes = flavors.gpu_classes(nova)
    offered = {rc for body in e.inventories.values()
               for rc in body.get('inventories', {})}
    aliases = getattr(e.nova_conf, 'aliases', None)
    found = []
    for f in e.flavors:
        specs = f.get('extra_specs') or {}
        if not (flavors.asks_for_gpu(specs, pci_classes, vgpu_classes)
                or any(_gpu_like(rc) for _, rc, _ in
                       flavors.resources(specs))):
            continue
        problems = []
        has_alias = flavors.ALIAS_SPEC in specs
        for _, rc, _ in flavors.resources(specs):
            if flavors.is_pci_class(rc, pci_classes) and has_alias:
                problems.append('resources:%s next to %s: Placement offers '
                                'no valid candidate (NoValidHost)'
                                % (rc, flavors.ALIAS_SPEC))
            elif (_gpu_like(rc) or rc in vgpu_classes) and rc not in offered:
                problems.append('no provider offers %s' % rc)
        problems += _refusals(_request(specs, vgpu_classes), nova,
                              e.holders, aliases)
        if problems:
            found.append(Finding(
                WARNING, 'never-schedules', 'flavor %s' % f['name'],
                '; '.join(problems),
                'openstack gpu flavor create ... (a checked replacement), '
                'then openstack flavor delete %s' % f['name']))
    return found


def scrub_waiting(e: Estate) -> list[Finding]:
    waiting = collections.defaultdict(list)
    for d in e.nova_devices():
        if d.one_time_use and not d.used and d.reserved >= d.total:
            waiting[d.host].append(d.address or d.provider_name)
    return [Finding(
        INFO, 'scrub-waiting', 'host %s' % host,
        '%d one-time-use device(s) released and reserved, waiting for a '
        'scrub: %s' % (len(found), ', '.join(found)),
        'scrub them, then: openstack gpu reserved reset --host %s' % host)
        for host, found in sorted(waiting.items())]


def out_of_service(e: Estate) -> list[Finding]:
    return [Finding(
        WARNING, 'out-of-service', name(d),
        'reserved %d of %d by hand on a device that is not one-time-use: '
        'no server can get it' % (d.reserved, d.total),
        'openstack gpu reserved reset --any %s' % name(d))
        for d in e.nova_devices() if d.reserved and not d.one_time_use]


def unsafe_reserved(e: Estate) -> list[Finding]:
    # Nova keeps an in-use one-time-use device at reserved = total; below
    # that, someone reset it while in use, and when its server leaves it
    # goes to the next tenant unscrubbed.
    return [Finding(
        ERROR, 'unsafe-reserved', name(d),
        'one-time-use device in use (used %d) with reserved %d < total %d: '
        'reset while in use, it will go to the next tenant unscrubbed'
        % (d.used, d.reserved, d.total),
        'openstack resource provider inventory set --amend --resource '
        '%s:reserved=%d %s' % (d.resource_class, d.total, d.provider_uuid))
        for d in e.nova_devices()
        if d.one_time_use and d.used and d.reserved < d.total]


def transient_traits(e: Estate) -> list[Finding]:
    """Custom traits on Nova's PCI devices that Nova will drop: with
    nova.conf, those no device_spec lists; without, those that only some
    devices of one class on one host carry (one device_spec entry gives
    them all the same)."""
    custom = e.custom_traits()
    pci = [d for d in e.nova_devices() if d.kind == devices.PASSTHROUGH]
    siblings = collections.defaultdict(list)
    for d in pci:
        siblings[d.host, d.resource_class].append(custom.get(d.provider_uuid,
                                                             set()))
    specs = getattr(e.nova_conf, 'device_specs', None)
    lasting = None if specs is None else {
        t for spec in specs for t in _spec_traits(spec)}
    found = []
    for d in pci:
        mine = custom.get(d.provider_uuid, set())
        for trait in sorted(mine):
            if lasting is not None:
                transient = trait not in lasting
            else:
                transient = any(trait not in other
                                for other in siblings[d.host,
                                                      d.resource_class])
            if transient:
                found.append(Finding(
                    WARNING, 'transient-trait', name(d),
                    '%s was set by hand: Nova drops it at its next provider '
                    'cache refresh' % trait,
                    'on %s %s' % (d.host, traits_mod.device_spec_setting(
                        d.pci_id, d.resource_class, d.one_time_use, mine,
                        trait, True))))
    return found


def _spec_traits(spec: dict) -> set[str]:
    return {novaconf.normalize_trait(t) for t in str(
        spec.get('traits', '')).split(',') if t.strip()}


def vgpu_no_capacity(e: Estate) -> list[Finding]:
    by_uuid = {p['uuid']: p for p in e.providers}
    found = []
    for p in e.providers:
        body = e.inventories.get(p['uuid'])
        # Named as the libvirt driver names vGPU GPUs; Nova deletes their
        # inventory (total 0) when the mdev type is gone.
        if (not p['parent_provider_uuid'] or body is None
                or not devices.is_libvirt_gpu_name(p['name'])
                or any(r.get('total') for r in body['inventories'].values())):
            continue
        root = by_uuid.get(p['root_provider_uuid'], {}).get('name', '')
        host = e.hosts.get(root, root)
        address = devices.address_from_name(p['name'], root)
        found.append(Finding(
            WARNING, 'vgpu-no-capacity', '%s:%s' % (host, address),
            'vGPU GPU with no vGPU inventory: its mediated device type is '
            'gone (after a host reboot: is the vendor driver loaded?)',
            'on %s: ls /sys/bus/pci/devices/%s/mdev_supported_types; fix the '
            'driver, then restart nova-compute' % (host, address)))
    return found


def vgpu_indistinct(e: Estate) -> list[Finding]:
    custom = e.custom_traits()
    groups = collections.defaultdict(set)
    for d in e.nova_devices():
        if d.kind == devices.VGPU:
            key = (d.host, d.resource_class,
                   frozenset(custom.get(d.provider_uuid, ())))
            # Each mdev type has its own number of instances per GPU.
            groups[key].add(d.total)
    found = []
    for (host, rc, tags), totals in sorted(groups.items(), key=str):
        if len(totals) > 1:
            found.append(Finding(
                WARNING, 'vgpu-indistinct', 'host %s' % host,
                'vGPU GPUs of class %s hold %s vGPUs each: several vGPU '
                'types no trait or class tells apart, so a flavor cannot '
                'pick one' % (rc, ' or '.join(map(str, sorted(totals)))),
                'openstack gpu trait tag CUSTOM_<TYPE> HOST:ADDRESS ... per '
                'type, or [mdev_<type>] mdev_class in nova.conf'))
    return found


def vgpu_unlabelled(e: Estate) -> list[Finding]:
    hosts = collections.Counter(d.host for d in devices.unlabelled(
        e.nova_devices()))
    return [Finding(
        INFO, 'vgpu-unlabelled', 'host %s' % host,
        '%d vGPU provider(s) with no label: Placement names neither their '
        'physical GPU, model nor vGPU type, so no flavor can ask for a type '
        'and an SR-IOV GPU\'s VFs are grouped by their addresses alone'
        % count,
        'on %s: openstack gpu host label (a systemd timer: see "Labelling '
        'vGPU hosts")' % host) for host, count in sorted(hosts.items())]


def vgpu_vfs_without_provider(e: Estate) -> list[Finding]:
    return [Finding(
        INFO, 'vgpu-vfs-without-provider', name(gpu),
        '%d of the %d VFs of this GPU have no provider: past [mdev_<type>] '
        'max_instances, or not in its device_addresses. Fine where the '
        'type allows no more vGPUs on the GPU; else those vGPUs are lost' % (
            gpu.vfs_without_provider, gpu.gpu_vfs),
        'on %s: openstack gpu host label --dry-run lists them; raise '
        'max_instances or list them in device_addresses' % gpu.host)
        for gpu in devices.by_gpu(e.nova_devices())
        if gpu.vfs_without_provider]


def vgpu_vfs_vanished(e: Estate) -> list[Finding]:
    found = []
    for gpu in devices.by_gpu(e.nova_devices()):
        gone = gpu.vanished_vfs
        if not gone:
            continue
        held = sorted({c for v in gone for c in v.consumers})
        found.append(Finding(
            ERROR if held else WARNING, 'vgpu-vfs-vanished', name(gpu),
            'the GPU has %d VFs enabled, but Placement keeps %d VF '
            'providers (%s): VFs not enabled again after a reboot. Nova '
            'keeps their providers%s, and schedules new vGPUs there, which '
            'fail to start' % (
                gpu.gpu_vfs, len(gpu.vfs), ', '.join(
                    v.address for v in gone),
                '; servers %s hold vGPUs on VFs that are gone' % ', '.join(
                    held) if held else ''),
            'on %s: enable them (sriov-manage -e %s, and at every boot: '
            'gpu config generate writes the unit), restart nova-compute, '
            'then openstack gpu host label' % (gpu.host, gpu.address)))
    return found


def _gpu_nodes(e: Estate) -> list[devices.Device]:
    return [n for n in e.nodes if n.is_gpu]


def baremetal_untagged(e: Estate) -> list[Finding]:
    return [Finding(
        INFO, 'baremetal-untagged', n.host,
        'inspection found %d × %s, but the node has no trait naming them: '
        'no flavor can ask for these GPUs, only for class %s'
        % (n.total, n.model, n.resource_class),
        'an Ironic inspection rule that adds CUSTOM_GPU_<MODEL> (see '
        '"Bare-metal GPU nodes"), or: openstack baremetal node add trait %s '
        'CUSTOM_GPU_<MODEL>' % n.host)
        for n in _gpu_nodes(e)
        if not any(t.startswith('CUSTOM_') for t in n.traits)]


def baremetal_model_mismatch(e: Estate) -> list[Finding]:
    """A trait CUSTOM_GPU_<MODEL> naming a model inspection did not find."""
    found = []
    for n in _gpu_nodes(e):
        inspected = {devices.model_key(m) for m in (n.model or '').split(
            ' + ')}
        for trait in n.traits:
            named = trait[len('CUSTOM_GPU_'):] if trait.startswith(
                'CUSTOM_GPU_') else None
            key = devices.model_key(named)
            # A100_80GB names an A100: a prefix either way is no mismatch
            if (named and devices.is_known_model(named) and not any(
                    key.startswith(m) or m.startswith(key)
                    for m in inspected if m)):
                found.append(Finding(
                    WARNING, 'baremetal-model-mismatch', n.host,
                    'trait %s, but inspection found %d × %s: flavors for '
                    'that model get this node' % (trait, n.total, n.model),
                    'openstack baremetal node remove trait %s %s (or '
                    're-inspect the node)' % (n.host, trait)))
    return found


def baremetal_out_of_service(e: Estate) -> list[Finding]:
    return [Finding(
        WARNING, 'baremetal-out-of-service', n.host,
        '%d × %s out of service with no server on it (%s)'
        % (n.total, n.model, n.reason),
        'once fixed: openstack baremetal node maintenance unset %s (and '
        'provide it if it is not available)' % n.host)
        for n in _gpu_nodes(e) if n.reserved and not n.consumers]


def two_owners(e: Estate) -> list[Finding]:
    owners = collections.defaultdict(set)
    for d in e.devices:
        if d.address:
            owners[d.host, d.address].add(d.owner)
    return [Finding(
        ERROR, 'two-owners', '%s:%s' % key,
        'reported by both Nova and Cyborg: two servers can be given the '
        'same device',
        'remove it from [pci] device_spec on %s, or from Cyborg\'s driver '
        'configuration, then restart that service' % key[0])
        for key, who in sorted(owners.items())
        if {devices.NOVA, devices.CYBORG} <= who]


@dataclasses.dataclass(frozen=True)
class Check:
    name: str
    why: str
    run: Callable[[Estate], list[Finding]]


CHECKS = {c.name: c for c in (
    Check('leaked-allocation', 'a consumer with no server and no migration '
          'holds a GPU: nobody can use it, boots get NoValidHost',
          leaked_allocations),
    Check('gpu-not-attached', 'resources: without an alias allocates a PCI '
          'device that Nova never attaches: it leaks one GPU per server',
          not_attached),
    Check('allocation-mismatch', 'a server holds more, fewer or other GPUs '
          'than its flavor asks, or GPUs under another host',
          allocation_mismatch),
    Check('never-schedules', 'a flavor whose GPU request no host can meet: '
          'every boot of it ends in NoValidHost', never_schedules),
    Check('scrub-waiting', 'released one-time-use GPUs stay out of service '
          'until scrubbed and reset', scrub_waiting),
    Check('out-of-service', 'a GPU reserved by hand is capacity nobody can '
          'use; often forgotten', out_of_service),
    Check('unsafe-reserved', 'a one-time-use GPU reset while in use goes '
          'to the next tenant unscrubbed', unsafe_reserved),
    Check('transient-trait', 'a trait set by hand on a Nova PCI device '
          'vanishes at the next provider refresh, and flavors stop '
          'scheduling', transient_traits),
    Check('vgpu-no-capacity', 'a vGPU GPU with no inventory (its mdev type '
          'lost, e.g. after a reboot) offers no vGPU', vgpu_no_capacity),
    Check('vgpu-indistinct', 'several vGPU types on a host, with no trait '
          'or class to tell them apart: a flavor cannot pick one',
          vgpu_indistinct),
    Check('vgpu-unlabelled', 'vGPU providers with no label: no flavor can '
          'ask for their vGPU type, and nothing names their GPU or model',
          vgpu_unlabelled),
    Check('vgpu-vfs-without-provider', 'VFs of an SR-IOV GPU that Nova '
          'made no provider for serve no vGPU', vgpu_vfs_without_provider),
    Check('vgpu-vfs-vanished', 'VFs of an SR-IOV GPU gone (not enabled '
          'after a reboot) whose providers Nova keeps: the vGPUs servers '
          'held there are gone, and new ones fail', vgpu_vfs_vanished),
    Check('baremetal-untagged', 'a bare-metal node whose GPUs no trait '
          'names: no flavor can ask for its GPU model', baremetal_untagged),
    Check('baremetal-model-mismatch', 'a bare-metal node whose GPU trait '
          'names a model inspection did not find: flavors for that model '
          'get the wrong GPUs', baremetal_model_mismatch),
    Check('baremetal-out-of-service', 'a bare-metal GPU node in '
          'maintenance or not available, with no server: its GPUs serve '
          'nobody', baremetal_out_of_service),
    Check('two-owners', 'one PCI device reported by Nova and by Cyborg can '
          'be handed to two servers', two_owners),
)}

_ORDER = {s: i for i, s in enumerate(SEVERITIES)}


def run(estate: Estate, names=None) -> list[Finding]:
    """Findings of the checks named (all by default), errors first."""
    found = [f for n in (names or CHECKS) for f in CHECKS[n].run(estate)]
    return sorted(found, key=lambda f: (_ORDER[f.severity], f.check,
                                        f.subject))


def failing(findings: list[Finding]) -> list[Finding]:
    """The findings that make the audit exit 1: warning or worse."""
    return [f for f in findings if f.severity != INFO]


class UnknownCheck(ValueError):
    pass


def select(names) -> list[str]:
    unknown = [n for n in names if n not in CHECKS]
    if unknown:
        raise UnknownCheck('unknown check %r; the checks are: %s' % (
            unknown[0], ', '.join(CHECKS)))
    return list(dict.fromkeys(names))
