"""GPU devices from what Placement says: pure functions, no I/O.

A device is a child provider of a compute node that one of these wrote:
- Nova, for a PCI device it manages (trait COMPUTE_MANAGED_PCI_DEVICE),
  named `<root name>_<ADDRESS>`; when `device_spec` names VFs, one provider
  named after their PF counts them all (total = number of VFs, class from
  the VF's product id): a VF pool;
- Nova's libvirt driver, for each mdev parent with vGPU inventory (class
  VGPU or an `[mdev_<type>] mdev_class`), named `<root name>_pci_0000_84_00_0`:
  a physical GPU, or on an SR-IOV GPU (NVIDIA Ampere and later) one VF
  holding one vGPU, so one GPU is many providers (see by_gpu());
- Cyborg, for a GPU it manages (trait OWNER_CYBORG, class PGPU or VGPU,
  trait CUSTOM_NVIDIA_<PRODUCT>[_<VGPU TYPE>]), named `<host>_<address>`
  (cyborg/accelerator/drivers/gpu/nvidia/sysinfo.py).
Anything else in the trees (Neutron's `<host>:Open vSwitch agent` subtree)
is not a device. The root provider's name is the hypervisor hostname; the
host shown is Nova's service host, mapped through os-hypervisors.

GPU or not: Placement carries no PCI class code, so a device is judged a
GPU by its ids and names (see classify()).
"""
from __future__ import annotations

import collections
import dataclasses
import re

from gpuclient.model import labels
from gpuclient.model import pciids

PASSTHROUGH = 'passthrough'
VGPU = 'vgpu'
BAREMETAL = 'baremetal'   # an Ironic node's GPUs (model/baremetal.py)
KINDS = (PASSTHROUGH, VGPU, BAREMETAL)
STATES = ('free', 'in-use', 'partly-used', 'reserved')
NOVA, CYBORG = 'nova', 'cyborg'

# vendor:product -> model, for the GPUs GPU clouds pass through: short
# names operators use, ahead of pci.ids' longer ones, and the ids an older
# pci.ids lacks.
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
    '1002:74a1': 'MI300X', '1002:6860': 'MI25', '1002:686c': 'MI25 MxGPU',
}
_BY_SQUASHED_MODEL = {re.sub(r'[^A-Z0-9]', '', m.upper()): m
                      for m in MODELS.values()}
# Vendors whose functions are GPUs unless their name says otherwise (their
# GPUs' HDMI audio and USB-C functions share the vendor id).
GPU_VENDORS = ('10de', '1002')
# Cyborg's vendor names in traits (cyborg/accelerator/drivers/gpu/utils.py).
_CYBORG_VENDORS = {'NVIDIA': '10de', 'MATROX': '102b'}

# What a device is, from words in its pci.ids name or its custom class.
_CATEGORIES = (
    ('audio', {'AUDIO', 'HDMI'}),
    ('USB', {'USB', 'UCSI'}),
    ('NVMe', {'NVME'}),
    ('storage', {'SSD', 'SATA', 'SAS', 'RAID', 'AHCI', 'STORAGE', 'DISK'}),
    ('NIC', {'NIC', 'ETHERNET', 'NETWORK', 'INFINIBAND', 'CONNECTX', 'NET',
             'ETH', 'SMARTNIC'}),
    ('QAT', {'QAT', 'QUICKASSIST'}),
    ('FPGA', {'FPGA'}),
    ('other', {'BRIDGE', 'SWITCH', 'NVSWITCH', 'SMBUS', 'LPC', 'IDE'}),
)
_GPU_WORDS = {'GPU', 'VGPU', 'PGPU', 'GRAPHICS', 'VGA', 'DISPLAY', 'GEFORCE',
              'QUADRO', 'TESLA', 'RADEON', 'INSTINCT'}

_PCI_CLASS = re.compile(r'^CUSTOM_PCI_([0-9A-F]{4})_([0-9A-F]{4})$')
_ADDRESS = re.compile(
    r'^(?:([0-9a-f]{4}):)?([0-9a-f]{2}):([0-9a-f]{2})\.([0-7])$', re.I)
_LIBVIRT_ADDRESS = re.compile(
    r'^pci_([0-9a-f]{4})_([0-9a-f]{2})_([0-9a-f]{2})_([0-7])$', re.I)
_LIBVIRT_NAME = re.compile(r'_pci_[0-9a-f]{4}_[0-9a-f]{2}_[0-9a-f]{2}_[0-7]$',
                           re.I)
_UUID = re.compile(r'^[0-9a-f]{8}-?([0-9a-f]{4}-?){3}[0-9a-f]{12}$', re.I)
# Cyborg GPU traits: CUSTOM_NVIDIA_1EB8[_T4_2B] (since Wallaby), older
# CUSTOM_GPU_PRODUCT_ID_1EB8 + CUSTOM_GPU_NVIDIA, and the generic PCI
# driver's CUSTOM_PCI_PRODUCT_ID_<ID> + CUSTOM_PCI_<VENDOR ID>.
_CYBORG_TRAIT = re.compile(r'^CUSTOM_(NVIDIA|MATROX)_([0-9A-F]{4})(_|$)')
_CYBORG_PRODUCT = re.compile(r'^CUSTOM_(GPU|PCI)_PRODUCT_ID_([0-9A-F]{4})$')
_CYBORG_VENDOR = re.compile(r'^CUSTOM_(GPU_(NVIDIA|MATROX)|PCI_[0-9A-F]{4})$')


LABEL_HINT = (
    'note: %d vGPU provider(s) have no GPU model or vGPU type in Placement '
    '(%s): run `openstack gpu host label` on those hosts (see "Labelling '
    'vGPU hosts" in the docs)')


@dataclasses.dataclass
class Device:
    host: str                   # Nova's service host
    address: str | None         # a VF pool's: its PF's
    kind: str
    resource_class: str
    pci_id: str | None          # vendor:product, where Placement names it
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
    hypervisor: str | None = None     # root provider name
    owner: str | None = None          # NOVA, CYBORG or None
    is_gpu: bool = True
    category: str = 'GPU'             # what it is: GPU, NIC, NVMe, audio...
    vf_pool: int | None = None        # VFs the provider counts, if a pool
    vendor_name: str | None = None
    device_name: str | None = None
    # vGPU providers: the physical GPU (a VF's PF; its own address else),
    # how that is known ('label' or 'address': see gpu_of()), the vGPU type
    # (labels), and the VFs the GPU has enabled (labels).
    gpu_address: str | None = None
    gpu_source: str | None = None
    vgpu_type: str | None = None
    gpu_vfs: int | None = None
    labelled: bool = False
    vfs: list = dataclasses.field(default_factory=list)  # by_gpu(): members
    # bare-metal nodes: why the node is out of service, where inspection
    # put its PCI devices ('agent' or 'redfish'), its GPUs' PCI addresses
    reason: str | None = None
    inspection: str | None = None
    gpu_buses: list = dataclasses.field(default_factory=list)

    # What the commands show beside the fields, derived from them.
    @property
    def other_hypervisor(self) -> str | None:
        """The hypervisor hostname, where it is not the service host."""
        return self.hypervisor if self.hypervisor != self.host else None

    @property
    def pool(self) -> str | None:
        """A VF pool in words; None for any other device."""
        if not self.vf_pool:
            return None
        return ('%d VFs (%s) of the PF at %s; Placement does not record the '
                'PF\'s ids, nor which VF a server got'
                % (self.vf_pool, self.pci_id or self.resource_class,
                   self.address))

    @property
    def consumer_ids(self) -> list[str]:
        return sorted(self.consumers)

    @property
    def vf_count(self) -> int | None:
        """VFs of an SR-IOV vGPU GPU that have a provider."""
        return len(self.vfs) or None

    @property
    def vfs_without_provider(self) -> int | None:
        """Enabled VFs Nova made no provider for (max_instances, or VFs
        not in device_addresses), where the labels say how many."""
        if not self.vfs or self.gpu_vfs is None:
            return None
        return max(self.gpu_vfs - len(self.vfs), 0)

    @property
    def vanished_vfs(self) -> list:
        """VF providers past the VFs the GPU has enabled now, as its labels
        say (written on the host after a boot that did not enable them
        all): the kernel numbers a GPU's VFs from the first, so those past
        the count are the ones gone."""
        if not self.vfs or self.gpu_vfs is None:
            return []
        return sorted(self.vfs, key=lambda v: v.address)[self.gpu_vfs:]

    @property
    def vf_records(self) -> list[dict]:
        return [{'address': v.address, 'provider': v.provider_uuid,
                 'used': v.used, 'free': v.free,
                 'consumers': v.consumer_ids} for v in self.vfs]


def normalise_address(text: str) -> str | None:
    """PCI address as lspci prints it (0000:81:00.0), from Nova's upper-case
    form, libvirt's pci_0000_81_00_0 or a short 81:00.0; None if not one."""
    m = _ADDRESS.match(text) or _LIBVIRT_ADDRESS.match(text)
    if not m:
        return None
    domain, bus, slot, function = m.groups()
    return ('%s:%s:%s.%s' % (domain or '0000', bus, slot, function)).lower()


def address_from_name(name: str, root_name: str | None) -> str | None:
    """A device provider is named <root name>_<address> (Nova builds it
    from the compute node's name, whatever provider is its parent); the
    host part may itself hold '_', so strip the root's name rather than
    split. Cyborg names it after its own host setting: split then."""
    if root_name and name.lower().startswith(root_name.lower() + '_'):
        return normalise_address(name[len(root_name) + 1:])
    return normalise_address(name.rsplit('_', 1)[-1])


def pci_id(resource_class: str) -> str | None:
    m = _PCI_CLASS.match(resource_class)
    return ('%s:%s' % m.groups()).lower() if m else None


def cyborg_pci_id(traits) -> str | None:
    """vendor:product from a Cyborg provider's traits, if they say."""
    traits = set(traits or ())
    for trait in traits:
        m = _CYBORG_TRAIT.match(trait)
        if m:
            return '%s:%s' % (_CYBORG_VENDORS[m.group(1)], m.group(2).lower())
    for trait in traits:
        m = _CYBORG_PRODUCT.match(trait)
        if not m:
            continue
        if m.group(1) == 'GPU':
            vendors = [_CYBORG_VENDORS.get(t[len('CUSTOM_GPU_'):])
                       for t in traits if t.startswith('CUSTOM_GPU_')]
        else:
            vendors = [t[len('CUSTOM_PCI_'):].lower() for t in traits
                       if re.match(r'^CUSTOM_PCI_[0-9A-F]{4}$', t)]
        vendors = [v for v in vendors if v]
        if vendors:
            return '%s:%s' % (vendors[0], m.group(2).lower())
    return None


def is_cyborg_id_trait(trait: str) -> bool:
    """A trait cyborg_pci_id() reads a Cyborg GPU's ids from."""
    return bool(_CYBORG_TRAIT.match(trait) or _CYBORG_PRODUCT.match(trait)
                or _CYBORG_VENDOR.match(trait))


def _words(text: str) -> list[str]:
    return re.findall(r'[A-Z0-9]+', text.upper())


def short_model(ident: str, device_name: str | None) -> str | None:
    """The model operators say for vendor:product ids: the built-in
    table's ('A30'), else the bracketed part of pci.ids' name ('A30 PCIe'
    from 'GA100GL [A30 PCIe]'), else that whole name."""
    if ident in MODELS:
        return MODELS[ident]
    if not device_name:
        return None
    m = re.search(r'\[([^\]]+)\]\s*$', device_name)
    return m.group(1).strip() if m else device_name


def model_name(resource_class: str) -> str | None:
    """The model from the class alone: the built-in table's name for the
    vendor:product in it, or a custom class named after a model
    (CUSTOM_A100)."""
    ident = pci_id(resource_class)
    if ident:
        return MODELS.get(ident)
    if resource_class.startswith('CUSTOM_'):
        squashed = re.sub(r'[^A-Z0-9]', '', resource_class[7:])
        return _BY_SQUASHED_MODEL.get(squashed)
    return None


def classify(kind: str, resource_class: str, ident: str | None,
             device_name: str | None) -> tuple[bool, str]:
    """(is a GPU, what it is), from what Placement and pci.ids say.

    Placement has no PCI class code, so the rule goes by names:
    - vGPU inventory, class PGPU/VGPU, or ids in the built-in GPU table: GPU;
    - ids pci.ids names: not a GPU if the name says audio, USB, NVMe, NIC,
      a bridge or switch...; a GPU if the vendor is NVIDIA or AMD/ATI, or
      the name says GPU, Graphics, Radeon, Tesla...; otherwise not;
    - ids pci.ids does not know: a GPU for NVIDIA and AMD/ATI (new GPUs
      come first), not for other vendors;
    - a custom class (device_spec resource_class): judged by its words
      (CUSTOM_NIC_X710 is a NIC); a GPU unless they say otherwise.
    """
    if kind == VGPU or resource_class in ('PGPU', 'VGPU'):
        return True, 'GPU'
    if ident and ident in MODELS:
        return True, 'GPU'
    words = set(_words((device_name or '') if ident else resource_class))
    for category, known in _CATEGORIES:
        if words & known:
            return False, category
    if ident is None:  # a custom class that names nothing else
        return True, 'GPU'
    if ident.split(':')[0] in GPU_VENDORS or words & _GPU_WORDS:
        return True, 'GPU'
    return False, 'other'


def is_gpu_class(resource_class: str) -> bool:
    """Whether a Nova PCI device of this class is a GPU, by classify()'s
    rule (Nova gives each PCI provider one class, so the class decides)."""
    ident = pci_id(resource_class)
    device_name = pciids.names(*ident.split(':'))[1] if ident else None
    return classify(PASSTHROUGH, resource_class, ident, device_name)[0]


def _names(name: str | None, wanted: list[str]) -> bool:
    """Whether the words `wanted` appear together in a name, or spell it
    without spaces ('RTX3090')."""
    if not name or not wanted:
        return False
    have = _words(name)
    return ''.join(wanted) == ''.join(have) or any(
        have[i:i + len(wanted)] == wanted
        for i in range(len(have) - len(wanted) + 1))


def model_matches(device: Device, text: str) -> bool:
    """Whether --model TEXT names the device: its model, its pci.ids name
    or its class, compared as whole words in any case ('a30', 'MI25',
    'rtx 3090', 'RTX3090')."""
    wanted = _words(text)
    return any(_names(name, wanted) for name in (
        device.model, device.device_name, model_name(device.resource_class)))


def known_models() -> list[str]:
    return sorted(set(MODELS.values()))


def model_key(text: str | None) -> str:
    """A model name to compare: upper case, letters and digits only."""
    return re.sub(r'[^A-Z0-9]', '', (text or '').upper())


def is_known_model(text: str) -> bool:
    """A model the built-in table or pci.ids names (a GPU vendor's)."""
    wanted = _words(text)
    names = list(MODELS.values())
    for vendor in GPU_VENDORS:
        names += pciids.device_names(vendor)
    return any(_names(name, wanted) for name in names)


def state_of(kind: str, total: int, used: int, reserved: int) -> str:
    """free, reserved, in-use, or partly-used: some but not all units
    taken, for any device with more than one (vGPUs, VF pools). `kind` no
    longer changes the answer."""
    if used == 0:
        # Fully reserved and unused: a released one-time-use GPU waiting to
        # be scrubbed, or a device an operator took out of service.
        return 'reserved' if reserved >= total else 'free'
    return 'partly-used' if used + reserved < total else 'in-use'


def _vgpu_class(inventories: dict) -> str | None:
    if 'VGPU' in inventories:
        return 'VGPU'
    custom = [rc for rc in inventories if rc.startswith('CUSTOM_')]
    return custom[0] if len(custom) == 1 else None


def is_libvirt_gpu_name(name: str) -> bool:
    """Named as Nova's libvirt driver names a physical GPU's provider."""
    return bool(_LIBVIRT_NAME.search(name))


def may_be_device(provider: dict, pci_managed, cyborg) -> bool:
    """Whether a child provider can be a device, from the listings alone
    (its name and the traits listed), before any of its records is read:
    Nova's and Cyborg's devices by trait, libvirt's vGPU GPUs by name, and
    anything named <name>_<PCI address> (an older Cyborg's). Neutron's
    `<host>:<agent>` providers and the like cost nothing more."""
    if not provider['parent_provider_uuid']:
        return False
    uuid, name = provider['uuid'], provider['name']
    return (uuid in pci_managed or uuid in cyborg
            or is_libvirt_gpu_name(name)
            or normalise_address(name.rsplit('_', 1)[-1]) is not None)


def _owner(traits, default):
    owners = [t[len('OWNER_'):].lower() for t in traits or ()
              if t.startswith('OWNER_')]
    return owners[0] if owners else default


def _kind_and_class(uuid, provider, inventories, snapshot, traits):
    """(kind, resource class, owner) of a device provider, or None."""
    if uuid in snapshot.pci_managed:
        rc = sorted(inventories)[0] if inventories else None
        return PASSTHROUGH, rc, NOVA
    if uuid in snapshot.cyborg or 'OWNER_CYBORG' in (traits or ()):
        if 'VGPU' in inventories:
            return VGPU, 'VGPU', CYBORG
        rc = 'PGPU' if 'PGPU' in inventories else (
            sorted(inventories)[0] if inventories else None)
        return PASSTHROUGH, rc, CYBORG
    if is_libvirt_gpu_name(provider['name']):
        return VGPU, _vgpu_class(inventories), _owner(traits, NOVA)
    # Named <host>_<address> by no known owner: a GPU only by its class.
    for rc, kind in (('PGPU', PASSTHROUGH), ('VGPU', VGPU)):
        if rc in inventories:
            return kind, rc, _owner(traits, None)
    return None, None, None


def build(snapshot, hosts: dict[str, str] | None = None) -> list[Device]:
    """Devices from a placement.Snapshot, sorted by host and address:
    every device Nova or Cyborg reports, GPUs or not (see is_gpu).

    hosts maps hypervisor hostnames (root provider names) to Nova service
    hosts; a root it does not name keeps its own name as host.
    """
    hosts = {k.lower(): v for k, v in (hosts or {}).items()}
    by_uuid = {p['uuid']: p for p in snapshot.providers}
    found = []
    for uuid, allocations in snapshot.allocations.items():
        provider, body = by_uuid[uuid], snapshot.inventories.get(uuid)
        if body is None:  # deleted between two reads
            continue
        inventories = body['inventories']
        traits = (snapshot.traits.get(uuid) or {}).get('traits')
        kind, rc, owner = _kind_and_class(uuid, provider, inventories,
                                          snapshot, traits)
        if rc is None:  # a PF whose VFs are counted elsewhere has none
            continue
        record = inventories[rc]
        consumers = {c: a['resources'][rc]
                     for c, a in allocations['allocations'].items()
                     if rc in a['resources']}
        used = sum(consumers.values())
        total, reserved = record['total'], record['reserved']
        root = by_uuid.get(provider['root_provider_uuid'], {})
        root_name = root.get('name', '')
        ident = pci_id(rc) or (cyborg_pci_id(traits) if owner == CYBORG
                               else None)
        vendor_name = device_name = None
        if ident:
            vendor_name, device_name = pciids.names(*ident.split(':'))
        # vGPU providers' labels; on a Nova PCI provider (a variant-driver
        # GPU's VF pool) the same traits, from its device_spec
        label = (labels.read_label(traits) if kind == VGPU or owner == NOVA
                 else labels.Label())
        address = address_from_name(provider['name'], root_name)
        if label.pci_id and not ident:
            ident = label.pci_id
            vendor_name, device_name = pciids.names(*ident.split(':'))
        is_gpu, category = classify(kind, rc, ident, device_name)
        model = (short_model(ident, device_name) if ident
                 else model_name(rc))
        found.append(Device(
            host=hosts.get(root_name.lower(), root_name),
            address=address,
            kind=kind, resource_class=rc, pci_id=ident,
            model=model if is_gpu else (device_name or model),
            total=total, used=used, reserved=reserved,
            free=max(total - reserved - used, 0),
            state=state_of(kind, total, used, reserved),
            provider_uuid=uuid, provider_name=provider['name'],
            generation=body['resource_provider_generation'],
            inventory=record, consumers=consumers,
            one_time_use=uuid in snapshot.one_time_use,
            traits=sorted(traits) if traits is not None else None,
            hypervisor=root_name, owner=owner, is_gpu=is_gpu,
            category=category,
            # Nova's PCI providers count 1 device, or all the VFs of a PF.
            vf_pool=total if (owner == NOVA and kind == PASSTHROUGH
                              and total > 1) else None,
            vendor_name=vendor_name, device_name=device_name,
            gpu_address=label.gpu_address or (
                address if kind == PASSTHROUGH and label.vgpu_type
                else None),
            gpu_source=('label' if label.gpu_address else None),
            vgpu_type=label.vgpu_type, gpu_vfs=label.vfs,
            labelled=label.complete))
    _gpu_of(found)
    return sorted(found, key=lambda d: (d.host, d.address or d.provider_name))


def _gpu_of(found: list[Device]) -> None:
    """Sets gpu_address on the vGPU providers whose labels do not: by the
    address rule. NVIDIA's SR-IOV GPUs sit alone on their bus at device 0
    function 0, with their VFs on the same bus from function 4 on, each
    holding one vGPU; so two or more vGPU providers of one host on one
    bus, none at 00.0 and each of total 1, are VFs of the GPU at
    <domain>:<bus>:00.0. Anything else is a GPU of its own (a pre-Ampere
    GPU, or Intel's GVT-g at 00:02.0)."""
    buses = collections.defaultdict(list)
    for d in found:
        if d.kind == VGPU and d.address:
            buses[(d.host, d.address[:7])].append(d)
    for (_, bus), members in buses.items():
        # labelled siblings count: a VF given a provider since the last
        # labelling joins its GPU
        vfs = len(members) > 1 and all(
            not m.address.endswith(':00.0') and m.total == 1
            for m in members)
        for m in members:
            if not m.gpu_address:
                m.gpu_address = bus + ':00.0' if vfs else m.address
                m.gpu_source = 'address'


def sriov_gpus(providers, traits) -> list[list[dict]]:
    """The libvirt vGPU providers among `providers` that are VFs of one
    SR-IOV GPU, grouped per GPU, from the listings alone (before any of
    their records is read): by their labels, else by _gpu_of's address
    rule on their names. traits: {uuid: {'traits': [...]}} as listed."""
    groups = collections.defaultdict(list)
    at_zero = set()
    for p in providers:
        m = _LIBVIRT_NAME.search(p['name'])
        if not (m and p['parent_provider_uuid']):
            continue
        address = normalise_address(m.group(0)[1:])
        label = labels.read_label(
            (traits.get(p['uuid']) or {}).get('traits'))
        root = p['root_provider_uuid']
        if address.endswith(':00.0'):
            at_zero.add((root, address[:7]))
        gpu = label.gpu_address or address[:7] + ':00.0'
        if gpu != address:
            groups[(root, gpu, bool(label.gpu_address))].append(p)
    return [members for (root, gpu, labelled), members in groups.items()
            if labelled or (len(members) > 1
                            and (root, gpu[:7]) not in at_zero)]


def by_gpu(found: list[Device]) -> list[Device]:
    """One row per physical GPU: the VF providers of an SR-IOV vGPU GPU
    (those whose gpu_address is not their own) merged into one, summing
    their vGPUs; every other device as it is."""
    rows, merged = [], {}
    for d in found:
        if not (d.kind == VGPU and d.gpu_address
                and d.gpu_address != d.address):
            rows.append(d)
            continue
        key = (d.host, d.gpu_address)
        gpu = merged.get(key)
        if gpu is None:
            gpu = merged[key] = dataclasses.replace(
                d, address=d.gpu_address, total=0, used=0, reserved=0,
                free=0, consumers={}, provider_uuid=None, provider_name=None,
                generation=None, inventory=None, traits=None, vfs=[])
            rows.append(gpu)
        gpu.vfs.append(d)
        if d.traits is not None:   # read with --long: any VF's
            gpu.traits = sorted(set(gpu.traits or ()) | set(d.traits))
        for field in ('total', 'used', 'reserved', 'free'):
            setattr(gpu, field, getattr(gpu, field) + getattr(d, field))
        for consumer, amount in d.consumers.items():
            gpu.consumers[consumer] = gpu.consumers.get(consumer, 0) + amount
        # A GPU serves one type and class; labels on any VF name it.
        gpu.labelled = gpu.labelled and d.labelled
        for field in ('vgpu_type', 'gpu_vfs', 'pci_id', 'model',
                      'vendor_name', 'device_name'):
            if getattr(gpu, field) is None:
                setattr(gpu, field, getattr(d, field))
        if d.resource_class != gpu.resource_class:
            gpu.resource_class = ','.join(sorted(
                set(gpu.resource_class.split(',')) | {d.resource_class}))
    for gpu in merged.values():
        gpu.state = state_of(VGPU, gpu.total, gpu.used, gpu.reserved)
    return rows


def unlabelled(found: list[Device]) -> list[Device]:
    """vGPU providers with no model or type from labels."""
    return [d for d in found if d.kind == VGPU and d.owner != CYBORG
            and not d.labelled]


def label_hint(found: list[Device]) -> str | None:
    missing = unlabelled(found)
    if not missing:
        return None
    hosts = sorted({d.host for d in missing})
    return LABEL_HINT % (len(missing), ', '.join(
        hosts[:5] + (['...'] if len(hosts) > 5 else [])))


@dataclasses.dataclass
class Filters:
    resource_class: str | None = None
    model: str | None = None
    vendor_id: str | None = None
    product_id: str | None = None
    traits: tuple[str, ...] = ()
    state: str | None = None
    kind: str | None = None
    vgpu_type: str | None = None

    def match(self, d: Device) -> bool:
        vendor, _, product = (d.pci_id or ':').partition(':')
        return all((
            not self.resource_class
            or d.resource_class == self.resource_class.upper(),
            not self.model or model_matches(d, self.model),
            not self.vendor_id or vendor == self.vendor_id.lower(),
            not self.product_id or product == self.product_id.lower(),
            set(self.traits) <= set(d.traits or ()),
            not self.state or d.state == self.state,
            not self.kind or d.kind == self.kind,
            not self.vgpu_type
            or labels.type_matches(self.vgpu_type, d.vgpu_type)))


def is_uuid(text: str) -> bool:
    return bool(_UUID.match(text))


def normalise_uuid(text: str) -> str:
    """The dashed lower-case form Placement stores (it compares exactly)."""
    h = text.replace('-', '').lower()
    return '%s-%s-%s-%s-%s' % (h[:8], h[8:12], h[12:16], h[16:20], h[20:])


def split_host_address(text: str) -> tuple[str, str] | None:
    """(host, address) from HOST:ADDRESS, or None. Host names hold no ':'."""
    host, sep, address = text.partition(':')
    address = normalise_address(address) if sep else None
    return (host, address) if host and address else None


def summarize(devices: list[Device], by_host: bool = False) -> list[dict]:
    """Capacity per model (or class, where the model is unknown) and vGPU
    type, and per host with `by_host`; a GPU of many VF providers is one
    device (by_gpu)."""
    groups = collections.OrderedDict()
    for d in sorted(by_gpu(devices), key=lambda d: (
            d.host if by_host else '', d.model or d.resource_class,
            d.vgpu_type or '')):
        key = (d.host if by_host else None, d.model or d.resource_class,
               d.kind, d.vgpu_type)
        g = groups.setdefault(key, dict(
            host=d.host, model=d.model or d.resource_class, kind=d.kind,
            vgpu_type=d.vgpu_type, devices=0, total=0, used=0, reserved=0,
            free=0))
        g['devices'] += 1
        for field in ('total', 'used', 'reserved', 'free'):
            g[field] += getattr(d, field)
    return list(groups.values())
