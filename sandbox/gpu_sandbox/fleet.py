"""The fleet file: which simulated hosts exist and which devices each has.

Pure data handling: it turns the YAML into the nova.conf settings each
service runs with, the hardware each host's fake libvirt shows, the
providers Cyborg and Neutron would write, and says what Placement must show
once everything is reported.
"""
from __future__ import annotations

import dataclasses
import json
import os
import re

from gpuclient.hostconfig import files

DEFAULT_FLEET = os.path.join(os.path.dirname(__file__), 'default-fleet.yaml')
# Built-in fleets, by name: the default one, and the same hosts on a cloud
# that never enabled PCI in Placement (scheduling by PciPassthroughFilter).
# A fleet of a thousand hosts is about 200 KB of YAML.
FLEET_FILE = 4 << 20
BUILTIN = {'default': {}, 'legacy': {'pci_in_placement': False}}

_ADDRESS = re.compile(r'^[0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]$')
_HEX4 = re.compile(r'^[0-9a-f]{4}$')
_HOSTNAME = re.compile(r'^[a-z0-9][a-z0-9.-]*$')
_DEVICE_TYPES = ('type-PCI', 'type-PF')
_TOP_KEYS = {'hosts', 'aliases', 'neutron', 'pci_in_placement', 'nova_conf',
             'baremetal'}
_HOST_KEYS = {'hypervisor_hostname', 'pci', 'vgpu', 'cyborg', 'sysfs',
              'label'}
_PCI_KEYS = {'address', 'vendor_id', 'product_id', 'device_type', 'numa_node',
             'one_time_use', 'live_migratable', 'resource_class', 'traits',
             'vfs'}
_VFS_KEYS = {'count', 'product_id', 'vgpu_type'}
_VGPU_KEYS = {'mdev_type', 'per_gpu', 'addresses', 'mdev_class', 'type_name',
              'product_id', 'vfs', 'max_instances', 'gpu_max'}
_CYBORG_KEYS = {'address', 'vendor_id', 'product_id'}
_BRIDGE_KEYS = {'physnet', 'egress_kbps', 'ingress_kbps'}
# Comma-separated list options; other lists are multi-valued (repeated).
_LIST_OPTIONS = {'enabled_filters', 'enabled_mdev_types', 'device_addresses'}
# NVIDIA's kernel variant driver: the vGPU types a GPU lists in
# nvidia/creatable_vgpu_types, as 'vendor:product' -> [(id, name, vGPUs
# per GPU)]. The names and counts are NVIDIA's (L40S, 48 GB); the ids are
# the sandbox's own: the driver numbers types per card
# (NVIDIA/kubevirt-gpu-device-plugin pkg/device_plugin/vfio_vgpu.go).
VARIANT_TYPES = {'10de:26b9': [
    ('1101', 'NVIDIA L40S-8Q', 6), ('1102', 'NVIDIA L40S-12Q', 4),
    ('1103', 'NVIDIA L40S-24Q', 2), ('1104', 'NVIDIA L40S-48Q', 1)]}
FILTERS = ['ComputeFilter', 'ComputeCapabilitiesFilter',
           'ImagePropertiesFilter', 'PciPassthroughFilter']


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
    vfs: int = 0                      # VFs enabled on this PF
    vf_product_id: str | None = None
    # NVIDIA's kernel variant driver: the vGPU type set (current_vgpu_type)
    # on as many of the VFs as the type allows (VARIANT_TYPES);
    # Nova passes those VFs through, `managed: no`
    vgpu_type: str | None = None

    @property
    def spec_product_id(self) -> str:
        """The product device_spec names: the VFs' when the PF has VFs
        (Nova then passes the VFs through, never the PF)."""
        return self.vf_product_id if self.vfs else self.product_id

    def vf_addresses(self) -> list[str]:
        """VF n sits at function n of the PF's slot (as on real cards with
        up to 7 VFs); an NVIDIA GPU's as nvidia_vf_addresses."""
        if self.vgpu_type:
            return nvidia_vf_addresses(self.address, self.vfs)
        base = self.address[:-1]
        return [base + str(n) for n in range(1, self.vfs + 1)]

    def typed_vfs(self) -> list[str]:
        """The VFs given the vGPU type: the first as many as it allows."""
        if not self.vgpu_type:
            return []
        return self.vf_addresses()[:variant_type(self)[2]]

    def device_specs(self, in_placement=True) -> list[dict]:
        """device_spec entries for this device: one for its product, or on
        a variant-driver GPU one per typed VF by address, as Nova's PCI
        passthrough guide writes them ("Support for multiple types of
        VFs"): its VFs share the GPU's product id, so a spec by product
        would match the GPU too, which Nova refuses."""
        spec = self.device_spec(in_placement)
        if not self.vgpu_type:
            return [spec]
        return [dict(spec, address=vf, managed='no')
                for vf in self.typed_vfs()]

    def device_spec(self, in_placement=True) -> dict:
        """The [pci] device_spec entry for this device's product, as
        operators write it (by vendor and product, not by address).
        Nova refuses one_time_use without report_in_placement."""
        spec = {'vendor_id': self.vendor_id,
                'product_id': self.spec_product_id}
        if self.one_time_use and in_placement:
            spec['one_time_use'] = 'true'
        if self.live_migratable:
            spec['live_migratable'] = 'true'
        if self.resource_class:
            spec['resource_class'] = self.resource_class
        if self.traits:
            spec['traits'] = ','.join(self.traits)
        return spec

    def placement_class(self) -> str:
        return self.resource_class or 'CUSTOM_PCI_%s_%s' % (
            self.vendor_id.upper(), self.spec_product_id.upper())


def variant_type(device, where=None) -> tuple[str, str, int]:
    """(id, name, vGPUs per GPU) of a fleet device's vgpu_type, from
    VARIANT_TYPES ('L40S-12Q' names 'NVIDIA L40S-12Q')."""
    offered = VARIANT_TYPES.get('%s:%s' % (device.vendor_id,
                                           device.product_id), [])
    for t in offered:
        if t[1].split(' ', 1)[-1].upper() == device.vgpu_type.upper():
            return t
    raise FleetError('%s: vgpu_type %s is not one %s:%s offers here (%s)'
                     % (where or device.address, device.vgpu_type,
                        device.vendor_id, device.product_id,
                        ', '.join(t[1] for t in offered) or 'none'))


def nvidia_vf_addresses(address: str, count: int) -> list[str]:
    """An NVIDIA GPU's VFs start at function 4 of its slot and run on
    through the next slots (the PF's SR-IOV offset is 4; ARI lets VFs use
    every device number of the bus)."""
    domain_bus, slot = address[:7], int(address[8:10], 16)
    return ['%s:%02x.%d' % (domain_bus, slot + (4 + n) // 8, (4 + n) % 8)
            for n in range(count)]


@dataclasses.dataclass(frozen=True)
class VgpuGroup:
    """Physical GPUs of one mdev type on a host ([mdev_<type>]).

    With `vfs`, the GPUs are SR-IOV (NVIDIA Ampere and later): each has that
    many VFs and each VF is an mdev parent holding `per_gpu` vGPUs (one, on
    NVIDIA's cards), so Nova makes one provider per VF; device_addresses
    then lists the VFs, as Nova's virtual-gpu docs say for such GPUs.
    """
    mdev_type: str
    per_gpu: int
    addresses: tuple[str, ...]
    mdev_class: str = 'VGPU'
    type_name: str | None = None      # sysfs mdev type name: 'NVIDIA A40-2Q'
    product_id: str | None = None     # the GPU's; None: ids Nova never shows
    vfs: int = 0
    max_instances: int | None = None
    # NVIDIA's max_instance of the type (its sysfs description): vGPUs of
    # it one GPU holds, whatever its VFs
    gpu_max: int | None = None

    def vf_addresses(self, address: str) -> list[str]:
        return nvidia_vf_addresses(address, self.vfs)

    def parents(self) -> list[str]:
        """The mdev parents: the VFs of SR-IOV GPUs, else the GPUs."""
        if not self.vfs:
            return list(self.addresses)
        return [vf for a in self.addresses for vf in self.vf_addresses(a)]

    def inventories(self) -> dict[str, int]:
        """libvirt device name of each mdev parent Nova gives a provider ->
        vGPUs it offers: past `max_instances` (counted in the order libvirt
        lists the parents), Nova deletes the provider."""
        found = {}
        for n, parent in enumerate(self.parents()):
            if self.max_instances and (n + 1) * self.per_gpu > (
                    self.max_instances):
                break
            found[libvirt_name(parent)] = self.per_gpu
        return found


@dataclasses.dataclass(frozen=True)
class CyborgDevice:
    address: str
    vendor_id: str
    product_id: str


@dataclasses.dataclass(frozen=True)
class Bridge:
    name: str
    physnet: str
    egress_kbps: int
    ingress_kbps: int


@dataclasses.dataclass(frozen=True)
class Host:
    name: str                       # Nova's service host
    hypervisor_hostname: str = ''   # root provider name; defaults to name
    pci: tuple[PciDevice, ...] = ()
    vgpu: tuple[VgpuGroup, ...] = ()
    cyborg: tuple[CyborgDevice, ...] = ()
    sysfs: str = ''  # a copy of the host's /sys: its hardware instead
    # `gpu host label` run for it at start, as an operator's timer would
    label: bool = False

    @property
    def hypervisor(self) -> str:
        return self.hypervisor_hostname or self.name

    def device_spec(self, in_placement=True) -> list[str]:
        specs = []
        for d in self.pci:
            for spec in d.device_specs(in_placement):
                spec = json.dumps(spec, sort_keys=True)
                if spec not in specs:
                    specs.append(spec)
        return specs


@dataclasses.dataclass(frozen=True)
class Fleet:
    hosts: tuple[Host, ...]
    aliases: tuple[dict, ...]
    bridges: tuple[Bridge, ...] = ()
    pci_in_placement: bool = True
    nova_conf: str = ''  # the operator's nova.conf: its settings instead
    baremetal: tuple = ()  # Ironic's nodes (gpu_sandbox.baremetal.Node)

    def host(self, name: str) -> Host:
        for h in self.hosts:
            if name in (h.name, h.hypervisor):
                return h
        raise FleetError('no host %r in the fleet' % name)

    def alias_config(self) -> list[str]:
        return [json.dumps(a) for a in self.aliases]

    def controller_conf(self) -> dict:
        """nova.conf of the API, conductor and scheduler."""
        return {
            'pci': {'alias': self.alias_config()},
            'filter_scheduler': {'pci_in_placement': self.pci_in_placement,
                                 'enabled_filters': FILTERS}}

    def compute_conf(self, host: Host) -> dict:
        """nova.conf of one host's nova-compute."""
        conf = {'DEFAULT': {'host': host.name,
                            'compute_driver': 'libvirt.LibvirtDriver'},
                'pci': {'device_spec': host.device_spec(
                            self.pci_in_placement),
                        'report_in_placement': self.pci_in_placement,
                        'alias': self.alias_config()},
                'devices': {'enabled_mdev_types':
                            [g.mdev_type for g in host.vgpu]}}
        for g in host.vgpu:
            group = {'device_addresses': g.parents(),
                     'mdev_class': g.mdev_class}
            if g.max_instances:
                group['max_instances'] = g.max_instances
            conf['mdev_%s' % g.mdev_type] = group
        return conf

    def expected_providers(self) -> dict[str, str]:
        """Device provider name -> resource class that Placement must show
        (Nova's PCI devices only when Nova reports them there)."""
        expected = {}
        for h in self.hosts:
            if self.pci_in_placement:
                for d in h.pci:
                    expected['%s_%s' % (h.hypervisor, d.address.upper())] = (
                        d.placement_class())
            for g in h.vgpu:
                for name in g.inventories():
                    expected['%s_%s' % (h.hypervisor, name)] = g.mdev_class
            for d in h.cyborg:
                expected[cyborg_name(h, d)] = 'PGPU'
        return expected


def render_conf(conf: dict) -> str:
    """nova.conf text of {section: {option: value}}: a list is a
    multi-valued option (one line per value), booleans as oslo writes
    them."""
    lines = []
    for section, options in conf.items():
        lines.append('[%s]' % section)
        for key, value in options.items():
            if value == []:
                continue
            values = value if isinstance(value, list) else [value]
            if isinstance(value, list) and key in _LIST_OPTIONS:
                values = [','.join(value)]
            for v in values:
                if isinstance(v, bool):
                    v = str(v).lower()
                lines.append('%s = %s' % (key, v))
        lines.append('')
    return '\n'.join(lines)


def cyborg_name(host: Host, device: CyborgDevice) -> str:
    """Cyborg names a deployable <CONF.host>_<address as lspci -D prints
    it> (cyborg/accelerator/drivers/gpu/nvidia/sysinfo.py)."""
    return '%s_%s' % (host.name, device.address)


def libvirt_name(address: str) -> str:
    """0000:84:00.0 -> pci_0000_84_00_0, libvirt's node-device name."""
    return 'pci_' + address.replace(':', '_').replace('.', '_')


def refuse_unknown(raw, allowed, where):
    if not isinstance(raw, dict):
        raise FleetError('%s: expected a mapping, got %r' % (where, raw))
    unknown = set(raw) - allowed
    if unknown:
        raise FleetError('%s: unknown keys %s' % (where, sorted(unknown)))


def _address(value, where):
    a = str(value).lower()
    if not _ADDRESS.match(a):
        raise FleetError('%s: %r is not a PCI address like 0000:81:00.0'
                         % (where, value))
    return a


def _hex4(raw, key, where):
    value = str(raw.get(key, '')).lower()
    if not _HEX4.match(value):
        raise FleetError('%s: %s must be 4 hex digits' % (where, key))
    return value


def _custom_class(value, where):
    rc = str(value).upper()
    if not re.match(r'^CUSTOM_[A-Z0-9_]+$', rc):
        raise FleetError('%s: resource class %r must look like CUSTOM_NAME'
                         % (where, value))
    return rc


def _count(value, key, where, top=None):
    if (not isinstance(value, int) or isinstance(value, bool) or value < 1
            or (top and value > top)):
        raise FleetError('%s: %s must be a number from 1%s' % (
            where, key, ' to %d' % top if top else ''))
    return value


def _pci_device(raw, where) -> PciDevice:
    refuse_unknown(raw, _PCI_KEYS, where)
    device_type = raw.get('device_type', 'type-PCI')
    if device_type not in _DEVICE_TYPES:
        raise FleetError('%s: device_type must be one of %s (VFs are listed '
                         'under their PF as "vfs")'
                         % (where, ', '.join(_DEVICE_TYPES)))
    traits = raw.get('traits', ())
    if isinstance(traits, str):
        traits = traits.split(',')
    vfs, vf_product, vgpu_type = 0, None, None
    if raw.get('vfs'):
        refuse_unknown(raw['vfs'], _VFS_KEYS, where + ' vfs')
        if device_type != 'type-PF':
            raise FleetError('%s: only a type-PF device has VFs' % where)
        vgpu_type = raw['vfs'].get('vgpu_type')
        # Functions 1-7 of the PF's slot: enough for the sandbox's cards;
        # an NVIDIA GPU's run on through the next slots.
        vfs = _count(raw['vfs'].get('count'), 'vfs count', where,
                     top=32 if vgpu_type else 7)
        vf_product = _hex4(raw['vfs'], 'product_id', where + ' vfs')
        if raw.get('one_time_use'):
            raise FleetError('%s: Nova refuses one_time_use on VFs' % where)
    address = _address(raw.get('address'), where)
    if vfs and not address.endswith('.0'):
        raise FleetError('%s: a PF with VFs must be function 0' % where)
    device = PciDevice(
        address=address,
        vendor_id=_hex4(raw, 'vendor_id', where),
        product_id=_hex4(raw, 'product_id', where),
        device_type=device_type,
        numa_node=raw.get('numa_node'),
        one_time_use=bool(raw.get('one_time_use', False)),
        live_migratable=bool(raw.get('live_migratable', False)),
        resource_class=(_custom_class(raw['resource_class'], where)
                        if raw.get('resource_class') else None),
        traits=tuple(t.strip().upper() for t in traits if t.strip()),
        vfs=vfs, vf_product_id=vf_product,
        vgpu_type=str(vgpu_type) if vgpu_type else None)
    if device.vgpu_type:
        variant_type(device, where)   # a type this GPU offers
        if not device.resource_class:
            raise FleetError('%s: a variant-driver GPU\'s VFs need a '
                             'resource_class (one per vGPU type)' % where)
    return device


def _vgpu(raw, where) -> VgpuGroup:
    refuse_unknown(raw, _VGPU_KEYS, where)
    per_gpu = _count(raw.get('per_gpu'), 'per_gpu', where)
    addresses = tuple(_address(a, where) for a in raw.get('addresses') or ())
    if not addresses:
        raise FleetError('%s: addresses lists no GPU' % where)
    mdev_type = str(raw.get('mdev_type', 'nvidia-35'))
    if not re.match(r'^[a-z0-9_-]+$', mdev_type):
        raise FleetError('%s: mdev_type %r is not an mdev type name like '
                         'nvidia-35' % (where, mdev_type))
    rc = raw.get('mdev_class')
    if rc and str(rc).upper() != 'VGPU':
        rc = _custom_class(rc, where)
    vfs = _count(raw['vfs'], 'vfs', where, top=60) if 'vfs' in raw else 0
    if vfs and not all(a.endswith(':00.0') for a in addresses):
        raise FleetError('%s: an SR-IOV GPU sits at device 00, function 0 '
                         'of its bus' % where)
    return VgpuGroup(
        mdev_type=mdev_type, per_gpu=per_gpu, addresses=addresses,
        mdev_class=rc or 'VGPU',
        type_name=str(raw['type_name']) if raw.get('type_name') else None,
        product_id=(_hex4(raw, 'product_id', where) if 'product_id' in raw
                    else None),
        vfs=vfs,
        max_instances=(_count(raw['max_instances'], 'max_instances', where)
                       if 'max_instances' in raw else None),
        gpu_max=(_count(raw['gpu_max'], 'gpu_max', where)
                 if 'gpu_max' in raw else None))


def _vgpus(raw, where) -> tuple[VgpuGroup, ...]:
    """One group (a mapping) or several (a list); one type per group."""
    groups = tuple(_vgpu(g, '%s[%d]' % (where, i)) for i, g in enumerate(
        raw if isinstance(raw, list) else [raw]))
    types = [g.mdev_type for g in groups]
    if len(set(types)) != len(types):
        raise FleetError('%s: one group per mdev type' % where)
    return groups


def _cyborg(raw, where) -> CyborgDevice:
    refuse_unknown(raw, _CYBORG_KEYS, where)
    return CyborgDevice(address=_address(raw.get('address'), where),
                        vendor_id=_hex4(raw, 'vendor_id', where),
                        product_id=_hex4(raw, 'product_id', where))


def _host(name, raw) -> Host:
    raw = raw or {}
    refuse_unknown(raw, _HOST_KEYS, 'host %s' % name)
    if not _HOSTNAME.match(str(name)):
        raise FleetError('host name %r: use lower-case letters, digits, '
                         '"-" and "."' % name)
    hypervisor = str(raw.get('hypervisor_hostname') or '')
    if hypervisor and not _HOSTNAME.match(hypervisor):
        raise FleetError('%s: hypervisor_hostname %r: use lower-case '
                         'letters, digits, "-" and "."' % (name, hypervisor))
    pci = tuple(_pci_device(d, '%s pci[%d]' % (name, i))
                for i, d in enumerate(raw.get('pci') or ()))
    cyborg = tuple(_cyborg(d, '%s cyborg[%d]' % (name, i))
                   for i, d in enumerate(raw.get('cyborg') or ()))
    vgpu = (_vgpus(raw['vgpu'], '%s vgpu' % name) if raw.get('vgpu')
            else ())
    addresses = ([d.address for d in pci]
                 + [a for d in pci for a in d.vf_addresses()]
                 + [d.address for d in cyborg]
                 + [a for g in vgpu for a in g.addresses + tuple(
                     g.parents() if g.vfs else ())])
    if len(set(addresses)) != len(addresses):
        raise FleetError('%s: a PCI address is listed twice' % name)
    specs = {}
    for d in pci:
        if d.vgpu_type:   # specs by address
            continue
        if specs.setdefault((d.vendor_id, d.spec_product_id),
                            d.device_spec()) != d.device_spec():
            raise FleetError(
                '%s: devices %s:%s must share their device_spec options '
                '(Nova matches them by vendor and product)'
                % (name, d.vendor_id, d.spec_product_id))
    sysfs = str(raw.get('sysfs') or '')
    if sysfs and (pci or vgpu or cyborg):
        raise FleetError('%s: a host read from sysfs has no pci, vgpu or '
                         'cyborg devices of its own' % name)
    label = raw.get('label', False)
    if label not in (True, False) or (label and not vgpu):
        raise FleetError('%s: label is true or false, and only a vgpu host '
                         'has labels' % name)
    return Host(name=str(name), hypervisor_hostname=hypervisor, pci=pci,
                vgpu=vgpu, cyborg=cyborg, sysfs=sysfs, label=label)


def _bridges(raw) -> tuple[Bridge, ...]:
    refuse_unknown(raw, {'bridges'}, 'neutron')
    bridges = []
    for name, b in (raw.get('bridges') or {}).items():
        where = 'neutron bridge %s' % name
        refuse_unknown(b, _BRIDGE_KEYS, where)
        if not b.get('physnet'):
            raise FleetError('%s: physnet is missing' % where)
        bridges.append(Bridge(
            name=str(name), physnet=str(b['physnet']),
            egress_kbps=_count(b.get('egress_kbps'), 'egress_kbps', where),
            ingress_kbps=_count(b.get('ingress_kbps'), 'ingress_kbps',
                                where)))
    return tuple(bridges)


def parse(data: dict) -> Fleet:
    if not isinstance(data, dict) or not isinstance(data.get('hosts'), dict):
        raise FleetError('a fleet file needs a "hosts" mapping')
    refuse_unknown(data, _TOP_KEYS, 'fleet file')
    hosts = tuple(_host(name, raw) for name, raw in data['hosts'].items())
    names = [h.name for h in hosts] + [h.hypervisor for h in hosts
                                       if h.hypervisor != h.name]
    if len(set(names)) != len(names):
        raise FleetError('two hosts share a name or hypervisor hostname')
    aliases = tuple(dict(a) for a in data.get('aliases') or ())
    for a in aliases:
        if not a.get('name'):
            raise FleetError('every alias needs a name: %r' % a)
    pci_in_placement = data.get('pci_in_placement', True)
    if not isinstance(pci_in_placement, bool):
        raise FleetError('pci_in_placement must be true or false')
    nova_conf = str(data.get('nova_conf') or '')
    # A rehearsal: hardware from sysfs copies, settings from one nova.conf.
    if nova_conf and (aliases or 'pci_in_placement' in data or not all(
            h.sysfs for h in hosts)):
        raise FleetError('with nova_conf, every host is read from sysfs '
                         'and the aliases and pci_in_placement come from '
                         'that nova.conf')
    if not nova_conf and any(h.sysfs for h in hosts):
        raise FleetError('a host read from sysfs needs nova_conf, the '
                         'nova.conf to run it with')
    if nova_conf and data.get('baremetal'):
        raise FleetError('a rehearsal has no baremetal nodes')
    from gpu_sandbox import baremetal

    return Fleet(hosts=hosts, aliases=aliases,
                 bridges=_bridges(data.get('neutron') or {}),
                 pci_in_placement=pci_in_placement, nova_conf=nova_conf,
                 baremetal=baremetal.parse(data.get('baremetal')))


def read(name_or_path: str | None = None) -> dict:
    """The fleet's YAML data: a built-in fleet by name, or a file."""
    import yaml

    name_or_path = name_or_path or 'default'
    overrides = BUILTIN.get(name_or_path)
    path = DEFAULT_FLEET if overrides is not None else name_or_path
    try:
        data = yaml.safe_load(files.read_text(path, FLEET_FILE))
    except (files.FileError, yaml.YAMLError) as e:
        raise FleetError('cannot read fleet file %s: %s' % (path, e))
    if isinstance(data, dict) and overrides:
        data.update(overrides)
    return data


def load(name_or_path: str | None = None) -> Fleet:
    return parse(read(name_or_path))


def for_release(data: dict, release) -> tuple[dict, list[str]]:
    """The fleet as `release` can make it, and a line for each shape left
    out: one_time_use before 2025.2 (Nova 32's device_spec key; Nova 29
    would keep it as a tag that nothing reads, and reserve nothing)."""
    import copy

    data = copy.deepcopy(data)
    left = []
    if not release.one_time_use:
        for name, host in (data.get('hosts') or {}).items():
            for device in (host or {}).get('pci') or ():
                if device.pop('one_time_use', False):
                    left.append('%s %s' % (name, device.get('address')))
    notes = ['one-time-use left out on %s (Nova has one_time_use from '
             '2025.2): %s' % (release.name, ', '.join(left))] if left else []
    if not release.managed:
        gone = []
        for name, host in (data.get('hosts') or {}).items():
            kept = [d for d in (host or {}).get('pci') or ()
                    if not (d.get('vfs') or {}).get('vgpu_type')]
            if host and len(kept) != len(host.get('pci') or ()):
                host['pci'] = kept
                gone.append(name)
        if gone:
            notes.append('variant-driver vGPUs left out on %s (Nova has '
                         'device_spec managed from 2025.1): %s'
                         % (release.name, ', '.join(gone)))
    if release.services and data.pop('baremetal', None):
        # Ironic runs beside the default release's Nova only (proven there)
        notes.append('bare-metal nodes left out on %s (Ironic runs with '
                     'the default release only)' % release.name)
    return data, notes
