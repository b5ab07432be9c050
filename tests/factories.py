"""Test factories shared by the test packages: Placement records shaped as
Placement answers them, an HTTP response, pci.ids from the fixture, and
the model's devices, servers and flavors."""
import io
import json
import os
import re

import fixtures

from gpuclient.access import http
from gpuclient.access import placement
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


# -- an in-memory cloud, for the commands' unit tests ----------------------
# The behaviour tests run against the real services (tests/functional);
# these stand in for the access layer's clients, one method per endpoint,
# so a unit test can drive a command's take_action without I/O.
class MemoryPlacement(placement.Placement):
    """Placement's records in dicts; what the real client composes from
    its endpoints (root, listing, holders, read_modify_write) it inherits.
    """

    def __init__(self):
        self.records = {}      # uuid -> provider record
        self.inventory = {}    # uuid -> {class: inventory record}
        self.held = {}         # consumer -> {uuid: {class: amount}}
        self.has = {}          # uuid -> set of traits
        self.known_traits = set()
        self.classes = set()
        self.project = {}      # consumer -> project_id

    def add(self, name, parent=None, inventory=None, traits=(), uuid=None):
        uuid = uuid or 'rp-%s' % name
        root = self.records[parent]['root_provider_uuid'] if parent else uuid
        self.records[uuid] = {'uuid': uuid, 'name': name, 'generation': 1,
                              'parent_provider_uuid': parent,
                              'root_provider_uuid': root}
        self.inventory[uuid] = {rc: dict(
            {'total': 1, 'reserved': 0, 'min_unit': 1, 'max_unit': 1,
             'step_size': 1, 'allocation_ratio': 1.0}, **record)
            for rc, record in (inventory or {}).items()}
        self.has[uuid] = set(traits)
        self.known_traits |= set(traits)
        self.classes |= set(self.inventory[uuid])
        return uuid

    def allocate(self, consumer, uuid, project='p1', **resources):
        self.held.setdefault(consumer, {})[uuid] = resources
        self.project[consumer] = project
        self.records[uuid]['generation'] += 1

    def _used(self, uuid):
        used = {}
        for by_provider in self.held.values():
            for rc, amount in by_provider.get(uuid, {}).items():
                used[rc] = used.get(rc, 0) + amount
        return used

    def _generation(self, uuid):
        return self.records[uuid]['generation']

    def _record(self, uuid):
        if uuid not in self.records:
            raise http.NotFound('Placement: no provider %s (HTTP 404)'
                                % uuid, 404)
        return self.records[uuid]

    def providers(self, in_tree=None, required=None, name=None):
        if required:
            for trait in required.split(','):
                if trait not in self.known_traits:
                    raise http.CloudError('Placement: no trait %s (HTTP 400)'
                                          % trait, 400)
        tree = in_tree and self._record(in_tree)['root_provider_uuid']
        return [dict(p) for u, p in sorted(self.records.items())
                if (not tree or p['root_provider_uuid'] == tree)
                and (not name or p['name'] == name)
                and set((required or '').split(',')) - {''} <= self.has[u]]

    def provider(self, uuid):
        return dict(self._record(uuid))

    def inventories(self, uuid):
        self._record(uuid)
        return {'resource_provider_generation': self._generation(uuid),
                'inventories': {rc: dict(r) for rc, r in
                                self.inventory[uuid].items()}}

    def allocations(self, uuid):
        self._record(uuid)
        return {'resource_provider_generation': self._generation(uuid),
                'allocations': {c: {'resources': dict(by[uuid])}
                                for c, by in self.held.items() if uuid in by}}

    def inventories_and_allocations(self, uuid):
        return dict(self.inventories(uuid),
                    allocations=self.allocations(uuid)['allocations'])

    def traits(self, uuid):
        self._record(uuid)
        return {'resource_provider_generation': self._generation(uuid),
                'traits': sorted(self.has[uuid])}

    def _write(self, uuid, generation):
        if generation != self._generation(uuid):
            raise http.Conflict('Placement: stale generation (HTTP 409)',
                                409, 'placement.concurrent_update')
        self.records[uuid]['generation'] += 1

    def put_traits(self, uuid, generation, traits):
        unknown = set(traits) - self.known_traits
        if unknown:
            raise http.CloudError('Placement: no trait %s (HTTP 400)'
                                  % sorted(unknown)[0], 400)
        self._write(uuid, generation)
        self.has[uuid] = set(traits)
        return self.traits(uuid)

    def put_inventory(self, uuid, resource_class, generation, record):
        self._write(uuid, generation)
        self.inventory[uuid][resource_class] = {
            k: v for k, v in record.items()
            if k != 'resource_provider_generation'}
        return dict(self.inventory[uuid][resource_class],
                    resource_provider_generation=self._generation(uuid))

    def trait_exists(self, name):
        return name in self.known_traits

    def resource_class_exists(self, name):
        return name in self.classes or not name.startswith('CUSTOM_')

    def create_trait(self, name):
        self.known_traits.add(name)

    def custom_traits_in_use(self):
        return sorted({t for ts in self.has.values() for t in ts
                       if t.startswith('CUSTOM_')})

    def consumer_allocations(self, consumer):
        by = self.held.get(consumer, {})
        return {'allocations': {u: {'resources': r} for u, r in by.items()},
                'project_id': self.project.get(consumer)}

    def custom_classes(self):
        return sorted(rc for rc in self.classes if rc.startswith('CUSTOM_'))

    def with_room_for(self, resource_class, root=None):
        if resource_class not in self.classes:
            return None
        found = []
        for p in self.providers(in_tree=root):
            record = self.inventory[p['uuid']].get(resource_class)
            if record and (record['total'] - record['reserved']
                           - self._used(p['uuid']).get(resource_class, 0)
                           ) >= 1:
                found.append(p)
        return found

    def usages(self, uuid):
        return {'resource_provider_generation': self._generation(uuid),
                'usages': self._used(uuid)}


class MemoryCompute:
    """Nova's servers, flavors and hypervisors in lists."""

    def __init__(self):
        self.server_list, self.flavor_list, self.hypervisor_list = [], [], []
        self.migrations = []
        self.deleted = []

    def server(self, uuid):
        return next((s for s in self.server_list if s['id'] == uuid), None)

    def servers(self, all_projects=True, **filters):
        def match(s):
            return all(
                (s.get('OS-EXT-SRV-ATTR:host') == v if k == 'host'
                 else s.get('tenant_id') == v if k == 'project_id'
                 else s['flavor'].get('id') == v if k == 'flavor'
                 else re.match(v, s['name']) if k == 'name' else True)
                for k, v in filters.items())
        return [s for s in self.server_list if match(s)]

    def a_server(self, **filters):
        found = self.servers(**filters)
        return found[0] if found else None

    def hypervisors(self):
        return list(self.hypervisor_list)

    def migrations_in_progress(self):
        return list(self.migrations)

    def flavors(self):
        return [dict(f) for f in self.flavor_list]

    def create_flavor(self, flavor):
        if any(f['name'] == flavor['name'] for f in self.flavor_list):
            raise http.Conflict('Compute: flavor exists (HTTP 409)', 409)
        created = dict(flavor, id=flavor.get('id') or 'id-' + flavor['name'],
                       extra_specs={})
        self.flavor_list.append(created)
        return dict(created)

    def set_extra_specs(self, flavor_id, specs):
        for f in self.flavor_list:
            if f['id'] == flavor_id:
                f['extra_specs'] = dict(specs)
                return dict(specs)
        raise http.NotFound('Compute: no flavor (HTTP 404)', 404)

    def add_flavor_access(self, flavor_id, project_id):
        pass

    def delete_flavor(self, flavor_id):
        self.deleted.append(flavor_id)
        self.flavor_list = [f for f in self.flavor_list
                            if f['id'] != flavor_id]


class MemoryCloud:
    """What a command reaches as client_manager.gpu (access.cloud.Cloud)."""

    def __init__(self):
        self.placement = MemoryPlacement()
        self.compute = MemoryCompute()
        self.baremetal = None   # no Ironic in the catalog

    @property
    def hypervisors(self):
        return self.compute.hypervisors()

    def compute_host(self, name, hypervisor=None):
        """A compute node: its root provider and its hypervisor record."""
        hypervisor = hypervisor or name
        self.compute.hypervisor_list.append(
            {'hypervisor_hostname': hypervisor, 'service': {'host': name}})
        return self.placement.add(hypervisor, inventory={
            'VCPU': {'total': 64, 'max_unit': 64},
            'MEMORY_MB': {'total': 262144, 'max_unit': 262144},
            'DISK_GB': {'total': 2000, 'max_unit': 2000}})

    def pci_gpu(self, root, address, rc='CUSTOM_PCI_10DE_20B7',
                one_time_use=False):
        """A device Nova reports with PCI in Placement."""
        name = '%s_%s' % (self.placement.records[root]['name'], address)
        traits = ['COMPUTE_MANAGED_PCI_DEVICE'] + (
            ['HW_PCI_ONE_TIME_USE'] if one_time_use else [])
        return self.placement.add(name, root, {rc: {'total': 1}}, traits)

    def vgpu_gpu(self, root, address, total=16, rc='VGPU'):
        """A physical GPU the libvirt driver reports with vGPU inventory."""
        name = '%s_pci_%s' % (self.placement.records[root]['name'],
                              address.replace(':', '_').replace('.', '_'))
        return self.placement.add(name, root, {rc: {'total': total,
                                                    'max_unit': total}})


class App:
    """What a cliff command reaches as self.app."""

    def __init__(self, cloud):
        # no credentials in OSC's config: commands that may ask the cloud
        # (config check's release) do not
        options = type('Options', (), {'config': {}})()
        self.client_manager = type('ClientManager', (), {
            'gpu': cloud, '_cli_options': options})()
        self.stdout, self.stderr = io.StringIO(), io.StringIO()
        self.options = type('Options', (), {'debug': False})()
