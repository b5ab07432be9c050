"""The plugin's client: Placement and Nova over OSC's one keystoneauth
session, built on first use."""
from __future__ import annotations

import functools

from keystoneauth1 import adapter

from gpuclient import http


class Cloud:
    def __init__(self, session, region_name=None, interface=None,
                 endpoints=None):
        self.session = session
        self.region_name = region_name
        self.interface = interface or 'public'
        self._endpoints = endpoints or {}

    @classmethod
    def from_client_manager(cls, instance):
        overrides = {}
        for service in ('placement', 'compute'):
            override = instance._cli_options.config.get(
                '%s_endpoint_override' % service)
            if override:
                overrides[service] = override
        return cls(instance.session, instance.region_name, instance.interface,
                   overrides)

    def _service(self, service_type: str) -> http.Service:
        return http.Service(adapter.Adapter(
            self.session, service_type=service_type,
            region_name=self.region_name, interface=self.interface,
            endpoint_override=self._endpoints.get(service_type)),
            service_type)

    @functools.cached_property
    def placement(self):
        from gpuclient import placement

        return placement.Placement(self._service('placement'))

    @functools.cached_property
    def compute(self):
        from gpuclient import compute

        return compute.Compute(self._service('compute'))
