"""One place where HTTP calls to Placement and Nova are made and their
failures become one-line errors."""
from __future__ import annotations

import html
import json
import logging
import queue
import re
import sys
import threading
import time

from keystoneauth1 import exceptions as ks_exc
from osc_lib import exceptions as osc_exc

# Bounded: 8 threads saturate two Placement workers (see the benchmark)
# and stay under requests' default pool of 10 connections per host.
MAX_WORKERS = 8
# Seconds a request may wait for an answer when neither --os-api-timeout
# nor clouds.yaml's api_timeout says (keystoneauth's default is forever).
DEFAULT_TIMEOUT = 60.0
# A command that has run this long shows its progress (on a terminal).
PROGRESS_AFTER = 2.0

# The release that brought each microversion this plugin sends, for the
# message a too-old cloud gets.
RELEASES = {
    ('placement', '1.2'): 'Ocata', ('placement', '1.6'): 'Pike',
    ('placement', '1.14'): 'Queens', ('placement', '1.18'): 'Rocky',
    ('placement', '1.23'): 'Rocky', ('placement', '1.26'): 'Rocky',
    ('placement', '1.28'): 'Rocky', ('placement', '1.39'): 'Yoga',
    ('compute', '2.86'): 'Ussuri',
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
        self.name = name  # 'placement' or 'compute'
        self.timeout = timeout or DEFAULT_TIMEOUT
        self._replays: dict[str, Replay | None] = {}
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
        return self.name.capitalize()

    def _endpoint(self) -> str:
        try:
            return self.adapter.get_endpoint() or self.name
        except ks_exc.ClientException:
            return self.name

    def request(self, method: str, path: str, microversion: str, **kwargs):
        replay = (self._replays.get(microversion)
                  if method == 'GET' and kwargs.keys() <= {'params'}
                  else None)
        try:
            body = replay and replay.get(path, kwargs.get('params'))
            if body is not None:
                return body
            response = self.adapter.request(
                path, method, microversion=microversion, raise_exc=False,
                timeout=self.timeout, log=self.log, **kwargs)
            if (method == 'GET' and response.status_code == 200
                    and not self.log):
                self._replays[microversion] = Replay.learn(
                    self.adapter, response, path, self.timeout)
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
            interrupted()
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


class Replay:
    """Later GETs of one service and microversion, sent the way
    keystoneauth sent the first one, without its per-request work.

    keystoneauth sends the first GET of each microversion: it
    authenticates, finds the endpoint in the catalog, and sets the token,
    microversion and user-agent headers. The rest reuse that request's
    URL and headers and go straight to its urllib3 connection pool, the
    one requests picked for it (the session's TLS settings, the
    environment's proxy for that host): at N = 1000, requests' preparing,
    sending and wrapping (settings, cookies, hooks merged on every call)
    cost the client ~0.2 ms of CPU per GET on top of the ~0.3 ms of the
    exchange through urllib3. Only a 200 with a JSON body is answered here;
    anything else (a 401 for an expired token, a redirect, an error) is
    asked again through keystoneauth, which maps it. Off under --debug
    (keystoneauth logs each request) and --timing.
    """

    def __init__(self, pool, prefix: str, headers: dict, retries,
                 timeout: float):
        import urllib3

        self.pool = pool
        self.prefix = prefix  # the request line's URL, up to the path
        self.headers = headers
        self.retries = retries
        self.timeout = urllib3.Timeout(connect=timeout, read=timeout)

    @classmethod
    def learn(cls, adapter, response, path: str,
              timeout: float) -> Replay | None:
        import requests.utils

        session = getattr(adapter, 'session', None)
        request = getattr(response, 'request', None)
        if (request is None or not hasattr(session, 'session')
                or getattr(session, '_collect_timing', False)):
            return None
        url = request.url.split('?', 1)[0]
        if not url.endswith(path):
            return None
        proxies = dict(session.session.proxies)
        proxies.update(requests.utils.get_environ_proxies(url))
        transport = session.session.get_adapter(url)
        # The path alone, or the whole URL through an HTTP proxy.
        line = transport.request_url(request, proxies).split('?', 1)[0]
        return cls(transport.get_connection_with_tls_context(
            request, session.verify, proxies, session.cert),
            line[:-len(path)], dict(request.headers), transport.max_retries,
            timeout)

    def target(self, path: str, params) -> str:
        """The request line's URL, with the query encoded as requests
        encodes it (None values left out, lists repeated)."""
        import urllib.parse

        query = urllib.parse.urlencode(
            {k: v for k, v in (params or {}).items() if v is not None},
            doseq=True)
        return self.prefix + path + ('?' + query if query else '')

    def get(self, path: str, params):
        """The decoded body of a 200, or None for "ask keystoneauth"."""
        import urllib3

        try:
            answer = self.pool.urlopen(
                'GET', self.target(path, params), headers=self.headers,
                timeout=self.timeout, retries=self.retries, redirect=False,
                assert_same_host=False)
        except urllib3.exceptions.ClosedPoolError:
            return None  # requests dropped the pool: keystoneauth knows
        except urllib3.exceptions.HTTPError as e:
            # Failures as keystoneauth reports them; MaxRetryError wraps
            # the cause.
            if isinstance(getattr(e, 'reason', e),
                          urllib3.exceptions.TimeoutError):
                raise ks_exc.ConnectTimeout(str(e))
            raise ks_exc.ConnectFailure(str(e))
        if answer.status != 200:
            return None
        try:
            return json.loads(answer.data)
        except ValueError:
            return None


# -- one bounded pool for the whole command --------------------------------
_tasks: queue.SimpleQueue = queue.SimpleQueue()
_workers: list[threading.Thread] = []
_workers_lock = threading.Lock()
_local = threading.local()


def _work() -> None:
    _local.in_pool = True
    while True:
        _tasks.get()()


def _start_workers() -> None:
    with _workers_lock:
        while len(_workers) < MAX_WORKERS:
            # Daemon threads: after Ctrl-C or a failure the command exits
            # without waiting for requests still in flight.
            worker = threading.Thread(target=_work, daemon=True,
                                      name='gpuclient-http')
            worker.start()
            _workers.append(worker)


class _Batch:
    """The items of one gather: results in order, the first error, and a
    stop that makes queued items return without running."""

    def __init__(self, fn, count: int):
        self.fn = fn
        self.results = [None] * count
        self.pending = count
        self.error: BaseException | None = None
        self.finished = threading.Event()
        self.lock = threading.Lock()

    def run(self, index: int, item) -> None:
        if self.finished.is_set():  # stopped: skip queued work
            return
        try:
            result = self.fn(item)
        except BaseException as e:  # raised in the caller's thread
            with self.lock:
                self.error = self.error or e
            self.finished.set()
            return
        with self.lock:
            self.results[index] = result
            self.pending -= 1
            if not self.pending:
                self.finished.set()
        progress.tick()


def gather(fn, items, max_workers=MAX_WORKERS) -> list:
    """fn(item) for every item, concurrently, results in item order.

    All gathers of a command share one pool of MAX_WORKERS threads; a
    gather inside a pool thread (a nested one) runs its items in that
    thread, so the requests in flight never exceed the bound. The first
    error stops the items not yet started and is raised at once.
    """
    items = list(items)
    if len(items) < 2 or getattr(_local, 'in_pool', False):
        return [fn(i) for i in items]
    batch = _Batch(fn, len(items))
    _start_workers()
    progress.plan(len(items))
    for index, item in enumerate(items):
        _tasks.put(lambda index=index, item=item: batch.run(index, item))
    try:
        # Short waits: the main thread notices Ctrl-C, and progress shows.
        while not batch.finished.wait(0.2):
            progress.show()
    except KeyboardInterrupt:
        batch.finished.set()
        interrupted()
        raise
    finally:
        progress.clear()
    if batch.error is not None:
        raise batch.error
    return batch.results


def interrupted() -> None:
    """Ctrl-C: one line (cliff then exits 130 without a word)."""
    if not getattr(interrupted, 'said', False):
        interrupted.said = True
        progress.clear()
        sys.stderr.write('interrupted: stopped after %d of %d requests\n'
                         % (progress.done, progress.planned))


class Progress:
    """'N of M requests' on stderr, rewritten in place, for a command that
    has run longer than PROGRESS_AFTER seconds, and only on a terminal:
    a script's stderr stays clean."""

    def __init__(self, stream=None, started=None):
        self.stream = stream
        self.started = time.monotonic() if started is None else started
        self.planned = self.done = 0
        self.shown = False

    def plan(self, count: int) -> None:
        self.planned += count

    def tick(self) -> None:
        self.done += 1  # under the GIL; a lost count only skews the display

    def _stream(self):
        return self.stream or sys.stderr

    def show(self) -> None:
        stream = self._stream()
        if (time.monotonic() - self.started < PROGRESS_AFTER
                or not stream.isatty()):
            return
        stream.write('\r%d of %d requests' % (self.done, self.planned))
        stream.flush()
        self.shown = True

    def clear(self) -> None:
        if self.shown:
            self._stream().write('\r\x1b[K')
            self._stream().flush()
            self.shown = False


progress = Progress()
