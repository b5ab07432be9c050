"""The ways of reading every GPU's inventory and allocations that the
benchmark times, from `gpu device list` down to the bare HTTP floor.

`inprocess` and `sequential` run in a child process of their own (run this
file with the mode name), so that OSC's and the SDK's imports and global
state stay out of the benchmark's process and each starts clean.
"""
from __future__ import annotations

import collections
import concurrent.futures
import contextlib
import http.client
import io
import json
import os
import resource
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import threading
import time
import urllib.parse

BIN = os.path.dirname(sys.executable)
OPENSTACK = os.path.join(BIN, 'openstack')
DEVICE_LIST = ['gpu', 'device', 'list', '-f', 'json']
TOKEN = 'admin'  # noauth2 Placement takes any token; 'admin' is admin
THREADS = 8      # as gpuclient.http.MAX_WORKERS
PCI_TRAIT = 'COMPUTE_MANAGED_PCI_DEVICE'


def osc_env(endpoint: str) -> dict:
    """The environment of an operator pointing OSC at a Placement with no
    Keystone in front: admin_token sends OS_TOKEN to OS_ENDPOINT."""
    env = {k: v for k, v in os.environ.items() if not k.startswith('OS_')}
    env.update(OS_AUTH_TYPE='admin_token', OS_TOKEN=TOKEN,
               OS_ENDPOINT=endpoint, PYTHONWARNINGS='ignore')
    return env


def run_process(argv, env,
                stdout=subprocess.DEVNULL) -> tuple[float, int, float]:
    """Wall seconds, peak RSS (KiB) and CPU seconds of one child."""
    started = time.perf_counter()
    process = subprocess.Popen(argv, env=env, stdout=stdout,
                               stderr=subprocess.PIPE,
                               stdin=subprocess.DEVNULL)
    # stderr is small (a failed command's one line); read it, then reap the
    # child with wait4, the one call that returns its own rusage.
    err = process.stderr.read()
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    process.stderr.close()
    if process.returncode:
        raise RuntimeError('%s failed (%d): %s' % (
            ' '.join(argv[-6:]), process.returncode, err.decode()[-500:]))
    return elapsed, usage.ru_maxrss, usage.ru_utime + usage.ru_stime


def check_devices(devices: list[dict]) -> dict:
    """What an operator would see at a glance: devices per state."""
    return dict(collections.Counter(d['State'] for d in devices))


# -- 1. gpu device list -------------------------------------------------------
def gpuclient_process(endpoint: str, repeats: int) -> list[dict]:
    """`openstack gpu device list -f json` as a whole process."""
    runs = []
    for _ in range(repeats):
        with tempfile.TemporaryFile() as out:
            seconds, rss, _ = run_process([OPENSTACK] + DEVICE_LIST,
                                          osc_env(endpoint), stdout=out)
            out.seek(0)
            devices = json.load(out)
        runs.append({'seconds': seconds, 'rss_kb': rss,
                     'states': check_devices(devices)})
    return runs


def _inprocess(repeats: int) -> dict:
    from openstackclient import shell

    def once(argv):
        out = io.StringIO()
        started = time.perf_counter()
        with contextlib.redirect_stdout(out):
            try:
                rc = shell.main(argv)
            except SystemExit as e:  # --help exits
                rc = e.code
        elapsed = time.perf_counter() - started
        if rc:
            raise SystemExit('%s failed: %s' % (' '.join(argv), rc))
        return elapsed, out.getvalue()

    # The command's own cost, without the imports: the process measurement
    # covers those. A --help run and the modules the command loads on first
    # use warm them without a request, so the server counts only the runs.
    once(DEVICE_LIST[:3] + ['--help'])
    import gpuclient.cloud  # noqa: F401
    import gpuclient.placement  # noqa: F401

    runs = [once(DEVICE_LIST) for _ in range(repeats)]
    return {'seconds': [seconds for seconds, _ in runs],
            'states': check_devices(json.loads(runs[0][1]))}


def gpuclient_inprocess(endpoint: str, repeats: int) -> dict:
    return _child('inprocess', endpoint, repeats)


# -- 2. the seeds' way --------------------------------------------------------
def seeds_way(endpoint: str, n: int, sample: int) -> dict:
    """One `openstack resource provider list`, then per GPU provider one
    `inventory list` and one `usage show` process; timed on a sample of
    providers and scaled linearly to N."""
    env = osc_env(endpoint)
    with tempfile.TemporaryFile() as out:
        list_s, _, _ = run_process(
            [OPENSTACK, 'resource', 'provider', 'list', '-f', 'json'], env,
            stdout=out)
        out.seek(0)
        # Nova names a PCI device's provider <host>_<address>.
        providers = [p for p in json.load(out) if '_0000:' in p['name']]
    per_provider = []
    for provider in providers[::max(1, len(providers) // sample)][:sample]:
        inventory_s, _, _ = run_process(
            [OPENSTACK, 'resource', 'provider', 'inventory', 'list',
             provider['uuid']], env)
        usage_s, _, _ = run_process(
            [OPENSTACK, 'resource', 'provider', 'usage', 'show',
             provider['uuid']], env)
        per_provider.append(inventory_s + usage_s)
    per = statistics.median(per_provider)
    return {'seconds': list_s + n * per, 'list_s': list_s,
            'per_provider_s': per, 'sample': len(per_provider)}


# -- 3. a careful operator's sequential script -------------------------------
def _sequential(repeats: int) -> dict:
    import openstack

    def once():
        started = time.perf_counter()
        conn = openstack.connect(
            auth_type='admin_token',
            auth={'endpoint': os.environ['OS_ENDPOINT'], 'token': TOKEN})
        rows = []
        for rp in conn.placement.resource_providers(required=PCI_TRAIT):
            inventories = list(
                conn.placement.resource_provider_inventories(rp))
            allocations = list(
                conn.placement.resource_provider_allocations(rp))
            rows.append((rp.name, inventories, allocations))
        conn.close()
        return time.perf_counter() - started, rows

    seconds, rows = zip(*(once() for _ in range(repeats)))
    return {'seconds': list(seconds), 'devices': len(rows[0])}


def sequential(endpoint: str, repeats: int) -> dict:
    return _child('sequential', endpoint, repeats)


# -- 4. the floor ------------------------------------------------------------
def _fetch_all(endpoint: str, requests: list[tuple[str, str]],
               threads: int) -> list:
    """GET every (path, microversion) on one keep-alive connection per
    thread, with a pre-made token; bodies decoded as the client would."""
    netloc = urllib.parse.urlsplit(endpoint).netloc
    local, connections = threading.local(), []

    def get(request):
        path, microversion = request
        if not hasattr(local, 'conn'):
            local.conn = http.client.HTTPConnection(netloc)
            connections.append(local.conn)
        conn = local.conn
        conn.request('GET', path, headers={
            'X-Auth-Token': TOKEN, 'Accept': 'application/json',
            'OpenStack-API-Version': microversion})
        response = conn.getresponse()
        body = response.read()
        if response.status != 200:
            raise RuntimeError('floor: GET %s -> %d' % (path,
                                                       response.status))
        return json.loads(body)

    try:
        with concurrent.futures.ThreadPoolExecutor(threads) as pool:
            return list(pool.map(get, requests))
    finally:
        for conn in connections:
            conn.close()


def floor(endpoint: str, requests: list[tuple[str, str]],
          threads: int = THREADS) -> float:
    """Exactly the GETs `gpu device list` sent (from the server's log), in
    its two rounds (the provider listings, then every per-provider read),
    with the same concurrency."""
    listings = [r for r in requests if r[0].split('?')[0].rstrip('/')
                == '/resource_providers']
    others = [r for r in requests if r not in listings]
    started = time.perf_counter()
    _fetch_all(endpoint, listings, threads)
    _fetch_all(endpoint, others, threads)
    return time.perf_counter() - started


# -- plugin start-up overhead -------------------------------------------------
# `openstack` on a given site-packages (python -S: no other site dir); with
# "show", it lists the gpuclient modules it imported (-X importtime cannot:
# OSC imports plugins with importlib.import_module, which it does not see).
STARTUP = """import site, sys
site.addsitedir(sys.argv.pop(1))
if sys.argv.pop(1) == 'show':
    import atexit
    atexit.register(lambda: print(' '.join(sorted(
        m for m in sys.modules if m.startswith('gpuclient'))),
        file=sys.stderr))
from openstackclient.shell import main
sys.exit(main())
"""


def _site_without_plugin(directory: str) -> str:
    """A view of the venv's site-packages without python-gpuclient: links
    to every entry but its dist-info and its editable-install hook."""
    site = sysconfig.get_paths()['purelib']
    for entry in os.listdir(site):
        if 'gpuclient' not in entry:
            os.symlink(os.path.join(site, entry),
                       os.path.join(directory, entry))
    return directory


# What every `openstack` command pays for an installed plugin: importing
# its hook module (--version stops there) and registering its command group
# (any command, as this one, which needs no cloud).
STARTUP_COMMAND = ('configuration', 'show', '-f', 'json')


def startup_overhead(runs: int, command=STARTUP_COMMAND) -> dict:
    """`openstack configuration show` with and without the plugin
    installed, run alternately (so load drift hits both alike), median of
    `runs` each. Both run `python -S` on the same site-packages but for the
    plugin.

    The overhead is the difference of the median CPU times (user + sys) of
    the two: start-up is one busy thread, so on an idle machine that is the
    wall time, and on a shared one it is not inflated by other processes'
    load, which swamps a few milliseconds of wall time. Wall medians are
    reported beside it.
    """
    # Installed packages have their bytecode compiled: let the warm-up runs
    # write it for an editable install too (__pycache__ is git-ignored).
    env = {k: v for k, v in os.environ.items() if not k.startswith('OS_')
           and k != 'PYTHONDONTWRITEBYTECODE'}
    with tempfile.TemporaryDirectory() as without:
        sites = {'with': sysconfig.get_paths()['purelib'],
                 'without': _site_without_plugin(without)}
        argv = {k: [sys.executable, '-S', '-c', STARTUP, site, 'time']
                + list(command) for k, site in sites.items()}
        imported = {}
        for k in sites:  # warm the caches; show what each one imports
            check = subprocess.run(
                argv[k][:-len(command) - 1] + ['show'] + list(command),
                env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                text=True, check=True)
            imported[k] = check.stderr.split()
        wall, cpu = {k: [] for k in sites}, {k: [] for k in sites}
        for _ in range(runs):
            for k in sites:
                seconds, _, cpu_seconds = run_process(argv[k], env)
                wall[k].append(seconds)
                cpu[k].append(cpu_seconds)
    wall = {k: statistics.median(v) for k, v in wall.items()}
    cpu = {k: statistics.median(v) for k, v in cpu.items()}
    return {'overhead_ms': (cpu['with'] - cpu['without']) * 1000,
            'wall_overhead_ms': (wall['with'] - wall['without']) * 1000,
            'with_s': wall['with'], 'without_s': wall['without'],
            'cpu_with_s': cpu['with'], 'cpu_without_s': cpu['without'],
            'runs': runs, 'command': 'openstack ' + ' '.join(command),
            'plugin_modules_import_ms': _modules_import_ms(
                imported['with'], runs),
            'imports_with_plugin': imported['with'],
            'imports_without_plugin': imported['without']}


def _modules_import_ms(modules: list[str], runs: int) -> float:
    """What importing these modules costs once `openstack` has imported
    what it imports anyway (the noise-free part of the overhead), median
    over fresh interpreters."""
    code = ('import importlib, sys, time\n'
            'from openstackclient import shell  # noqa\n'
            'from cliff import lister, show  # noqa\n'
            't = time.perf_counter()\n'
            'for m in sys.argv[1:]: importlib.import_module(m)\n'
            'print(time.perf_counter() - t)')
    env = {k: v for k, v in os.environ.items()
           if k != 'PYTHONDONTWRITEBYTECODE'}
    return statistics.median(float(subprocess.run(
        [sys.executable, '-c', code] + modules, stdout=subprocess.PIPE,
        text=True, env=env, check=True).stdout) for _ in range(runs)) * 1000


def _child(mode: str, endpoint: str, repeats: int) -> dict:
    out = subprocess.run(
        [sys.executable, __file__, mode, str(repeats)],
        env=osc_env(endpoint), stdout=subprocess.PIPE, check=True,
        text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


if __name__ == '__main__':
    mode, repeats = sys.argv[1], int(sys.argv[2])
    result = {'inprocess': _inprocess, 'sequential': _sequential}[mode](
        repeats)
    result['rss_kb'] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps(result))
