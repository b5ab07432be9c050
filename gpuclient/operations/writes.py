"""Writes to Placement that an operator asks for: the devices they name,
checked before anything is written, and each write made on the provider
generation it read (placement.read_modify_write), so no one else's write
is lost."""
from __future__ import annotations

from osc_lib import exceptions

from gpuclient.access import http
from gpuclient.access import pool
from gpuclient.model import devices
from gpuclient.model import reserved
from gpuclient.model import traits
from gpuclient.operations import reading


def find_named(cloud, selectors, with_traits=False) -> list[devices.Device]:
    """The devices named, once each, every name resolved and checked
    before anything is written: a Cyborg-managed device or a VF refuses
    the whole command in one line (shared with reserved reset). An SR-IOV
    vGPU GPU names each of its VF providers."""
    found = {}
    for selector in selectors:
        named = reading.find(cloud, selector, with_traits)
        # an SR-IOV GPU is written as its VFs' providers
        for d in named.vfs or [named]:
            why = traits.unwritable(d, selector)
            if why:
                raise exceptions.CommandError(why)
            found.setdefault(d.provider_uuid, d)
    return list(found.values())


def writable(found: list[devices.Device], selection: str
             ) -> list[devices.Device]:
    """The GPUs among the devices a selection (--host, --all, ...) found
    that the plugin may write to; if Cyborg manages all of them, the one
    line that says so."""
    gpus = [d for d in found if d.is_gpu]
    kept = [d for d in gpus if not traits.unwritable(d)]
    if gpus and not kept:
        raise exceptions.CommandError(traits.cyborg_refusal(
            'the %d GPU(s) %s selects are' % (len(gpus), selection),
            'their'))
    return kept


def select(cloud, named=(), host=None, model=None, resource_class=None
           ) -> list[devices.Device]:
    """The devices named, or the GPUs of --host/--model/--resource-class,
    with their traits; every name resolved before anything is written."""
    filtered = host or model or resource_class
    if named and filtered:
        raise exceptions.CommandError(
            'name devices or select them with --host, --model and '
            '--resource-class, not both')
    if named:
        return find_named(cloud, named, with_traits=True)
    if not filtered:
        raise exceptions.CommandError(
            'name the GPUs (<device>...) or select them with --host, '
            '--model or --resource-class')
    reading.check_names_exist(cloud, resource_class)
    reading.check_model(model)
    filters = devices.Filters(resource_class=resource_class, model=model)
    selection = ' '.join('%s %s' % (option, value) for option, value in (
        ('--host', host), ('--model', model),
        ('--resource-class', resource_class)) if value)
    found = writable([d for d in reading.load(cloud, host, with_traits=True)
                      if filters.match(d)], selection)
    if not found:
        raise exceptions.CommandError('no GPU matches %s' % selection)
    return found


def change_traits(placement, found: list[devices.Device], trait: str,
                  tag: bool, transient: bool) -> list[dict]:
    """Add (tag) or remove `trait` on each device's provider, keeping every
    other trait: one row per device.

    Devices whose traits Nova manages (PCI in Placement) are refused, all
    of them before anything is written, unless `transient`. Each provider
    is read and written at one generation; a write in between is re-read
    and re-applied (placement.read_modify_write), so no one's trait is lost.
    """
    def managed(d):
        return d.kind == devices.PASSTHROUGH

    refused = [d for d in found if traits.refused(
        d.traits or (), trait, tag, managed(d), transient)]
    if refused:
        raise exceptions.CommandError(traits.refusal(refused, trait, tag))
    if tag and any(traits.changed(d.traits or (), trait, tag) is not None
                   for d in found):
        placement.create_trait(trait)   # PUT: a no-op if it exists

    def one(d):
        row = dict(host=d.host, address=d.address, before=d.traits,
                   after=d.traits)
        try:
            body, written = placement.read_modify_write(
                lambda: placement.traits(d.provider_uuid),
                lambda body: traits.changed(body['traits'], trait, tag),
                lambda generation, new: placement.put_traits(
                    d.provider_uuid, generation, new))
        except http.CloudError as e:
            return dict(row, result='failed: %s' % e, failed=True)
        before = sorted(body['traits'])
        return dict(row, before=before,
                    after=sorted(written['traits']) if written else before,
                    result=traits.result(tag, written is not None,
                                         managed(d)))

    return pool.gather(one, found)


def reset(placement, device: devices.Device, any_device: bool = False,
          dry_run: bool = False) -> reserved.Outcome:
    """Set one device's reserved back to 0, if it is reserved and unused.

    The decision is taken again on a fresh read at one provider
    generation, and the write is made on that generation: if anything
    changed since (a claim bumps the generation too), Placement refuses
    it and the device is read and judged again.
    """
    uuid, rc = device.provider_uuid, device.resource_class

    def read():
        return placement.inventories_and_allocations(uuid)

    def change(state):
        return reserved.reset_record(state, rc, device.one_time_use,
                                     any_device)

    def write(generation, record):
        return placement.put_inventory(uuid, rc, generation, record)

    try:
        if dry_run:
            state, written = read(), None
        else:
            state, written = placement.read_modify_write(read, change, write)
    except http.CloudError as e:
        return reserved.failed(device, e)
    return reserved.outcome(device, state, written, any_device)
