"""The benchmark's cloud: a real Placement on SQLite, seeded in Nova's shape
and served by gunicorn with two worker processes, as production serves it.

Seeding calls the real Placement WSGI application in-process (its real
request handling, as placement.direct does, without a socket) with one
writer: HTTP seeding with several writers hits SQLite's "database is
locked" (see the calibration note). A seeded database is kept per size
under .bench/ and reused.
"""
from __future__ import annotations

import json
import os
import random
import socket
import subprocess
import sys
import time
import urllib.request
import uuid

SEED_VERSION = 1  # bump when the shape changes: cached databases re-seed
GPUS_PER_HOST = 8
ALLOCATED = 0.60
ONE_TIME_USE = 0.05
# Bus numbers of an 8-GPU server (a DGX-like board).
BUSES = (0x18, 0x2A, 0x3A, 0x5D, 0x9A, 0xAB, 0xBA, 0xDB)
# A mix of models, one per host, as fleets are bought.
PCI_CLASSES = ('CUSTOM_PCI_10DE_20B7', 'CUSTOM_PCI_10DE_20B5',
               'CUSTOM_PCI_10DE_2330', 'CUSTOM_PCI_10DE_26B9')
GPU_TRAITS = ['COMPUTE_MANAGED_PCI_DEVICE', 'OWNER_NOVA']
HOST_TRAITS = ['COMPUTE_NODE', 'HW_CPU_X86_AVX2']
HOST_INVENTORY = {'VCPU': 128, 'MEMORY_MB': 1048576, 'DISK_GB': 3500}
SERVER_RESOURCES = {'VCPU': 8, 'MEMORY_MB': 65536, 'DISK_GB': 100}
HOSTS_PER_RESHAPE = 25
WORKERS = 2
THREADS_PER_WORKER = 4
# Placement's namespace for the bench's UUIDs: the same seed, the same ids.
NAMESPACE = uuid.UUID('5f0c8a52-5d0e-4e0a-9a41-6c1b0d6a8b01')


def _id(*parts) -> str:
    return str(uuid.uuid5(NAMESPACE, '/'.join(map(str, parts))))


def plan(n: int) -> dict:
    """The fleet for N GPUs: hosts, their GPUs, which are one-time-use
    (reserved, awaiting scrubbing) and which are held by a server."""
    hosts = []
    for h in range(-(-n // GPUS_PER_HOST)):
        name = 'gpu-node-%04d' % (h + 1)
        resource_class = PCI_CLASSES[h % len(PCI_CLASSES)]
        # The last host has fewer GPUs when N is not a multiple of 8.
        buses = BUSES[:n - h * GPUS_PER_HOST]
        gpus = [{'name': '%s_0000:%02X:00.0' % (name, bus),
                 'uuid': _id(name, bus), 'resource_class': resource_class}
                for bus in buses]
        hosts.append({'name': name, 'uuid': _id(name), 'gpus': gpus})
    every = [g for host in hosts for g in host['gpus']]
    rng = random.Random(n)
    chosen = rng.sample(every, round(n * (ALLOCATED + ONE_TIME_USE)))
    for gpu in chosen[:round(n * ONE_TIME_USE)]:
        gpu['one_time_use'] = True
    for i, gpu in enumerate(chosen[round(n * ONE_TIME_USE):]):
        gpu['consumer'] = _id('server', n, i)
    return {'n': n, 'hosts': hosts}


def _config(database: str):
    from oslo_config import cfg
    from placement import conf

    config = cfg.ConfigOpts()
    conf.register_opts(config)
    config.set_default('connection', 'sqlite:///' + database,
                       group='placement_database')
    config.set_default('sync_on_startup', True, group='placement_database')
    config([], default_config_files=[])
    return config


def _call(app, method, path, microversion, body=None):
    import webob

    request = webob.Request.blank(path, method=method, headers={
        'OpenStack-API-Version': 'placement %s' % microversion,
        # noauth2 takes roles from X-Roles; the reshaper is for services.
        'X-Auth-Token': 'admin', 'X-Roles': 'admin,service'})
    if body is not None:
        request.content_type = 'application/json'
        request.json_body = body
    response = request.get_response(app)
    if response.status_code >= 400:
        raise RuntimeError('seeding: %s %s -> %d %s' % (
            method, path, response.status_code, response.text[:300]))
    return response.json_body if response.body else None


def _seed_hosts(app, hosts, project, user) -> None:
    generations = {}
    for host in hosts:
        _call(app, 'POST', '/resource_providers', '1.20',
              {'name': host['name'], 'uuid': host['uuid']})
        for gpu in host['gpus']:
            _call(app, 'POST', '/resource_providers', '1.20',
                  {'name': gpu['name'], 'uuid': gpu['uuid'],
                   'parent_provider_uuid': host['uuid']})
        # Traits first: each write bumps the generation the reshape needs.
        generations[host['uuid']] = _call(
            app, 'PUT', '/resource_providers/%s/traits' % host['uuid'],
            '1.6', {'resource_provider_generation': 0,
                    'traits': HOST_TRAITS})['resource_provider_generation']
        for gpu in host['gpus']:
            traits = GPU_TRAITS + (['HW_PCI_ONE_TIME_USE']
                                   if gpu.get('one_time_use') else [])
            generations[gpu['uuid']] = _call(
                app, 'PUT', '/resource_providers/%s/traits' % gpu['uuid'],
                '1.6', {'resource_provider_generation': 0, 'traits': traits}
            )['resource_provider_generation']
    # Inventories and the servers' allocations in one atomic request per
    # batch of hosts, as Nova's reshaper would write them.
    inventories, allocations = {}, {}
    for host in hosts:
        inventories[host['uuid']] = {
            'resource_provider_generation': generations[host['uuid']],
            'inventories': {rc: {'total': total}
                            for rc, total in HOST_INVENTORY.items()}}
        for gpu in host['gpus']:
            reserved = 1 if gpu.get('one_time_use') else 0
            inventories[gpu['uuid']] = {
                'resource_provider_generation': generations[gpu['uuid']],
                'inventories': {gpu['resource_class']: {
                    'total': 1, 'reserved': reserved}}}
            if 'consumer' in gpu:
                allocations[gpu['consumer']] = {
                    'allocations': {
                        host['uuid']: {'resources': SERVER_RESOURCES},
                        gpu['uuid']: {'resources': {
                            gpu['resource_class']: 1}}},
                    'project_id': project, 'user_id': user,
                    'consumer_generation': None}
    _call(app, 'POST', '/reshaper', '1.36',
          {'inventories': inventories, 'allocations': allocations})


def seed(database: str, n: int) -> dict:
    """Create the fleet for N GPUs in a new SQLite file through the
    Placement API, in-process; returns what was made."""
    import sqlalchemy
    from placement import db_api
    from placement import deploy

    started = time.monotonic()
    config = _config(database)
    config.set_override('auth_strategy', 'noauth2', group='api')
    db_api.configure(config)

    def no_fsync(connection, record):
        # A seed cut short is thrown away whole: no need to sync each write
        # or keep a journal file (both per connection: the file served
        # later is a plain SQLite database).
        connection.execute('PRAGMA synchronous = OFF')
        connection.execute('PRAGMA journal_mode = MEMORY')

    sqlalchemy.event.listen(db_api.get_placement_engine(), 'connect',
                            no_fsync)
    app = deploy.loadapp(config)
    hosts = plan(n)['hosts']
    for rc in PCI_CLASSES:
        _call(app, 'PUT', '/resource_classes/%s' % rc, '1.7')
    for i in range(0, len(hosts), HOSTS_PER_RESHAPE):
        _seed_hosts(app, hosts[i:i + HOSTS_PER_RESHAPE],
                    _id('project'), _id('user'))
    gpus = [g for host in hosts for g in host['gpus']]
    return {'seed_version': SEED_VERSION, 'n': n, 'hosts': len(hosts),
            'gpus': len(gpus),
            'allocated': sum('consumer' in g for g in gpus),
            'one_time_use': sum(bool(g.get('one_time_use')) for g in gpus),
            'seconds': round(time.monotonic() - started, 1)}


def seeded_databases(directory: str, sizes,
                     log=lambda message: None) -> dict[int, tuple[str, dict]]:
    """The seeded database of each size, seeding those absent or of an
    older shape, all at once (one child process each: the in-process API
    holds global state; each writes its own file)."""
    found, seeding = {}, {}
    for n in sizes:
        database = os.path.join(directory, 'placement-%d.sqlite' % n)
        try:
            with open(database[:-len('.sqlite')] + '.json') as f:
                made = json.load(f)
            if made.get('seed_version') == SEED_VERSION and os.path.exists(
                    database):
                found[n] = database, dict(made, reused=True)
                continue
        except (OSError, ValueError):
            pass
        partial = database + '.partial'
        if os.path.exists(partial):
            os.unlink(partial)
        log('N=%d: seeding a new database (a few minutes at N=5000)' % n)
        seeding[n] = database, subprocess.Popen(
            [sys.executable, __file__, 'seed', partial, str(n)],
            stdout=subprocess.PIPE, text=True)
    for n, (database, process) in seeding.items():
        out, _ = process.communicate()
        if process.returncode:
            raise RuntimeError('seeding N=%d failed' % n)
        made = json.loads(out.strip().splitlines()[-1])
        os.replace(database + '.partial', database)
        with open(database[:-len('.sqlite')] + '.json', 'w') as f:
            json.dump(made, f)
        found[n] = database, dict(made, reused=False)
    return found


def free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


class Server:
    """Placement on a seeded database under gunicorn (gthread workers), with
    an access log that counts requests on the server side."""

    def __init__(self, database: str, workdir: str):
        self.database = database
        self.workdir = workdir
        self.port = free_port()
        self.endpoint = 'http://127.0.0.1:%d' % self.port
        self.access_log = os.path.join(workdir, 'access.log')
        self.process = None

    def __enter__(self):
        os.makedirs(self.workdir, exist_ok=True)
        with open(os.path.join(self.workdir, 'placement.conf'), 'w') as f:
            f.write('[api]\nauth_strategy = noauth2\n'
                    '[placement_database]\nconnection = sqlite:///%s\n'
                    % self.database)
        if os.path.exists(self.access_log):
            os.unlink(self.access_log)
        env = dict(os.environ, OS_PLACEMENT_CONFIG_DIR=self.workdir)
        self.process = subprocess.Popen(
            [os.path.join(os.path.dirname(sys.executable), 'gunicorn'),
             '--worker-class', 'gthread', '--workers', str(WORKERS),
             '--threads', str(THREADS_PER_WORKER),
             '--bind', '127.0.0.1:%d' % self.port, '--no-control-socket',
             '--access-logfile', self.access_log,
             '--access-logformat',
             '%(m)s %(U)s?%(q)s %(s)s %({openstack-api-version}i)s',
             '--error-logfile', os.path.join(self.workdir, 'error.log'),
             'placement.wsgi:init_application()'],
            env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while True:
            try:
                # Every worker must be up: ask until both have answered.
                for _ in range(WORKERS * 4):
                    urllib.request.urlopen(self.endpoint + '/', timeout=5)
                break
            except OSError:
                if self.process.poll() is not None or (
                        time.monotonic() > deadline):
                    self.__exit__()
                    raise RuntimeError('Placement did not start; see %s'
                                       % self.workdir)
                time.sleep(0.3)
        self.requests_since(0)  # let the probes' log lines land first
        return self

    def __exit__(self, *exc):
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def log_position(self) -> int:
        try:
            return os.path.getsize(self.access_log)
        except OSError:
            return 0

    def requests_since(self, position: int) -> list[tuple[str, str, str]]:
        """(method, path, microversion) of each request logged since
        position. Workers log after answering: wait for the log to settle."""
        size = -1
        while size != self.log_position():
            size = self.log_position()
            time.sleep(0.5)
        with open(self.access_log) as f:
            f.seek(position)
            lines = f.read().splitlines()
        requests = []
        for line in lines:
            # GET /path?query 200 placement 1.14  (or "-": no microversion)
            method, path, status, microversion = line.split(' ', 3)
            if status != '200':
                raise RuntimeError('Placement answered %s: %s'
                                   % (status, line))
            requests.append((method, path.rstrip('?'),
                             '' if microversion == '-' else microversion))
        return requests

if __name__ == '__main__' and sys.argv[1:2] == ['seed']:
    print(json.dumps(seed(sys.argv[2], int(sys.argv[3]))))
