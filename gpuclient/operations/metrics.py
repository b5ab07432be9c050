"""The GPU estate as metrics: one read of it (the audit's, which serves the
capacity estimates too), and the exporter that repeats that read in the
background and answers every scrape from the last one."""
from __future__ import annotations

import http.server
import socket
import threading
import time

from gpuclient.access import http as access_http
from gpuclient.model import metrics as metrics_model
from gpuclient.operations import flavors as flavor_ops
from gpuclient.operations import reading


def unknown_capacity(estimates) -> str | None:
    """One line at most (a cron job mails stderr): the flavors whose
    capacity is unknown, else None. `gpu flavor capacity` says why."""
    unknown = sorted(name for name, fits in estimates.items() if fits is None)
    if not unknown:
        return None
    return ('capacity unknown for %d flavor(s), their PCI alias class is '
            'unknown (give --nova-conf): %s' % (len(unknown),
                                                ', '.join(unknown)))


def estate_registry(cloud, nova_conf=None):
    """(registry, unknown_capacity line or None) of one read of the cloud."""
    from gpuclient.model import allocations
    from gpuclient.model import audit
    from gpuclient.model import capacity

    estate = reading.read_estate(cloud, nova_conf=nova_conf)
    roots = {p['name']: p['uuid'] for p in estate.providers
             if not p['parent_provider_uuid']}
    found = estate.devices + [n for n in estate.nodes if n.is_gpu]
    estimates = flavor_ops.estimate_capacity(
        cloud, found, capacity.gpu_flavors(estate.flavors, found), nova_conf,
        servers=list(estate.servers.values()), roots=roots,
        warn=lambda line: None)   # summed up in one line
    gpus = [d for d in found if d.is_gpu]
    # A consumer Nova has no server for keeps project_id empty: learning
    # it would cost a read per leaked allocation on every refresh.
    migrations = {m.get('uuid'): m for m in estate.migrations}
    consumers = allocations.consumer_rows(gpus, estate.servers, {},
                                          migrations)
    return metrics_model.registry(
        gpus, capacity.rows(estimates, by_host=True), audit.run(estate),
        list(audit.CHECKS), audit.SEVERITIES,
        consumers), unknown_capacity(estimates)


class Exporter:
    """The text of the last successful refresh, and the exporter's own
    health.

    refresh() returns (registry, note) and raises on failure. Its text is
    written once per refresh, so a scrape costs no request and no
    formatting of thousands of series, and never waits on a refresh (the
    bench measures both). A failed refresh keeps the last good text
    (marked stale by the health series) until one succeeds again.
    """

    def __init__(self, refresh, interval: float, log):
        self._refresh = refresh
        self.interval = interval
        self.log = log
        self.health = metrics_model.Health()
        self._text = b''
        self._note = None
        self._failing = None   # the last failure's line, logged once

    def collect(self):
        """The health families, as a prometheus_client collector."""
        return metrics_model.health_families(self.health, time.time())

    def exposition(self) -> bytes:
        """What a scrape gets: the last good refresh's series, then the
        health series of now (text format 0.0.4: families may follow one
        another in any order)."""
        from prometheus_client import CollectorRegistry

        text = self._text   # one refresh's, whatever happens meanwhile
        health = CollectorRegistry(auto_describe=False)
        health.register(self)
        return text + metrics_model.exposition(health)

    def refresh(self) -> bool:
        started = time.monotonic()
        try:
            reg, note = self._refresh()
            text = metrics_model.exposition(reg)
        except Exception as e:   # noqa: BLE001 - the exporter must go on
            service = (getattr(e, 'service', None)
                       if isinstance(e, access_http.CloudError) else None)
            self.health.failed(service or 'exporter',
                               time.monotonic() - started)
            line = str(e) if isinstance(e, access_http.CloudError) else (
                'refresh failed: %s: %s' % (type(e).__name__, e))
            if line != self._failing:
                self.log('%s; serving the data of %s' % (
                    line, metrics_model.age_words(self.health, time.time())))
                self._failing = line
            return False
        self._text = text
        self.health.succeeded(time.monotonic() - started, time.time())
        if self._failing:
            self.log('refresh succeeded again')
            self._failing = None
        if note != self._note and note:
            self.log(note)
        self._note = note
        return True

    def run(self, stop: threading.Event) -> None:
        """Refresh every `interval` seconds from the start of the last
        refresh (at once after one that took longer) until `stop` is set:
        one refresh at a time, so the cloud never sees more than one
        refresh's requests (the pool's bound) from this exporter."""
        while not stop.is_set():
            started = time.monotonic()
            self.refresh()
            stop.wait(max(0.0, self.interval - (time.monotonic() - started)))


def serve(cloud, nova_conf, address: str, port: int, interval: float,
          stop: threading.Event, log) -> None:
    """Answer scrapes at http://address:port/metrics until `stop` is set,
    refreshing in a background thread. Raises OSError if the address
    cannot be bound."""
    def refresh():
        cloud.forget_reads()   # hosts added since the last refresh
        return estate_registry(cloud, nova_conf)

    exporter = Exporter(refresh, interval, log)
    server = _server(exporter, address, port)
    threading.Thread(target=server.serve_forever, daemon=True,
                     name='gpuclient-http-server').start()
    log('serving GPU metrics on http://%s/metrics, refreshed every %g s' % (
        '[%s]:%d' % (address, port) if ':' in address
        else '%s:%d' % (address, port), interval))
    # Daemon: on SIGTERM the process exits at once, whatever request a
    # refresh is waiting on.
    threading.Thread(target=exporter.run, args=(stop,), daemon=True,
                     name='gpuclient-refresh').start()
    stop.wait()


def _server(exporter: Exporter, address: str, port: int):
    """A threaded HTTP server answering GET /metrics with the exporter's
    text (every other path: 404), one thread per scrape, daemon threads."""
    from prometheus_client import CONTENT_TYPE_LATEST

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            if self.path.split('?')[0] != '/metrics':
                self.send_error(404, 'only /metrics is served here')
                return
            body = exporter.exposition()
            self.send_response(200)
            self.send_header('Content-Type', CONTENT_TYPE_LATEST)
            self.send_header('Content-Length', str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):   # a line per scrape: too many
            pass

    class Server(http.server.ThreadingHTTPServer):
        daemon_threads = True
        address_family = (socket.AF_INET6 if ':' in address
                          else socket.AF_INET)

    return Server((address, port), Handler)
