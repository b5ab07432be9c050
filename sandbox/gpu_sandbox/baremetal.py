"""Bare-metal GPU nodes: a real Ironic beside the sandbox's Nova.

The fleet's ``baremetal:`` section lists Ironic nodes. ``gpu-sandbox
start`` then runs Ironic 39.0.0 from PyPI (API and conductor, SQLite,
fake-hardware, Keystone auth) in a virtualenv of its own, enrols the nodes
through Ironic's API as an operator would, and feeds each node's
inspection data the way the agent ramdisk sends it (``POST
/v1/continue_inspection`` while the node waits in ``inspect wait``).
cloud.py starts one more nova-compute, host ``ironic-1``, with Nova's
ironic driver, which puts one Placement provider per node.

What had to be configured, and why, is in doc/source/sandbox.rst; the
facts come from the Ironic spike (/tmp/ironic-spike/FINDINGS.md, its
run.py and ironic.conf), cited where a trap is avoided.

Restarts: Ironic's database is made afresh on every start (as Nova's and
Placement's are) and the nodes enrolled again, with the same UUIDs
(uuid5 of the node's name), so a restart gives the same cloud.
"""
from __future__ import annotations

import dataclasses
import hashlib
import os
import re
import subprocess
import sys
import time
import uuid

from gpu_sandbox.fleet import FleetError
from gpu_sandbox.fleet import refuse_unknown

VERSION = '39.0.0'
HERE = os.path.dirname(os.path.abspath(__file__))
CONSTRAINTS = os.path.join(HERE, 'constraints', 'ironic-%s.txt' % VERSION)
# Nova's service host of the compute that runs Nova's ironic driver.
COMPUTE_HOST = 'ironic-1'
# Ironic's API version for the enrolment: inventory (1.81),
# continue_inspection (1.84), inspection rules (1.96).
API_VERSION = '1.96'
# The version the agent ramdisk sends continue_inspection with (the spike:
# 1.83 gets 404 "API version 1.84 or newer is required").
RAMDISK_API_VERSION = '1.84'
# The Keystone project and users of the services (Ironic's install guide:
# configure-identity.rst); the service role in project "service" is what
# Ironic's policy lets see every node (rule:service_role).
SERVICE_PROJECT = 'service'
IRONIC_USER = 'ironic'
NOVA_USER = 'nova'
# Seconds one provision state change may take (about 1 s each, spike).
STATE_TIMEOUT = 120
NODE_NAMESPACE = uuid.UUID('6f0d5b8e-6a43-4b47-9a67-1a4c2f0c9b21')


class BaremetalError(Exception):
    pass


# -- the fleet's baremetal section -------------------------------------------

_NODE_KEYS = {'resource_class', 'traits', 'properties', 'maintenance',
              'inspection'}
_PROPERTY_KEYS = {'cpus', 'memory_mb', 'local_gb', 'cpu_arch'}
_INSPECTION_KEYS = {'pci_devices', 'inventory'}
# ironic-python-agent's pci-devices collector: a top-level pci_devices list
# (Ironic keeps it in plugin_data).
_AGENT_PCI_KEYS = {'vendor_id', 'product_id', 'class', 'revision', 'bus',
                   'numa_node_id'}
# Redfish inspection (ironic/drivers/modules/redfish/inspect.py): inside
# inventory, without bus or NUMA node.
_REDFISH_PCI_KEYS = {'vendor_id', 'product_id', 'class', 'revision',
                     'subsystem_vendor_id', 'subsystem_id'}
_RESOURCE_CLASS = re.compile(r'^[A-Za-z0-9._-]{1,80}$')
_TRAIT = re.compile(r'^CUSTOM_[A-Z0-9_]+$')
_NAME = re.compile(r'^[a-z0-9][a-z0-9.-]*$')
_BUS = re.compile(r'^[0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]$')
_HEX = re.compile(r'^[0-9a-f]+$')
_REDFISH_HEX = re.compile(r'^0x[0-9a-fA-F]+$')
_REDFISH_CLASS = re.compile(r'^[A-Za-z]+$')


@dataclasses.dataclass(frozen=True)
class Node:
    name: str
    resource_class: str
    traits: tuple[str, ...] = ()
    properties: tuple[tuple[str, object], ...] = ()
    maintenance: str | None = None      # the reason, when in maintenance
    shape: str | None = None            # 'agent', 'redfish' or no inspection
    pci_devices: tuple[tuple[tuple[str, object], ...], ...] = ()

    @property
    def uuid(self) -> str:
        return str(uuid.uuid5(NODE_NAMESPACE, self.name))

    @property
    def placement_class(self) -> str:
        """The class Nova's ironic driver puts in Placement
        (nova/virt/ironic/driver.py _node_resource, normalize_rc_name)."""
        return 'CUSTOM_' + re.sub(r'[^A-Z0-9_]', '_', self.resource_class
                                  .upper())

    @property
    def mac(self) -> str:
        """The node's one port, as its NIC's MAC."""
        digest = hashlib.sha256(self.name.encode()).digest()
        return '52:54:00:%02x:%02x:%02x' % tuple(digest[:3])

    def devices(self) -> list[dict]:
        return [dict(d) for d in self.pci_devices]

    def inspection_body(self) -> dict | None:
        """What the agent ramdisk POSTs to /v1/continue_inspection. The
        default hooks need interfaces[].name and cpu.architecture, not only
        a MAC that matches a port, or the node ends in "inspect failed"
        (spike FINDINGS.md section 3, probe_minimal.py)."""
        if self.shape is None:
            return None
        props = dict(self.properties)
        inventory = {
            'interfaces': [{'name': 'eth0', 'mac_address': self.mac,
                            'ipv4_address': None, 'has_carrier': True}],
            'cpu': {'model_name': 'Sandbox CPU', 'frequency': '2000',
                    'count': props.get('cpus', 1),
                    'architecture': props.get('cpu_arch', 'x86_64')},
            'memory': {'total': props.get('memory_mb', 1024) << 20,
                       'physical_mb': props.get('memory_mb', 1024)},
            'disks': [{'name': '/dev/nvme0n1', 'model': 'Sandbox NVMe',
                       'size': props.get('local_gb', 1) << 30,
                       'rotational': False}],
            'system_vendor': {'product_name': 'Sandbox bare metal',
                              'serial_number': self.name,
                              'manufacturer': 'gpu-sandbox'},
            'boot': {'current_boot_mode': 'uefi',
                     'pxe_interface': self.mac},
            'hostname': self.name,
        }
        if self.shape == 'redfish':
            inventory['pci_devices'] = self.devices()
            return {'inventory': inventory}
        return {'inventory': inventory, 'pci_devices': self.devices()}


def _pci(raw, allowed, where, redfish=False) -> tuple:
    refuse_unknown(raw, allowed, where)
    device = {}
    for key in sorted(raw):
        value = raw[key]
        if key == 'numa_node_id':
            if (not isinstance(value, int) or isinstance(value, bool)
                    or value < 0):
                raise FleetError('%s: numa_node_id must be a number from 0'
                                 % where)
        elif key == 'bus':
            value = str(value).lower()
            if not _BUS.match(value):
                raise FleetError('%s: bus %r is not a PCI address like '
                                 '0000:18:00.0' % (where, raw[key]))
        elif redfish:
            # as Ironic's redfish inspect writes sushy's values
            # (ironic/drivers/modules/redfish/inspect.py
            # _extract_function_info): ids '0x10DE', class a DeviceClass
            value = str(value)
            if not (_REDFISH_CLASS.match(value) if key == 'class'
                    else _REDFISH_HEX.match(value)):
                raise FleetError('%s: %s %r is not as Redfish writes it '
                                 '(0x10DE; class DisplayController)'
                                 % (where, key, value))
        else:
            # hex without 0x, as the agent writes them
            value = str(value).lower()
            if not _HEX.match(value):
                raise FleetError('%s: %s must be hex digits without 0x'
                                 % (where, key))
        device[key] = value
    for key in ('vendor_id', 'product_id', 'class'):
        if key not in device:
            raise FleetError('%s: %s is missing' % (where, key))
    for key in ('vendor_id', 'product_id'):
        if len(device[key].lower().removeprefix('0x')) != 4:
            raise FleetError('%s: %s must be 4 hex digits' % (where, key))
    return tuple(device.items())


def _node(name, raw) -> Node:

    where = 'baremetal node %s' % name
    refuse_unknown(raw, _NODE_KEYS, where)
    if not _NAME.match(str(name)):
        raise FleetError('%s: use lower-case letters, digits, "-" and "."'
                         % where)
    rc = str(raw.get('resource_class') or '')
    if not _RESOURCE_CLASS.match(rc):
        raise FleetError('%s: resource_class %r: an Ironic resource class '
                         'like baremetal.gpu-h100' % (where, rc))
    traits = raw.get('traits') or []
    if isinstance(traits, str):
        traits = traits.split(',')
    traits = tuple(str(t).strip().upper() for t in traits if str(t).strip())
    for trait in traits:
        if not _TRAIT.match(trait):
            raise FleetError('%s: trait %r must look like CUSTOM_NAME'
                             % (where, trait))
    props = raw.get('properties') or {}
    refuse_unknown(props, _PROPERTY_KEYS, where + ' properties')
    for key in ('cpus', 'memory_mb', 'local_gb'):
        value = props.get(key)
        if (not isinstance(value, int) or isinstance(value, bool)
                or value < 1):
            raise FleetError('%s: properties %s must be a number from 1'
                             % (where, key))
    props = dict(props, cpu_arch=str(props.get('cpu_arch', 'x86_64')))
    maintenance = raw.get('maintenance')
    if maintenance is not None:
        if not isinstance(maintenance, dict) or set(maintenance) != {
                'reason'} or not str(maintenance['reason'] or '').strip():
            raise FleetError('%s: maintenance takes {reason: ...}' % where)
        maintenance = str(maintenance['reason'])
    shape, devices = None, ()
    inspection = raw.get('inspection')
    if inspection is not None:
        refuse_unknown(inspection, _INSPECTION_KEYS, where + ' inspection')
        if ('pci_devices' in inspection) == ('inventory' in inspection):
            raise FleetError(
                '%s inspection: pci_devices (the agent\'s shape) or '
                'inventory: {pci_devices} (Redfish\'s shape), one of them'
                % where)
        if 'inventory' in inspection:
            shape = 'redfish'
            refuse_unknown(inspection['inventory'], {'pci_devices'},
                           where + ' inspection inventory')
            listed, allowed = (inspection['inventory'].get('pci_devices'),
                               _REDFISH_PCI_KEYS)
        else:
            shape, listed, allowed = ('agent', inspection['pci_devices'],
                                      _AGENT_PCI_KEYS)
        if not isinstance(listed, list):
            raise FleetError('%s inspection: pci_devices must be a list'
                             % where)
        devices = tuple(_pci(d, allowed, '%s inspection pci_devices[%d]'
                             % (where, i), shape == 'redfish')
                        for i, d in enumerate(listed))
        buses = [dict(d).get('bus') for d in devices if dict(d).get('bus')]
        if len(set(buses)) != len(buses):
            raise FleetError('%s: a PCI bus address is listed twice' % where)
    return Node(name=str(name), resource_class=rc, traits=traits,
                properties=tuple(sorted(props.items())),
                maintenance=maintenance, shape=shape, pci_devices=devices)


def parse(raw) -> tuple[Node, ...]:
    """The fleet's ``baremetal:`` section: {node name: node}."""

    if raw is None:
        return ()
    if not isinstance(raw, dict):
        raise FleetError('baremetal: expected a mapping of node names')
    return tuple(_node(name, node or {}) for name, node in raw.items())


# -- Ironic's virtualenv and configuration -----------------------------------

def venv_dir() -> str:
    # Beside the sandbox's own virtualenv, as releases.venv_dir does.
    return os.path.join(sys.prefix, 'ironic')


def executable(name: str) -> str:
    return os.path.join(venv_dir(), 'bin', name)


def ensure_venv(log=print) -> None:
    """Ironic's virtualenv: made on first use (about a minute), remade when
    the constraints change. Ironic's pins differ from Nova's, so it cannot
    share the sandbox's virtualenv."""
    stamp = os.path.join(venv_dir(), '.installed')
    with open(CONSTRAINTS, 'rb') as f:
        wanted = hashlib.sha256(f.read()).hexdigest()
    try:
        with open(stamp) as f:
            if f.read() == wanted:
                return
    except OSError:
        pass
    log('gpu-sandbox: making the Ironic %s virtualenv in %s (once)'
        % (VERSION, venv_dir()))
    steps = [
        [sys.executable, '-m', 'venv', '--clear', venv_dir()],
        [executable('python'), '-m', 'pip', 'install', '-q',
         '--disable-pip-version-check', '-c', CONSTRAINTS,
         'ironic==%s' % VERSION],
    ]
    for argv in steps:
        done = subprocess.run(argv, capture_output=True, text=True)
        if done.returncode:
            lines = [line for line in (done.stderr or done.stdout).splitlines()
                     if line.strip() and not line.startswith('WARNING')]
            raise BaremetalError(
                'making the Ironic virtualenv failed: %s: %s'
                % (' '.join(argv[:4]), ' | '.join(lines[-3:])))
    with open(stamp, 'w') as f:
        f.write(wanted)


IRONIC_CONF = """\
# Ironic {version} as gpu-sandbox runs it (gpu_sandbox/baremetal.py): from
# the spike's working ironic.conf (/tmp/ironic-spike/ironic.conf), with
# Keystone instead of noauth.
[DEFAULT]
host = sandbox-conductor
# API and conductor in one process tree, no message bus
rpc_transport = none
auth_strategy = keystone
# The service role in project "service" (Nova's user) sees every node:
# ironic/common/context.py sets config.service_project_name, which
# rule:service_role reads, only with this on.
rbac_service_project_name = {service_project}
rbac_service_role_elevated_access = true
# fake-hardware only, every interface listed (tools/ironic.conf.localdev
# leaves some at defaults that fake-hardware does not have)
enabled_hardware_types = fake-hardware
enabled_bios_interfaces = fake,no-bios
enabled_boot_interfaces = fake
enabled_console_interfaces = fake,no-console
enabled_deploy_interfaces = fake
enabled_firmware_interfaces = fake,no-firmware
# agent: inspection data arrives by POST /v1/continue_inspection
enabled_inspect_interfaces = agent,no-inspect
enabled_management_interfaces = fake
enabled_network_interfaces = noop
default_network_interface = noop
enabled_power_interfaces = fake
enabled_raid_interfaces = fake,no-raid
enabled_rescue_interfaces = fake,no-rescue
enabled_storage_interfaces = fake,noop
enabled_vendor_interfaces = fake,no-vendor
default_resource_class = baremetal.generic
debug = false
state_path = {state}
tempdir = {state}/tmp

[api]
host_ip = 127.0.0.1
port = {port}
api_workers = 1

[database]
connection = sqlite:///{state}/ironic.sqlite

[inspector]
# fake boot cannot boot a ramdisk: inspect unmanaged, the data then comes
# from continue_inspection (ironic/drivers/modules/inspector/interface.py)
require_managed_boot = False

[conductor]
cache_clean_up_interval = 0
automated_clean = true
sync_power_state_interval = 600
check_provision_state_interval = 60
# workers_pool_size (300) must exceed sync_power_state_workers +
# 2 * periodic_max_workers + 2, or the worker dies at start and the master
# re-forks it forever (spike FINDINGS.md section 1): keep the pool, lower
# these two.
sync_power_state_workers = 2
periodic_max_workers = 2

[deploy]
iso_master_path =

[pxe]
instance_master_path =

[vnc]
# localdev's true needs podman and a console container
enabled = false

[oslo_concurrency]
lock_path = {state}/locks

[keystone_authtoken]
auth_type = password
www_authenticate_uri = {keystone}
auth_url = {keystone}
username = {ironic_user}
password = {password}
project_name = {service_project}
user_domain_name = Default
project_domain_name = Default
region_name = RegionOne

[service_catalog]
# Ironic's own URL (agent callbacks in managed boot), without a catalog
# look-up
auth_type = password
auth_url = {keystone}
username = {ironic_user}
password = {password}
project_name = {service_project}
user_domain_name = Default
project_domain_name = Default
endpoint_override = {url}
"""


def url(data: dict) -> str:
    return 'http://127.0.0.1:%d' % data['ports']['ironic']


def state_dir(state) -> str:
    return os.path.join(state.dir, 'ironic')


def write_conf(state, data, keystone_url) -> str:
    """Ironic's database is made afresh each start: the directory is
    emptied and ironic.conf written for this start's ports."""
    import shutil

    directory = state_dir(state)
    shutil.rmtree(directory, ignore_errors=True)
    for sub in ('tmp', 'locks'):
        os.makedirs(os.path.join(directory, sub))
    path = os.path.join(directory, 'ironic.conf')
    with open(path, 'w') as f:
        f.write(IRONIC_CONF.format(
            version=VERSION, state=directory, port=data['ports']['ironic'],
            keystone=keystone_url, url=url(data), ironic_user=IRONIC_USER,
            password=data['ironic_password'],
            service_project=SERVICE_PROJECT))
    return path


def spawn(state, data, keystone_url) -> int:
    """ironic-dbsync create_schema, then `ironic` (API and conductor: a
    master and one forked worker, so gpu-sandbox stop signals the process
    group). Returns the master's pid."""
    conf = write_conf(state, data, keystone_url)
    log = open(state.log('ironic'), 'wb')
    script = ('"$1" --config-file "$3" create_schema >/dev/null && '
              'exec "$2" --config-file "$3"')
    return subprocess.Popen(
        ['sh', '-c', script, 'sh', executable('ironic-dbsync'),
         executable('ironic'), conf],
        stdout=log, stderr=log, stdin=subprocess.DEVNULL,
        start_new_session=True).pid


def compute_conf(ironic_url: str, keystone_url: str, password: str) -> dict:
    """nova.conf of the compute that runs Nova's ironic driver: Keystone
    auth as Nova's service user, Ironic's URL given (no catalog look-up, so
    a restart on new ports never reads a stale catalog)."""
    return {
        'DEFAULT': {'host': COMPUTE_HOST,
                    'compute_driver': 'ironic.IronicDriver'},
        'ironic': {
            'auth_type': 'password', 'auth_url': keystone_url,
            'username': NOVA_USER,
            'password': password,
            'project_name': SERVICE_PROJECT,
            'user_domain_name': 'Default', 'project_domain_name': 'Default',
            'region_name': 'RegionOne', 'endpoint_override': ironic_url}}


def write_nova_conf(directory, data, keystone_url) -> None:
    """compute-ironic-1.conf in the sandbox's nova.conf dump (the
    password left out)."""
    from gpu_sandbox import fleet

    conf = compute_conf(url(data), keystone_url, '(in sandbox.json)')
    with open(os.path.join(directory, 'compute-%s.conf' % COMPUTE_HOST),
              'w') as f:
        f.write(fleet.render_conf(conf))


# -- Keystone ----------------------------------------------------------------

def sync_identity(data: dict) -> None:
    """The service project, the ironic and nova service users (role
    "service" in it; Keystone's validate_token policy and Ironic's
    rule:service_role both accept it). Without Ironic this start, a
    baremetal service left in Keystone's catalog by an earlier start is
    removed, so clients see a cloud without Ironic. The catalog entry
    itself is written by client.sync_identity, as the others are."""
    from gpu_sandbox import client

    sess = client.session(data)
    base = client.urls(data['ports'])['identity']
    if 'ironic' not in data['ports']:
        for service in sess.get(base + '/services', params={
                'type': 'baremetal'}).json()['services']:
            sess.delete(base + '/services/%s' % service['id'])
        return
    project = client._ensure(sess, base, 'projects', 'project',
                             {'name': SERVICE_PROJECT},
                             {'name': SERVICE_PROJECT,
                              'domain_id': 'default'})
    role = client._ensure(sess, base, 'roles', 'role', {'name': 'service'},
                          {'name': 'service'})
    for name, key in ((IRONIC_USER, 'ironic_password'),
                      (NOVA_USER, 'nova_password')):
        user = client._ensure(sess, base, 'users', 'user', {'name': name},
                              {'name': name, 'domain_id': 'default',
                               'password': data[key]})
        # the password of this state dir, also for a Keystone kept from
        # an earlier start
        sess.patch(base + '/users/%s' % user['id'],
                   json={'user': {'password': data[key]}})
        sess.put(base + '/projects/%s/users/%s/roles/%s' % (
            project['id'], user['id'], role['id']))


def session(data: dict):
    """A system-scoped admin session: Ironic's policy lets only the system
    (or the service role) create nodes and see them all; a project-scoped
    admin sees only nodes its project owns."""
    from keystoneauth1 import session as ks_session
    from keystoneauth1.identity import v3

    from gpu_sandbox import client

    auth = v3.Password(auth_url=client.urls(data['ports'])['identity'],
                       username='admin', password=data['admin_password'],
                       user_domain_name='Default', system_scope='all')
    return ks_session.Session(auth=auth, timeout=client.REQUEST_TIMEOUT)


# -- enrolment ---------------------------------------------------------------

class Ironic:
    """Ironic's API as the operator (system admin) and the ramdisk use it."""

    def __init__(self, data: dict):
        self.data = data
        self.url = url(data)
        self.sess = session(data)

    def call(self, method, path, body=None, expect=None, version=API_VERSION,
             token=True):
        if token:
            response = self.sess.request(
                self.url + path, method, json=body, raise_exc=False,
                headers={'X-OpenStack-Ironic-API-Version': version})
        else:  # as the ramdisk: a public route, no token
            import requests

            response = requests.request(
                method, self.url + path, json=body, timeout=60,
                headers={'X-OpenStack-Ironic-API-Version': version})
        if expect is not None and response.status_code != expect:
            raise BaremetalError('Ironic %s %s: HTTP %d %s' % (
                method, path, response.status_code, response.text[:300]))
        return response.json() if response.content else None

    def ready(self) -> bool:
        """The API answers and its conductor has registered."""
        import requests

        if not requests.get(self.url + '/', timeout=2).ok:
            return False
        return bool(self.call('GET', '/v1/conductors',
                              expect=200)['conductors'])

    def provision(self, nodes, target, wanted):
        for node in nodes:
            self.call('PUT', '/v1/nodes/%s/states/provision' % node.uuid,
                      {'target': target}, expect=202)
        self.wait(nodes, wanted)

    def wait(self, nodes, wanted):
        deadline = time.monotonic() + STATE_TIMEOUT
        waiting = {n.uuid: n for n in nodes}
        while waiting:
            for node_uuid in list(waiting):
                n = self.call('GET', '/v1/nodes/%s?fields=provision_state,'
                              'target_provision_state,last_error'
                              % node_uuid, expect=200)
                # "inspect wait" keeps target_provision_state manageable
                if n['provision_state'] == wanted and (
                        wanted.endswith('wait')
                        or not n['target_provision_state']):
                    del waiting[node_uuid]
                elif n['provision_state'].endswith('failed'):
                    raise BaremetalError('node %s went to %s: %s' % (
                        waiting[node_uuid].name, n['provision_state'],
                        n['last_error']))
            if waiting and time.monotonic() > deadline:
                raise BaremetalError('nodes %s did not reach %s within %ds'
                                     % (', '.join(n.name for n in
                                                  waiting.values()),
                                        wanted, STATE_TIMEOUT))
            if waiting:
                time.sleep(0.3)

    def enrol(self, nodes) -> None:
        """enroll -> manage -> inspect (inspect wait) -> continue_inspection
        -> manageable -> provide -> available, then maintenance. Each step
        runs for every node at once. The nodes are the admin project's
        (owner): Ironic's policy lets a project-scoped token see the nodes
        its project owns, so the operator's cloud of clouds.yaml (and the
        plugin under test) sees them; with no owner only a system-scoped
        or service token would."""
        from gpu_sandbox import client

        owner = client.session(self.data).get_project_id()
        for node in nodes:
            self.call('POST', '/v1/nodes', {
                'uuid': node.uuid, 'name': node.name,
                'driver': 'fake-hardware',
                'resource_class': node.resource_class,
                'inspect_interface': 'agent', 'owner': owner,
                'properties': dict(node.properties)}, expect=201)
            if node.traits:
                self.call('PUT', '/v1/nodes/%s/traits' % node.uuid,
                          {'traits': list(node.traits)}, expect=204)
            # the port continue_inspection finds the node by
            self.call('POST', '/v1/ports', {'node_uuid': node.uuid,
                                            'address': node.mac}, expect=201)
        self.provision(nodes, 'manage', 'manageable')
        inspected = [n for n in nodes if n.shape]
        if inspected:
            self.provision(inspected, 'inspect', 'inspect wait')
            for node in inspected:
                # as the ramdisk does: no token, API 1.84
                self.call('POST', '/v1/continue_inspection?node_uuid=%s'
                          % node.uuid, node.inspection_body(), expect=202,
                          version=RAMDISK_API_VERSION, token=False)
            # the hooks run after the 202: a bad body ends in "inspect
            # failed" (spike FINDINGS.md section 3)
            self.wait(inspected, 'manageable')
        self.provide(nodes)

    def provide(self, nodes):
        self.provision(nodes, 'provide', 'available')
        for node in nodes:
            if node.maintenance:
                self.call('PUT', '/v1/nodes/%s/maintenance' % node.uuid,
                          {'reason': node.maintenance}, expect=202)


def start(data, nodes, deadline, pid, alive, log_path) -> float:
    """Wait for Ironic's API and conductor, then enrol the fleet's nodes.
    Returns the seconds the enrolment took."""
    ironic = Ironic(data)
    while True:
        if not alive(pid):
            raise BaremetalError('ironic exited during start; see %s'
                                 % log_path)
        try:
            if ironic.ready():
                break
        except Exception:
            pass
        if time.monotonic() > deadline:
            raise BaremetalError('Ironic did not answer in time; see %s'
                                 % log_path)
        time.sleep(0.25)
    started = time.monotonic()
    ironic.enrol(nodes)
    return time.monotonic() - started


def expected_providers(nodes) -> dict:
    """node UUID -> (class, reserved, traits) Placement must show: Nova's
    ironic driver reserves the node's one unit while it is in maintenance
    (or not available); traits are the node's (the resource tracker adds
    COMPUTE_NODE and, from 2026.2, OWNER_NOVA)."""
    return {n.uuid: (n.placement_class, 1 if n.maintenance else 0,
                     set(n.traits)) for n in nodes}


def wait_in_placement(sandbox, nodes, deadline) -> None:
    """Run the computes' periodic update until Placement shows every node
    as Nova's ironic driver puts it (the compute may have looked before
    the nodes were enrolled, or while they were still being cleaned)."""
    expected = expected_providers(nodes)
    sess, base = sandbox.session(), sandbox.urls['placement']

    def get(path):
        return sess.get(base + path, microversion='1.14',
                        microversion_service_type='placement').json()

    while True:
        wrong = []
        for node_uuid, (rc, reserved, traits) in expected.items():
            try:
                inventory = get('/resource_providers/%s/inventories'
                                % node_uuid)['inventories']
                have = get('/resource_providers/%s/traits'
                           % node_uuid)['traits']
            except Exception:
                wrong.append(node_uuid)
                continue
            if (set(inventory) != {rc}
                    or inventory[rc]['reserved'] != reserved
                    or not traits <= set(have)):
                wrong.append(node_uuid)
        if not wrong:
            return
        if time.monotonic() > deadline:
            names = {n.uuid: n.name for n in nodes}
            raise BaremetalError('Placement does not show bare-metal nodes '
                                 '%s as Nova puts them' % ', '.join(
                                     names[u] for u in wrong))
        sandbox.periodic()
