"""The fleet file: which simulated hosts exist and which GPUs each has.

Pure data handling: it turns the YAML into the nova.conf values and the
device records the simulated hardware reports, and says what Placement must
show once Nova has reported them.
"""
from __future__ import annotations

import dataclasses
import json
import os
import re

DEFAULT_FLEET = os.path.join(os.path.dirname(__file__), 'default-fleet.yaml')

_ADDRESS = re.compile(r'^[0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]$')
_HEX4 = re.compile(r'^[0-9a-f]{4}$')
_DEVICE_TYPES = ('type-PCI', 'type-PF')
_PCI_KEYS = {'address', 'vendor_id', 'product_id', 'device_type', 'numa_node',
             'one_time_use', 'live_migratable', 'resource_class', 'traits'}
_VGPU_KEYS = {'mdev_type', 'per_gpu', 'addresses', 'resource_class'}


class FleetError(ValueError):
    pass


@dataclasses.dataclass(frozen=True)
class PciDevice:
    address: str
    vendor_id: str
    product_id: str
    device_type: str = 'type-PCI'
    numa_node: int | None = None
    one_time_use: bool = False
    live_migratable: bool = False
    resource_class: str | None = None
    traits: tuple[str, ...] = ()

    def device_spec(self) -> dict:
        """The [pci] device_spec entry for this device's product, as
        operators write it (by vendor and product, not by address)."""
        spec = {'vendor_id': self.vendor_id, 'product_id': self.product_id}
        if self.one_time_use:
            spec['one_time_use'] = 'true'
        if self.live_migratable:
            spec['live_migratable'] = 'true'
        if self.resource_class:
            spec['resource_class'] = self.resource_class
        if self.traits:
            spec['traits'] = ','.join(self.traits)
        return spec

    def hypervisor_record(self) -> dict:
        """The device as a virt driver reports it (pci_passthrough_devices)."""
        return {'address': self.address, 'vendor_id': self.vendor_id,
                'product_id': self.product_id, 'dev_type': self.device_type,
                'status': 'available', 'parent_addr': None,
                'numa_node': self.numa_node,
                'label': 'label_%s_%s' % (self.vendor_id, self.product_id)}


@dataclasses.dataclass(frozen=True)
class VgpuHost:
    mdev_type: str
    per_gpu: int
    addresses: tuple[str, ...]
    resource_class: str = 'VGPU'

    def inventories(self) -> dict[str, int]:
        """libvirt device name of each physical GPU -> vGPUs it offers."""
        return {libvirt_name(a): self.per_gpu for a in self.addresses}


@dataclasses.dataclass(frozen=True)
class Host:
    name: str
    pci: tuple[PciDevice, ...] = ()
    vgpu: VgpuHost | None = None

    def device_spec(self) -> list[str]:
        specs = []
        for d in self.pci:
            spec = json.dumps(d.device_spec(), sort_keys=True)
            if spec not in specs:
                specs.append(spec)
        return specs


@dataclasses.dataclass(frozen=True)
class Fleet:
    hosts: tuple[Host, ...]
    aliases: tuple[dict, ...]

    def host(self, name: str) -> Host:
        for h in self.hosts:
            if h.name == name:
                return h
        raise FleetError('no host %r in the fleet' % name)

    def alias_config(self) -> list[str]:
        return [json.dumps(a) for a in self.aliases]

    def expected_providers(self) -> dict[str, str]:
        """Provider name -> resource class that Nova must report."""
        expected = {}
        for h in self.hosts:
            for d in h.pci:
                rc = d.resource_class or 'CUSTOM_PCI_%s_%s' % (
                    d.vendor_id.upper(), d.product_id.upper())
                expected['%s_%s' % (h.name, d.address.upper())] = rc
            if h.vgpu:
                for name in h.vgpu.inventories():
                    expected['%s_%s' % (h.name, name)] = h.vgpu.resource_class
        return expected


def libvirt_name(address: str) -> str:
    """0000:84:00.0 -> pci_0000_84_00_0, libvirt's node-device name."""
    return 'pci_' + address.replace(':', '_').replace('.', '_')


def _address(value, where):
    a = str(value).lower()
    if not _ADDRESS.match(a):
        raise FleetError('%s: %r is not a PCI address like 0000:81:00.0'
                         % (where, value))
    return a


def _custom_class(value, where):
    rc = str(value).upper()
    if not re.match(r'^CUSTOM_[A-Z0-9_]+$', rc):
        raise FleetError('%s: resource_class %r must look like CUSTOM_NAME'
                         % (where, value))
    return rc


def _pci_device(raw, where) -> PciDevice:
    unknown = set(raw) - _PCI_KEYS
    if unknown:
        raise FleetError('%s: unknown keys %s' % (where, sorted(unknown)))
    for key in ('vendor_id', 'product_id'):
        if not _HEX4.match(str(raw.get(key, '')).lower()):
            raise FleetError('%s: %s must be 4 hex digits' % (where, key))
    device_type = raw.get('device_type', 'type-PCI')
    if device_type not in _DEVICE_TYPES:
        raise FleetError('%s: device_type must be one of %s'
                         % (where, ', '.join(_DEVICE_TYPES)))
    traits = raw.get('traits', ())
    if isinstance(traits, str):
        traits = traits.split(',')
    return PciDevice(
        address=_address(raw.get('address'), where),
        vendor_id=str(raw['vendor_id']).lower(),
        product_id=str(raw['product_id']).lower(),
        device_type=device_type,
        numa_node=raw.get('numa_node'),
        one_time_use=bool(raw.get('one_time_use', False)),
        live_migratable=bool(raw.get('live_migratable', False)),
        resource_class=(_custom_class(raw['resource_class'], where)
                        if raw.get('resource_class') else None),
        traits=tuple(t.strip().upper() for t in traits if t.strip()))


def _vgpu(raw, where) -> VgpuHost:
    unknown = set(raw) - _VGPU_KEYS
    if unknown:
        raise FleetError('%s: unknown keys %s' % (where, sorted(unknown)))
    per_gpu = raw.get('per_gpu')
    if not isinstance(per_gpu, int) or per_gpu < 1:
        raise FleetError('%s: per_gpu must be a positive number' % where)
    addresses = tuple(_address(a, where) for a in raw.get('addresses') or ())
    if not addresses:
        raise FleetError('%s: addresses lists no GPU' % where)
    rc = raw.get('resource_class')
    return VgpuHost(mdev_type=str(raw.get('mdev_type', 'nvidia-35')),
                    per_gpu=per_gpu, addresses=addresses,
                    resource_class=_custom_class(rc, where) if rc else 'VGPU')


def parse(data: dict) -> Fleet:
    if not isinstance(data, dict) or not isinstance(data.get('hosts'), dict):
        raise FleetError('a fleet file needs a "hosts" mapping')
    hosts = []
    for name, raw in data['hosts'].items():
        raw = raw or {}
        if not re.match(r'^[a-z0-9][a-z0-9.-]*$', str(name)):
            raise FleetError('host name %r: use lower-case letters, digits, '
                             '"-" and "."' % name)
        pci = tuple(_pci_device(d, '%s pci[%d]' % (name, i))
                    for i, d in enumerate(raw.get('pci') or ()))
        if len({d.address for d in pci}) != len(pci):
            raise FleetError('%s: a PCI address is listed twice' % name)
        specs = {}
        for d in pci:
            if specs.setdefault((d.vendor_id, d.product_id),
                                d.device_spec()) != d.device_spec():
                raise FleetError(
                    '%s: devices %s:%s must share their device_spec options '
                    '(Nova matches them by vendor and product)'
                    % (name, d.vendor_id, d.product_id))
        vgpu = (_vgpu(raw['vgpu'], '%s vgpu' % name) if raw.get('vgpu')
                else None)
        hosts.append(Host(name=str(name), pci=pci, vgpu=vgpu))
    aliases = tuple(dict(a) for a in data.get('aliases') or ())
    for a in aliases:
        if not a.get('name'):
            raise FleetError('every alias needs a name: %r' % a)
    return Fleet(hosts=tuple(hosts), aliases=aliases)


def load(path: str | None = None) -> Fleet:
    import yaml

    path = path or DEFAULT_FLEET
    try:
        with open(path) as f:
            data = yaml.safe_load(f)
    except (OSError, yaml.YAMLError) as e:
        raise FleetError('cannot read fleet file %s: %s' % (path, e))
    return parse(data)
