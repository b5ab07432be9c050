"""Simulated GPU hardware: a Nova virt driver that reports the fleet's GPUs.

PCI devices are reported the way the libvirt driver reports them (the
``pci_passthrough_devices`` JSON), so Nova's own PCI tracker and its
PCI-in-Placement translator build the providers. vGPU-capable GPUs get one
child provider each, shaped as the libvirt driver's ``_ensure_pgpu_providers``
shapes them. Everything else is Nova's fake driver.
"""
from nova.virt import fake
from oslo_serialization import jsonutils
import os_traits

from gpuclient.sandbox import fleet as fleet_mod

# Set by the cloud process before it starts any compute service.
FLEET: fleet_mod.Fleet | None = None


class GPUFakeDriver(fake.MediumFakeDriver):
    def get_available_resource(self, nodename):
        status = super().get_available_resource(nodename)
        if status:
            host = FLEET.host(nodename)
            status['pci_passthrough_devices'] = jsonutils.dumps(
                [d.hypervisor_record() for d in host.pci])
        return status

    def update_provider_tree(self, provider_tree, nodename, allocations=None):
        super().update_provider_tree(provider_tree, nodename, allocations)
        vgpu = FLEET.host(nodename).vgpu
        if not vgpu:
            return
        for device, total in vgpu.inventories().items():
            name = '%s_%s' % (nodename, device)
            if not provider_tree.exists(name):
                provider_tree.new_child(name, nodename)
            provider_tree.update_inventory(name, {vgpu.resource_class: {
                'total': total, 'min_unit': 1, 'max_unit': total,
                'step_size': 1, 'reserved': 0, 'allocation_ratio': 1.0}})
            provider_tree.add_traits(name, os_traits.OWNER_NOVA)


# Nova loads drivers only as nova.virt.<compute_driver>.
fake.GPUFakeDriver = GPUFakeDriver
COMPUTE_DRIVER = 'fake.GPUFakeDriver'
