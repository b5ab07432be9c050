"""Thin access to Placement: one method per endpoint, each with the
microversion it needs."""
from __future__ import annotations

import random
import time

from gpuclient.access import http

# Writes retried on a stale provider generation before giving up, with a
# random pause of up to RETRY_PAUSE seconds times the attempt before each
# retry. Of N writers racing on one provider at least one wins each round,
# so the last may need N attempts: 16 lets ten operators writing one
# provider at once all get through with room to spare (8 once failed one).
WRITE_ATTEMPTS = 16
RETRY_PAUSE = 0.05


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

    # -- trees and listings ------------------------------------------------
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

    def listing(self, root: str | None, trait: str | None) -> list[dict]:
        """The providers (of one tree) with a trait; none for a trait
        Placement does not know."""
        try:
            return self.providers(in_tree=root, required=trait)
        except http.CloudError as e:
            if trait and e.status == 400:  # a cloud that never had the trait
                return []
            raise

    # -- capacity (F) --------------------------------------------------------
    def usages(self, uuid: str) -> dict:
        """{'resource_provider_generation', 'usages': {class: used}}."""
        return self.service.get('/resource_providers/%s/usages' % uuid,
                                '1.14')

    def holders(self, trait: str) -> list[dict]:
        """The providers that have the trait; none for a trait Placement
        does not know (a flavor may require one: audit, capacity)."""
        return self.listing(None, trait)
