"""Thin access to Placement: one method per endpoint, each with the
microversion it needs."""
from __future__ import annotations

import dataclasses

from gpuclient import http

PCI_DEVICE_TRAIT = 'COMPUTE_MANAGED_PCI_DEVICE'
ONE_TIME_USE_TRAIT = 'HW_PCI_ONE_TIME_USE'
# Writes retried on a stale provider generation before giving up.
WRITE_ATTEMPTS = 5


@dataclasses.dataclass
class Snapshot:
    """What Placement says about the GPU providers of a tree or a cloud.

    Inventories, allocations and traits are keyed by provider UUID and hold
    Placement's response bodies (with the provider generation).
    """
    providers: list[dict]
    pci_managed: set[str]
    one_time_use: set[str]
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
        generation, value) sends it. A 409 for a stale generation (someone
        else wrote in between) is re-read and re-applied, a bounded number
        of times, so nothing another writer wrote is lost; any other error
        is raised. Returns (body read last, write response or None).
        """
        for _ in range(WRITE_ATTEMPTS):
            body = read()
            value = change(body)
            if value is None:
                return body, None
            try:
                return body, write(body['resource_provider_generation'], value)
            except http.Conflict as e:
                if not e.stale_generation:
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

    def consumer_allocations(self, consumer: str) -> dict:
        return self.service.get('/allocations/%s' % consumer, '1.28')

    # -- the GPU view ------------------------------------------------------
    def root(self, host: str) -> dict:
        """The compute node provider of a host (its tree's root)."""
        found = [p for p in self.providers(name=host)
                 if p['uuid'] == p['root_provider_uuid']]
        if not found:
            raise http.NotFound('no compute host named %r in Placement' % host)
        return found[0]

    def snapshot(self, host: str | None = None, root: str | None = None,
                 with_traits: bool = False) -> Snapshot:
        """Every GPU provider of one tree (`host` or `root` uuid) or of the
        cloud, with inventories and allocations: 3 listings, then at most
        two requests per child provider (three with traits), concurrently.
        """
        from gpuclient import devices

        if host:
            root = self.root(host)['uuid']
        providers, pci_managed, one_time_use = http.gather(
            lambda trait: self._listing(root, trait),
            [None, PCI_DEVICE_TRAIT, ONE_TIME_USE_TRAIT])
        snap = Snapshot(providers, {p['uuid'] for p in pci_managed},
                        {p['uuid'] for p in one_time_use})
        children = [p['uuid'] for p in providers if p['parent_provider_uuid']]
        # Nova-managed PCI devices are GPUs by their trait; other children
        # are GPUs only if their inventory says vGPU.
        first = [(u, 'inventories') for u in children]
        first += [(u, kind) for u in children if u in snap.pci_managed
                  for kind in ('allocations', 'traits')[:1 + with_traits]]
        self._fetch(snap, first)
        by_uuid = {p['uuid']: p for p in providers}
        vgpus = [u for u in children if u not in snap.pci_managed
                 and u in snap.inventories
                 and devices.is_vgpu_provider(by_uuid[u], by_uuid,
                                              snap.inventories[u])]
        self._fetch(snap, [(u, kind) for u in vgpus for kind in
                           ('allocations', 'traits')[:1 + with_traits]])
        return snap

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
                return uuid, kind, getattr(self, kind)(uuid)
            except http.NotFound:  # deleted since the listing: leave it out
                return uuid, kind, None

        for uuid, kind, body in http.gather(one, requests):
            if body is not None:
                getattr(snap, kind)[uuid] = body
