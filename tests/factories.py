"""Test factories shared by the test packages: Placement records shaped as
Placement answers them, an HTTP response, pci.ids from the fixture, and
the model's devices, servers and flavors."""
import json
import os

import fixtures

from gpuclient.model import devices
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


def device(host='gpu-a30-1', address='0000:81:00.0',
           rc='CUSTOM_PCI_10DE_20B7', kind=devices.PASSTHROUGH, total=1,
           used=None, reserved=0, consumers=None, uuid=None, max_unit=None,
           **fields):
    """A devices.Device as devices.build makes it, its figures consistent
    (used from the consumers, free, state); `fields` set the rest."""
    consumers = consumers or {}
    used = sum(consumers.values()) if used is None else used
    values = dict(
        host=host, address=address, kind=kind, resource_class=rc,
        pci_id=devices.pci_id(rc), model=None, total=total, used=used,
        reserved=reserved, free=max(total - used - reserved, 0),
        state=devices.state_of(kind, total, used, reserved),
        provider_uuid=uuid or 'rp-%s-%s' % (host, address),
        provider_name='%s_%s' % (host, address), generation=1,
        inventory={'total': total, 'reserved': reserved,
                   'max_unit': max_unit or total},
        consumers=consumers, one_time_use=False)
    values.update(fields)
    return devices.Device(**values)


def server(uuid='s1', specs=None, host='gpu-a30-1', name='vm',
           status='ACTIVE', **fields):
    """A server as Nova 2.47+ shows it to an admin (flavor embedded)."""
    return dict({'id': uuid, 'name': name, 'status': status,
                 'OS-EXT-SRV-ATTR:host': host,
                 'OS-EXT-SRV-ATTR:hypervisor_hostname': host,
                 'flavor': {'original_name': 'f',
                            'extra_specs': specs or {}}}, **fields)


def flavor(name, specs=None, **fields):
    return dict({'id': name, 'name': name, 'extra_specs': specs or {}},
                **fields)
