"""Test factories shared by the test packages: Placement records shaped as
Placement answers them, an HTTP response, and pci.ids from the fixture."""
import json
import os

import fixtures

from gpuclient.model import pciids

ENDPOINT = 'http://placement.example.org/placement'
FIXTURE = os.path.join(os.path.dirname(__file__), 'fixtures', 'pci.ids')


def provider(uuid, name, parent=None, root=None):
    return {'uuid': uuid, 'name': name, 'parent_provider_uuid': parent,
            'root_provider_uuid': root or parent or uuid, 'generation': 1}


def inventory(rc, total=1, reserved=0, generation=3):
    return {'resource_provider_generation': generation, 'inventories': {
        rc: {'total': total, 'reserved': reserved, 'min_unit': 1,
             'max_unit': total, 'step_size': 1, 'allocation_ratio': 1.0}}}


def allocations(**consumers):
    return {'resource_provider_generation': 3, 'allocations': {
        c: {'resources': r} for c, r in consumers.items()}}


def traits(*names):
    return {'resource_provider_generation': 3, 'traits': list(names)}


class PciIds(fixtures.Fixture):
    """pciids.system() answering from the test's pci.ids, or from none."""

    def __init__(self, path=FIXTURE):
        self.path = path

    def _setUp(self):
        db = pciids.Database.load([self.path]) if self.path else None
        self.useFixture(fixtures.MockPatch('gpuclient.model.pciids.system',
                                           return_value=db))


class Response:
    """What a keystoneauth adapter's request() returns, as far as
    http.Service reads it."""

    def __init__(self, status, body, reason='Some Reason', path='/x'):
        self.status_code = status
        self.reason = reason
        self.url = ENDPOINT + path
        self.text = body if isinstance(body, str) else json.dumps(body)
        self.content = self.text.encode()

    def json(self):
        return json.loads(self.text)
