"""`make bench`: `openstack gpu device list` at cloud scale, side by side
with the seeds' way (one `openstack` process per provider), a careful
operator's sequential script and the HTTP floor.

For each size N it seeds (once, kept under .bench/) a real Placement in the
shape Nova makes, serves it with gunicorn (2 gthread workers) and times
every way against it; then it prints a table and, last, one JSON line
(also written to .bench/last.json). Timings are wall-clock medians on a
shared machine: read them with the load averages printed beside them.
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import sys
import time

import bench_cloud
import bench_ways

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WORKDIR = os.path.join(ROOT, '.bench')
SIZES = (100, 1000, 5000)
# Runs per way at each size (in-process, process, sequential, floor): fewer
# for the slow ones so that the whole run stays well under 20 minutes.
REPEATS = {100: 5, 1000: 3, 5000: 1}
SEEDS_SAMPLE = 5
STARTUP_RUNS = 12


def log(message: str) -> None:
    print('[bench %s] %s' % (time.strftime('%H:%M:%S'), message),
          file=sys.stderr, flush=True)


def measure(n: int, database: str, made: dict) -> dict:
    log('N=%d: %s database (%d hosts, %d allocated, %d one-time-use, '
        'seeded in %ss)' % (n, 'reusing' if made['reused'] else 'seeded',
                            made['hosts'], made['allocated'],
                            made['one_time_use'], made['seconds']))
    repeats = REPEATS.get(n, 1)
    result = {'repeats': repeats, 'seeded': made,
              'load_before': os.getloadavg()[0]}
    run_dir = os.path.join(WORKDIR, 'server-%d' % n)
    with bench_cloud.Server(database, run_dir) as server:
        endpoint = server.endpoint

        def counted(fn, *args):
            position = server.log_position()
            value = fn(*args)
            return value, server.requests_since(position)

        log('N=%d: gpu device list as a process, %d runs' % (n, repeats))
        runs, sets = [], []
        for _ in range(repeats):
            (run,), seen = counted(bench_ways.gpuclient_process, endpoint, 1)
            runs.append(run)
            sets.append(seen)
        counts = {len(s) for s in sets}
        if len(counts) != 1:
            raise RuntimeError('device list sent %s requests' % counts)
        states = runs[0]['states']
        if sum(states.values()) != n:
            raise RuntimeError('device list showed %s for N=%d' % (states, n))
        result.update(
            gpuclient_process_s=statistics.median(r['seconds'] for r in runs),
            peak_rss_mb=max(r['rss_kb'] for r in runs) / 1024,
            requests=len(sets[0]), states=states)

        log('N=%d: gpu device list in-process, %d runs' % (n, repeats))
        inproc, seen = counted(bench_ways.gpuclient_inprocess, endpoint,
                               repeats)
        if len(seen) != result['requests'] * repeats or (
                inproc['states'] != states):
            raise RuntimeError('in-process runs sent %d requests, showed %s'
                               % (len(seen), inproc['states']))
        result['gpuclient_s'] = statistics.median(inproc['seconds'])

        log('N=%d: the floor, %d runs' % (n, repeats))
        if {method for method, _, _ in sets[0]} != {'GET'}:
            raise RuntimeError('device list wrote to Placement')
        gets = [(path, microversion) for _, path, microversion in sets[0]]
        result['floor_s'] = statistics.median(
            bench_ways.floor(endpoint, gets) for _ in range(repeats))

        log('N=%d: sequential script (openstacksdk), %d runs' % (n, repeats))
        seq, seen = counted(bench_ways.sequential, endpoint, repeats)
        if seq['devices'] != n:
            raise RuntimeError('sequential script saw %d devices'
                               % seq['devices'])
        result['sequential_s'] = statistics.median(seq['seconds'])
        result['sequential_requests'] = len(seen) // repeats

        log("N=%d: the seeds' way on %d providers" % (n, SEEDS_SAMPLE))
        seeds = bench_ways.seeds_way(endpoint, n, SEEDS_SAMPLE)
        result['seeds_way_s'] = seeds['seconds']
        result['seeds_way'] = seeds
    result['load_after'] = os.getloadavg()[0]
    return result


def ratio(a, b):
    return a / b if b else float('nan')


def report(sizes: dict, startup: dict) -> None:
    print()
    print('gpu device list at scale: medians in seconds '
          '(Placement: gunicorn, %d gthread workers; %d client threads)'
          % (bench_cloud.WORKERS, bench_ways.THREADS))
    header = ('%6s %9s %9s %11s %11s %8s %9s %8s %6s'
              % ('N', 'in-proc', 'process', "seeds' way", 'sequential',
                 'floor', 'requests', 'RSS MB', 'runs'))
    print(header)
    print('-' * len(header))
    for n, r in sizes.items():
        print('%6s %9.2f %9.2f %11.0f %11.2f %8.2f %9d %8.0f %6d' % (
            n, r['gpuclient_s'], r['gpuclient_process_s'], r['seeds_way_s'],
            r['sequential_s'], r['floor_s'], r['requests'],
            r['peak_rss_mb'], r['repeats']))
    print()
    print("seeds' way: `openstack resource provider list` once, then per "
          "provider `inventory list` + `usage show` processes, timed on "
          "%d providers and scaled linearly to N (extrapolated)."
          % SEEDS_SAMPLE)
    print('sequential: openstacksdk, one request after another, in one '
          'process; floor: the requests device list sent, replayed with '
          'http.client and a pre-made token, %d threads.' % bench_ways.THREADS)
    print()
    print('%6s %18s %18s %16s %16s %10s' % (
        'N', "seeds'/gpuclient", 'sequential/gpucl.', 'gpuclient/floor',
        'requests/(2N+10)', 'load 1m'))
    for n, r in sizes.items():
        print('%6s %17.0fx %17.2fx %15.2fx %16.2f %4.1f-%4.1f' % (
            n, ratio(r['seeds_way_s'], r['gpuclient_s']),
            ratio(r['sequential_s'], r['gpuclient_s']),
            ratio(r['gpuclient_s'], r['floor_s']),
            r['requests'] / (2 * int(n) + 10), r['load_before'],
            r['load_after']))
    print('targets at N=1000: >= 100x, >= 1.5x, <= 1.3x, <= 1.0')
    ns = sorted(int(n) for n in sizes)
    for small, big in zip(ns, ns[1:]):
        grow = (sizes[str(big)]['peak_rss_mb']
                - sizes[str(small)]['peak_rss_mb']) / (big - small) * 1024
        print('RSS growth N=%d -> %d: %.1f KiB per device' % (small, big,
                                                             grow))
    print()
    print('plugin start-up overhead (%s, median of %d each, alternating): '
          '%.0f ms of CPU time (%.3f s with, %.3f s without '
          'python-gpuclient); wall: %.0f ms (%.3f s, %.3f s). Every '
          'command imports: %s; importing those alone: %.1f ms' % (
              startup['command'], startup['runs'], startup['overhead_ms'],
              startup['cpu_with_s'], startup['cpu_without_s'],
              startup['wall_overhead_ms'], startup['with_s'],
              startup['without_s'],
              ', '.join(startup['imports_with_plugin']) or 'nothing',
              startup['plugin_modules_import_ms']))


def rounded(value):
    if isinstance(value, float):
        return round(value, 3)
    if isinstance(value, dict):
        return {k: rounded(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [rounded(v) for v in value]
    return value


def main() -> int:
    # On SIGTERM too, leave through the `with` blocks that stop Placement.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--sizes', default=','.join(map(str, SIZES)),
                        help='comma-separated N (default %(default)s)')
    parser.add_argument('--startup-runs', type=int, default=STARTUP_RUNS)
    args = parser.parse_args()
    os.makedirs(WORKDIR, exist_ok=True)
    started = time.monotonic()
    wanted = [int(s) for s in args.sizes.split(',')]
    databases = bench_cloud.seeded_databases(WORKDIR, wanted, log)
    log('plugin start-up overhead, %d runs each' % args.startup_runs)
    startup = bench_ways.startup_overhead(args.startup_runs)
    sizes = {str(n): measure(n, *databases[n]) for n in wanted}
    report(sizes, startup)
    summary = {
        'sizes': sizes,
        'startup_overhead_ms': round(startup['overhead_ms'], 1),
        'startup': startup, 'cpus': os.cpu_count(),
        'placement': {'server': 'gunicorn gthread',
                      'workers': bench_cloud.WORKERS,
                      'threads': bench_cloud.THREADS_PER_WORKER},
        'client_threads': bench_ways.THREADS,
        'seconds': round(time.monotonic() - started, 1)}
    line = json.dumps(rounded(summary), sort_keys=True)
    with open(os.path.join(WORKDIR, 'last.json'), 'w') as f:
        f.write(line + '\n')
    print('bench took %.0f s' % summary['seconds'])
    print(line)
    return 0


if __name__ == '__main__':
    sys.exit(main())
