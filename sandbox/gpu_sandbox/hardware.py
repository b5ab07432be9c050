"""Simulated hardware: each host's PCI functions as nova's fakelibvirt shows
them to Nova's real libvirt driver (plain devices, SR-IOV PFs with their
VFs, mdev-capable GPUs), so every provider Nova writes comes from Nova's
code.

A host's functions are gpuclient.hostconfig.sysfs.PciFunction records:
built from a fleet host here, or read from a copy of a host's /sys by
gpuclient.hostconfig.sysfs.
"""
import dataclasses

from nova.tests.fixtures import libvirt as fakelibvirt

from gpuclient.hostconfig import sysfs
from gpu_sandbox import fleet as fleet_mod

# libvirt's dev_type names in nova's fakelibvirt
_FAKE_TYPES = {'type-PCI': 'PCI', 'type-PF': 'PF', 'type-VF': 'VF'}
VGPU_IDS = ('10de', '0ffe')  # GRID M60: Nova never shows a vGPU GPU's ids
DISPLAY = '030200'           # a 3D controller, as NVIDIA's compute GPUs are
VGPU_DRIVER = 'nvidia'       # NVIDIA's vGPU manager holds vGPU GPUs and VFs


def _function(address, vendor_id, product_id, numa_node, physfn=None,
              virtfns=(), sriov_totalvfs=0, mdev_types=(), class_code='',
              driver='vfio-pci'):
    """A fleet device as sysfs would show it, bound to vfio-pci (a vGPU
    GPU and its VFs: to the vendor's driver); the class code is left empty
    but for vGPU GPUs (Nova and fakelibvirt read neither; `gpu host label`
    and `gpu config generate` read the host's sysfs copy)."""
    return sysfs.PciFunction(
        address=address, vendor_id=vendor_id, product_id=product_id,
        class_code=class_code, driver=driver, iommu_group=None,
        numa_node=numa_node or 0, physfn=physfn, virtfns=tuple(virtfns),
        sriov_totalvfs=sriov_totalvfs, sriov_numvfs=len(virtfns),
        mdev_types=mdev_types)


def _variant_functions(d) -> list[sysfs.PciFunction]:
    """A GPU under NVIDIA's variant driver and its VFs, all held by the
    driver (no vfio-pci): the GPU lists its types, a VF the type set on it
    (current_vgpu_type, 0 for none); a VF given a type lists none, another
    only the GPU's type while the GPU has room for one more."""
    type_id, name, per_gpu = fleet_mod.variant_type(d)
    catalogue = tuple(sysfs.VgpuType(i, n)
                      for i, n, _ in fleet_mod.VARIANT_TYPES['%s:%s' % (
                          d.vendor_id, d.product_id)])
    typed = set(d.typed_vfs())
    vfs = d.vf_addresses()
    room = (sysfs.VgpuType(type_id, name),) if len(typed) < per_gpu else ()
    gpu = dataclasses.replace(
        _function(d.address, d.vendor_id, d.product_id, d.numa_node,
                  virtfns=vfs, sriov_totalvfs=32, class_code=DISPLAY,
                  driver=VGPU_DRIVER),
        creatable_vgpu_types=catalogue)
    return [gpu] + [dataclasses.replace(
        _function(vf, d.vendor_id, d.vf_product_id, d.numa_node,
                  physfn=d.address, class_code=DISPLAY, driver=VGPU_DRIVER),
        current_vgpu_type=type_id if vf in typed else sysfs.NO_VGPU_TYPE,
        creatable_vgpu_types=() if vf in typed else room) for vf in vfs]


def fleet_functions(host: fleet_mod.Host) -> list[sysfs.PciFunction]:
    functions = []
    for d in host.pci:
        if d.vgpu_type:
            functions.extend(_variant_functions(d))
            continue
        vfs = tuple(d.vf_addresses())
        # A type-PF device can have VFs even where the fleet enables none.
        functions.append(_function(
            d.address, d.vendor_id, d.product_id, d.numa_node, virtfns=vfs,
            sriov_totalvfs=(max(len(vfs), 1) if d.device_type == 'type-PF'
                            else 0)))
        functions.extend(_function(vf, d.vendor_id, d.vf_product_id,
                                   d.numa_node, physfn=d.address)
                         for vf in vfs)
    for g in host.vgpu:
        types = (sysfs.MdevType(g.mdev_type, g.type_name, g.per_gpu,
                                'vfio-pci', g.gpu_max),)
        ids = (VGPU_IDS[0], g.product_id) if g.product_id else VGPU_IDS
        for a in g.addresses:
            vfs = g.vf_addresses(a) if g.vfs else ()
            functions.append(_function(
                a, *ids, None, virtfns=vfs, sriov_totalvfs=len(vfs),
                mdev_types=() if vfs else types, class_code=DISPLAY,
                driver=VGPU_DRIVER))
            functions.extend(_function(vf, *ids, None, physfn=a,
                                       mdev_types=types, class_code=DISPLAY,
                                       driver=VGPU_DRIVER)
                             for vf in vfs)
    return functions


def without_vgpu_vfs(functions) -> list[sysfs.PciFunction]:
    """The functions after a boot that did not enable the VFs of the GPUs
    NVIDIA's vGPU manager holds (sriov-manage): those VFs are gone."""
    gpus = {f.address for f in functions
            if f.driver == VGPU_DRIVER and f.virtfns}
    return [dataclasses.replace(f, virtfns=(), sriov_numvfs=0)
            if f.address in gpus else f
            for f in functions if f.physfn not in gpus]


def _bus_slot_function(address):
    _, bus, rest = address.split(':')
    slot, function = rest.split('.')
    return int(bus, 16), int(slot, 16), int(function)


def _address_xml(address):
    return ("<address domain='0x0000' bus='0x%02x' slot='0x%02x' "
            "function='0x%x'/>" % _bus_slot_function(address))


class FakeFunction(fakelibvirt.FakePCIDevice):
    """One PCI function, with the capabilities libvirt shows for it: a PF
    lists its VFs, a VF names its PF, an mdev parent its types (whose
    available instances drop as mdevs are created, as in sysfs, so Nova's
    inventory of created + available stays the GPU's capacity)."""

    def __init__(self, function, iommu_group):
        self.function_record = function
        self.created = {}  # mdev type -> mediated devices made
        bus, slot, fn = _bus_slot_function(function.address)
        dev_type = ('MDEV_TYPES' if function.mdev_types
                    else _FAKE_TYPES[function.device_type])
        numa = function.numa_node
        super().__init__(
            dev_type, bus, slot, fn, iommu_group,
            -1 if numa is None else numa,
            vf_ratio=(len(function.virtfns) if dev_type == 'PF'
                      else 1 if dev_type == 'VF' else None),
            parent=(_bus_slot_function(function.physfn)
                    if function.physfn else None),
            vend_id=function.vendor_id, prod_id=function.product_id)

    def generate_xml(self, skip_capability=False):
        super().generate_xml(skip_capability=True)

    def capability(self):
        f = self.function_record
        caps = ''
        if f.device_type == 'type-VF':   # an SR-IOV GPU's VF may hold mdevs
            caps = "<capability type='phys_function'>%s</capability>" % (
                _address_xml(f.physfn))
        if f.mdev_types:
            types = ''.join(
                "<type id='%s'><name>%s</name><deviceAPI>vfio-pci"
                "</deviceAPI><availableInstances>%d</availableInstances>"
                "</type>" % (t.id, t.name or t.id, t.available_instances
                             - self.created.get(t.id, 0))
                for t in f.mdev_types)
            return caps + "<capability type='mdev_types'>%s</capability>" % (
                types)
        if f.device_type == 'type-PF':
            return "<capability type='virt_functions'>%s</capability>" % (
                ''.join(_address_xml(a) for a in f.virtfns))
        return caps

    def XMLDesc(self, flags):
        return self.pci_device.replace(
            '</vendor>\n', '</vendor>\n' + self.capability() + '\n', 1)


def pci_info(functions) -> fakelibvirt.HostPCIDevicesInfo:
    """The host's PCI functions as its fake libvirt lists them."""
    info = fakelibvirt.HostPCIDevicesInfo(num_pci=0, num_pfs=0, num_vfs=0)
    for group, function in enumerate(functions, start=40):
        info.devices[fleet_mod.libvirt_name(function.address)] = (
            FakeFunction(function, group))
    return info


def create_mdev(driver, dev_name, mdev_type, uuid=None):
    """LibvirtDriver._create_mdev on a fake host: the new mediated device
    appears in that host's fake libvirt (as in nova's vGPU tests)."""
    from nova.virt.libvirt import utils as libvirt_utils
    from oslo_utils import uuidutils

    uuid = uuid or uuidutils.generate_uuid()
    name = libvirt_utils.mdev_uuid2name(uuid)
    connection = driver._host.get_connection()
    created = connection.pci_info.devices[dev_name].created
    created[mdev_type] = created.get(mdev_type, 0) + 1
    connection.mdev_info.devices[name] = fakelibvirt.FakeMdevDevice(
        dev_name=name, type_id=mdev_type, parent=dev_name)
    return uuid


def write_sysfs(root, functions) -> None:
    """A copy of a host's /sys with these PCI functions, laid out as the
    kernel lays it out (tests/fixtures/sysfs/README.rst) and as
    gpuclient.hostconfig.sysfs reads it: the copy `gpu host label --sysfs`
    and `gpu config generate --sysfs` are given for a sandbox host."""
    import os
    import shutil

    shutil.rmtree(root, ignore_errors=True)

    def write(path, name, value):
        with open(os.path.join(path, name), 'w') as f:
            f.write('%s\n' % value)

    devices = os.path.join(root, 'bus', 'pci', 'devices')
    os.makedirs(devices, exist_ok=True)
    for group, f in enumerate(functions, start=40):
        path = os.path.join(root, 'devices', 'pci0000:00', f.address)
        os.makedirs(path)
        write(path, 'vendor', '0x' + f.vendor_id)
        write(path, 'device', '0x' + f.product_id)
        write(path, 'class', '0x' + (f.class_code or '000000'))
        write(path, 'numa_node', -1 if f.numa_node is None else f.numa_node)
        if f.sriov_totalvfs:
            write(path, 'sriov_totalvfs', f.sriov_totalvfs)
            write(path, 'sriov_numvfs', len(f.virtfns))
        if f.physfn:
            os.symlink('../' + f.physfn, os.path.join(path, 'physfn'))
        for n, vf in enumerate(f.virtfns):
            os.symlink('../' + vf, os.path.join(path, 'virtfn%d' % n))
        if f.driver:
            os.symlink('../../../bus/pci/drivers/' + f.driver,
                       os.path.join(path, 'driver'))
        if f.current_vgpu_type is not None or f.creatable_vgpu_types:
            os.makedirs(os.path.join(path, 'nvidia'))
            if f.current_vgpu_type is not None:
                write(os.path.join(path, 'nvidia'), 'current_vgpu_type',
                      f.current_vgpu_type)
            write(os.path.join(path, 'nvidia'), 'creatable_vgpu_types',
                  '\n'.join(['ID    : vGPU Name'] + [
                      '%s : %s' % (t.id, t.name)
                      for t in f.creatable_vgpu_types]))
        for t in f.mdev_types:
            type_dir = os.path.join(path, 'mdev_supported_types', t.id)
            os.makedirs(os.path.join(type_dir, 'devices'))
            if t.name:
                write(type_dir, 'name', t.name)
            write(type_dir, 'device_api', t.device_api)
            write(type_dir, 'available_instances', t.available_instances)
            if t.max_instance:   # NVIDIA's description, that field alone
                write(type_dir, 'description',
                      'max_instance=%d' % t.max_instance)
        groups = os.path.join(root, 'kernel', 'iommu_groups', str(group))
        os.makedirs(os.path.join(groups, 'devices'))
        os.symlink('../../../../kernel/iommu_groups/%d' % group,
                   os.path.join(path, 'iommu_group'))
        os.symlink('../../../devices/pci0000:00/' + f.address,
                   os.path.join(devices, f.address))
