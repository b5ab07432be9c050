"""Simulated hardware: each host's PCI functions as nova's fakelibvirt shows
them to Nova's real libvirt driver (plain devices, SR-IOV PFs with their
VFs, mdev-capable GPUs), so every provider Nova writes comes from Nova's
code.

A host's functions are gpuclient.hostconfig.sysfs.PciFunction records:
built from a fleet host here, or read from a copy of a host's /sys by
gpuclient.hostconfig.sysfs.
"""
from nova.tests.fixtures import libvirt as fakelibvirt

from gpuclient.hostconfig import sysfs
from gpu_sandbox import fleet as fleet_mod

# libvirt's dev_type names in nova's fakelibvirt
_FAKE_TYPES = {'type-PCI': 'PCI', 'type-PF': 'PF', 'type-VF': 'VF'}
VGPU_IDS = ('10de', '0ffe')  # GRID M60: Nova never shows a vGPU GPU's ids


def _function(address, vendor_id, product_id, numa_node, physfn=None,
              virtfns=(), sriov_totalvfs=0, mdev_types=()):
    """A fleet device as sysfs would show it, bound to vfio-pci; the class
    code is left empty (Nova and fakelibvirt never read it)."""
    return sysfs.PciFunction(
        address=address, vendor_id=vendor_id, product_id=product_id,
        class_code='', driver='vfio-pci', iommu_group=None,
        numa_node=numa_node or 0, physfn=physfn, virtfns=tuple(virtfns),
        sriov_totalvfs=sriov_totalvfs, sriov_numvfs=len(virtfns),
        mdev_types=mdev_types)


def fleet_functions(host: fleet_mod.Host) -> list[sysfs.PciFunction]:
    functions = []
    for d in host.pci:
        vfs = tuple(d.vf_addresses())
        # A type-PF device can have VFs even where the fleet enables none.
        functions.append(_function(
            d.address, d.vendor_id, d.product_id, d.numa_node, virtfns=vfs,
            sriov_totalvfs=(max(len(vfs), 1) if d.device_type == 'type-PF'
                            else 0)))
        functions.extend(_function(vf, d.vendor_id, d.vf_product_id,
                                   d.numa_node, physfn=d.address)
                         for vf in vfs)
    if host.vgpu:
        functions.extend(_function(
            a, *VGPU_IDS, None, mdev_types=(sysfs.MdevType(
                host.vgpu.mdev_type, None, host.vgpu.per_gpu, 'vfio-pci'),))
            for a in host.vgpu.addresses)
    return functions


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
        if f.mdev_types:
            types = ''.join(
                "<type id='%s'><name>%s</name><deviceAPI>vfio-pci"
                "</deviceAPI><availableInstances>%d</availableInstances>"
                "</type>" % (t.id, t.name or t.id, t.available_instances
                             - self.created.get(t.id, 0))
                for t in f.mdev_types)
            return "<capability type='mdev_types'>%s</capability>" % types
        if f.device_type == 'type-PF':
            return "<capability type='virt_functions'>%s</capability>" % (
                ''.join(_address_xml(a) for a in f.virtfns))
        if f.device_type == 'type-VF':
            return "<capability type='phys_function'>%s</capability>" % (
                _address_xml(f.physfn))
        return ''

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
