"""`gpu metrics --serve` at N GPUs, for tools/bench.py: how long a refresh
of the estate takes, how many series it serves, how long a scrape takes
while a refresh runs (it must not wait for it), and how fast SIGTERM stops
it in the middle of one.

With --interval 1 the refreshes at N >= 1000 run back to back, so every
scrape lands during one.
"""
from __future__ import annotations

import signal
import socket
import statistics
import subprocess
import time
import urllib.request

import bench_ways

SCRAPES = 20
SCRAPE_EVERY = 0.25   # seconds between scrapes
FIRST_REFRESH_LIMIT = 900


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def _scrape(url: str) -> tuple[float, str]:
    started = time.monotonic()
    with urllib.request.urlopen(url, timeout=60) as response:
        text = response.read().decode()
    return time.monotonic() - started, text


def _value(text: str, name: str) -> float | None:
    for line in text.splitlines():
        if line.startswith(name + ' '):
            return float(line.split()[1])
    return None


def measure(env: dict, counted) -> dict:
    """counted(fn) -> (fn(), Placement requests meanwhile): used on one
    `gpu metrics` run, the very read a refresh makes (the exporter's own
    refreshes never let Placement's log settle)."""
    once, requests = counted(bench_ways.command_process, env,
                             ['gpu', 'metrics'])
    if once['rc']:
        return {'failed': once['stderr']}
    port = _free_port()
    url = 'http://127.0.0.1:%d/metrics' % port
    process = subprocess.Popen(
        [bench_ways.OPENSTACK, 'gpu', 'metrics', '--serve',
         '127.0.0.1:%d' % port, '--interval', '1'], env=env,
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + FIRST_REFRESH_LIMIT
        text = ''
        while _value(text, 'openstack_gpu_exporter_up') != 1.0:
            if process.poll() is not None or time.monotonic() > deadline:
                return {'failed': (process.stderr.read() if process.poll()
                                   is not None else 'no refresh in %ds'
                                   % FIRST_REFRESH_LIMIT)}
            time.sleep(0.2)
            try:
                _, text = _scrape(url)
            except OSError:
                pass
        first = _value(text, 'openstack_gpu_exporter_refreshes_total')

        found = []
        for _ in range(SCRAPES):
            found.append(_scrape(url))
            time.sleep(SCRAPE_EVERY)
        last = found[-1][1]
        refreshes = _value(last, 'openstack_gpu_exporter_refreshes_total')
        latencies = sorted(seconds for seconds, _ in found)
        result = {
            'refresh_s': _value(last,
                                'openstack_gpu_exporter_refresh_duration_'
                                'seconds'),
            'series': sum(1 for line in last.splitlines()
                          if line and not line.startswith('#')),
            'exposition_kb': len(last.encode()) / 1024,
            'scrape_ms_median': 1000 * statistics.median(latencies),
            'scrape_ms_max': 1000 * latencies[-1],
            'refreshes_during_scrapes': refreshes - first,
            'placement_requests_per_refresh': len(requests),
            'textfile_run_s': once['seconds'],
        }
        # SIGTERM, as systemd stops it: a refresh is running (back to back).
        started = time.monotonic()
        process.send_signal(signal.SIGTERM)
        result['sigterm_returncode'] = process.wait(60)
        result['sigterm_exit_s'] = time.monotonic() - started
        return result
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def report(by_size: dict) -> None:
    print('\ngpu metrics --serve (refreshes back to back, --interval 1; '
          'targets: a scrape never waits for a refresh, SIGTERM < 1 s):')
    print('%6s %10s %8s %10s %12s %12s %10s %9s' % (
        'N', 'refresh s', 'series', 'text KB', 'scrape ms', 'scrape max',
        'req/refr', 'SIGTERM s'))
    for n, r in by_size.items():
        if 'failed' in r:
            print('%6s failed: %s' % (n, r['failed']))
            continue
        print('%6s %10.2f %8d %10.0f %12.1f %12.1f %10d %9.2f' % (
            n, r['refresh_s'], r['series'], r['exposition_kb'],
            r['scrape_ms_median'], r['scrape_ms_max'],
            r['placement_requests_per_refresh'],
            r['sigterm_exit_s']))
