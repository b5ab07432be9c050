"""The ways of reading every GPU's inventory and allocations that the
benchmark times, from `gpu device list` down to the bare HTTP floor; the
other commands timed as processes, Ctrl-C, and the sandbox as Nova.

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
import shutil
import signal
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
THREADS = 8      # as gpuclient.access.pool.MAX_WORKERS
PCI_TRAIT = 'COMPUTE_MANAGED_PCI_DEVICE'


def osc_env(endpoint: str, nova: Nova | None = None) -> dict:
    """The environment of an operator pointing OSC at a Placement with no
    Keystone in front: admin_token sends OS_TOKEN to OS_ENDPOINT; with
    `nova`, a Keystone token that Nova takes too, and Nova's endpoint."""
    env = {k: v for k, v in os.environ.items() if not k.startswith('OS_')}
    env.update(OS_AUTH_TYPE='admin_token', OS_TOKEN=TOKEN,
               OS_ENDPOINT=endpoint, PYTHONWARNINGS='ignore')
    if nova:
        env.update(OS_TOKEN=nova.token,
                   OS_COMPUTE_ENDPOINT_OVERRIDE=nova.url)
    return env


def run_process(argv, env, stdout=subprocess.DEVNULL,
                check: bool = True) -> tuple[float, int, float]:
    """Wall seconds, peak RSS (KiB) and CPU seconds of one child; with
    check=False, its exit code and stderr too."""
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
    if process.returncode and check:
        raise RuntimeError('%s failed (%d): %s' % (
            ' '.join(argv[-6:]), process.returncode, err.decode()[-500:]))
    measured = elapsed, usage.ru_maxrss, usage.ru_utime + usage.ru_stime
    if check:
        return measured
    return measured + (process.returncode, err.decode(errors='replace'))


def check_devices(devices: list[dict]) -> dict:
    """What an operator would see at a glance: devices per state."""
    return dict(collections.Counter(d['State'] for d in devices))


# -- 1. gpu device list -------------------------------------------------------
def gpuclient_process(env: dict, repeats: int) -> list[dict]:
    """`openstack gpu device list -f json` as a whole process."""
    runs = []
    for _ in range(repeats):
        with tempfile.TemporaryFile() as out:
            seconds, rss, cpu = run_process([OPENSTACK] + DEVICE_LIST, env,
                                            stdout=out)
            out.seek(0)
            devices = json.load(out)
        runs.append({'seconds': seconds, 'rss_kb': rss, 'cpu_s': cpu,
                     'states': check_devices(devices)})
    return runs


def command_process(env: dict, argv: list[str]) -> dict:
    """One `openstack` command as a whole process: wall and CPU seconds,
    exit code, rows shown (of -f json output) and its last stderr line."""
    with tempfile.TemporaryFile() as out:
        seconds, rss, cpu, rc, err = run_process(
            [OPENSTACK] + argv, env, stdout=out, check=False)
        out.seek(0)
        try:
            shown = json.load(out)
        except ValueError:
            shown = None
    lines = err.strip().splitlines()
    return {'seconds': seconds, 'cpu_s': cpu, 'rss_kb': rss, 'rc': rc,
            'rows': len(shown) if isinstance(shown, list) else None,
            'traceback': 'Traceback (most recent call last)' in err,
            'stderr': lines[-1] if lines else ''}


def sigint(env: dict, after: float, limit: float = 120) -> dict:
    """Start `openstack gpu device list`, send it SIGINT (Ctrl-C) after
    `after` seconds: how long it takes to exit, and how."""
    process = subprocess.Popen(
        [OPENSTACK] + DEVICE_LIST, env=env,
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        # As at a terminal: a bench started in the background inherits
        # SIGINT ignored, and Python then never raises KeyboardInterrupt.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    time.sleep(after)
    if process.poll() is not None:
        return {'exit_s': None, 'returncode': process.returncode,
                'note': 'finished before the signal'}
    process.send_signal(signal.SIGINT)
    sent = time.perf_counter()
    try:
        _, err = process.communicate(timeout=limit)
        exit_s = time.perf_counter() - sent
    except subprocess.TimeoutExpired:
        process.kill()
        _, err = process.communicate()
        return {'exit_s': None, 'returncode': None,
                'note': 'still running %.0f s after SIGINT: killed' % limit}
    err = err.decode(errors='replace')
    return {'exit_s': exit_s, 'returncode': process.returncode,
            'stderr_lines': len(err.strip().splitlines()),
            'traceback': 'Traceback (most recent call last)' in err,
            'stderr': err.strip()[-300:]}


def _inprocess(repeats: int) -> dict:
    from openstackclient import shell

    def cpu():
        usage = resource.getrusage(resource.RUSAGE_SELF)
        return usage.ru_utime + usage.ru_stime

    def once(argv):
        out = io.StringIO()
        started, cpu_started = time.perf_counter(), cpu()
        with contextlib.redirect_stdout(out):
            try:
                rc = shell.main(argv)
            except SystemExit as e:  # --help exits
                rc = e.code
        elapsed = time.perf_counter() - started
        if rc:
            raise SystemExit('%s failed: %s' % (' '.join(argv), rc))
        return elapsed, cpu() - cpu_started, out.getvalue()

    # The command's own cost, without the imports: the process measurement
    # covers those. A --help run and the modules the command loads on first
    # use warm them without a request, so the server counts only the runs.
    once(DEVICE_LIST[:3] + ['--help'])
    import gpuclient.access.cloud  # noqa: F401
    import gpuclient.access.compute  # noqa: F401
    import gpuclient.access.placement  # noqa: F401

    runs = [once(DEVICE_LIST) for _ in range(repeats)]
    return {'seconds': [seconds for seconds, _, _ in runs],
            'cpu_s': [cpu_s for _, cpu_s, _ in runs],
            'states': check_devices(json.loads(runs[0][2]))}


def gpuclient_inprocess(env: dict, repeats: int) -> dict:
    return _child('inprocess', env, repeats)


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
    return _child('sequential', osc_env(endpoint), repeats)


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
          threads: int = THREADS) -> tuple[float, float]:
    """Exactly the GETs `gpu device list` sent (from the server's log), in
    its two rounds (the provider listings, then every per-provider read),
    with the same concurrency: wall and client CPU seconds (this process
    does nothing else meanwhile)."""
    started = time.perf_counter()
    cpu_started = _cpu()
    for batch in _rounds(requests):
        _fetch_all(endpoint, batch, threads)
    return time.perf_counter() - started, _cpu() - cpu_started


def _http_path(repeats: int) -> dict:
    """The floor's requests sent by the plugin's own HTTP path (cloud.py's
    session, http.Service, pool.gather: its 8 threads), bodies decoded;
    nothing else of the command. Client CPU of each run."""
    from keystoneauth1 import session
    from keystoneauth1 import token_endpoint

    from gpuclient.access import cloud
    from gpuclient.access import pool

    with open(os.environ['BENCH_GETS']) as f:
        # The log's header value, 'placement 1.14': the plugin takes '1.14'.
        gets = [(path, header.split()[-1]) for path, header in json.load(f)]
    auth = token_endpoint.Token(os.environ['OS_ENDPOINT'], TOKEN)
    cpu_s = []
    for _ in range(repeats):
        placement = cloud.Cloud(cloud.lean_session(session.Session(
            auth=auth)))._service('placement')
        started = _cpu()
        for batch in _rounds(gets):
            pool.gather(lambda r: placement.get(*r), batch)
        cpu_s.append(_cpu() - started)
    return {'cpu_s': cpu_s}


def http_path(endpoint: str, requests: list[tuple[str, str]],
              repeats: int) -> list[float]:
    with tempfile.NamedTemporaryFile('w', suffix='.json') as f:
        json.dump(requests, f)
        f.flush()
        return _child('http_path', dict(osc_env(endpoint),
                                        BENCH_GETS=f.name),
                      repeats)['cpu_s']


def _rounds(requests):
    """The provider listings, then every per-provider read: the two
    rounds of `gpu device list`."""
    listings = [r for r in requests if r[0].split('?')[0].rstrip('/')
                == '/resource_providers']
    return listings, [r for r in requests if r not in listings]


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


# -- 5. commands that need Nova, on the sandbox cloud ------------------------
SANDBOX = os.path.join(BIN, 'gpu-sandbox')
IRONIC_FLAVORS = 20
# A host of the sandbox's default fleet and the alias of its GPUs.
SANDBOX_HOST, SANDBOX_ALIAS, SANDBOX_SERVERS = 'gpu-a30-1', 'a30', 2


def _make_flavors(_: int) -> dict:
    """Ironic flavors as Ironic's guide writes them (a custom class, and
    zero VCPU/RAM/disk), and one GPU flavor to boot servers with."""
    import openstack

    conn = openstack.connect()
    for i in range(IRONIC_FLAVORS):
        flavor = conn.compute.create_flavor(
            name='bm.bench-%02d' % i, ram=262144, vcpus=64, disk=1800)
        conn.compute.create_flavor_extra_specs(flavor, {
            'resources:CUSTOM_BAREMETAL_BENCH_%02d' % i: '1',
            'resources:VCPU': '0', 'resources:MEMORY_MB': '0',
            'resources:DISK_GB': '0'})
    flavor = conn.compute.create_flavor(name='bench-gpu', ram=1024, vcpus=1,
                                        disk=1)
    conn.compute.create_flavor_extra_specs(flavor, {
        'pci_passthrough:alias': '%s:1' % SANDBOX_ALIAS})
    return {'flavors': IRONIC_FLAVORS + 1}


def _sandbox_env(state: str) -> dict:
    exports = subprocess.run([SANDBOX, '--state-dir', state, 'env'],
                             stdout=subprocess.PIPE, text=True,
                             check=True).stdout
    env = {k: v for k, v in os.environ.items() if not k.startswith('OS_')}
    for line in exports.splitlines():
        if line.startswith('export ') and '=' in line:
            key, value = line[len('export '):].split('=', 1)
            env[key] = value.strip('\'"')
    return dict(env, PYTHONWARNINGS='ignore')


class Nova:
    """The project's sandbox cloud (real Keystone and Nova; its own small
    Placement unused here) as the Nova of the benchmark: the plugin's
    commands ask Nova for hypervisors (every listing), flavors and servers.
    Nova knows the sandbox's hosts, not the bench's: only the Placement
    side is at scale. Its flavors: Ironic's and one GPU flavor; its servers:
    SANDBOX_SERVERS on SANDBOX_HOST."""

    def __enter__(self):
        self.state = tempfile.mkdtemp(prefix='bench-sandbox-')
        try:
            subprocess.run([SANDBOX, '--state-dir', self.state, 'start'],
                           check=True, stdout=subprocess.DEVNULL)
            self.env = _sandbox_env(self.state)
            subprocess.run([sys.executable, __file__, 'flavors', '0'],
                           env=self.env, check=True,
                           stdout=subprocess.DEVNULL)
            for i in range(SANDBOX_SERVERS):
                subprocess.run(
                    [SANDBOX, '--state-dir', self.state, 'boot', '--wait',
                     '--flavor', 'bench-gpu', 'bench-%d' % i],
                    check=True, stdout=subprocess.DEVNULL)
            # A pre-made token, as for Placement: Keystone's share of a
            # command is the same at any scale and stays out of the figures.
            self.token = self._openstack('token', 'issue', '-c', 'id')['id']
            self.url = next(
                e['url'] for service in self._openstack('catalog', 'list')
                if service['Type'] == 'compute'
                for e in service['Endpoints'] if e['interface'] == 'public')
        except BaseException:
            self.__exit__()
            raise
        return self

    def _openstack(self, *argv):
        return json.loads(subprocess.run(
            [OPENSTACK] + list(argv) + ['-f', 'json'], env=self.env,
            stdout=subprocess.PIPE, text=True, check=True).stdout)

    def requests(self, env: dict, argv: list[str]) -> list[str]:
        """The requests a command sends Nova, as keystoneauth logs them
        with --debug (Nova's own log is not the bench's to parse)."""
        run = subprocess.run([OPENSTACK, '--debug'] + argv, env=env,
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                             stdin=subprocess.DEVNULL, text=True)
        netloc = urllib.parse.urlsplit(self.url).netloc
        sent = []
        for line in run.stderr.splitlines():
            if line.startswith('REQ: curl'):
                words = line.split()
                method, url = words[words.index('-X') + 1:][:2]
                parts = urllib.parse.urlsplit(url.strip('"'))
                if parts.netloc == netloc:
                    sent.append('%s %s' % (method, parts.path + (
                        '?' + parts.query if parts.query else '')))
        return sent

    def __exit__(self, *exc):
        subprocess.run([SANDBOX, '--state-dir', self.state, 'stop'],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        shutil.rmtree(self.state, ignore_errors=True)


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


def _child(mode: str, env: dict, repeats: int) -> dict:
    out = subprocess.run(
        [sys.executable, __file__, mode, str(repeats)],
        env=env, stdout=subprocess.PIPE, check=True,
        text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


if __name__ == '__main__':
    mode, repeats = sys.argv[1], int(sys.argv[2])
    result = {'inprocess': _inprocess, 'sequential': _sequential,
              'flavors': _make_flavors, 'http_path': _http_path}[mode](
                  repeats)
    result['rss_kb'] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps(result))
