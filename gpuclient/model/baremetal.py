"""Bare-metal GPU nodes from what Ironic says: pure functions, no I/O.

Nova's ironic driver puts one root provider per node in Placement (name
and UUID = the node's UUID) with one unit of the node's class and the
node's traits (nova/virt/ironic/driver.py _node_resource,
update_provider_tree): Placement never says how many GPUs a node has, nor
which. Ironic's inspection data does: the agent's pci-devices collector
writes `pci_devices` into the inventory's plugin_data (ironic-python-agent
inspector.py); Redfish inspection puts them in the inventory itself,
without bus or NUMA node (ironic/drivers/modules/redfish/inspect.py).
"""
from __future__ import annotations

import re

from gpuclient.model import devices
from gpuclient.model import pciids

IRONIC = 'ironic'
# PCI class 03: display controllers (VGA 0300, 3D 0302): a GPU.
_DISPLAY = '03'
# sushy's DeviceClass for one (sushy/resources/system/constants.py)
REDFISH_DISPLAY = 'DisplayController'
_HEX = re.compile(r'^(0x)?([0-9a-f]+)$', re.I)


def pci_devices(body: dict | None) -> tuple[list[dict], str | None]:
    """(the PCI devices inspection found, where: 'agent' or 'redfish'),
    from GET /v1/nodes/{node}/inventory; ([], None) if none recorded."""
    if not body:
        return [], None
    found = (body.get('plugin_data') or {}).get('pci_devices')
    if found:
        return found, 'agent'
    found = (body.get('inventory') or {}).get('pci_devices')
    return (found, 'redfish') if found else ([], None)


def _hex(value, width) -> str | None:
    m = _HEX.match(str(value or '').strip())
    return m.group(2).lower().zfill(width)[-width:] if m else None


def is_gpu(device: dict) -> bool:
    """A display controller: PCI class 03xx (the agent's class code) or
    Redfish's DeviceClass DisplayController; without a class, the rule of
    Placement's devices (devices.classify) on its ids."""
    value = str(device.get('class') or '').strip()
    if value and not _HEX.match(value):   # Redfish: a class name
        return value == REDFISH_DISPLAY
    code = _hex(value, 6)
    if code:
        return code.startswith(_DISPLAY)
    ident = pci_id(device)
    if not ident:
        return False
    return devices.classify(devices.PASSTHROUGH, '', ident,
                            pciids.names(*ident.split(':'))[1])[0]


def pci_id(device: dict) -> str | None:
    vendor, product = (_hex(device.get(k), 4)
                       for k in ('vendor_id', 'product_id'))
    return '%s:%s' % (vendor, product) if vendor and product else None


def placement_class(resource_class: str | None) -> str | None:
    """nova.virt.ironic.driver's normalize: CUSTOM_ + upper case, every
    other character '_' (baremetal.gpu-h100: CUSTOM_BAREMETAL_GPU_H100)."""
    if not resource_class:
        return None
    return 'CUSTOM_' + re.sub(r'[^A-Z0-9_]', '_', resource_class.upper())


def model_of(ids: list[str]) -> str | None:
    """'H100', or 'A100 + L40S' for a node of mixed GPUs."""
    names = []
    for ident in dict.fromkeys(ids):
        names.append(devices.short_model(
            ident, pciids.names(*ident.split(':'))[1]) or ident)
    return ' + '.join(names) or None


def node_device(node: dict, body: dict | None) -> devices.Device:
    """One row per node: its GPUs (from inspection), counted as the units
    of the row, in use when a server has the node, reserved when it is in
    maintenance or not available, free otherwise."""
    found, source = pci_devices(body)
    gpus = [d for d in found if is_gpu(d)]
    ids = [i for i in (pci_id(d) for d in gpus) if i]
    total = len(gpus)
    in_use = bool(node.get('instance_uuid'))
    # as Nova's ironic driver reserves the node's unit
    # (_node_resources_unavailable: maintenance, a bad power state, a
    # provision state other than available)
    reason = None
    state = node.get('provision_state')
    if node.get('maintenance'):
        reason = 'maintenance: %s' % (node.get('maintenance_reason')
                                      or 'no reason given')
    elif node.get('power_state') in (None, 'error'):
        reason = 'power state %s' % node.get('power_state')
    elif state != 'available' and not (in_use and state == 'active'):
        reason = 'provision state %s%s' % (
            state, ' with no server' if state == 'active' else '')
    used = total if in_use else 0
    reserved = total if reason and not in_use else 0
    state = ('in-use' if in_use else 'reserved' if reason
             else 'free')
    ident = ids[0] if len(set(ids)) == 1 else None
    vendor_name, device_name = (pciids.names(*ident.split(':'))
                                if ident else (None, None))
    return devices.Device(
        host=node.get('name') or node['uuid'], address=None,
        kind=devices.BAREMETAL, resource_class=placement_class(
            node.get('resource_class')) or '', pci_id=ident,
        model=model_of(ids), total=total, used=used, reserved=reserved,
        free=total - used - reserved, state=state,
        provider_uuid=node['uuid'], provider_name=node['uuid'],
        generation=None, inventory={},
        # the server holds the node's one unit of its class
        consumers={node['instance_uuid']: 1} if in_use else {},
        one_time_use=False, traits=sorted(node.get('traits') or ()),
        hypervisor=node['uuid'], owner=IRONIC, is_gpu=total > 0,
        category='GPU' if total else 'no GPU', vendor_name=vendor_name,
        device_name=device_name, reason=reason, inspection=source,
        gpu_buses=[d['bus'] for d in gpus if d.get('bus')])


def unseen_note(hypervisors: list[dict], listed: set[str] | None
                ) -> str | None:
    """A line when Nova has bare-metal nodes (hypervisors of type ironic,
    named by the node's UUID) whose GPUs cannot be shown: Ironic is not in
    the catalog (listed None), or does not list them to this credential."""
    nodes = [h['hypervisor_hostname'] for h in hypervisors
             if h.get('hypervisor_type') == 'ironic']
    if listed is None and nodes:
        return ('note: Nova has %d bare-metal node(s) but the catalog has no '
                'Ironic (baremetal) endpoint: their GPUs are not shown'
                % len(nodes))
    hidden = [n for n in nodes if n not in (listed or ())]
    if hidden:
        return ('note: Ironic lists %d of the %d bare-metal nodes Nova has to '
                'this credential (Ironic\'s policy: a project-scoped token '
                'sees the nodes its project owns or leases); the GPUs of the '
                'others are not shown: use a token that sees every node '
                '(system scope, or the service role)'
                % (len(nodes) - len(hidden), len(nodes)))
    return None
