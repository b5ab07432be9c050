"""GPU devices from what Placement says: pure functions, no I/O.

A device is a child provider of a compute node that is either a PCI device
Nova manages (trait COMPUTE_MANAGED_PCI_DEVICE) or a physical GPU carrying
vGPU inventory. Its host is its compute node provider's name; its address
comes from its own name, which Nova builds from the compute node's name.
"""
from __future__ import annotations

import collections
import dataclasses
import re

PASSTHROUGH = 'passthrough'
VGPU = 'vgpu'
KINDS = (PASSTHROUGH, VGPU)
STATES = ('free', 'in-use', 'partly-used', 'reserved')

# vendor:product -> model, for the GPUs GPU clouds pass through.
MODELS = {
    '10de:20b7': 'A30', '10de:20b0': 'A100', '10de:20b1': 'A100',
    '10de:20b2': 'A100', '10de:20b3': 'A100', '10de:20b5': 'A100',
    '10de:20f1': 'A100', '10de:20f3': 'A100', '10de:2330': 'H100',
    '10de:2331': 'H100', '10de:2339': 'H100', '10de:233a': 'H100',
    '10de:2335': 'H200', '10de:2204': 'RTX 3090', '10de:2684': 'RTX 4090',
    '10de:1db1': 'V100', '10de:1db4': 'V100', '10de:1db5': 'V100',
    '10de:1db6': 'V100', '10de:1df6': 'V100S', '10de:1eb8': 'T4',
    '10de:2236': 'A10', '10de:2235': 'A40', '10de:25b6': 'A16',
    '10de:2230': 'RTX A6000', '10de:26b5': 'L40', '10de:26b9': 'L40S',
    '10de:27b8': 'L4', '1002:740f': 'MI210', '1002:740c': 'MI250X',
    '1002:74a1': 'MI300X',
}
_BY_SQUASHED_MODEL = {re.sub(r'[^A-Z0-9]', '', m.upper()): m
                      for m in MODELS.values()}

_PCI_CLASS = re.compile(r'^CUSTOM_PCI_([0-9A-F]{4})_([0-9A-F]{4})$')
_ADDRESS = re.compile(
    r'^(?:([0-9a-f]{4}):)?([0-9a-f]{2}):([0-9a-f]{2})\.([0-7])$', re.I)
_LIBVIRT_ADDRESS = re.compile(
    r'^pci_([0-9a-f]{4})_([0-9a-f]{2})_([0-9a-f]{2})_([0-7])$', re.I)
_UUID = re.compile(r'^[0-9a-f]{8}-?([0-9a-f]{4}-?){3}[0-9a-f]{12}$', re.I)


@dataclasses.dataclass
class Device:
    host: str
    address: str | None
    kind: str
    resource_class: str
    pci_id: str | None          # vendor:product, where the class names it
    model: str | None
    total: int
    used: int
    reserved: int
    free: int
    state: str
    provider_uuid: str
    provider_name: str
    generation: int
    inventory: dict             # Placement's full record for resource_class
    consumers: dict[str, int]   # consumer UUID -> amount of resource_class
    one_time_use: bool
    traits: list[str] | None = None   # None: not read


def normalise_address(text: str) -> str | None:
    """PCI address as lspci prints it (0000:81:00.0), from Nova's upper-case
    form, libvirt's pci_0000_81_00_0 or a short 81:00.0; None if not one."""
    m = _ADDRESS.match(text) or _LIBVIRT_ADDRESS.match(text)
    if not m:
        return None
    domain, bus, slot, function = m.groups()
    return ('%s:%s:%s.%s' % (domain or '0000', bus, slot, function)).lower()


def address_from_name(name: str, parent_name: str | None) -> str | None:
    """A device provider is named <parent name>_<address>; the host part may
    itself hold '_', so strip the parent's name rather than split."""
    if parent_name and name.startswith(parent_name + '_'):
        return normalise_address(name[len(parent_name) + 1:])
    return normalise_address(name.rsplit('_', 1)[-1])


def pci_id(resource_class: str) -> str | None:
    m = _PCI_CLASS.match(resource_class)
    return ('%s:%s' % m.groups()).lower() if m else None


def model_name(resource_class: str) -> str | None:
    """The model, from the vendor:product in the class or a custom class
    named after a model (CUSTOM_A100)."""
    ident = pci_id(resource_class)
    if ident:
        return MODELS.get(ident)
    if resource_class.startswith('CUSTOM_'):
        squashed = re.sub(r'[^A-Z0-9]', '', resource_class[7:])
        return _BY_SQUASHED_MODEL.get(squashed)
    return None


def state_of(kind: str, total: int, used: int, reserved: int) -> str:
    if used == 0:
        # Fully reserved and unused: a released one-time-use GPU waiting to
        # be scrubbed, or a device an operator took out of service.
        return 'reserved' if reserved >= total else 'free'
    if kind == VGPU and used + reserved < total:
        return 'partly-used'
    return 'in-use'


def _vgpu_class(inventories: dict) -> str | None:
    if 'VGPU' in inventories:
        return 'VGPU'
    custom = [rc for rc in inventories if rc.startswith('CUSTOM_')]
    return custom[0] if len(custom) == 1 else None


def is_vgpu_provider(provider: dict, by_uuid: dict, inventory: dict) -> bool:
    """A physical GPU with vGPU inventory: class VGPU, or the one custom
    class ([mdev_<type>] mdev_class) of a provider named as libvirt names
    GPUs (<node>_pci_0000_84_00_0)."""
    inventories = inventory.get('inventories', {})
    if 'VGPU' in inventories:
        return True
    parent = by_uuid.get(provider['parent_provider_uuid'], {})
    suffix = provider['name'][len(parent.get('name', '')) + 1:]
    return bool(_LIBVIRT_ADDRESS.match(suffix) and _vgpu_class(inventories))


def build(snapshot) -> list[Device]:
    """Devices from a placement.Snapshot, sorted by host and address."""
    by_uuid = {p['uuid']: p for p in snapshot.providers}
    found = []
    for uuid, allocations in snapshot.allocations.items():
        provider, body = by_uuid[uuid], snapshot.inventories.get(uuid)
        if body is None:  # deleted between two reads
            continue
        inventories = body['inventories']
        if uuid in snapshot.pci_managed:
            kind = PASSTHROUGH
            rc = sorted(inventories)[0] if inventories else None
        else:
            kind, rc = VGPU, _vgpu_class(inventories)
        if rc is None:  # a PF whose VFs are counted elsewhere has none
            continue
        record = inventories[rc]
        consumers = {c: a['resources'][rc]
                     for c, a in allocations['allocations'].items()
                     if rc in a['resources']}
        used = sum(consumers.values())
        total, reserved = record['total'], record['reserved']
        parent = by_uuid.get(provider['parent_provider_uuid'], {})
        root = by_uuid.get(provider['root_provider_uuid'], parent)
        traits = snapshot.traits.get(uuid)
        found.append(Device(
            host=root.get('name', ''),
            address=address_from_name(provider['name'], parent.get('name')),
            kind=kind, resource_class=rc, pci_id=pci_id(rc),
            model=model_name(rc), total=total, used=used, reserved=reserved,
            free=max(total - reserved - used, 0),
            state=state_of(kind, total, used, reserved),
            provider_uuid=uuid, provider_name=provider['name'],
            generation=body['resource_provider_generation'],
            inventory=record, consumers=consumers,
            one_time_use=uuid in snapshot.one_time_use,
            traits=sorted(traits['traits']) if traits else None))
    return sorted(found, key=lambda d: (d.host, d.address or d.provider_name))


@dataclasses.dataclass
class Filters:
    resource_class: str | None = None
    model: str | None = None
    vendor_id: str | None = None
    product_id: str | None = None
    traits: tuple[str, ...] = ()
    state: str | None = None
    kind: str | None = None

    def match(self, d: Device) -> bool:
        vendor, _, product = (d.pci_id or ':').partition(':')
        return all((
            not self.resource_class
            or d.resource_class == self.resource_class.upper(),
            not self.model or (d.model or '').lower() == self.model.lower(),
            not self.vendor_id or vendor == self.vendor_id.lower(),
            not self.product_id or product == self.product_id.lower(),
            set(self.traits) <= set(d.traits or ()),
            not self.state or d.state == self.state,
            not self.kind or d.kind == self.kind))


class NoSuchDevice(LookupError):
    pass


def is_uuid(text: str) -> bool:
    return bool(_UUID.match(text))


def split_host_address(text: str) -> tuple[str, str] | None:
    """(host, address) from HOST:ADDRESS, or None. Host names hold no ':'."""
    host, sep, address = text.partition(':')
    address = normalise_address(address) if sep else None
    return (host, address) if host and address else None


def select(devices: list[Device], text: str) -> Device:
    """The one device named by provider UUID, provider name, or
    HOST:ADDRESS (tried in that order: a provider name has ':' too)."""
    squashed = text.lower().replace('-', '')
    for d in devices:
        if is_uuid(text) and d.provider_uuid.replace('-', '') == squashed:
            return d
        if d.provider_name.lower() == text.lower():
            return d
    host_address = split_host_address(text)
    for d in devices:
        if host_address == (d.host, d.address):
            return d
    raise NoSuchDevice(
        'no GPU device %r: name one by provider UUID, provider name or '
        'HOST:ADDRESS (e.g. gpu-a30-1:0000:81:00.0)' % text)


def summarize(devices: list[Device], by_host: bool = False) -> list[dict]:
    """Capacity per model (or class, where the model is unknown), and per
    host with `by_host`."""
    groups = collections.OrderedDict()
    for d in sorted(devices, key=lambda d: (d.host if by_host else '',
                                            d.model or d.resource_class)):
        key = (d.host if by_host else None, d.model or d.resource_class,
               d.kind)
        g = groups.setdefault(key, dict(
            host=d.host, model=d.model or d.resource_class, kind=d.kind,
            devices=0, total=0, used=0, reserved=0, free=0))
        g['devices'] += 1
        for field in ('total', 'used', 'reserved', 'free'):
            g[field] += getattr(d, field)
    return list(groups.values())
