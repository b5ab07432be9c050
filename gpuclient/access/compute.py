"""Thin access to Nova: servers and flavors, each call at the microversion
it needs (2.86 and later: Nova validates flavor extra specs)."""
from __future__ import annotations

from urllib import parse

from gpuclient.access import http
from gpuclient.access import pool

MICROVERSION = '2.86'
# Nova's default [api] max_limit: a larger page is cut to it anyway.
PAGE = 1000
# Migrations whose source allocations are still held under the migration's
# UUID: every status but the final ones. The final ones are those nova's
# resource tracker leaves out of a host's in-progress migrations
# (nova/db/main/api.py migration_get_in_progress_by_host_and_node);
# 'finished' (a resize waiting for confirm) still holds them. The statuses
# are those nova/compute and nova/conductor set (nova 34).
MIGRATION_IN_PROGRESS = ('accepted', 'queued', 'preparing', 'pre-migrating',
                         'migrating', 'running', 'post-migrating',
                         'finished', 'confirming', 'reverting')


class Compute:
    def __init__(self, service: http.Service):
        self.service = service

    def max_microversion(self) -> str:
        """The highest compute microversion this Nova serves (the version
        document at the endpoint's root): it tells the release."""
        return self.service.get('/', '2.1')['version']['version']

    def server(self, uuid: str) -> dict | None:
        try:
            return self.service.get('/servers/%s' % uuid,
                                    MICROVERSION)['server']
        except http.NotFound:
            return None

    def servers(self, all_projects: bool = True, **filters) -> list[dict]:
        """Servers in detail (2.47+: with the flavor's extra specs), every
        project's with all_projects (admins), read a page of PAGE at a time:
        one request per PAGE servers, however many consumers ask."""
        params = dict(filters)
        if all_projects:
            params['all_tenants'] = 1
        return self._pages('/servers/detail', 'servers', params)

    def a_server(self, **filters) -> dict | None:
        """One server of any project that matches the filters (its id and
        name), or None."""
        found = self.service.get('/servers', MICROVERSION, params=dict(
            filters, all_tenants=1, limit=1))['servers']
        return found[0] if found else None

    def hypervisors(self) -> list[dict]:
        """Every compute node in detail (2.53+: paged, by UUID), for its
        hypervisor_hostname (Placement's root provider name) and
        service.host (the host servers and services are listed under)."""
        return self._pages('/os-hypervisors/detail', 'hypervisors', {})

    def migrations_in_progress(self) -> list[dict]:
        """Migrations of every project still in progress (2.59+: with
        their UUID, the Placement consumer of the source host's
        allocations). Nova filters one status per request: one paged
        listing per status, concurrently."""
        found = pool.gather(
            lambda status: self._pages('/os-migrations', 'migrations',
                                       {'status': status}, marker='uuid'),
            MIGRATION_IN_PROGRESS)
        return [m for page in found for m in page]

    def _pages(self, path: str, key: str, params: dict,
               marker: str = 'id') -> list[dict]:
        """Every record of a paged Nova listing, PAGE at a time; the next
        page starts after the last record's `marker` field."""
        params = dict(params, limit=PAGE)
        found = []
        while True:
            body = self.service.get(path, MICROVERSION, params=params)
            found += body[key]
            # Nova links a next page only when this one is full.
            if not body[key] or not any(
                    link['rel'] == 'next'
                    for link in body.get('%s_links' % key, ())):
                return found
            params['marker'] = body[key][-1][marker]

    # -- flavors -----------------------------------------------------------
    def flavors(self) -> list[dict]:
        """Every flavor the caller may see (an admin: public and private,
        is_public=None), in detail with extra specs (2.61+)."""
        return self._pages('/flavors/detail', 'flavors', {'is_public': 'None'})

    def create_flavor(self, flavor: dict) -> dict:
        return self.service.request('POST', '/flavors', MICROVERSION,
                                    json={'flavor': flavor})['flavor']

    def set_extra_specs(self, flavor_id: str, specs: dict) -> dict:
        # From 2.86 Nova validates every spec it knows: 400 for a bad one.
        return self.service.request(
            'POST', '/flavors/%s/os-extra_specs' % parse.quote(flavor_id),
            MICROVERSION, json={'extra_specs': specs})['extra_specs']

    def add_flavor_access(self, flavor_id: str, project_id: str) -> None:
        self.service.request(
            'POST', '/flavors/%s/action' % parse.quote(flavor_id),
            MICROVERSION, json={'addTenantAccess': {'tenant': project_id}})

    def delete_flavor(self, flavor_id: str) -> None:
        self.service.request('DELETE', '/flavors/%s' % parse.quote(flavor_id),
                             MICROVERSION)
