"""A host's PCI functions as Linux shows them in sysfs.

Reads the files the kernel documents (Documentation/ABI/testing/
sysfs-bus-pci, sysfs-kernel-iommu_groups, sysfs-bus-vfio-mdev) and that
libvirt reads for Nova: DIR/bus/pci/devices/<address>/{vendor, device,
class, numa_node, sriov_totalvfs, sriov_numvfs, physfn, virtfn<N>, driver,
iommu_group, mdev_supported_types/<type>/{name, available_instances,
device_api, description}} and DIR/kernel/iommu_groups/; and the files of
NVIDIA's kernel variant driver (vGPU 17+, no mdevs),
nvidia/{current_vgpu_type, creatable_vgpu_types} on a GPU and its VFs, as
NVIDIA's own reader has them (NVIDIA/kubevirt-gpu-device-plugin
pkg/device_plugin/vfio_vgpu.go). DIR is /sys, or a copy of it taken from
a host (`cp -a` keeps the symbolic links; only their target's last name
is read, so a copy's links may dangle).
"""
from __future__ import annotations

import dataclasses
import os
import re

from gpuclient.hostconfig import files

PCI_DEVICES = os.path.join('bus', 'pci', 'devices')
IOMMU_GROUPS = os.path.join('kernel', 'iommu_groups')
# PCI class codes (first two bytes of `class`, PCI Code and ID Assignment)
DISPLAY = '03'
AUDIO = '0403'
# The forms values are checked against before they reach output (a copy of
# /sys can hold anything): the domain:bus:slot.function Nova accepts
# (nova/pci/devspec.py), sysfs's "0x" ids, the kernel's names.
_ADDRESS = re.compile(r'^[0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]$')
_IDS = (('vendor', re.compile(r'^0x[0-9a-fA-F]{4}$'), 'a 4-hex-digit id'),
        ('device', re.compile(r'^0x[0-9a-fA-F]{4}$'), 'a 4-hex-digit id'),
        ('class', re.compile(r'^0x[0-9a-fA-F]{6}$'), 'a 6-hex-digit class'))
_INT = re.compile(r'^-?[0-9]{1,9}$')
_TOKEN = re.compile(r'^[A-Za-z0-9][A-Za-z0-9_.:+-]{0,63}$')
# creatable_vgpu_types: a header, then lines "1428 : NVIDIA H200X-141C"
_CREATABLE = re.compile(r'^\s*([0-9]{1,9})\s*:\s*(.+?)\s*$')
NO_VGPU_TYPE = '0'   # current_vgpu_type of a VF given no type yet
_MAX_INSTANCE = re.compile(r'(?:^|[,\s])max_instance=([0-9]{1,6})(?:$|[,\s])')
NAME_MAX = 128


class SysfsError(ValueError):
    """A directory that is not a sysfs (one line)."""


@dataclasses.dataclass(frozen=True)
class MdevType:
    """One mdev_supported_types/<id> directory."""
    id: str                       # 'nvidia-11'
    name: str | None              # 'GRID M60-0B' (optional in the ABI)
    available_instances: int
    device_api: str               # 'vfio-pci'
    # NVIDIA's description "..., max_instance=24": vGPUs of the type one
    # GPU holds (on an SR-IOV GPU each VF offers 1 until the GPU is full)
    max_instance: int | None = None


@dataclasses.dataclass(frozen=True)
class VgpuType:
    """One creatable_vgpu_types line of NVIDIA's variant driver. Ids are
    the driver's numbers, valid on that card only."""
    id: str                       # '1428'
    name: str                     # 'NVIDIA H200X-141C'


@dataclasses.dataclass(frozen=True)
class PciFunction:
    address: str                  # '0000:81:00.0' (lower case, as sysfs)
    vendor_id: str                # '10de' (no 0x)
    product_id: str               # '20b7'
    class_code: str               # '030200'
    driver: str | None            # 'vfio-pci', 'nvidia', None (unbound)
    iommu_group: str | None       # '40', None without an IOMMU
    numa_node: int | None         # None when sysfs says -1
    physfn: str | None            # the PF's address, for a VF
    virtfns: tuple[str, ...]      # the VFs' addresses, for a PF
    sriov_totalvfs: int
    sriov_numvfs: int
    mdev_types: tuple[MdevType, ...]
    # NVIDIA's variant driver: the type id set on a VF (NO_VGPU_TYPE: none
    # yet); None where there is no nvidia/current_vgpu_type
    current_vgpu_type: str | None = None
    creatable_vgpu_types: tuple[VgpuType, ...] = ()

    @property
    def device_type(self) -> str:
        """Nova's dev_type, as the libvirt driver derives it: a function
        with a physfn is a VF, one able to have VFs is a PF."""
        if self.physfn:
            return 'type-VF'
        return 'type-PF' if self.sriov_totalvfs > 0 else 'type-PCI'

    @property
    def is_gpu(self) -> bool:
        return self.class_code.startswith(DISPLAY)

    @property
    def is_audio(self) -> bool:
        return self.class_code.startswith(AUDIO)

    @property
    def slot(self) -> str:
        """'0000:81:00' — the functions of one card share it."""
        return self.address.rpartition('.')[0]


@dataclasses.dataclass(frozen=True)
class Host:
    root: str
    iommu: bool                   # DIR/kernel/iommu_groups has groups
    functions: dict[str, PciFunction]   # by address, sorted
    warnings: tuple[str, ...] = ()      # values left out, with their path

    def vgpu_type_name(self, vf: PciFunction) -> str | None:
        """The name of the type set on a VF of NVIDIA's variant driver,
        from its card's creatable_vgpu_types merged (the GPU's and every
        VF's: a VF given a type may list none), as NVIDIA's own reader
        resolves it (ids are card-local); None if unset or unnamed."""
        if vf.current_vgpu_type in (None, NO_VGPU_TYPE):
            return None
        gpu = self.functions.get(vf.physfn or '')
        card = [gpu] + [self.functions.get(a) for a in gpu.virtfns] if (
            gpu) else [vf]
        return next((t.name for f in card if f
                     for t in f.creatable_vgpu_types
                     if t.id == vf.current_vgpu_type), None)

    def group_members(self, function: PciFunction) -> list[PciFunction]:
        """The other functions in this function's IOMMU group."""
        if function.iommu_group is None:
            return []
        return [f for f in self.functions.values()
                if f.iommu_group == function.iommu_group
                and f.address != function.address]


class _Reader:
    """Reads attributes as sysfs writes them: a file that could not be a
    sysfs attribute (not a regular file, over a page, not text) stops the
    read with SysfsError; a value of the wrong form is left out with a
    warning naming its path, so nothing unexpected reaches output."""

    def __init__(self):
        self.warnings: list[str] = []

    def warn(self, path, value, expected):
        self.warnings.append('left out %s: %s is not %s' % (
            path, _shown(value), expected))

    def warn_entry(self, directory, name, expected):
        # the name is not part of a path shown raw: it may hold anything
        self.warnings.append('left out %s in %s: not %s' % (
            _shown(name), directory, expected))

    def text(self, path):
        """The value, stripped; None when the attribute is absent."""
        try:
            return files.read_text(path, files.SYSFS_ATTRIBUTE).strip()
        except files.Missing:
            return None
        except files.FileError as e:
            raise SysfsError('%s: no kernel writes that as a sysfs '
                             'attribute' % e) from None

    def valid(self, path, form, expected):
        value = self.text(path)
        if value is None or form(value):
            return value
        self.warn(path, value, expected)
        return None

    def name(self, path):
        return self.valid(path, _is_name, 'a name (one printable line of '
                          'at most %d characters)' % NAME_MAX)

    def int(self, path, default=0):
        value = self.valid(path, _INT.match, 'a decimal number')
        return default if value is None else int(value)

    def link(self, path, form=_TOKEN.match, expected='a name'):
        """The last name of a symbolic link's target (the link may
        dangle); None without the link."""
        try:
            value = os.path.basename(os.readlink(path))
        except OSError:
            return None
        if form(value):
            return value
        self.warn(path, value, expected)
        return None

    def mdev_types(self, path) -> tuple[MdevType, ...]:
        base = os.path.join(path, 'mdev_supported_types')
        try:
            names = sorted(os.listdir(base))
        except OSError:
            return ()
        found = []
        for n in names:
            if not _TOKEN.match(n):
                self.warn_entry(base, n, 'an mdev type id')
                continue
            found.append(MdevType(
                id=n, name=self.name(os.path.join(base, n, 'name')),
                available_instances=self.int(os.path.join(
                    base, n, 'available_instances')),
                device_api=self.valid(os.path.join(base, n, 'device_api'),
                                      _TOKEN.match, 'a name') or '',
                max_instance=_max_instance(self.text(os.path.join(
                    base, n, 'description')))))
        return tuple(found)

    def creatable(self, path) -> tuple[VgpuType, ...]:
        text = self.text(path)
        found = []
        for line in (text or '').splitlines():
            m = _CREATABLE.match(line)
            if m and _is_name(m.group(2)):
                found.append(VgpuType(m.group(1), m.group(2)))
        return tuple(found)

    def function(self, root: str, address: str) -> PciFunction | None:
        path = os.path.join(root, PCI_DEVICES, address)
        ids = []
        for name, form, expected in _IDS:
            file = os.path.join(path, name)
            value = self.text(file)
            if value is None or not form.match(value):
                self.warnings.append('left out %s: %s' % (address, (
                    'no %s' % file if value is None else
                    '%s holds %s, not %s' % (file, _shown(value),
                                             expected))))
                return None
            ids.append(value[2:].lower())
        numa = self.int(os.path.join(path, 'numa_node'), -1)
        virtfns = []
        for name in os.listdir(path):
            if name.startswith('virtfn') and name[6:].isdigit():
                target = self.link(os.path.join(path, name), _ADDRESS.match,
                                   'a PCI address')
                if target:
                    virtfns.append((int(name[6:]), target))
        return PciFunction(
            address=address,
            vendor_id=ids[0], product_id=ids[1], class_code=ids[2],
            driver=self.link(os.path.join(path, 'driver')),
            iommu_group=self.link(os.path.join(path, 'iommu_group'),
                                  _INT.match, 'an IOMMU group number'),
            numa_node=None if numa < 0 else numa,
            physfn=self.link(os.path.join(path, 'physfn'), _ADDRESS.match,
                             'a PCI address'),
            virtfns=tuple(a for _, a in sorted(virtfns)),
            sriov_totalvfs=self.int(os.path.join(path, 'sriov_totalvfs')),
            sriov_numvfs=self.int(os.path.join(path, 'sriov_numvfs')),
            mdev_types=self.mdev_types(path),
            current_vgpu_type=self.valid(
                os.path.join(path, 'nvidia', 'current_vgpu_type'),
                _INT.match, 'a vGPU type number'),
            creatable_vgpu_types=self.creatable(
                os.path.join(path, 'nvidia', 'creatable_vgpu_types')))


def _max_instance(description):
    m = _MAX_INSTANCE.search(description or '')
    return int(m.group(1)) if m else None


def _shown(value):
    """The value as a warning shows it: escaped, and cut short."""
    shown = repr(value)
    return shown if len(shown) <= 80 else shown[:76] + '...'


def _is_name(value):
    return 0 < len(value) <= NAME_MAX and value.isprintable()


def read(root: str = '/sys') -> Host:
    """Every PCI function under ROOT/bus/pci/devices. Raises SysfsError
    (one line) for a file no kernel writes."""
    base = os.path.join(root, PCI_DEVICES)
    try:
        addresses = sorted(os.listdir(base))
    except OSError as e:
        raise SysfsError('%s is not a sysfs: no %s (%s)' % (
            root, os.path.join(PCI_DEVICES, ''), e.strerror or e)) from None
    try:
        groups = os.listdir(os.path.join(root, IOMMU_GROUPS))
    except OSError:
        groups = []
    reader = _Reader()
    functions = {}
    for name in addresses:
        if not _ADDRESS.match(name):
            reader.warn_entry(base, name, 'a PCI address')
            continue
        found = reader.function(root, name)
        if found is not None:
            functions[name] = found
    return Host(root=root, iommu=bool(groups), functions=functions,
                warnings=tuple(reader.warnings))
