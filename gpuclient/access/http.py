"""One place where HTTP calls to Placement and Nova are made and their
failures become one-line errors."""
from __future__ import annotations

import html
import json
import logging
import re

from keystoneauth1 import exceptions as ks_exc
from osc_lib import exceptions as osc_exc

from gpuclient.access import pool

# Seconds a request may wait for an answer when neither --os-api-timeout
# nor clouds.yaml's api_timeout says (keystoneauth's default is forever).
DEFAULT_TIMEOUT = 60.0

# The release that brought each microversion this plugin sends, for the
# message a too-old cloud gets.
RELEASES = {
    ('placement', '1.2'): 'Ocata', ('placement', '1.6'): 'Pike',
    ('placement', '1.14'): 'Queens', ('placement', '1.18'): 'Rocky',
    ('placement', '1.23'): 'Rocky', ('placement', '1.26'): 'Rocky',
    ('placement', '1.28'): 'Rocky', ('placement', '1.39'): 'Yoga',
    ('compute', '2.86'): 'Ussuri', ('baremetal', '1.81'): '2023.1',
}

# Placement 16's PUT /resource_providers/{uuid}/traits
# (handlers/trait.py update_traits_for_resource_provider) does not catch
# the ResourceProviderConcurrentUpdateDetected that
# ResourceProvider.increment_generation (objects/resource_provider.py)
# raises when another writer won the race: fault_wrap.FaultWrapper answers
# HTTP 500 with this message (exception.py msg_fmt). The transaction is
# rolled back, so a re-read and retry is safe.
CONCURRENT_UPDATE_500 = ('Another thread concurrently updated the resource '
                         'provider data. Please retry your update')


class CloudError(osc_exc.CommandError):
    """A request the cloud refused, in one line an operator can act on."""

    def __init__(self, message: str, status: int | None = None,
                 code: str | None = None, detail: str | None = None):
        super().__init__(message)
        self.status = status
        self.code = code
        self.detail = detail
        self.service: str | None = None   # 'placement' or 'compute'


class NotFound(CloudError):
    pass


class Conflict(CloudError):
    """HTTP 409; `code` tells a stale generation from a real conflict."""

    @property
    def stale_generation(self) -> bool:
        return self.code == 'placement.concurrent_update'


def is_concurrent_update(error: CloudError) -> bool:
    """A write that lost a race on the provider generation: Placement's 409
    placement.concurrent_update, or its 500 for the same race (above)."""
    if error.status == 409:
        return error.code == 'placement.concurrent_update'
    return error.status == 500 and error.detail == CONCURRENT_UPDATE_500


def _one_line(text: str, limit: int = 200) -> str:
    return ' '.join(text.split())[:limit]


def _error_detail(response) -> tuple[str | None, str | None]:
    """(detail, code) of an error body; detail None when the body is not
    an OpenStack error document (a proxy's HTML page, an empty body)."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        return None, None
    errors = body.get('errors')
    if errors and isinstance(errors, list):  # Placement
        detail = errors[0].get('detail') or errors[0].get('title', '')
        # Placement prefixes its detail with the status line and a blank line.
        detail = detail.split('\n\n')[-1].strip().rstrip('.')
        return _one_line(detail), errors[0].get('code')
    if isinstance(body.get('error_message'), str):   # Ironic: JSON inside
        try:
            inner = json.loads(body['error_message'])
        except ValueError:
            inner = {'faultstring': body['error_message']}
        if isinstance(inner, dict) and inner.get('faultstring'):
            return _one_line(inner['faultstring']).rstrip('.'), None
    for value in body.values():  # Nova: {"badRequest": {"message": ...}}
        if isinstance(value, dict) and 'message' in value:
            return _one_line(value['message']).rstrip('.'), None
    return None, None


def _foreign_body(response) -> str:
    """What a non-OpenStack answer (a proxy's or web server's page, a wrong
    endpoint) says, in a few words: its HTML title, a one-line plain text,
    or the HTTP reason."""
    text = response.text or ''
    title = re.search(r'<title[^>]*>(.*?)</title>', text, re.I | re.S)
    if title:
        return _one_line(html.unescape(title.group(1)), 80)
    if text.strip() and '<' not in text and len(text.strip()) <= 80:
        return _one_line(text)
    return response.reason or 'no error details'


def shows_debug(logger: logging.Logger) -> bool:
    """Whether a DEBUG record of `logger` reaches a handler that keeps it.
    The logger's level alone does not say: OSC sets the root logger to
    DEBUG in every run and filters in its handlers."""
    if not logger.isEnabledFor(logging.DEBUG):
        return False
    while logger:
        if any(h.level <= logging.DEBUG for h in logger.handlers):
            return True
        if not logger.propagate:
            break
        logger = logger.parent
    return False


class Service:
    """A keystoneauth adapter for one service, sending one microversion per
    call and turning HTTP errors into CloudError."""

    def __init__(self, adapter, name: str, timeout: float | None = None):
        self.adapter = adapter
        self.name = name  # 'placement', 'compute' or 'baremetal'
        self.timeout = timeout or DEFAULT_TIMEOUT
        self._proxies: dict | None = None
        # keystoneauth formats a curl line and the response of every
        # request whenever its logger is enabled for DEBUG, and OSC enables
        # the root logger for DEBUG in every run: ask for the logs only
        # when something prints them (--debug, -vvv, a debug log file).
        self.log = shows_debug(logging.getLogger('keystoneauth.session'))
        # urllib3 also logs every request at DEBUG: don't make the records
        # when nothing prints them.
        if not shows_debug(logging.getLogger('urllib3.connectionpool')):
            logging.getLogger('urllib3').setLevel(logging.INFO)

    @property
    def title(self) -> str:
        return {'baremetal': 'Ironic'}.get(self.name, self.name.capitalize())

    def _endpoint(self) -> str:
        try:
            return self.adapter.get_endpoint() or self.name
        except ks_exc.ClientException:
            return self.name

    def proxies(self) -> dict:
        """The environment's proxies for this service's endpoint, looked up
        once (cloud.lean_session stops requests doing it per request)."""
        if self._proxies is None:
            import requests.utils

            try:
                endpoint = self.adapter.get_endpoint()
            except ks_exc.ClientException:
                return {}   # the request then says why, in one line
            self._proxies = (requests.utils.get_environ_proxies(endpoint)
                             if endpoint else {})
        return self._proxies

    def request(self, method: str, path: str, microversion: str, **kwargs):
        try:
            return self._request(method, path, microversion, **kwargs)
        except CloudError as e:   # which service failed: the exporter counts
            e.service = self.name
            raise

    def _request(self, method, path, microversion, **kwargs):
        try:
            response = self.adapter.request(
                path, method, microversion=microversion, raise_exc=False,
                timeout=self.timeout, log=self.log, proxies=self.proxies(),
                **kwargs)
        except ks_exc.ConnectTimeout:
            raise CloudError(
                '%s did not answer %s %s within %g s (set --os-api-timeout '
                'or api_timeout in clouds.yaml to wait longer)' % (
                    self.title, method, self._endpoint() + path,
                    self.timeout))
        except ks_exc.ClientException as e:
            raise CloudError('cannot reach %s: %s' % (self.title,
                                                      _one_line(str(e))))
        except KeyboardInterrupt:
            pool.interrupted()
            raise
        status = response.status_code
        if status < 400:
            if not response.content:
                return None
            try:
                return response.json()
            except ValueError:
                raise CloudError(
                    '%s answered %s %s with something that is not JSON (%s, '
                    'HTTP %d): is the %s endpoint right?' % (
                        self.title, method, response.url,
                        _foreign_body(response), status, self.name))
        detail, code = _error_detail(response)
        if detail is None:
            # Not from the service itself: a proxy, a load balancer, a web
            # server at the wrong address. Its page would be many lines.
            raise CloudError('%s: %s (HTTP %d from %s %s)' % (
                self.title, _foreign_body(response), status, method,
                response.url), status)
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
                'user with the admin role' % (self.title, detail), status)
        cls = {404: NotFound, 409: Conflict}.get(status, CloudError)
        raise cls('%s: %s (HTTP %d)' % (self.title, detail, status), status,
                  code, detail)

    def get(self, path, microversion, **kwargs):
        return self.request('GET', path, microversion, **kwargs)
