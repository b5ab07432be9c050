"""Servers: found by the name or UUID an operator gives, and the devices
their allocations reach."""
from __future__ import annotations

import re

from osc_lib import exceptions

from gpuclient.access import http
from gpuclient.access import pool
from gpuclient.model import allocations
from gpuclient.model import devices
from gpuclient.operations import reading


def find_server(cloud, text: str, project: str | None = None) -> dict:
    """A server by UUID or exact name (of `project`'s servers only, when
    given); admins find other projects' servers too. Nova filters names by
    regular expression: anchor and escape."""
    compute = cloud.compute
    filters = {'project_id': project} if project else {}
    if devices.is_uuid(text):
        server = compute.server(text)
        if server and project in (None, server.get('tenant_id')):
            return server
    pattern = '^%s$' % re.escape(text)
    try:
        found = compute.servers(name=pattern, **filters)
    except http.CloudError as e:
        if e.status != 403:
            raise
        found = compute.servers(all_projects=False, name=pattern, **filters)
    try:
        return allocations.select_server(found, text, project)
    except allocations.NoSuchServer as e:
        raise exceptions.CommandError(str(e))


def server_devices(cloud, server: dict, held: dict) -> list[devices.Device]:
    """The devices of the server's host tree, and of any other tree its
    allocation reaches (a misplaced allocation must still be named)."""
    placement = cloud.placement
    snapshots = []
    node = server.get('OS-EXT-SRV-ATTR:hypervisor_hostname')
    if node:
        try:
            snapshots = reading.snapshots(cloud, host=node)
        except reading.NoSuchHost:  # a host Placement does not know
            pass
    seen = {p['uuid'] for s in snapshots for p in s.providers}

    def root(uuid):
        try:
            return placement.provider(uuid)['root_provider_uuid']
        except http.NotFound:  # deleted since the allocation was read
            return None

    roots = set(pool.gather(root, sorted(set(held) - seen))) - {None}
    snapshots += pool.gather(lambda r: reading.snapshot(cloud, root=r),
                             sorted(roots))
    # Nova's ironic driver names a bare-metal node's hypervisor after the
    # node's UUID: its GPUs are Ironic's to tell
    nodes = (reading.baremetal_nodes(cloud, node)
             if node and devices.is_uuid(node) else [])
    return reading.build(cloud, snapshots) + nodes


def consumers(cloud, device: devices.Device) -> list[dict]:
    """Who holds a device: per consumer, its amount, its server's name and
    status (or 'no server': a leak), and its project."""
    def one(uuid):
        server = cloud.compute.server(uuid)
        try:
            project = cloud.placement.consumer_allocations(uuid).get(
                'project_id')
        except http.NotFound:
            project = None
        return {'consumer': uuid, 'amount': device.consumers[uuid],
                'server': server['name'] if server else None,
                'status': server['status'] if server else 'no server',
                'project': project}

    return pool.gather(one, sorted(device.consumers))
