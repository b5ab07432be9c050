"""The plugin's client: Placement and Nova over OSC's keystoneauth session
(its auth, catalog, TLS settings and timing), built on first use."""
from __future__ import annotations

import copy
import functools
import os

from keystoneauth1 import adapter

from gpuclient.access import http

SERVICES = ('placement', 'compute', 'baremetal')


class Cloud:
    def __init__(self, session, region_name=None, interface=None,
                 endpoints=None, timeout=None):
        self.session = session
        self.region_name = region_name
        self.interface = interface or 'public'
        self._endpoints = endpoints or {}
        self.timeout = timeout

    @classmethod
    def from_client_manager(cls, instance):
        # The options, OS_* variables and clouds.yaml keys all land in the
        # cloud's config: <service>_endpoint_override (or _endpoint, the
        # form openstacksdk also reads) and api_timeout (session.timeout).
        config = instance._cli_options.config
        overrides = {}
        for service in SERVICES:
            override = (config.get('%s_endpoint_override' % service)
                        or config.get('%s_endpoint' % service))
            if override:
                overrides[service] = override
        return cls(lean_session(instance.session), instance.region_name,
                   instance.interface, overrides, instance.session.timeout)

    def _service(self, service_type: str) -> http.Service:
        return http.Service(adapter.Adapter(
            self.session, service_type=service_type,
            region_name=self.region_name, interface=self.interface,
            endpoint_override=self._endpoints.get(service_type)),
            service_type, self.timeout)

    @functools.cached_property
    def placement(self):
        from gpuclient.access import placement

        return placement.Placement(self._service('placement'))

    @functools.cached_property
    def hypervisors(self) -> list[dict]:
        """Nova's hypervisors: one paged os-hypervisors read per command.
        A user Nova does not let list them gets none (the root provider
        names then stand for the hosts)."""
        try:
            return self.compute.hypervisors()
        except http.CloudError as e:
            if e.status != 403:
                raise
            return []

    def forget_reads(self) -> None:
        """Drop what was read once per command (the hypervisors, Ironic's
        nodes), for a long-running exporter whose next refresh must see
        new hosts."""
        self.__dict__.pop('hypervisors', None)
        self.__dict__.pop('baremetal', None)   # and its node listing

    @functools.cached_property
    def baremetal(self):
        """Ironic, or None where the catalog has no baremetal endpoint:
        a cloud without bare metal pays that one look-up. An auth with no
        catalog (admin_token: its one endpoint answers for every service
        type) has Ironic only where an endpoint override names it."""
        from gpuclient.access import baremetal
        from keystoneauth1 import exceptions as ks_exc
        from keystoneauth1 import identity

        if 'baremetal' not in self._endpoints and not isinstance(
                self.session.auth, identity.BaseIdentityPlugin):
            return None
        service = self._service('baremetal')
        try:
            if not service.adapter.get_endpoint():
                return None
        except ks_exc.EndpointNotFound:
            return None
        return baremetal.Baremetal(service)

    @functools.cached_property
    def compute(self):
        from gpuclient.access import compute

        return compute.Compute(self._service('compute'))


def lean_session(session):
    """OSC's keystoneauth session (same auth, token, catalog, TLS settings,
    timings, connection pools) whose requests do not re-read the process
    environment on every call. With requests' trust_env, each request
    looks up proxies, no_proxy, ~/.netrc and the CA-bundle variables: half
    of the client's CPU per request. The environment still decides, once:
    the CA bundle here, each service's proxies in http.Service.proxies.
    ~/.netrc is not read: every request carries a token. Only public
    attributes are set (keystoneauth's Session.session and verify,
    requests' Session.trust_env).
    """
    lean = copy.copy(session)
    lean.session = copy.copy(session.session)  # shares the pools
    lean.session.trust_env = False
    if lean.verify is True:
        lean.verify = (os.environ.get('REQUESTS_CA_BUNDLE')
                       or os.environ.get('CURL_CA_BUNDLE') or True)
    return lean
