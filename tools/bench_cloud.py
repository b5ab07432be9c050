"""The benchmark's cloud: a real Placement on SQLite, seeded in the shape of
a production GPU cloud and served by gunicorn with two worker processes,
as production serves it. Besides its 8 GPUs (Nova's, or Cyborg's on 5% of
the hosts), every host's tree holds a NIC Nova passes through and
Neutron's bandwidth providers, as those services write them.

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

SEED_VERSION = 2  # bump when the shape changes: cached databases re-seed
GPUS_PER_HOST = 8
ALLOCATED = 0.60
ONE_TIME_USE = 0.05
# One host in CYBORG_EVERY (5%) has its GPUs managed by Cyborg, not Nova.
CYBORG_EVERY = 20
# Bus numbers of an 8-GPU server (a DGX-like board).
BUSES = (0x18, 0x2A, 0x3A, 0x5D, 0x9A, 0xAB, 0xBA, 0xDB)
# A mix of models, one per host, as fleets are bought.
PCI_CLASSES = ('CUSTOM_PCI_10DE_20B7', 'CUSTOM_PCI_10DE_20B5',
               'CUSTOM_PCI_10DE_2330', 'CUSTOM_PCI_10DE_26B9')
# Nova (resource_tracker, pci_placement_translator): OWNER_NOVA on roots
# and on PCI children; COMPUTE_MANAGED_PCI_DEVICE on every PCI child.
GPU_TRAITS = ['COMPUTE_MANAGED_PCI_DEVICE', 'OWNER_NOVA']
HOST_TRAITS = ['COMPUTE_NODE', 'HW_CPU_X86_AVX2', 'OWNER_NOVA']
HOST_INVENTORY = {'VCPU': 128, 'MEMORY_MB': 1048576, 'DISK_GB': 3500}
SERVER_RESOURCES = {'VCPU': 8, 'MEMORY_MB': 65536, 'DISK_GB': 100}
# Besides its GPUs, every host has one more device Nova passes through: an
# Intel X710 NIC (not a GPU), named and traited as Nova names PCI devices.
NIC = {'address': '0000:3B:00.0', 'resource_class': 'CUSTOM_PCI_8086_1572',
       'traits': GPU_TRAITS}
# Cyborg (nova-placement-facts.md, "Other services"): a GPU is a child of
# the compute root named <host>_<pci address> (as the device reports it,
# lower case), uuid3(NAMESPACE_DNS, name), class PGPU, traits OWNER_CYBORG
# and CUSTOM_NVIDIA_<product>: here T4s (10de:1eb8).
CYBORG_CLASS = 'PGPU'
CYBORG_TRAITS = ['OWNER_CYBORG', 'CUSTOM_NVIDIA_1EB8']
# Neutron's minimum-bandwidth providers (neutron placement_report, same
# note): a child of the root per agent, '<host>:Open vSwitch agent', with a
# child per bridge, '<agent>:br-ex', holding the bandwidth inventories.
AGENT = 'Open vSwitch agent'
BRIDGE = 'br-ex'
AGENT_TRAITS = ['CUSTOM_VNIC_TYPE_NORMAL']
BRIDGE_TRAITS = ['CUSTOM_PHYSNET_PHYSNET1', 'CUSTOM_VNIC_TYPE_NORMAL']
BRIDGE_INVENTORY = {'NET_BW_EGR_KILOBIT_PER_SEC': 10000000,
                    'NET_BW_IGR_KILOBIT_PER_SEC': 10000000}
CUSTOM_CLASSES = PCI_CLASSES + (NIC['resource_class'],)
CUSTOM_TRAITS = (CYBORG_TRAITS[1:] + AGENT_TRAITS + BRIDGE_TRAITS)
HOSTS_PER_RESHAPE = 25
WORKERS = 2
THREADS_PER_WORKER = 4
# Placement's namespace for the bench's UUIDs: the same seed, the same ids.
NAMESPACE = uuid.UUID('5f0c8a52-5d0e-4e0a-9a41-6c1b0d6a8b01')


def _id(*parts) -> str:
    return str(uuid.uuid5(NAMESPACE, '/'.join(map(str, parts))))


def plan(n: int) -> dict:
    """The fleet for N GPU providers: hosts, their GPUs (Nova's, or
    Cyborg's on 5% of the hosts), which are one-time-use (reserved, awaiting
    scrubbing) and which are held by a server; and each host's providers
    that are not GPUs (`others`: a NIC, Neutron's agent and bridge)."""
    hosts = []
    for h in range(-(-n // GPUS_PER_HOST)):
        name = 'gpu-node-%04d' % (h + 1)
        cyborg = h % CYBORG_EVERY == CYBORG_EVERY // 2
        # The last host has fewer GPUs when N is not a multiple of 8.
        buses = BUSES[:n - h * GPUS_PER_HOST]
        if cyborg:
            gpus = []
            for bus in buses:
                gpu_name = '%s_0000:%02x:00.0' % (name, bus)
                gpus.append({
                    'name': gpu_name, 'resource_class': CYBORG_CLASS,
                    'uuid': str(uuid.uuid3(uuid.NAMESPACE_DNS, gpu_name)),
                    'traits': CYBORG_TRAITS, 'owner': 'cyborg'})
        else:
            resource_class = PCI_CLASSES[h % len(PCI_CLASSES)]
            gpus = [{'name': '%s_0000:%02X:00.0' % (name, bus),
                     'uuid': _id(name, bus), 'resource_class': resource_class,
                     'traits': GPU_TRAITS, 'owner': 'nova'}
                    for bus in buses]
        agent = '%s:%s' % (name, AGENT)
        others = [
            {'name': '%s_%s' % (name, NIC['address']),
             'uuid': _id(name, 'nic'), 'traits': NIC['traits'],
             'inventory': {NIC['resource_class']: 1}},
            {'name': agent, 'uuid': _id(name, 'agent'),
             'traits': AGENT_TRAITS, 'inventory': {}},
            {'name': '%s:%s' % (agent, BRIDGE), 'uuid': _id(name, BRIDGE),
             'parent': _id(name, 'agent'), 'traits': BRIDGE_TRAITS,
             'inventory': BRIDGE_INVENTORY}]
        hosts.append({'name': name, 'uuid': _id(name), 'gpus': gpus,
                      'others': others, 'cyborg': cyborg})
    every = [g for host in hosts for g in host['gpus']]
    rng = random.Random(n)
    # HW_PCI_ONE_TIME_USE is Nova's: 5% of all GPUs, among Nova's.
    one_time_use = rng.sample([g for g in every if g['owner'] == 'nova'],
                              round(n * ONE_TIME_USE))
    for gpu in one_time_use:
        gpu['one_time_use'] = True
    free = [g for g in every if not g.get('one_time_use')]
    for i, gpu in enumerate(rng.sample(free, round(n * ALLOCATED))):
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

    def create(provider, parent):
        _call(app, 'POST', '/resource_providers', '1.20',
              {'name': provider['name'], 'uuid': provider['uuid'],
               'parent_provider_uuid': parent})

    def set_traits(uuid, traits):
        # Traits first: each write bumps the generation the reshape needs.
        generations[uuid] = _call(
            app, 'PUT', '/resource_providers/%s/traits' % uuid, '1.6',
            {'resource_provider_generation': 0, 'traits': traits}
        )['resource_provider_generation']

    for host in hosts:
        create(host, None)
        for child in host['gpus'] + host['others']:
            create(child, child.get('parent', host['uuid']))
        set_traits(host['uuid'], HOST_TRAITS)
        for gpu in host['gpus']:
            set_traits(gpu['uuid'], gpu['traits'] + (
                ['HW_PCI_ONE_TIME_USE'] if gpu.get('one_time_use') else []))
        for other in host['others']:
            set_traits(other['uuid'], other['traits'])
    # Inventories and the servers' allocations in one atomic request per
    # batch of hosts, as Nova's reshaper would write them.
    inventories, allocations = {}, {}

    def inventory(uuid, records):
        inventories[uuid] = {
            'resource_provider_generation': generations[uuid],
            'inventories': records}

    for host in hosts:
        inventory(host['uuid'], {rc: {'total': total}
                                 for rc, total in HOST_INVENTORY.items()})
        for other in host['others']:
            if other['inventory']:
                inventory(other['uuid'], {
                    rc: {'total': total}
                    for rc, total in other['inventory'].items()})
        for gpu in host['gpus']:
            reserved = 1 if gpu.get('one_time_use') else 0
            inventory(gpu['uuid'], {gpu['resource_class']: {
                'total': 1, 'reserved': reserved}})
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
    for rc in CUSTOM_CLASSES:
        _call(app, 'PUT', '/resource_classes/%s' % rc, '1.7')
    for trait in CUSTOM_TRAITS:
        _call(app, 'PUT', '/traits/%s' % trait, '1.6')
    for i in range(0, len(hosts), HOSTS_PER_RESHAPE):
        _seed_hosts(app, hosts[i:i + HOSTS_PER_RESHAPE],
                    _id('project'), _id('user'))
    gpus = [g for host in hosts for g in host['gpus']]
    return {'seed_version': SEED_VERSION, 'n': n, 'hosts': len(hosts),
            'gpus': len(gpus),
            'cyborg_hosts': sum(host['cyborg'] for host in hosts),
            'cyborg_gpus': sum(g['owner'] == 'cyborg' for g in gpus),
            'other_providers': sum(len(host['others']) for host in hosts),
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
        policy = os.path.join(self.workdir, 'policy.yaml')
        with open(policy, 'w') as f:
            # noauth2 makes the token the user: Keystone's tokens (that
            # Nova needs, see bench_ways.Clients) get no role. Every rule
            # of Placement's API is "admin or service": allow it.
            f.write('"admin_or_service_api": "@"\n'
                    '"admin_or_project_reader_or_service_api": "@"\n')
        with open(os.path.join(self.workdir, 'placement.conf'), 'w') as f:
            f.write('[api]\nauth_strategy = noauth2\n'
                    '[oslo_policy]\npolicy_file = %s\n'
                    '[placement_database]\nconnection = sqlite:///%s\n'
                    % (policy, self.database))
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

    def requests_since(self, position: int) -> list[tuple[str, str, str,
                                                          int]]:
        """(method, path, microversion, status) of each request logged
        since position. Workers log after answering: wait for the log to
        settle. A server error stops the bench."""
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
            if status.startswith('5'):
                raise RuntimeError('Placement answered %s: %s'
                                   % (status, line))
            requests.append((method, path.rstrip('?'),
                             '' if microversion == '-' else microversion,
                             int(status)))
        return requests


if __name__ == '__main__' and sys.argv[1:2] == ['seed']:
    print(json.dumps(seed(sys.argv[2], int(sys.argv[3]))))
