"""Reading the GPU estate: which Placement listings to make, which
providers may be devices, and the reads of each, concurrently; hosts and
devices found by the names an operator gives."""
from __future__ import annotations

import functools

from osc_lib import exceptions

from gpuclient.access import http
from gpuclient.access import pool
from gpuclient.model import devices
from gpuclient.model import labels
from gpuclient.model import selection
from gpuclient.model import snapshot as snapshot_mod


def host_names(cloud) -> selection.HostNames:
    """Nova's hypervisor hostname -> service host map (os-hypervisors is
    read once per command)."""
    return selection.HostNames(cloud.hypervisors)


def snapshot(cloud, root: str | None = None, with_traits: bool = False,
             required=(), gpus_only: bool = False) -> snapshot_mod.Snapshot:
    """Every device provider of one tree (`root` uuid) or of the cloud,
    with inventories and allocations: 4 listings (5 with `required`
    traits, which Placement filters), then two requests per device
    provider (three per provider of no known owner, and every provider
    with_traits), concurrently; but an SR-IOV GPU's VFs (a provider each)
    cost two requests for the GPU, one listing per vGPU class, and two
    per VF in use or reserved (_read_vfs).

    Which children are devices is decided from the listings (names and
    the traits listed), before any read: other services' providers
    (Neutron's bandwidth subtree) cost nothing more. Cyborg's GPUs' ids
    and the labels (`gpu host label`'s on vGPU providers; a variant-driver
    VF pool's from its device_spec) come from one more listing and one
    per trait that holds them.

    gpus_only leaves out Nova's PCI devices that are not GPUs (a NIC, an
    NVMe drive): their allocations are not read, and (without `required`)
    one more listing, of the custom classes, and one per class that is not
    a GPU's name those with room free, which cost nothing more; a full one
    costs its inventory read (Placement lists providers of a class only
    with room for more of it).
    """
    placement = cloud.placement
    traits = [None, snapshot_mod.PCI_DEVICE_TRAIT,
              snapshot_mod.ONE_TIME_USE_TRAIT, snapshot_mod.CYBORG_TRAIT]
    if required:
        traits.append(','.join(sorted(set(required))))
    reads = [functools.partial(placement.listing, root, t) for t in traits]
    # With `required`, the few providers listed cost less than the class
    # listings (each names every device of its class with room).
    by_class = gpus_only and not required
    if by_class:
        reads.append(placement.custom_classes)
    listings = pool.gather(lambda read: read(), reads)
    classes = listings.pop() if by_class else ()
    providers = listings[0]
    pci_managed, one_time_use, cyborg = (
        {p['uuid'] for p in found} for found in listings[1:4])
    snap = snapshot_mod.Snapshot(providers, pci_managed, one_time_use, cyborg)
    wanted = {p['uuid'] for p in (listings[4] if required else providers)}
    # Nova gives each PCI provider one class: holding another device's
    # class, it is no GPU.
    wanted -= _with_room_for_any(
        placement, [rc for rc in classes if not devices.is_gpu_class(rc)],
        root) & pci_managed
    candidates = [p for p in providers if p['uuid'] in wanted
                  and devices.may_be_device(p, pci_managed, cyborg)]
    if not with_traits:
        snap.traits.update(_listed_traits(placement, root, candidates,
                                          cyborg, pci_managed))
    # An SR-IOV GPU's VFs: one read for the first, then the rest only if
    # used or reserved (_read_vfs).
    gpus = devices.sriov_gpus(candidates, snap.traits)
    later = {p['uuid'] for members in gpus for p in members[1:]}
    requests = []
    for p in candidates:
        uuid = p['uuid']
        if uuid in later:
            pass
        elif gpus_only and uuid in pci_managed:
            requests.append((uuid, 'gpu_records'))
        else:
            requests += [(uuid, 'inventories'), (uuid, 'allocations')]
        # Traits name an unlisted owner.
        if with_traits or not (uuid in pci_managed or uuid in cyborg
                               or devices.is_libvirt_gpu_name(p['name'])):
            requests.append((uuid, 'traits'))
    _fetch(placement, snap, requests)
    if later:
        _read_vfs(placement, snap, root, gpus)
    return snap


def _read_vfs(placement, snap, root, gpus) -> None:
    """The records of the VFs of SR-IOV GPUs past the first of each GPU
    (read already): where that one holds a single vGPU of one class (every
    VF of a GPU serves its one type), a VF Placement lists with room for
    one of that class (one listing per class) is free: its records are the
    first's with nothing reserved or used, at its own generation. The
    others (used, reserved, or of a GPU whose VFs hold more) are read."""
    one_each = {}
    for members in gpus:
        first = snap.inventories.get(members[0]['uuid'], {})
        records = first.get('inventories') or {}
        if len(records) == 1:
            [(rc, record)] = records.items()
            if record['total'] == 1 and record['max_unit'] == 1:
                one_each[id(members)] = (rc, record)
    room = dict(zip(
        sorted({rc for rc, _ in one_each.values()}),
        pool.gather(lambda rc: {p['uuid'] for p in (
            placement.with_room_for(rc, root) or ())},
            sorted({rc for rc, _ in one_each.values()}))))
    requests = []
    for members in gpus:
        rc, record = one_each.get(id(members), (None, None))
        for p in members[1:]:
            if rc and p['uuid'] in room[rc]:
                generation = p['generation']
                snap.inventories[p['uuid']] = {
                    'inventories': {rc: dict(record, reserved=0)},
                    'resource_provider_generation': generation}
                snap.allocations[p['uuid']] = {
                    'allocations': {},
                    'resource_provider_generation': generation}
            else:
                requests += [(p['uuid'], 'inventories'),
                             (p['uuid'], 'allocations')]
    _fetch(placement, snap, requests)


def _listed_traits(placement, root: str | None, candidates, cyborg,
                   pci_managed) -> dict[str, dict]:
    """{uuid: {'traits': [...]}} for Cyborg's GPUs, libvirt's vGPU
    providers, and Nova's PCI providers that hold labels, among
    `candidates`: the traits that hold a Cyborg GPU's ids (its model is
    only there) and the labels (of `gpu host label` on vGPU providers; a
    variant-driver GPU's device_spec traits on its VF pool), from one
    listing per such trait in use rather than one read per provider (an
    SR-IOV GPU has a provider per VF)."""
    found = {}
    for p in candidates:
        if p['uuid'] in cyborg:
            found[p['uuid']] = {'traits': [snapshot_mod.CYBORG_TRAIT]}
        elif devices.is_libvirt_gpu_name(p['name']):
            found[p['uuid']] = {'traits': []}
    pci = {p['uuid'] for p in candidates if p['uuid'] in pci_managed}
    if not (found or pci):
        return {}
    names = [t for t in placement.custom_traits_in_use()
             if devices.is_cyborg_id_trait(t) or labels.is_label_trait(t)]
    for trait, holders in zip(names, pool.gather(
            functools.partial(placement.listing, root), names)):
        for p in holders:
            if p['uuid'] in pci and labels.is_label_trait(trait):
                found.setdefault(p['uuid'], {'traits': []})
            if p['uuid'] in found:
                found[p['uuid']]['traits'].append(trait)
    return found


def _with_room_for_any(placement, classes, root: str | None) -> set[str]:
    """UUIDs of the providers (of one tree) with room for one more of any
    of the classes: one listing per class."""
    return {p['uuid'] for found in pool.gather(
        lambda rc: placement.with_room_for(rc, root) or (), classes)
        for p in found}


def _gpu_records(placement, uuid: str) -> dict:
    """A Nova PCI provider's inventories, and its allocations only if its
    class is a GPU's (a NIC's are not read)."""
    body = placement.inventories(uuid)
    classes = sorted(body['inventories'])
    if classes and devices.is_gpu_class(classes[0]):
        return {'inventories': body,
                'allocations': placement.allocations(uuid)}
    return {'inventories': body}


def _fetch(placement, snap: snapshot_mod.Snapshot, requests) -> None:
    def one(request):
        uuid, kind = request
        try:
            if kind == 'gpu_records':
                return list(_gpu_records(placement, uuid).items())
            return [(kind, getattr(placement, kind)(uuid))]
        except http.NotFound:  # deleted since the listing: leave it out
            return []

    for (uuid, _), found in zip(requests, pool.gather(one, requests)):
        for kind, body in found:
            getattr(snap, kind)[uuid] = body


class NoSuchHost(exceptions.CommandError):
    """A host name that names no compute host (or no name at all)."""


def roots(cloud, host: str) -> list[str]:
    """Root provider UUIDs of a host named either way, in any case."""
    if not host.strip():
        raise NoSuchHost(
            'an empty host name: give a service host or hypervisor hostname')
    found = []
    for name in host_names(cloud).hypervisors(host) or [host]:
        try:
            found.append(cloud.placement.root(name)['uuid'])
        except http.NotFound:
            pass
    if not found:
        raise NoSuchHost(
            'no compute host named %r: neither a Nova service host nor a '
            'hypervisor hostname that Placement knows' % host)
    return found


def snapshots(cloud, host=None, with_traits=False, traits=(), root=None,
              gpus_only=False) -> list[snapshot_mod.Snapshot]:
    """Snapshots of one host's trees (or one root's, or the cloud's), one
    after the other: each reads concurrently already. An empty host is
    refused, never read as the whole cloud."""
    if root:
        trees = [root]
    elif host is not None:
        trees = roots(cloud, host)
    else:
        trees = [None]
    return [snapshot(cloud, root=r, with_traits=with_traits, required=traits,
                     gpus_only=gpus_only) for r in trees]


def build(cloud, taken) -> list[devices.Device]:
    """The devices of snapshots, with Nova's service hosts."""
    hosts = host_names(cloud).mapping
    return [d for s in taken for d in devices.build(s, hosts)]


def load(cloud, host=None, with_traits=False, traits=(), root=None,
         all_devices=False) -> list[devices.Device]:
    """The GPUs (every device with all_devices: see Device.is_gpu) of one
    host (service host or hypervisor hostname), of one root provider, or
    of the cloud; `traits` are filtered by Placement."""
    return [d for d in build(cloud, snapshots(
        cloud, host, with_traits, traits, root, gpus_only=not all_devices))
        if d.is_gpu or all_devices]


def baremetal_nodes(cloud, host=None,
                    all_devices=False) -> list[devices.Device]:
    """Ironic's nodes as devices (one row per node: model/baremetal.py),
    those with GPUs (every node with all_devices), of the node named
    `host` (name or UUID) if given: one node listing, then one inspection
    read per node, concurrently. Without Ironic in the catalog: nothing,
    for one catalog look-up."""
    from gpuclient.model import baremetal

    ironic = cloud.baremetal
    if ironic is None:
        return []
    nodes = ironic.listing
    if host is not None:
        wanted = host.strip().lower()
        nodes = [n for n in nodes if wanted in (
            (n.get('name') or '').lower(), n['uuid'].lower())]
    bodies = pool.gather(lambda n: ironic.inventory(n['uuid']), nodes)
    return [d for d in (baremetal.node_device(n, b)
                        for n, b in zip(nodes, bodies))
            if d.is_gpu or all_devices]


def unseen_nodes(cloud) -> str | None:
    """A note when Nova has bare-metal nodes whose GPUs cannot be shown
    (baremetal.unseen_note): Nova's hypervisors, and Ironic's listing."""
    from gpuclient.model import baremetal

    ironic = cloud.baremetal
    return baremetal.unseen_note(cloud.hypervisors, None if ironic is None
                                 else {n['uuid'] for n in ironic.listing})


def load_with_nodes(cloud, host=None,
                    all_devices=False) -> list[devices.Device]:
    """load()'s devices and the bare-metal nodes' (a node's name is a host
    too: then only the node's)."""
    nodes = baremetal_nodes(cloud, host, all_devices)
    try:
        return load(cloud, host, all_devices=all_devices) + nodes
    except NoSuchHost:
        if not nodes:
            raise
        return nodes


def find(cloud, selector, with_traits=False):
    """The device a selector names, reading only its host's tree (a bare
    address: every tree); a bare-metal node by its name or UUID."""
    placement = cloud.placement
    try:
        selection.check_selector(selector)   # before any request
        if not (devices.split_host_address(selector)
                or devices.normalise_address(selector)
                or devices.normalise_address(selector.rsplit('_', 1)[-1])):
            # a plain name or UUID: a bare-metal node's, or a provider's
            nodes = baremetal_nodes(cloud, selector, all_devices=True)
            if nodes:
                return nodes[0]
        if devices.is_uuid(selector):
            uuid = devices.normalise_uuid(selector)
            try:
                root = placement.provider(uuid)['root_provider_uuid']
            except http.NotFound:
                raise selection.NoSuchDevice(
                    'no resource provider with UUID %s' % uuid)
            found = load(cloud, root=root, with_traits=with_traits,
                         all_devices=True)
        elif devices.normalise_address(selector):
            found = load(cloud, with_traits=with_traits, all_devices=True)
        elif ('_' in selector and devices.normalise_address(
                selector.rsplit('_', 1)[-1])):
            # A provider name: <hypervisor hostname>_<address>.
            named = placement.providers(name=selector)
            if named:
                found = load(cloud, root=named[0]['root_provider_uuid'],
                             with_traits=with_traits, all_devices=True)
            else:
                found = load(cloud, host=selector.rsplit('_', 1)[0],
                             with_traits=with_traits, all_devices=True)
        else:
            host_address = devices.split_host_address(selector)
            if not host_address:
                raise selection.NoSuchDevice(
                    'no GPU device %r: name one by %s'
                    % (selector, selection.EXPECTED))
            found = load(cloud, host=host_address[0],
                         with_traits=with_traits, all_devices=True)
        return selection.select(found, selector)
    except selection.NoSuchDevice as e:
        raise exceptions.CommandError(str(e))


def check_names_exist(cloud, resource_class=None, traits=()):
    """An unknown class or trait is a typo, not an empty answer."""
    placement = cloud.placement
    if resource_class and not placement.resource_class_exists(
            resource_class.upper()):
        raise exceptions.CommandError(
            'no resource class %r in Placement' % resource_class)
    for trait in traits:
        if not placement.trait_exists(trait.upper()):
            raise exceptions.CommandError('no trait %r in Placement' % trait)


def check_model(model):
    if model is not None and not model.strip():
        raise exceptions.CommandError(
            '--model is empty: give a model, e.g. A100')
    if model and not devices.is_known_model(model):
        raise exceptions.CommandError(
            'unknown model %r: neither pci.ids nor the built-in table names '
            'it; built-in models: %s'
            % (model, ', '.join(devices.known_models())))


def cloud_release(cloud) -> tuple[tuple[str, ...], str]:
    """(the releases the cloud's Nova may be, its maximum compute
    microversion): one release, or two that share that maximum."""
    from gpuclient.model import releases

    version = cloud.compute.max_microversion()
    found = releases.from_compute(version)
    if not found:
        raise exceptions.CommandError(
            'this cloud\'s Nova (compute API up to %s) is older than %s, '
            'the oldest release the plugin knows' % (version,
                                                     releases.OLDEST))
    return found, version


def load_nova_conf(paths):
    if not paths:
        return None
    from gpuclient.hostconfig import novaconf

    try:
        return novaconf.load(paths)
    except novaconf.ConfigError as e:
        raise exceptions.CommandError(str(e))


def load_sysfs(path):
    """A host's PCI functions from /sys or a copy of it."""
    from gpuclient.hostconfig import sysfs

    try:
        return sysfs.read(path)
    except sysfs.SysfsError as e:
        raise exceptions.CommandError(str(e))


def read_estate(cloud, host=None, nova_conf=None):
    """Everything the checks look at, read once: the device list's reads,
    the providers of each custom trait in use and of each trait a flavor
    requires, Nova's servers, flavors and migrations (paged), and (for
    the whole cloud) Ironic's nodes."""
    from gpuclient.model import audit
    from gpuclient.model import estate

    placement, compute = cloud.placement, cloud.compute
    taken = snapshots(cloud, host)   # first: a bad host reads nothing
    hosts = host_names(cloud).mapping
    servers, flavor_list, in_use = pool.gather(
        lambda read: read(), [compute.servers, compute.flavors,
                              placement.custom_traits_in_use])
    migrations = compute.migrations_in_progress()   # concurrent itself
    wanted = sorted(set(in_use).union(*(
        audit.required_traits(f.get('extra_specs') or {})
        for f in flavor_list)))
    holders = dict(zip(wanted, pool.gather(placement.holders, wanted)))
    return estate.Estate(
        devices=build(cloud, taken),
        providers=[p for s in taken for p in s.providers],
        inventories={u: body for s in taken
                     for u, body in s.inventories.items()},
        holders=holders, servers={s['id']: s for s in servers},
        flavors=flavor_list, migrations=migrations, hosts=hosts,
        nova_conf=nova_conf, host=host,
        nodes=baremetal_nodes(cloud, all_devices=True) if host is None
        else [])
