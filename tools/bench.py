"""`make bench`: the plugin's commands at cloud scale, and `gpu device list`
side by side with the seeds' way (one `openstack` process per provider), a
careful operator's sequential script and the HTTP floor.

For each size N (GPU providers) it seeds (once, kept under .bench/) a real
Placement in the shape of a production cloud (bench_cloud: Nova's GPUs,
Cyborg's on 5% of the hosts, a NIC and Neutron's bandwidth providers per
host), serves it with gunicorn (2 gthread workers) and times every way and
command against it: wall time, requests (Placement's log; Nova's from a
--debug run) and client CPU. Nova is the project's sandbox cloud (real
Keystone and Nova, at its own size: 5 hosts, 2 servers, 20 Ironic flavors),
so the bench runs two servers: run it in two sandbox slots. Client CPU per
request is the slope of CPU against requests between the smallest and the
largest N (start-up, auth and fixed requests drop out), for the command,
for the plugin's HTTP path alone and for the floor (the same requests, the
same threads). Then it prints tables and, last, one JSON line (also
written to .bench/last.json).
Timings are wall-clock medians on a shared machine: read them with the load
averages printed beside them.
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
import bench_exporter
import bench_hostile
import bench_sriov
import bench_ways

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WORKDIR = os.path.join(ROOT, '.bench')
SIZES = (100, 1000, 5000)
# Runs per way at each size (in-process, process, sequential, floor): fewer
# for the slow ones so that the whole run stays well under 20 minutes.
REPEATS = {100: 5, 1000: 3, 5000: 1}
# Runs of each other command (device list --host, summary, ...).
COMMAND_REPEATS = {100: 3, 1000: 2, 5000: 1}
SEEDS_SAMPLE = 5
STARTUP_RUNS = 12


def log(message: str) -> None:
    print('[bench %s] %s' % (time.strftime('%H:%M:%S'), message),
          file=sys.stderr, flush=True)


HOST = 'gpu-node-0001'  # a host of 8 Nova GPUs, its NIC and Neutron's
ONE_TIME_USE = 'HW_PCI_ONE_TIME_USE'
# Every command the bench times, besides the device listing (timed with the
# other ways below); the JSON's names.
COMMANDS = {
    'device_list_host': bench_ways.DEVICE_LIST + ['--host', HOST],
    'device_list_trait': bench_ways.DEVICE_LIST + ['--trait', ONE_TIME_USE],
    'device_summary': ['gpu', 'device', 'summary', '-f', 'json'],
    'flavor_list': ['gpu', 'flavor', 'list', '-f', 'json'],
    'allocation_list_host': ['gpu', 'allocation', 'list', '--host', HOST,
                             '-f', 'json'],
    'audit': ['gpu', 'audit', '-f', 'json'],
}
SIGINT_AFTER = 2.0
# Sizes at which `gpu metrics --serve` is measured (bench_exporter).
EXPORTER_SIZES = (1000, 5000)


def has_command(name: str) -> bool:
    from importlib import metadata

    return name in {e.name for e in metadata.entry_points(
        group='openstack.gpu.v1')}


def kinds(requests) -> dict:
    """Requests per kind: provider listings, per-provider reads, the rest."""
    found = {}
    for _, path, _, _ in requests:
        parts = path.split('?')[0].strip('/').split('/')
        if parts == ['resource_providers']:
            kind = 'listings'
        elif parts[0] == 'resource_providers' and len(parts) == 3:
            kind = 'provider_' + parts[2]  # inventories, allocations, traits
        elif parts[0] == 'resource_providers':
            kind = 'provider'
        elif parts[0] == 'allocations':
            kind = 'consumers'
        else:
            kind = parts[0] or 'root'  # /traits, /resource_classes: names
        found[kind] = found.get(kind, 0) + 1
    return found


def measure(n: int, database: str, made: dict, nova, nova_requests: dict,
            sigint: bool) -> dict:
    log('N=%d: %s database (%d hosts, %d allocated, %d one-time-use, '
        '%d Cyborg GPUs, %d other providers, seeded in %ss)' % (
            n, 'reusing' if made['reused'] else 'seeded', made['hosts'],
            made['allocated'], made['one_time_use'], made['cyborg_gpus'],
            made['other_providers'], made['seconds']))
    repeats = REPEATS.get(n, 1)
    result = {'repeats': repeats, 'seeded': made, 'gpu_providers': n,
              'load_before': os.getloadavg()[0]}
    run_dir = os.path.join(WORKDIR, 'server-%d' % n)
    with bench_cloud.Server(database, run_dir) as server:
        endpoint = server.endpoint
        env = bench_ways.osc_env(endpoint, nova)

        def counted(fn, *args):
            position = server.log_position()
            value = fn(*args)
            return value, server.requests_since(position)

        if not nova_requests:
            # Nova is the sandbox's at every N: count once what each
            # command asks it, at the first size.
            log('N=%d: requests each command sends Nova (--debug runs)' % n)
            for name, argv in [('device_list', bench_ways.DEVICE_LIST)] + (
                    list(COMMANDS.items())):
                nova_requests[name] = nova.requests(env, argv)

        log('N=%d: gpu device list as a process, %d runs' % (n, repeats))
        runs, sets = [], []
        for _ in range(repeats):
            (run,), seen = counted(bench_ways.gpuclient_process, env, 1)
            runs.append(run)
            sets.append(seen)
        counts = {len(s) for s in sets}
        if len(counts) != 1:
            raise RuntimeError('device list sent %s requests' % counts)
        states = runs[0]['states']
        if sum(states.values()) != n:
            log('N=%d: note: device list showed %d devices (%s) for %d GPU '
                'providers' % (n, sum(states.values()), states, n))
        result.update(
            gpuclient_process_s=statistics.median(r['seconds'] for r in runs),
            peak_rss_mb=max(r['rss_kb'] for r in runs) / 1024,
            requests=len(sets[0]), states=states)
        commands = {'device_list': {
            'requests': len(sets[0]) + len(nova_requests['device_list']),
            'placement_requests': len(sets[0]),
            'nova_requests': len(nova_requests['device_list']),
            'wall_s': result['gpuclient_process_s'],
            'client_cpu_s': statistics.median(r['cpu_s'] for r in runs),
            'rows': sum(states.values()), 'by_kind': kinds(sets[0])}}

        log('N=%d: gpu device list in-process, %d runs' % (n, repeats))
        inproc, seen = counted(bench_ways.gpuclient_inprocess, env, repeats)
        if len(seen) != result['requests'] * repeats or (
                inproc['states'] != states):
            raise RuntimeError('in-process runs sent %d requests, showed %s'
                               % (len(seen), inproc['states']))
        result['gpuclient_s'] = statistics.median(inproc['seconds'])
        result['gpuclient_cpu_s'] = statistics.median(inproc['cpu_s'])

        log('N=%d: the floor, %d runs' % (n, repeats))
        if {method for method, _, _, _ in sets[0]} != {'GET'}:
            raise RuntimeError('device list wrote to Placement')
        gets = [(path, microversion)
                for _, path, microversion, status in sets[0] if status == 200]
        floors = [bench_ways.floor(endpoint, gets) for _ in range(repeats)]
        result['floor_s'] = statistics.median(wall for wall, _ in floors)
        result['floor_client_cpu_s'] = statistics.median(
            cpu for _, cpu in floors)
        log('N=%d: the same requests through the plugin\'s HTTP path, %d '
            'runs' % (n, repeats))
        result['http_path_client_cpu_s'] = statistics.median(
            bench_ways.http_path(endpoint, gets, repeats))
        result['floor_requests'] = len(gets)
        result['client_cpu_per_request_ms'] = {
            'http_path': 1000 * result['http_path_client_cpu_s'] / len(gets),
            'floor': 1000 * result['floor_client_cpu_s'] / len(gets)}
        result['client_cpu_per_request_ms']['http_path_vs_floor'] = ratio(
            result['http_path_client_cpu_s'], result['floor_client_cpu_s'])

        for name, argv in COMMANDS.items():
            if name == 'audit' and not has_command('gpu_audit'):
                commands[name] = not_measured('no `gpu audit` command in '
                                              'this tree')
                continue
            runs = COMMAND_REPEATS.get(n, 1)
            log('N=%d: %s, %d runs' % (n, ' '.join(argv), runs))
            commands[name] = command(counted, env, argv, runs,
                                     nova_requests[name])

        log('N=%d: sequential script (openstacksdk), %d runs' % (n, repeats))
        seq, seen = counted(bench_ways.sequential, endpoint, repeats)
        if seq['devices'] != made['gpus'] - made['cyborg_gpus'] + made[
                'hosts']:
            log('N=%d: note: the sequential script saw %d PCI devices'
                % (n, seq['devices']))
        result['sequential_s'] = statistics.median(seq['seconds'])
        result['sequential_requests'] = len(seen) // repeats

        log("N=%d: the seeds' way on %d providers" % (n, SEEDS_SAMPLE))
        seeds = bench_ways.seeds_way(endpoint, n, SEEDS_SAMPLE)
        result['seeds_way_s'] = seeds['seconds']
        result['seeds_way'] = seeds

        if n in EXPORTER_SIZES and has_command('gpu_metrics'):
            log('N=%d: gpu metrics --serve: refreshes, scrapes during them, '
                'SIGTERM' % n)
            result['exporter'] = bench_exporter.measure(env, counted)

        if sigint:
            log('N=%d: Ctrl-C (SIGINT) %.0f s into gpu device list'
                % (n, SIGINT_AFTER))
            result['sigint'] = dict(bench_ways.sigint(env, SIGINT_AFTER),
                                    n=n, after_s=SIGINT_AFTER)
    result['commands'] = commands
    result['load_after'] = os.getloadavg()[0]
    return result


def not_measured(reason: str) -> dict:
    return {'requests': None, 'wall_s': None, 'client_cpu_s': None,
            'reason': reason}


def command(counted, env, argv, repeats, nova_sent) -> dict:
    """One command, `repeats` times as a process: medians, and the
    requests it sent (the same every run)."""
    runs, sets = [], []
    for _ in range(repeats):
        run, seen = counted(bench_ways.command_process, env, argv)
        runs.append(run)
        sets.append(seen)
    last = runs[-1]
    if last['traceback'] or last['rows'] is None:
        return not_measured('failed (exit %d): %s' % (last['rc'],
                                                      last['stderr']))
    found = {
        'requests': len(sets[-1]) + len(nova_sent),
        'placement_requests': len(sets[-1]), 'nova_requests': len(nova_sent),
        'wall_s': statistics.median(r['seconds'] for r in runs),
        'client_cpu_s': statistics.median(r['cpu_s'] for r in runs),
        'rows': last['rows'], 'by_kind': kinds(sets[-1])}
    if last['rc']:  # gpu audit exits 1 when it finds problems
        found['exit_code'] = last['rc']
        found['stderr'] = last['stderr']
    if len({len(s) for s in sets}) != 1:
        found['requests_per_run'] = [len(s) for s in sets]
    return found


def ratio(a, b):
    return a / b if b else float('nan')


def per_request(sizes: dict) -> dict:
    """Client CPU per request in ms, without what a command pays once
    (start-up, auth, the catalog, the first request of each kind): the
    slope of CPU against requests between the smallest and the largest
    size. For `gpu device list` in-process and as a process, the plugin's
    HTTP path alone and the floor (both: the same Placement requests, the
    same threads)."""
    if len(sizes) < 2:
        return {}
    small, big = (sizes[n] for n in (min(sizes, key=int),
                                     max(sizes, key=int)))

    def slope(figure, requests):
        return 1000 * (figure(big) - figure(small)) / (
            requests(big) - requests(small))

    def listing(r):
        return r['commands']['device_list']['requests']

    def floor_requests(r):
        return r['floor_requests']

    found = {
        'sizes': [small['gpu_providers'], big['gpu_providers']],
        'command_ms': slope(lambda r: r['gpuclient_cpu_s'], listing),
        'process_ms': slope(
            lambda r: r['commands']['device_list']['client_cpu_s'], listing),
        'http_path_ms': slope(lambda r: r['http_path_client_cpu_s'],
                              floor_requests),
        'floor_ms': slope(lambda r: r['floor_client_cpu_s'],
                          floor_requests)}
    for name in ('command', 'process', 'http_path'):
        found[name + '_vs_floor'] = ratio(found[name + '_ms'],
                                          found['floor_ms'])
    return found


def report(sizes: dict, startup: dict, sigint: dict) -> None:
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
          'process, for every provider with COMPUTE_MANAGED_PCI_DEVICE (the '
          'NICs too, not Cyborg\'s GPUs); floor: the requests device list '
          'sent Placement, replayed with http.client and a pre-made token, '
          '%d threads.' % bench_ways.THREADS)
    print()
    print('%6s %18s %18s %16s %16s %10s' % (
        'N', "seeds'/gpuclient", 'sequential/gpucl.', 'gpuclient/floor',
        'requests - 2N', 'load 1m'))
    for n, r in sizes.items():
        print('%6s %17.0fx %17.2fx %15.2fx %16d %4.1f-%4.1f' % (
            n, ratio(r['seeds_way_s'], r['gpuclient_s']),
            ratio(r['sequential_s'], r['gpuclient_s']),
            ratio(r['gpuclient_s'], r['floor_s']),
            r['commands']['device_list']['requests'] - 2 * int(n),
            r['load_before'],
            r['load_after']))
    print('targets at N=1000: >= 100x, >= 1.5x, <= 1.3x')
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
    print()
    print('every command as a process (wall and client CPU: medians; '
          'requests: Placement, from its log, + Nova, from --debug)')
    header = '%6s %-22s %9s %7s %6s %8s %8s %10s' % (
        'N', 'command', 'requests', 'Nova', 'rows', 'wall s', 'CPU s',
        'CPU ms/req')
    print(header)
    print('-' * len(header))
    for n, r in sizes.items():
        for name in ['device_list'] + list(COMMANDS):
            c = r['commands'][name]
            if c['requests'] is None:
                print('%6s %-22s not measured: %s' % (n, name, c['reason']))
                continue
            print('%6s %-22s %9d %7d %6d %8.2f %8.2f %10.2f' % (
                n, name, c['requests'], c['nova_requests'], c['rows'],
                c['wall_s'], c['client_cpu_s'],
                1000 * max(0, c['client_cpu_s'] - startup['cpu_with_s'])
                / c['requests']))
        d = r['commands']['device_list']
        print('%6s %-22s %9d %7s %6s %8.2f %8.2f %10.2f' % (
            n, 'floor (device list)', d['placement_requests'], '-', '-',
            r['floor_s'], r['floor_client_cpu_s'],
            1000 * r['floor_client_cpu_s'] / d['placement_requests']))
    print('CPU ms/req: (CPU - %.2f s, the CPU of an `openstack` command that '
          'sends nothing) / requests. In-process device list (no start-up):'
          % startup['cpu_with_s'])
    for n, r in sizes.items():
        d = r['commands']['device_list']
        print('  N=%s: %.2f s CPU, %.2f ms/request = %.2fx the floor\'s '
              'CPU' % (
                  n, r['gpuclient_cpu_s'],
                  1000 * r['gpuclient_cpu_s'] / d['requests'],
                  ratio(r['gpuclient_cpu_s'], r['floor_client_cpu_s'])))
    slopes = per_request(sizes)
    if slopes:
        print('client CPU per request, N=%d -> %d (slope of CPU against '
              'requests: start-up, auth and fixed requests left out; target '
              '<= 2x the floor):' % tuple(slopes['sizes']))
        for name, what in [
                ('command', 'gpu device list in-process'),
                ('process', 'gpu device list as a process'),
                ('http_path', "the plugin's HTTP path alone")]:
            print('  %-30s %.3f ms = %.2fx the floor' % (
                what, slopes[name + '_ms'], slopes[name + '_vs_floor']))
        print('  %-30s %.3f ms (http.client, the same requests and %d '
              'threads)' % ('floor', slopes['floor_ms'], bench_ways.THREADS))
    for n, r in sizes.items():
        c = r['client_cpu_per_request_ms']
        print('  N=%s: HTTP path %.3f ms, floor %.3f ms per request (%.2fx)'
              % (n, c['http_path'], c['floor'], c['http_path_vs_floor']))
    ns = sorted(int(n) for n in sizes)
    if len(ns) > 1:
        print('requests per GPU added (N=%d -> %d): %s' % (
            ns[0], ns[-1], ', '.join(
                '%s %s' % (name, 'n/a' if None in (
                    c['requests'], sizes[str(ns[0])]['commands'][name][
                        'requests']) else '%.3f' % (
                    (c['requests'] - sizes[str(ns[0])]['commands'][name][
                        'requests']) / (ns[-1] - ns[0])))
                for name, c in ((k, sizes[str(ns[-1])]['commands'][k])
                                for k in ['device_list'] + list(COMMANDS)))))
    print()
    if sigint.get('exit_s') is None:
        print('Ctrl-C at N=%d, %.0f s in: %s' % (
            sigint['n'], sigint['after_s'], sigint.get('note')))
    else:
        print('Ctrl-C at N=%d, %.0f s into gpu device list: exited in %.2f s '
              'with %s, %d stderr line(s)%s (target: < 1 s, 130)' % (
                  sigint['n'], sigint['after_s'], sigint['exit_s'],
                  sigint['returncode'], sigint['stderr_lines'],
                  ', with a traceback' if sigint['traceback'] else ''))


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
    log('Nova: starting the sandbox cloud (real Keystone and Nova)')
    nova_requests = {}
    with bench_ways.Nova() as nova:
        sizes = {str(n): measure(n, *databases[n], nova, nova_requests,
                                 sigint=n == max(wanted))
                 for n in wanted}
        log('SR-IOV vGPU hosts: requests as VFs get used')
        sriov = bench_sriov.measure(nova)
    sigint = sizes[str(max(wanted))].pop('sigint')
    log('hostile host files')
    hostile = bench_hostile.measure()
    report(sizes, startup, sigint)
    bench_exporter.report({n: r['exporter'] for n, r in sizes.items()
                           if 'exporter' in r})
    bench_hostile.report(hostile)
    bench_sriov.report(sriov)
    summary = {
        'sizes': sizes,
        'sigint_exit_s': sigint['exit_s'], 'sigint': sigint,
        'nova': {'what': 'the sandbox cloud (gpu-sandbox: real Keystone '
                         'and Nova) at its own size; Placement at N',
                 'ironic_flavors': bench_ways.IRONIC_FLAVORS,
                 'servers': bench_ways.SANDBOX_SERVERS,
                 'requests': nova_requests},
        'client_cpu_per_request': per_request(sizes),
        'startup_overhead_ms': round(startup['overhead_ms'], 1),
        'startup': startup, 'cpus': os.cpu_count(),
        'placement': {'server': 'gunicorn gthread',
                      'workers': bench_cloud.WORKERS,
                      'threads': bench_cloud.THREADS_PER_WORKER},
        'client_threads': bench_ways.THREADS,
        'hostile_files': hostile,
        'sriov_vgpu': sriov,
        'seconds': round(time.monotonic() - started, 1)}
    line = json.dumps(rounded(summary), sort_keys=True)
    with open(os.path.join(WORKDIR, 'last.json'), 'w') as f:
        f.write(line + '\n')
    print('bench took %.0f s' % summary['seconds'])
    print(line)
    return 0


if __name__ == '__main__':
    sys.exit(main())
