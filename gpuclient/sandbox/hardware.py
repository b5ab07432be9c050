"""Simulated hardware: each fleet host as nova's fakelibvirt shows it to
Nova's real libvirt driver (PCI devices, SR-IOV PFs with their VFs,
mdev-capable GPUs), so every provider Nova writes comes from Nova's code.
"""
from nova.tests.fixtures import libvirt as fakelibvirt

from gpuclient.sandbox import fleet as fleet_mod

_DEV_TYPES = {'type-PCI': 'PCI', 'type-PF': 'PF'}


class MdevCapableGPU(fakelibvirt.FakePCIDevice):
    """A GPU offering one mdev type with a given number of instances.

    fakelibvirt's own mdev-capable device always offers nvidia-11 (16
    instances): the fleet names its own type and count.
    """

    def __init__(self, *args, mdev_type, instances, **kwargs):
        self.mdev_type, self.instances = mdev_type, instances
        self.created = 0  # mediated devices made on this GPU
        super().__init__(*args, **kwargs)

    def XMLDesc(self, flags):
        # As sysfs does, available_instances drops as mdevs are created, so
        # Nova's inventory (created + available) stays the GPU's capacity.
        return self.pci_device.replace(
            "<type id='%s'>" % fakelibvirt.NVIDIA_11_VGPU_TYPE,
            "<type id='%s'>" % self.mdev_type).replace(
            '<availableInstances>16<',
            '<availableInstances>%d<' % (self.instances - self.created))


def _bus_slot_function(address):
    _, bus, rest = address.split(':')
    slot, function = rest.split('.')
    return int(bus, 16), int(slot, 16), int(function)


def pci_info(host: fleet_mod.Host) -> fakelibvirt.HostPCIDevicesInfo:
    """The host's PCI devices as its fake libvirt lists them."""
    info = fakelibvirt.HostPCIDevicesInfo(num_pci=0, num_pfs=0, num_vfs=0)
    group = 40  # IOMMU group numbers: any distinct values
    for d in host.pci:
        bus, slot, function = _bus_slot_function(d.address)
        numa = d.numa_node if d.numa_node is not None else 0
        group += 1
        info.add_device(
            dev_type=_DEV_TYPES[d.device_type], bus=bus, slot=slot,
            function=function, iommu_group=group, numa_node=numa,
            vf_ratio=d.vfs if d.device_type == 'type-PF' else None,
            vend_id=d.vendor_id, prod_id=d.product_id)
        for vf in d.vf_addresses():
            group += 1
            info.add_device(
                dev_type='VF', bus=bus, slot=slot,
                function=_bus_slot_function(vf)[2], iommu_group=group,
                numa_node=numa, vf_ratio=d.vfs, parent=(bus, slot, function),
                vend_id=d.vendor_id, prod_id=d.vf_product_id)
    if host.vgpu:
        for address in host.vgpu.addresses:
            bus, slot, function = _bus_slot_function(address)
            group += 1
            info.devices[fleet_mod.libvirt_name(address)] = MdevCapableGPU(
                'MDEV_TYPES', bus, slot, function, group, 0,
                mdev_type=host.vgpu.mdev_type, instances=host.vgpu.per_gpu)
    return info


def create_mdev(driver, dev_name, mdev_type, uuid=None):
    """LibvirtDriver._create_mdev on a fake host: the new mediated device
    appears in that host's fake libvirt (as in nova's vGPU tests)."""
    from nova.virt.libvirt import utils as libvirt_utils
    from oslo_utils import uuidutils

    uuid = uuid or uuidutils.generate_uuid()
    name = libvirt_utils.mdev_uuid2name(uuid)
    connection = driver._host.get_connection()
    connection.pci_info.devices[dev_name].created += 1
    connection.mdev_info.devices[name] = fakelibvirt.FakeMdevDevice(
        dev_name=name, type_id=mdev_type, parent=dev_name)
    return uuid
