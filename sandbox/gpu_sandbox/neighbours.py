"""Providers that services other than Nova write into the compute trees.

The sandbox runs neither Cyborg nor Neutron, so it writes their providers
into Placement itself, once Nova has created the compute roots, with the
names, uuids, classes, traits and generation-guarded writes those services
use. Nova leaves providers it does not own alone on its periodic updates.
"""
import uuid

from gpu_sandbox import fleet as fleet_mod

VERSION = '1.39'
# Neutron's Open vSwitch mechanism driver: its agent type and the uuid5
# namespace of its providers
# (neutron/plugins/ml2/drivers/openvswitch/mech_driver/mech_openvswitch.py).
OVS_AGENT = 'Open vSwitch agent'
OVS_NAMESPACE = uuid.UUID('87ee7d5c-73bb-11e8-9008-c4d987b2a692')
# The driver's supported_vnic_types (same file), as traits
# (neutron_lib/placement/utils.py vnic_type_trait: CUSTOM_VNIC_TYPE_ +
# os_traits.normalize_name).
OVS_VNIC_TRAITS = ['CUSTOM_VNIC_TYPE_NORMAL', 'CUSTOM_VNIC_TYPE_DIRECT',
                   'CUSTOM_VNIC_TYPE_SMART_NIC', 'CUSTOM_VNIC_TYPE_VDPA']
# [ovs] resource_provider_inventory_defaults
# (neutron/conf/plugins/ml2/drivers/ovs_conf.py)
OVS_INVENTORY_DEFAULTS = {'allocation_ratio': 1.0, 'min_unit': 1,
                          'step_size': 1, 'reserved': 0}


class Writer:
    """Placement writes as those services' placement clients make them:
    re-read the generation and retry on a 409 conflict."""

    def __init__(self, placement):
        self.placement = placement  # nova's in-process PlacementApiClient

    def get(self, url):
        return self.placement.get(url, version=VERSION).body

    def root(self, name):
        [rp] = self.get('/resource_providers?name=%s' % name)[
            'resource_providers']
        return rp['uuid']

    def ensure_provider(self, rp_uuid, name, parent):
        if self.placement.get('/resource_providers/%s' % rp_uuid,
                              version=VERSION).status == 404:
            self.placement.post('/resource_providers', {
                'uuid': rp_uuid, 'name': name,
                'parent_provider_uuid': parent}, version=VERSION)

    def _guarded_put(self, url, build, attempts=5):
        for _ in range(attempts):
            body = build(self.get(url))
            status = self.placement.put(url, body, version=VERSION).status
            if status != 409:
                return
        raise RuntimeError('%s: generation conflict %d times' % (url,
                                                                 attempts))

    def set_inventories(self, rp_uuid, inventories):
        self._guarded_put(
            '/resource_providers/%s/inventories' % rp_uuid,
            lambda cur: {'inventories': inventories,
                         'resource_provider_generation':
                         cur['resource_provider_generation']})

    def set_traits(self, rp_uuid, traits, keep_existing=False):
        for trait in traits:
            if trait.startswith('CUSTOM_'):
                self.placement.put('/traits/%s' % trait, None,
                                   version=VERSION)
        self._guarded_put(
            '/resource_providers/%s/traits' % rp_uuid,
            lambda cur: {'traits': sorted(set(traits) | (
                set(cur['traits']) if keep_existing else set())),
                'resource_provider_generation':
                cur['resource_provider_generation']})


def write_cyborg(writer, host: fleet_mod.Host):
    """Cyborg's GPU providers, as its conductor reports a deployable
    (cyborg/conductor/manager.py: _get_root_provider, _get_sub_provider,
    provider_report, _gen_resource_inventory; traits from
    cyborg/accelerator/drivers/gpu/nvidia/sysinfo.py _get_traits; writes by
    cyborg/common/placement_client.py): a child of the root found by
    name=<CONF.host>, uuid3(NAMESPACE_DNS, name), inventory {PGPU: total 1,
    max_unit 1}, traits OWNER_CYBORG and CUSTOM_<VENDOR>_<PRODUCT> added to
    what the provider has."""
    parent = writer.root(host.name)
    for d in host.cyborg:
        name = fleet_mod.cyborg_name(host, d)
        rp_uuid = str(uuid.uuid3(uuid.NAMESPACE_DNS, name))
        writer.ensure_provider(rp_uuid, name, parent)
        writer.set_inventories(rp_uuid, {'PGPU': {'total': 1,
                                                  'max_unit': 1}})
        vendor = {'10de': 'NVIDIA', '102b': 'MATROX'}.get(d.vendor_id, '')
        writer.set_traits(rp_uuid, [
            'OWNER_CYBORG', 'CUSTOM_%s_%s' % (vendor, d.product_id.upper())],
            keep_existing=True)


def write_neutron(writer, host: fleet_mod.Host, bridges):
    """The Open vSwitch agent's bandwidth providers, as Neutron's placement
    report writes them (neutron/agent/common/placement_report.py
    PlacementState.deferred_sync; uuids by
    neutron_lib/placement/utils.py): `<hypervisor>:Open vSwitch agent`
    under the compute root (uuid5(ns, hypervisor)), with the vnic-type
    traits, and `<hypervisor>:Open vSwitch agent:<bridge>` under it
    (uuid5(ns, 'hypervisor:bridge')) with NET_BW_EGR/IGR_KILOBIT_PER_SEC
    and traits CUSTOM_PHYSNET_<PHYSNET> plus the vnic types. Traits and
    inventories replace what was there."""
    import os_traits

    if not bridges:
        return
    hypervisor = host.hypervisor
    root = writer.root(hypervisor)
    agent_name = '%s:%s' % (hypervisor, OVS_AGENT)
    agent_uuid = str(uuid.uuid5(OVS_NAMESPACE, hypervisor))
    writer.ensure_provider(agent_uuid, agent_name, root)
    for b in bridges:
        rp_uuid = str(uuid.uuid5(OVS_NAMESPACE, '%s:%s' % (hypervisor,
                                                           b.name)))
        writer.ensure_provider(rp_uuid, '%s:%s' % (agent_name, b.name),
                               agent_uuid)
        # physnet_trait(): normalize_name('PHYSNET_' + physnet)
        writer.set_traits(rp_uuid, [os_traits.normalize_name(
            'PHYSNET_' + b.physnet)] + OVS_VNIC_TRAITS)
        writer.set_inventories(rp_uuid, {
            'NET_BW_EGR_KILOBIT_PER_SEC': dict(OVS_INVENTORY_DEFAULTS,
                                               total=b.egress_kbps),
            'NET_BW_IGR_KILOBIT_PER_SEC': dict(OVS_INVENTORY_DEFAULTS,
                                               total=b.ingress_kbps)})
    writer.set_traits(agent_uuid, OVS_VNIC_TRAITS)


def write_all(placement, fleet: fleet_mod.Fleet):
    writer = Writer(placement)
    for host in fleet.hosts:
        write_neutron(writer, host, fleet.bridges)
        if host.cyborg:
            write_cyborg(writer, host)
