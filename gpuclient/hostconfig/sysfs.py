"""A host's PCI functions as Linux shows them in sysfs.

Reads the files the kernel documents (Documentation/ABI/testing/
sysfs-bus-pci, sysfs-kernel-iommu_groups, sysfs-bus-vfio-mdev) and that
libvirt reads for Nova: DIR/bus/pci/devices/<address>/{vendor, device,
class, numa_node, sriov_totalvfs, sriov_numvfs, physfn, virtfn<N>, driver,
iommu_group, mdev_supported_types/<type>/{name, available_instances,
device_api}} and DIR/kernel/iommu_groups/. DIR is /sys, or a copy of it
taken from a host (`cp -a` keeps the symbolic links; only their target's
last name is read, so a copy's links may dangle).
"""
from __future__ import annotations

import dataclasses
import os

PCI_DEVICES = os.path.join('bus', 'pci', 'devices')
IOMMU_GROUPS = os.path.join('kernel', 'iommu_groups')
# PCI class codes (first two bytes of `class`, PCI Code and ID Assignment)
DISPLAY = '03'
AUDIO = '0403'


class SysfsError(ValueError):
    """A directory that is not a sysfs (one line)."""


@dataclasses.dataclass(frozen=True)
class MdevType:
    """One mdev_supported_types/<id> directory."""
    id: str                       # 'nvidia-11'
    name: str | None              # 'GRID M60-0B' (optional in the ABI)
    available_instances: int
    device_api: str               # 'vfio-pci'


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

    def group_members(self, function: PciFunction) -> list[PciFunction]:
        """The other functions in this function's IOMMU group."""
        if function.iommu_group is None:
            return []
        return [f for f in self.functions.values()
                if f.iommu_group == function.iommu_group
                and f.address != function.address]


def _text(path):
    try:
        with open(path) as f:
            return f.read().strip()
    except OSError:
        return None


def _int(path, default=0):
    text = _text(path)
    try:
        return int(text, 0) if text is not None else default
    except ValueError:
        return default


def _hex(path):
    text = _text(path) or ''
    return text[2:].lower() if text.lower().startswith('0x') else text.lower()


def _link(path):
    """The last name of a symbolic link's target (the link may dangle)."""
    try:
        return os.path.basename(os.readlink(path))
    except OSError:
        return None


def _mdev_types(path) -> tuple[MdevType, ...]:
    base = os.path.join(path, 'mdev_supported_types')
    try:
        names = sorted(os.listdir(base))
    except OSError:
        return ()
    return tuple(MdevType(
        id=n, name=_text(os.path.join(base, n, 'name')),
        available_instances=_int(os.path.join(base, n,
                                              'available_instances')),
        device_api=_text(os.path.join(base, n, 'device_api')) or '')
        for n in names)


def read_function(root: str, address: str) -> PciFunction:
    path = os.path.join(root, PCI_DEVICES, address)
    numa = _int(os.path.join(path, 'numa_node'), -1)
    virtfns = []
    for name in os.listdir(path):
        if name.startswith('virtfn') and name[6:].isdigit():
            virtfns.append((int(name[6:]), _link(os.path.join(path, name))))
    return PciFunction(
        address=address.lower(),
        vendor_id=_hex(os.path.join(path, 'vendor')),
        product_id=_hex(os.path.join(path, 'device')),
        class_code=_hex(os.path.join(path, 'class')),
        driver=_link(os.path.join(path, 'driver')),
        iommu_group=_link(os.path.join(path, 'iommu_group')),
        numa_node=None if numa < 0 else numa,
        physfn=_link(os.path.join(path, 'physfn')),
        virtfns=tuple(a for _, a in sorted(virtfns)),
        sriov_totalvfs=_int(os.path.join(path, 'sriov_totalvfs')),
        sriov_numvfs=_int(os.path.join(path, 'sriov_numvfs')),
        mdev_types=_mdev_types(path))


def read(root: str = '/sys') -> Host:
    """Every PCI function under ROOT/bus/pci/devices. Raises SysfsError."""
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
    return Host(root=root, iommu=bool(groups),
                functions={a.lower(): read_function(root, a)
                           for a in addresses})
