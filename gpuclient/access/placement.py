"""Thin access to Placement: one method per endpoint, each with the
microversion it needs."""
from __future__ import annotations

import dataclasses
import functools
import random
import time

from gpuclient.access import http

PCI_DEVICE_TRAIT = 'COMPUTE_MANAGED_PCI_DEVICE'
ONE_TIME_USE_TRAIT = 'HW_PCI_ONE_TIME_USE'
CYBORG_TRAIT = 'OWNER_CYBORG'
# Writes retried on a stale provider generation before giving up, with a
# random pause of up to RETRY_PAUSE seconds times the attempt before each
# retry. Of N writers racing on one provider at least one wins each round,
# so the last may need N attempts: 16 lets ten operators writing one
# provider at once all get through with room to spare (8 once failed one).
WRITE_ATTEMPTS = 16
RETRY_PAUSE = 0.05


@dataclasses.dataclass
class Snapshot:
    """What Placement says about the GPU providers of a tree or a cloud.

    Inventories, allocations and traits are keyed by provider UUID and hold
    Placement's response bodies (with the provider generation), but for a
    Cyborg GPU's traits read without with_traits: only those that name it.
    """
    providers: list[dict]
    pci_managed: set[str]
    one_time_use: set[str]
    cyborg: set[str] = dataclasses.field(default_factory=set)
    inventories: dict[str, dict] = dataclasses.field(default_factory=dict)
    allocations: dict[str, dict] = dataclasses.field(default_factory=dict)
    traits: dict[str, dict] = dataclasses.field(default_factory=dict)


class Placement:
    def __init__(self, service: http.Service):
        self.service = service

    # -- providers ---------------------------------------------------------
    def providers(self, in_tree: str | None = None,
                  required: str | None = None,
                  name: str | None = None) -> list[dict]:
        params = {k: v for k, v in (('in_tree', in_tree), ('name', name),
                                    ('required', required)) if v}
        return self.service.get(
            '/resource_providers', '1.18' if required else '1.14',
            params=params)['resource_providers']

    def provider(self, uuid: str) -> dict:
        return self.service.get('/resource_providers/%s' % uuid, '1.14')

    def inventories(self, uuid: str) -> dict:
        return self.service.get(
            '/resource_providers/%s/inventories' % uuid, '1.14')

    def allocations(self, uuid: str) -> dict:
        return self.service.get(
            '/resource_providers/%s/allocations' % uuid, '1.14')

    def inventories_and_allocations(self, uuid: str) -> dict:
        """A provider's inventories and allocations as of one generation:
        {'resource_provider_generation', 'inventories', 'allocations'}.

        Both GETs carry the generation; a write between them (a claim bumps
        it too) is re-read, a bounded number of times.
        """
        for _ in range(WRITE_ATTEMPTS):
            allocations = self.allocations(uuid)
            body = self.inventories(uuid)
            if (body['resource_provider_generation']
                    == allocations['resource_provider_generation']):
                return dict(body, allocations=allocations['allocations'])
        raise http.Conflict(
            'Placement: the provider kept changing under %d attempts to read '
            'it; try again' % WRITE_ATTEMPTS, 409,
            'placement.concurrent_update')

    def traits(self, uuid: str) -> dict:
        return self.service.get('/resource_providers/%s/traits' % uuid, '1.6')

    def put_traits(self, uuid: str, generation: int, traits) -> dict:
        # 1.23: a stale generation's 409 says placement.concurrent_update
        # (at 1.6 it has no code, and read_modify_write would not retry).
        return self.service.request(
            'PUT', '/resource_providers/%s/traits' % uuid, '1.23',
            json={'resource_provider_generation': generation,
                  'traits': sorted(traits)})

    def put_inventory(self, uuid: str, resource_class: str, generation: int,
                      record: dict) -> dict:
        # 1.26: reserved may equal total, as Nova sets it for one-time use.
        body = dict(record, resource_provider_generation=generation)
        return self.service.request(
            'PUT', '/resource_providers/%s/inventories/%s'
            % (uuid, resource_class), '1.26', json=body)

    def read_modify_write(self, read, change, write):
        """Write a provider record on the generation it was read at.

        read() returns a body with resource_provider_generation; change(body)
        returns the new value, or None for "nothing to write"; write(
        generation, value) sends it. A write that lost a race to another
        writer (http.is_concurrent_update: Placement's 409
        placement.concurrent_update, or the HTTP 500 its traits handler
        answers when objects/resource_provider.py's increment_generation
        raises ResourceProviderConcurrentUpdateDetected; both roll back) is
        re-read and re-applied after a short random pause, a bounded number
        of times, so nothing another writer wrote is lost; any other error
        is raised. Returns (body read last, write response or None).
        """
        for attempt in range(WRITE_ATTEMPTS):
            if attempt:
                # Writers that lost one race spread out, or meet again.
                time.sleep(random.uniform(0, RETRY_PAUSE * attempt))
            body = read()
            value = change(body)
            if value is None:
                return body, None
            try:
                return body, write(body['resource_provider_generation'], value)
            except http.CloudError as e:
                if not http.is_concurrent_update(e):
                    raise
        raise http.Conflict(
            'Placement: the provider kept changing under %d attempts to write '
            'it; try again' % WRITE_ATTEMPTS, 409,
            'placement.concurrent_update')

    # -- traits and consumers ----------------------------------------------
    def _exists(self, path: str, microversion: str) -> bool:
        try:
            self.service.get(path, microversion)
        except http.NotFound:
            return False
        return True

    def trait_exists(self, name: str) -> bool:
        return self._exists('/traits/%s' % name, '1.6')

    def resource_class_exists(self, name: str) -> bool:
        return self._exists('/resource_classes/%s' % name, '1.2')

    def create_trait(self, name: str) -> None:
        self.service.request('PUT', '/traits/%s' % name, '1.6')

    def custom_traits_in_use(self) -> list[str]:
        """Custom traits some provider has (one request: for the audit,
        and for the traits that hold Cyborg's GPU ids)."""
        return self.service.get('/traits', '1.6', params={
            'associated': 'true', 'name': 'startswith:CUSTOM_'})['traits']

    def consumer_allocations(self, consumer: str) -> dict:
        return self.service.get('/allocations/%s' % consumer, '1.28')

    # -- the GPU view ------------------------------------------------------
    def root(self, host: str) -> dict:
        """The compute node provider of a host (its tree's root), by its
        name in any case: Placement's name= compares exactly, so a miss is
        looked for again in the full listing."""
        found = [p for p in self.providers(name=host)
                 if p['uuid'] == p['root_provider_uuid']]
        if not found:
            found = [p for p in self.providers()
                     if p['uuid'] == p['root_provider_uuid']
                     and p['name'].lower() == host.lower()]
        if not found:
            raise http.NotFound('no compute host named %r in Placement' % host)
        return found[0]

    def snapshot(self, host: str | None = None, root: str | None = None,
                 with_traits: bool = False, required=(),
                 gpus_only: bool = False) -> Snapshot:
        """Every device provider of one tree (`host` or `root` uuid) or of
        the cloud, with inventories and allocations: 4 listings (5 with
        `required` traits, which Placement filters), then two requests per
        device provider (three per provider of no known owner, and every
        provider with_traits), concurrently.

        Which children are devices is decided from the listings (names and
        the traits listed), before any read: other services' providers
        (Neutron's bandwidth subtree) cost nothing more. Cyborg's GPUs'
        ids come from two more listings and one per trait that holds them.

        gpus_only leaves out Nova's PCI devices that are not GPUs (a NIC,
        an NVMe drive): their allocations are not read, and (without
        `required`) one more listing, of the custom classes, and one per
        class that is not a GPU's name those with room free, which cost
        nothing more; a full one costs its inventory read (Placement lists
        providers of a class only with room for more of it).
        """
        from gpuclient.model import devices

        if host:
            root = self.root(host)['uuid']
        traits = [None, PCI_DEVICE_TRAIT, ONE_TIME_USE_TRAIT, CYBORG_TRAIT]
        if required:
            traits.append(','.join(sorted(set(required))))
        reads = [functools.partial(self._listing, root, t) for t in traits]
        # With `required`, the few providers listed cost less than the
        # class listings (each names every device of its class with room).
        by_class = gpus_only and not required
        if by_class:
            reads.append(self.custom_classes)
        listings = http.gather(lambda read: read(), reads)
        classes = listings.pop() if by_class else ()
        providers, pci_managed, one_time_use, cyborg = (
            listings[0], *({p['uuid'] for p in found}
                           for found in listings[1:4]))
        snap = Snapshot(providers, pci_managed, one_time_use, cyborg)
        wanted = {p['uuid'] for p in (listings[4] if required else providers)}
        # Nova gives each PCI provider one class: holding another device's
        # class, it is no GPU.
        wanted -= self._with_room_for_any(
            [rc for rc in classes if not devices.is_gpu_class(rc)],
            root) & pci_managed
        candidates = [p for p in providers if p['uuid'] in wanted
                      and devices.may_be_device(p, pci_managed, cyborg)]
        if not with_traits:
            snap.traits.update(self._cyborg_id_traits(
                root, [p['uuid'] for p in candidates if p['uuid'] in cyborg]))
        reads = []
        for p in candidates:
            uuid = p['uuid']
            if gpus_only and uuid in pci_managed:
                reads.append((uuid, 'gpu_records'))
            else:
                reads += [(uuid, 'inventories'), (uuid, 'allocations')]
            # Traits name an unlisted owner.
            if with_traits or not (uuid in pci_managed or uuid in cyborg
                                   or devices.is_libvirt_gpu_name(p['name'])):
                reads.append((uuid, 'traits'))
        self._fetch(snap, reads)
        return snap

    def _cyborg_id_traits(self, root: str | None, uuids) -> dict[str, dict]:
        """{uuid: {'traits': [...]}} for Cyborg's GPUs `uuids`: the traits
        that hold their ids (their model is only there), from one listing
        per such trait in use rather than one read per GPU."""
        from gpuclient.model import devices

        if not uuids:
            return {}
        names = [t for t in self.custom_traits_in_use()
                 if devices.is_cyborg_id_trait(t)]
        found = {uuid: {'traits': [CYBORG_TRAIT]} for uuid in uuids}
        for trait, holders in zip(names, http.gather(
                functools.partial(self._listing, root), names)):
            for p in holders:
                if p['uuid'] in found:
                    found[p['uuid']]['traits'].append(trait)
        return found

    def custom_classes(self) -> list[str]:
        return [rc['name'] for rc in self.service.get(
            '/resource_classes', '1.2')['resource_classes']
            if rc['name'].startswith('CUSTOM_')]

    def with_room_for(self, resource_class: str,
                      root: str | None = None) -> list[dict] | None:
        """The providers (of one tree) with room for one more unit of a
        class; None if Placement knows no such class."""
        try:
            return self.service.get(
                '/resource_providers', '1.14',
                params=dict({'resources': '%s:1' % resource_class},
                            **({'in_tree': root} if root else {})),
            )['resource_providers']
        except http.CloudError as e:
            if e.status == 400:
                return None
            raise

    def _with_room_for_any(self, classes, root: str | None) -> set[str]:
        """UUIDs of the providers (of one tree) with room for one more of
        any of the classes: one listing per class."""
        return {p['uuid'] for found in http.gather(
            lambda rc: self.with_room_for(rc, root) or (), classes)
            for p in found}

    def gpu_records(self, uuid: str) -> dict:
        """A Nova PCI provider's inventories, and its allocations only if
        its class is a GPU's (a NIC's are not read)."""
        from gpuclient.model import devices

        body = self.inventories(uuid)
        classes = sorted(body['inventories'])
        if classes and devices.is_gpu_class(classes[0]):
            return {'inventories': body,
                    'allocations': self.allocations(uuid)}
        return {'inventories': body}

    def _listing(self, root: str | None, trait: str | None) -> list[dict]:
        try:
            return self.providers(in_tree=root, required=trait)
        except http.CloudError as e:
            if trait and e.status == 400:  # a cloud that never had the trait
                return []
            raise

    def _fetch(self, snap: Snapshot, requests) -> None:
        def one(request):
            uuid, kind = request
            try:
                body = getattr(self, kind)(uuid)
            except http.NotFound:  # deleted since the listing: leave it out
                return []
            return (list(body.items()) if kind == 'gpu_records'
                    else [(kind, body)])

        for (uuid, _), found in zip(requests, http.gather(one, requests)):
            for kind, body in found:
                getattr(snap, kind)[uuid] = body

    # -- capacity (F) --------------------------------------------------------
    def usages(self, uuid: str) -> dict:
        """{'resource_provider_generation', 'usages': {class: used}}."""
        return self.service.get('/resource_providers/%s/usages' % uuid,
                                '1.14')

    def holders(self, trait: str) -> list[dict]:
        """The providers that have the trait; none for a trait Placement
        does not know (a flavor may require one: audit, capacity)."""
        return self._listing(None, trait)
