"""Flavor operations: which custom classes the flavors name are GPUs, the
checks of a new GPU flavor against Nova and Placement, its create (never
half-made), and capacity estimation."""
from __future__ import annotations

from osc_lib import exceptions

from gpuclient.access import http
from gpuclient.access import pool
from gpuclient.model import flavors
from gpuclient.model import snapshot
from gpuclient.operations import reading


def gpu_classes(cloud, found) -> tuple[set[str], set[str]]:
    """(Nova-managed PCI classes, vGPU classes) among the custom classes
    the flavors `found` name, each judged by who holds it (see
    flavors.judge_class): the providers with room for one more (one
    listing per class); for a class none has room for, the allocation of
    one server of a flavor naming it; only if neither tells, every
    device's classes (the whole scan)."""
    specs = {f['id']: f.get('extra_specs') or {} for f in found}
    asked = flavors.classes_to_judge(specs.values())
    if not asked:
        return set(), {flavors.VGPU}
    placement = cloud.placement
    holders = pool.gather(placement.with_room_for, asked)
    # Nova's PCI providers are listed only if a device may hold a class (an
    # Ironic node is a root; a class Placement lacks has no holder).
    pci_managed = {p['uuid'] for p in placement.holders(
        snapshot.PCI_DEVICE_TRAIT)} if any(
            h == [] or any(p['parent_provider_uuid'] for p in h or ())
            for h in holders) else set()
    verdicts = dict(zip(asked, (flavors.judge_class(rc, h, pci_managed)
                                for rc, h in zip(asked, holders))))
    unknown = [rc for rc, verdict in verdicts.items() if verdict is None]
    verdicts.update(zip(unknown, pool.gather(
        lambda rc: _judge_by_allocation(cloud, rc, pci_managed, [
            fid for fid, s in specs.items()
            if rc in flavors.custom_classes(s)]), unknown)))
    if None in verdicts.values():
        return flavors.gpu_classes(reading.load(cloud))
    return ({rc for rc, v in verdicts.items() if v == 'pci'},
            {flavors.VGPU} | {rc for rc, v in verdicts.items()
                              if v == flavors.VGPU})


def _judge_by_allocation(cloud, rc, pci_managed, flavor_ids):
    """judge_class of the providers that hold `rc` for a server of one of
    the flavors (the first one with a server that holds it), or None."""
    placement = cloud.placement
    for flavor_id in flavor_ids:
        server = cloud.compute.a_server(flavor=flavor_id)
        if server is None:
            continue
        held = placement.consumer_allocations(server['id'])['allocations']
        providers = []
        for uuid, allocation in held.items():
            if rc in allocation['resources']:
                try:
                    providers.append(placement.provider(uuid))
                except http.NotFound:   # deleted since
                    pass
        verdict = flavors.judge_class(rc, providers, pci_managed)
        if verdict is not None:
            return verdict
    return None


def check_free(cloud, name, flavor_id):
    for f in cloud.compute.flavors():
        if f['name'] == name:
            raise exceptions.CommandError(
                'a flavor named %r exists already (ID %s)'
                % (name, f['id']))
        if flavor_id and f['id'] == flavor_id:
            raise exceptions.CommandError(
                'flavor ID %r is taken by flavor %r' % (flavor_id,
                                                        f['name']))


def check_release(cloud, feature: str, why: str) -> None:
    """Refuse what the cloud's Nova cannot do: `why`, then the release
    it needs and the one the cloud runs."""
    from gpuclient.model import releases

    found, version = reading.cloud_release(cloud)
    if releases.verdict(feature, found) is not None:
        raise exceptions.CommandError(
            '%s; %s, and this cloud runs %s (compute API up to %s)' % (
                why, releases.needs(feature), releases.words(found),
                version))


def check_placement(cloud, request, specs, aliases=None, found=None):
    """Traits, classes and counts against Placement: (PCI classes,
    vGPU classes, warnings); errors raise.

    Always reads the devices, which takes GET /os-hypervisors and
    Placement's provider listing: admin-only by default policy, as
    creating a flavor is, so a --dry-run is refused where the create
    would be."""
    custom_vgpu = request.vgpus and request.vgpu_class != flavors.VGPU
    reading.check_names_exist(
        cloud, request.vgpu_class if custom_vgpu else request.baremetal,
        request.required + request.forbidden)
    if found is None:
        found = reading.load(cloud)
    pci_classes, vgpu_classes = flavors.gpu_classes(found)
    holders = dict(pool.gather(
        lambda t: (t, cloud.placement.providers(required=t)),
        request.required))
    try:
        flavors.check_bounds(request, found, aliases and {
            a['name']: a['resource_class'] for a in aliases})
        if custom_vgpu:
            flavors.check_vgpu_class(request.vgpu_class, pci_classes)
        flavors.check(specs, pci_classes)
        warnings = flavors.trait_findings(request, found, holders)
        if request.baremetal:
            warnings += flavors.baremetal_findings(
                request, None if cloud.baremetal is None else
                reading.baremetal_nodes(cloud, all_devices=True))
    except flavors.InvalidFlavor as e:
        raise exceptions.CommandError(str(e))
    return pci_classes, vgpu_classes, warnings


def create(compute, body, specs, project_id):
    """Create, give access, write the extra specs; on any failure after
    the create, delete the flavor again: nothing half-made remains."""
    flavor = compute.create_flavor(body)
    try:
        if project_id:
            compute.add_flavor_access(flavor['id'], project_id)
        flavor['extra_specs'] = compute.set_extra_specs(flavor['id'],
                                                        specs)
    except BaseException as e:
        try:
            compute.delete_flavor(flavor['id'])
        except http.CloudError as left:
            raise exceptions.CommandError(
                '%s; deleting the half-made flavor %s failed too (%s): '
                'delete it by hand' % (e, flavor['id'], left)) from None
        if isinstance(e, http.CloudError):
            raise exceptions.CommandError(
                '%s; flavor %s deleted again, nothing was created'
                % (e, body['name'])) from None
        raise
    return flavor


def estimate_capacity(cloud, found, chosen, nova_conf=None, servers=None,
                      roots=None, *, warn):
    """capacity.estimate of the flavors `chosen`, each warning passed to
    warn().

    Reads, beyond the devices `found`: each relevant host root's
    inventories and usages, the providers of each trait asked about, and
    (if a passthrough flavor's alias class must be learned and `servers`
    is None) one server listing; `roots` {root name: uuid}, if None, one
    provider listing.
    """
    from gpuclient.model import capacity

    placement = cloud.placement
    if (servers is None and nova_conf is None
            and any(capacity.alias_names(f) for f in chosen)):
        servers = cloud.compute.servers()
    needs = capacity.needs(chosen, found, nova_conf, servers, warn)
    asked = [n for n in needs.values() if isinstance(n, capacity.Need)]
    by_root = capacity.roots_asked(asked, found)
    if roots is None and by_root:
        roots = {p['name']: p['uuid'] for p in placement.providers()
                 if not p['parent_provider_uuid']}
    names = [r for r in by_root if r in (roots or {})]
    traits = sorted({capacity.DISABLED}.union(*(n.traits() for n in asked)))
    holders = {t: {p['uuid'] for p in providers} for t, providers in zip(
        traits, pool.gather(placement.holders, traits))}
    reads = pool.gather(
        lambda r: (placement.inventories(roots[r])['inventories'],
                   placement.usages(roots[r])['usages']), names)
    hosts = [capacity.host(by_root[r], roots[r], inventories, usages, holders)
             for r, (inventories, usages) in zip(names, reads)]
    return capacity.estimate(needs, hosts, found, warn)
