"""The label traits `openstack gpu host label` writes on a host's vGPU
providers, from its sysfs and nova.conf, and what they say: nothing in
Placement or Nova's API names the physical GPU a VF provider belongs to,
its model or its vGPU type. Pure functions on trait names.
"""
from __future__ import annotations

import dataclasses
import re

LABEL_GPU = 'CUSTOM_GPU_ADDR_'    # + 0000_41_00_0: the physical GPU (PF)
LABEL_PCI = 'CUSTOM_GPU_PCI_'     # + 10DE_2235: the GPU's vendor, product
LABEL_TYPE = 'CUSTOM_VGPU_TYPE_'  # + A40_2Q: the vGPU type's name
LABEL_VFS = 'CUSTOM_GPU_VFS_'     # + 8: VFs the GPU has enabled (0: none)
_LABEL_GPU = re.compile(r'^CUSTOM_GPU_ADDR_([0-9A-F]{4})_([0-9A-F]{2})_'
                        r'([0-9A-F]{2})_([0-7])$')
_LABEL_PCI = re.compile(r'^CUSTOM_GPU_PCI_([0-9A-F]{4})_([0-9A-F]{4})$')
_LABEL_TYPE = re.compile(r'^CUSTOM_VGPU_TYPE_([A-Z0-9_]+)$')
_LABEL_VFS = re.compile(r'^CUSTOM_GPU_VFS_([0-9]{1,4})$')


@dataclasses.dataclass(frozen=True)
class Label:
    """What a vGPU provider's label traits say; None where they say nothing."""
    gpu_address: str | None = None
    pci_id: str | None = None
    vgpu_type: str | None = None
    vfs: int | None = None

    @property
    def complete(self) -> bool:
        return bool(self.gpu_address and self.pci_id and self.vgpu_type)


def is_label_trait(trait: str) -> bool:
    """Written by `gpu host label` (the whole form: an operator's
    CUSTOM_GPU_VFS_ENABLED is not one)."""
    return any(p.match(trait) for p in (_LABEL_GPU, _LABEL_PCI, _LABEL_TYPE,
                                        _LABEL_VFS))


def type_trait_name(type_name: str) -> str:
    """'NVIDIA A40-2Q' (sysfs) -> 'A40_2Q': the vendor word dropped, then
    as a trait suffix."""
    words = type_name.split()
    if len(words) > 1 and words[0].upper() in ('NVIDIA', 'GRID', 'AMD',
                                               'INTEL'):
        words = words[1:]
    return re.sub(r'[^A-Z0-9]+', '_', ' '.join(words).upper()).strip('_')


def trait_address(address: str) -> str:
    """'0000:41:00.0' -> '0000_41_00_0'."""
    return re.sub(r'[:.]', '_', address).upper()


def pci_trait(pci: str) -> str:
    """'10de:2235' -> 'CUSTOM_GPU_PCI_10DE_2235'."""
    return LABEL_PCI + pci.replace(':', '_').upper()


def type_traits(pci: str, type_name: str) -> set[str]:
    """The traits naming a GPU's vendor:product and vGPU type: on a VF
    pool of NVIDIA's variant driver, whose provider's name gives its GPU's
    address, they are all its labels (from its device_spec)."""
    return {pci_trait(pci), LABEL_TYPE + type_trait_name(type_name)}


def label_traits(gpu_address: str, pci: str, type_name: str,
                 vfs: int | None) -> set[str]:
    """The label traits of one vGPU provider (see LABEL_*)."""
    traits = type_traits(pci, type_name) | {
        LABEL_GPU + trait_address(gpu_address)}
    if vfs is not None:
        traits.add(LABEL_VFS + str(vfs))
    return traits


def read_label(traits) -> Label:
    found = {}
    for trait in traits or ():
        for key, pattern in (('gpu_address', _LABEL_GPU),
                             ('pci_id', _LABEL_PCI),
                             ('vgpu_type', _LABEL_TYPE), ('vfs', _LABEL_VFS)):
            m = pattern.match(trait)
            if not m:
                continue
            if key == 'gpu_address':
                found[key] = ('%s:%s:%s.%s' % m.groups()).lower()
            elif key == 'pci_id':
                found[key] = ('%s:%s' % m.groups()).lower()
            elif key == 'vfs':
                found[key] = int(m.group(1))
            else:  # NVIDIA's type names use '-' where traits hold '_'
                found[key] = m.group(1).replace('_', '-')
    return Label(**found)


def type_matches(text: str, vgpu_type: str | None) -> bool:
    """--vgpu-type A40-2Q against a label's 'A40-2Q', in any case or
    punctuation."""
    squash = lambda t: re.sub(r'[^A-Z0-9]', '', (t or '').upper())  # noqa
    return bool(vgpu_type) and squash(text) == squash(vgpu_type)
