"""What `openstack gpu host label` writes: from a host's sysfs and its
nova.conf, the label traits (labels.LABEL_*) each of that host's vGPU
providers should carry. Pure functions, no I/O.

Nothing in Placement or Nova's API says which physical GPU a VF provider
belongs to, which vGPU type it serves, or what model the GPU is
(nova/virt/libvirt/driver.py _ensure_pgpu_providers gives a provider no
trait that describes it: OWNER_NOVA alone, from Nova 34); the host's
sysfs and nova.conf do.
"""
from __future__ import annotations

import dataclasses

from gpuclient.model import devices
from gpuclient.model import labels
from gpuclient.model import pciids


@dataclasses.dataclass
class Plan:
    """One provider's labels (or why it has none), or a VF with no
    provider."""
    address: str
    gpu: str | None = None
    pci_id: str | None = None
    model: str | None = None
    vgpu_type: str | None = None
    vfs: int | None = None
    wanted: frozenset = frozenset()
    device: devices.Device | None = None
    problem: str | None = None     # nothing written
    note: str | None = None        # written, but the host is not right


def mdev_type(parent: str, conf) -> str | None:
    """The type Nova gives an mdev parent, as _get_vgpu_type_per_pgpu does
    (nova/virt/libvirt/driver.py, _get_supported_vgpu_types): the type
    whose [mdev_<type>] device_addresses lists the parent, else the first
    enabled type whose group lists no address (the host's default)."""
    default = None
    for name in conf.enabled_mdev_types:
        group = conf.mdev_types.get(name)
        addresses = {a.lower() for a in (group.device_addresses
                                         if group else ())}
        if parent in addresses:
            return name
        if not addresses and default is None:
            default = name
    return default


def plan(found, host, conf) -> list[Plan]:
    """Labels for the vGPU providers Nova's libvirt driver made on one host
    (`found`: that host's devices; host: its sysfs.Host; conf: its
    NovaConf), a VF provider whose VF is gone included (_vanished); then a
    row for each mdev-capable VF of its GPUs, and each GPU of an enabled
    type, that has no provider (past max_instances, or left out of
    device_addresses)."""
    plans, providers = [], set()
    for d in found:
        if not (d.kind == devices.VGPU and d.owner != devices.CYBORG
                and devices.is_libvirt_gpu_name(d.provider_name)):
            continue
        providers.add(d.address)
        plans.append(_one(d, host, conf))
    gpus = {p.gpu for p in plans if p.gpu and p.gpu != p.address}
    for gpu in sorted(gpus):
        for vf in host.functions[gpu].virtfns:
            f = host.functions.get(vf)
            if f and f.mdev_types and vf not in providers:
                plans.append(Plan(address=vf, gpu=gpu, problem=(
                    'no provider: Nova left this VF out (past [mdev_%s] '
                    'max_instances, or not in its device_addresses)'
                    % (mdev_type(vf, conf) or '<type>'))))
    # a whole GPU (not SR-IOV) of an enabled type with no provider
    for f in host.functions.values():
        name = mdev_type(f.address, conf)
        if (f.mdev_types and not f.physfn and f.address not in providers
                and name in {t.id for t in f.mdev_types}):
            plans.append(Plan(address=f.address, gpu=f.address, problem=(
                'no provider: Nova left this GPU out (past [mdev_%s] '
                'max_instances?)' % name)))
    return plans


def _one(d, host, conf) -> Plan:
    f = host.functions.get(d.address)
    gpu = host.functions.get(d.gpu_address or '')
    if f is None and gpu is not None and gpu.sriov_totalvfs:
        return _vanished(d, gpu)
    if f is None:
        return Plan(address=d.address, device=d, problem=(
            'no PCI function %s in %s: is this the host that runs %s?'
            % (d.address, host.root, d.host)))
    gpu = host.functions.get(f.physfn) if f.physfn else f
    gpu = gpu or f
    pci = '%s:%s' % (gpu.vendor_id, gpu.product_id)
    name = mdev_type(d.address, conf)
    if name is None:
        return Plan(address=d.address, gpu=gpu.address, pci_id=pci,
                    device=d, problem=(
                        'nova.conf gives %s no mdev type: list it in a '
                        '[mdev_<type>] device_addresses' % d.address))
    sysfs_type = {t.id: t for t in f.mdev_types}.get(name)
    if sysfs_type is None:
        return Plan(address=d.address, gpu=gpu.address, pci_id=pci,
                    device=d, problem=(
                        'nova.conf gives %s the vGPU type %s, which its sysfs '
                        'does not offer (mdev_supported_types)'
                        % (d.address, name)))
    type_name = sysfs_type.name or name
    vfs = gpu.sriov_numvfs if f.physfn else None
    wanted = labels.label_traits(gpu.address, pci, type_name, vfs)
    label = labels.read_label(wanted)
    return Plan(address=d.address, gpu=gpu.address, pci_id=pci,
                model=devices.short_model(
                        pci, pciids.names(*pci.split(':'))[1]) or pci,
                vgpu_type=label.vgpu_type, vfs=vfs,
                wanted=frozenset(wanted), device=d)


def _vanished(d, gpu) -> Plan:
    """A VF provider whose VF the host no longer has, while its GPU is
    there: the VFs were not enabled again after a reboot. Nova keeps such
    providers, allocations and all (_update_provider_tree_for_vgpu skips a
    host with no mdev parent, _ensure_pgpu_providers touches only the
    parents it lists): the labels record how many VFs the GPU has now, for
    `gpu audit`, and keep the rest."""
    pci = '%s:%s' % (gpu.vendor_id, gpu.product_id)
    kept = {t for t in d.traits or () if labels.is_label_trait(t)
            and not t.startswith(labels.LABEL_VFS)}
    wanted = kept | {labels.LABEL_GPU + labels.trait_address(gpu.address),
                     labels.pci_trait(pci),
                     labels.LABEL_VFS + str(gpu.sriov_numvfs)}
    label = labels.read_label(wanted)
    return Plan(
        address=d.address, gpu=gpu.address, pci_id=pci,
        model=devices.short_model(pci, pciids.names(*pci.split(':'))[1])
        or pci, vgpu_type=label.vgpu_type, vfs=gpu.sriov_numvfs,
        wanted=frozenset(wanted), device=d, note=(
            'VF %s is not on this host: GPU %s has %d VFs enabled (not '
            'enabled again after a reboot?); Placement keeps its provider%s'
            % (d.address, gpu.address, gpu.sriov_numvfs,
               ' and the vGPU a server holds there' if d.used else '')))


def changed(current, wanted) -> list[str] | None:
    """A provider's traits with its labels made `wanted`: every other
    trait kept, stale labels (a type changed) dropped; None if nothing
    changes."""
    new = {t for t in current if not labels.is_label_trait(t)} | set(wanted)
    return sorted(new) if new != set(current) else None
