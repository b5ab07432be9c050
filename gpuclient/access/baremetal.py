"""Thin access to Ironic: the node listing (only the fields the plugin
shows) and each node's inspection data, at API 1.81 (2023.1: the node
inventory endpoint; 1.37 brought traits to listings)."""
from __future__ import annotations

import functools

from gpuclient.access import http

MICROVERSION = '1.81'
FIELDS = ('uuid', 'name', 'resource_class', 'traits', 'maintenance',
          'maintenance_reason', 'provision_state', 'power_state',
          'instance_uuid')
# Ironic's default [api] max_limit: a larger page is cut to it anyway.
PAGE = 1000


class Baremetal:
    def __init__(self, service: http.Service):
        self.service = service

    @functools.cached_property
    def listing(self) -> list[dict]:
        """nodes(), read once per command."""
        return self.nodes()

    def nodes(self) -> list[dict]:
        """Every node the credential may see, a page of PAGE at a time."""
        found, marker = [], None
        while True:
            params = {'fields': ','.join(FIELDS), 'limit': PAGE}
            if marker:
                params['marker'] = marker
            page = self.service.get('/v1/nodes', MICROVERSION,
                                    params=params)['nodes']
            found.extend(page)
            if len(page) < PAGE:
                return found
            marker = page[-1]['uuid']

    def inventory(self, uuid: str) -> dict | None:
        """The node's inspection data ({inventory, plugin_data}); None if
        the node was never inspected (Ironic's NodeInventoryNotFound)."""
        try:
            return self.service.get('/v1/nodes/%s/inventory' % uuid,
                                    MICROVERSION)
        except http.NotFound:
            return None
