"""One place where HTTP calls to Placement and Nova are made and their
failures become one-line errors."""
from __future__ import annotations

import concurrent.futures

from keystoneauth1 import exceptions as ks_exc
from osc_lib import exceptions as osc_exc

# Bounded: 8 threads saturate two Placement workers (see the benchmark)
# and stay under requests' default pool of 10 connections per host.
MAX_WORKERS = 8

# The release that brought each microversion this plugin sends, for the
# message a too-old cloud gets.
RELEASES = {
    ('placement', '1.2'): 'Ocata', ('placement', '1.6'): 'Pike',
    ('placement', '1.14'): 'Queens', ('placement', '1.18'): 'Rocky',
    ('placement', '1.23'): 'Rocky', ('placement', '1.26'): 'Rocky',
    ('placement', '1.28'): 'Rocky', ('placement', '1.39'): 'Yoga',
    ('compute', '2.86'): 'Ussuri',
}


class CloudError(osc_exc.CommandError):
    """A request the cloud refused, in one line an operator can act on."""

    def __init__(self, message: str, status: int | None = None,
                 code: str | None = None):
        super().__init__(message)
        self.status = status
        self.code = code


class NotFound(CloudError):
    pass


class Conflict(CloudError):
    """HTTP 409; `code` tells a stale generation from a real conflict."""

    @property
    def stale_generation(self) -> bool:
        return self.code == 'placement.concurrent_update'


def _error_detail(response) -> tuple[str, str | None]:
    try:
        body = response.json()
    except ValueError:
        return response.text.strip()[:200], None
    errors = body.get('errors')
    if errors:  # Placement
        detail = errors[0].get('detail') or errors[0].get('title', '')
        # Placement prefixes its detail with the status line and a blank line.
        detail = detail.split('\n\n')[-1].strip().rstrip('.')
        return detail, errors[0].get('code')
    for value in body.values():  # Nova: {"badRequest": {"message": ...}}
        if isinstance(value, dict) and 'message' in value:
            return value['message'].rstrip('.'), None
    return str(body)[:200], None


class Service:
    """A keystoneauth adapter for one service, sending one microversion per
    call and turning HTTP errors into CloudError."""

    def __init__(self, adapter, name: str):
        self.adapter = adapter
        self.name = name  # 'placement' or 'compute'

    def request(self, method: str, path: str, microversion: str, **kwargs):
        try:
            response = self.adapter.request(
                path, method, microversion=microversion,
                raise_exc=False, **kwargs)
        except ks_exc.ClientException as e:
            raise CloudError('cannot reach %s: %s' % (self.name, e))
        if response.status_code < 400:
            return response.json() if response.content else None
        detail, code = _error_detail(response)
        status = response.status_code
        if status == 406 and 'version' in detail.lower():
            raise CloudError(
                'this command needs %s API microversion %s (OpenStack %s or '
                'later); the cloud answered: %s' % (
                    self.name, microversion,
                    RELEASES.get((self.name, microversion), 'a newer release'),
                    detail), status)
        if status == 403:
            raise CloudError(
                '%s refused the request (HTTP 403): %s; this command needs a '
                'user with the admin role' % (self.name.capitalize(), detail),
                status)
        cls = {404: NotFound, 409: Conflict}.get(status, CloudError)
        raise cls('%s: %s (HTTP %d)' % (
            self.name.capitalize(), detail, status), status, code)

    def get(self, path, microversion, **kwargs):
        return self.request('GET', path, microversion, **kwargs)


def gather(fn, items, max_workers=MAX_WORKERS) -> list:
    """fn(item) for every item, concurrently, results in item order."""
    items = list(items)
    if len(items) < 2:
        return [fn(i) for i in items]
    with concurrent.futures.ThreadPoolExecutor(
            min(max_workers, len(items))) as pool:
        return list(pool.map(fn, items))
