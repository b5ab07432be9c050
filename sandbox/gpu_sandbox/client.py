"""Talking to a running sandbox: its recorded state, Keystone sessions for
its two clouds, and the operations stock OSC cannot do here (booting a
server with no image service, running the computes' periodic update)."""
from __future__ import annotations

import json
import os
import sys
import time

ADMIN_CLOUD = 'gpu-sandbox'
MEMBER_CLOUD = 'gpu-sandbox-member'
MEMBER = {'project': 'gpu-tenant', 'user': 'gpu-member'}
# The image Nova's fake Glance serves; the sandbox has no image service.
IMAGE = '155d900f-4e14-4e4c-a73d-069cbf4541e6'
BOOT_MICROVERSION = '2.86'
# Seconds any one request to a sandbox service may wait for an answer
# (keystoneauth's default is forever, so a hung service hung the whole
# test run). Answers take milliseconds; 120 s leaves room for a 2-core
# machine busy booting servers and running periodic updates, and still
# fails the one test, not the run.
REQUEST_TIMEOUT = 120
# The control server's /periodic runs update_available_resource on every
# compute in turn (9 hosts, each a few seconds when the machine is busy).
PERIODIC_TIMEOUT = 300
# How long a server may stay in BUILD (or linger after its delete): a boot
# on 2 busy cores has taken over 60 s; 300 s fails a stuck one clearly.
SERVER_TIMEOUT = 300


class SandboxError(Exception):
    pass


def default_state_dir(prefix: str = sys.prefix,
                      base_prefix: str = sys.base_prefix) -> str:
    """$GPU_SANDBOX_STATE_DIR, else the running venv's own <venv>/var/
    gpu-sandbox, so each clone (each with its .venv) has its own sandbox;
    outside a venv, ~/.local/state/gpu-sandbox."""
    if os.environ.get('GPU_SANDBOX_STATE_DIR'):
        return os.environ['GPU_SANDBOX_STATE_DIR']
    if prefix != base_prefix:
        return os.path.join(prefix, 'var', 'gpu-sandbox')
    base = os.environ.get('XDG_STATE_HOME') or os.path.expanduser(
        '~/.local/state')
    return os.path.join(base, 'gpu-sandbox')


class State:
    """sandbox.json in the state dir: ports, pids and the admin password."""

    def __init__(self, state_dir: str | None = None):
        self.dir = os.path.abspath(state_dir or default_state_dir())
        self.path = os.path.join(self.dir, 'sandbox.json')
        self.clouds_yaml = os.path.join(self.dir, 'clouds.yaml')
        self.nova_conf_dir = os.path.join(self.dir, 'nova.conf.d')

    def read(self) -> dict:
        try:
            with open(self.path) as f:
                return json.load(f)
        except FileNotFoundError:
            return {}

    def write(self, data: dict) -> None:
        os.makedirs(self.dir, exist_ok=True)
        tmp = self.path + '.tmp'
        with open(tmp, 'w') as f:
            json.dump(data, f, indent=2)
        os.replace(tmp, self.path)

    def log(self, name: str) -> str:
        return os.path.join(self.dir, 'logs', name + '.log')


def urls(ports: dict) -> dict:
    found = {'identity': 'http://127.0.0.1:%d/v3' % ports['keystone'],
             'compute': 'http://127.0.0.1:%d/v2.1' % ports['nova'],
             'placement': 'http://127.0.0.1:%d' % ports['placement'],
             'control': 'http://127.0.0.1:%d' % ports['control']}
    if 'ironic' in ports:  # a fleet with bare-metal nodes (baremetal.py)
        found['baremetal'] = 'http://127.0.0.1:%d' % ports['ironic']
    return found


def clouds_yaml(data: dict) -> str:
    auth_url = urls(data['ports'])['identity']
    clouds = {}
    for cloud, user, project, password in (
            (ADMIN_CLOUD, 'admin', 'admin', data['admin_password']),
            (MEMBER_CLOUD, MEMBER['user'], MEMBER['project'],
             data['member_password'])):
        clouds[cloud] = {
            'auth': {'auth_url': auth_url, 'username': user,
                     'password': password, 'project_name': project,
                     'user_domain_name': 'Default',
                     'project_domain_name': 'Default'},
            'region_name': 'RegionOne', 'identity_api_version': 3}
    import yaml

    return yaml.safe_dump({'clouds': clouds}, default_flow_style=False)


def session(data: dict, cloud: str = ADMIN_CLOUD):
    from keystoneauth1 import session as ks_session
    from keystoneauth1.identity import v3

    if cloud == ADMIN_CLOUD:
        user, project, password = 'admin', 'admin', data['admin_password']
    else:
        user, project = MEMBER['user'], MEMBER['project']
        password = data['member_password']
    auth = v3.Password(auth_url=urls(data['ports'])['identity'],
                       username=user, password=password, project_name=project,
                       user_domain_name='Default',
                       project_domain_name='Default')
    return ks_session.Session(auth=auth, timeout=REQUEST_TIMEOUT)


def nova_error(response) -> str:
    """Nova's reason from an error response: its body is
    {"badRequest": {"message": ..., "code": 400}} (any fault name)."""
    try:
        [fault] = response.json().values()
        message = fault['message']
    except Exception:
        message = response.text.strip()[:200] or response.reason
    return '%s (HTTP %d)' % (message, response.status_code)


def _ensure(sess, base, collection, key, match, body):
    """Find one Keystone record by `match` or create it from `body`."""
    found = sess.get('%s/%s' % (base, collection), params=match).json()
    if found[collection]:
        return found[collection][0]
    return sess.post('%s/%s' % (base, collection),
                     json={key: body}).json()[key]


def sync_identity(data: dict) -> None:
    """Catalog entries for this start's ports, and the member's account.

    Idempotent: Keystone's database outlives restarts, ports may not.
    """
    sess = session(data)
    # Straight to this start's Keystone, not through its catalog: the
    # catalog may still name the port of the previous start.
    service_urls = urls(data['ports'])
    base = service_urls['identity']
    services = [('identity', 'keystone'), ('compute', 'nova'),
                ('placement', 'placement')]
    if 'baremetal' in service_urls:
        services.append(('baremetal', 'ironic'))
    for stype, name in services:
        service = _ensure(sess, base, 'services', 'service', {'type': stype},
                          {'type': stype, 'name': name, 'enabled': True})
        endpoints = sess.get(base + '/endpoints', params={
            'service_id': service['id']}).json()['endpoints']
        have = {e['interface']: e for e in endpoints}
        for interface in ('public', 'internal', 'admin'):
            endpoint = have.get(interface)
            if endpoint is None:
                sess.post(base + '/endpoints', json={
                    'endpoint': {'service_id': service['id'],
                                 'interface': interface,
                                 'url': service_urls[stype],
                                 'region_id': 'RegionOne'}})
            elif endpoint['url'] != service_urls[stype]:
                sess.patch(base + '/endpoints/%s' % endpoint['id'],
                           json={'endpoint': {'url': service_urls[stype]}})
    project = _ensure(sess, base, 'projects', 'project',
                      {'name': MEMBER['project']},
                      {'name': MEMBER['project'], 'domain_id': 'default'})
    user = _ensure(sess, base, 'users', 'user', {'name': MEMBER['user']},
                   {'name': MEMBER['user'], 'domain_id': 'default',
                    'password': data['member_password']})
    role = _ensure(sess, base, 'roles', 'role', {'name': 'member'},
                   {'name': 'member'})
    sess.put(base + '/projects/%s/users/%s/roles/%s' % (
        project['id'], user['id'], role['id']))


class Sandbox:
    """A running sandbox, for the CLI's boot/periodic and for tests."""

    def __init__(self, state_dir: str | None = None):
        self.state = State(state_dir)
        self.data = self.state.read()
        if not self.data.get('ports'):
            raise SandboxError('no sandbox in %s: run "gpu-sandbox start"'
                               % self.state.dir)
        self.urls = urls(self.data['ports'])
        self._sessions = {}

    @property
    def release(self):
        """The releases.Release this sandbox runs."""
        from gpu_sandbox import releases

        return releases.get(self.data.get('release'))

    def session(self, cloud: str = ADMIN_CLOUD):
        if cloud not in self._sessions:
            self._sessions[cloud] = session(self.data, cloud)
        return self._sessions[cloud]

    def compute(self, method, path, cloud=ADMIN_CLOUD, **kwargs):
        return self.session(cloud).request(
            self.urls['compute'] + path, method,
            microversion=BOOT_MICROVERSION,
            microversion_service_type='compute', **kwargs)

    def periodic(self, refresh_provider_cache: bool = False) -> float:
        """Run every compute's update_available_resource now; with
        refresh_provider_cache, as Nova runs it once its provider cache is
        due for a refresh (or after a compute restart)."""
        import requests

        r = requests.post(self.urls['control'] + '/periodic',
                          timeout=PERIODIC_TIMEOUT,
                          params={'refresh_provider_cache': 1}
                          if refresh_provider_cache else None)
        r.raise_for_status()
        return r.json()['seconds']

    def set_vfs(self, host: str, enabled: bool) -> None:
        """Reboot-like: the host's vGPU GPUs lose their VFs (enabled
        False, as with no sriov-manage at boot) or have them back, in its
        fake libvirt and sysfs copy; then every compute's update runs."""
        import requests

        r = requests.post(self.urls['control'] + '/vfs',
                          timeout=PERIODIC_TIMEOUT,
                          params={'host': host, 'enabled': int(enabled)})
        r.raise_for_status()

    def flavor_id(self, flavor: str, cloud=ADMIN_CLOUD) -> str:
        flavors = self.compute('GET', '/flavors?is_public=None',
                               cloud=cloud).json()['flavors']
        for f in flavors:
            if flavor in (f['id'], f['name']):
                return f['id']
        raise SandboxError('no flavor %r' % flavor)

    def boot(self, name: str, flavor: str, cloud=ADMIN_CLOUD) -> dict:
        body = {'server': {'name': name, 'flavorRef': self.flavor_id(flavor),
                           'imageRef': IMAGE, 'networks': 'none'}}
        response = self.compute('POST', '/servers', json=body, cloud=cloud,
                                raise_exc=False)
        if response.status_code >= 400:
            raise SandboxError('Nova refused the server: %s'
                               % nova_error(response))
        return response.json()['server']

    def wait(self, server_id: str, timeout: float = SERVER_TIMEOUT,
             cloud=ADMIN_CLOUD) -> dict:
        """Wait until the server leaves BUILD; return its final record."""
        deadline = time.monotonic() + timeout
        while True:
            server = self.compute('GET', '/servers/%s' % server_id,
                                  cloud=cloud).json()['server']
            if server['status'] != 'BUILD':
                return server
            if time.monotonic() > deadline:
                raise SandboxError(
                    'server %s still in BUILD after %ds (last seen: %s)'
                    % (server_id, timeout, _server_state(server)))
            time.sleep(0.3)

    def delete(self, server_id: str, timeout: float = SERVER_TIMEOUT,
               cloud=ADMIN_CLOUD) -> None:
        """Delete a server and wait until Nova no longer knows it."""
        from keystoneauth1 import exceptions

        deadline = time.monotonic() + timeout
        try:
            self.compute('DELETE', '/servers/%s' % server_id, cloud=cloud)
            while True:
                server = self.compute('GET', '/servers/%s' % server_id,
                                      cloud=cloud).json()['server']
                if time.monotonic() > deadline:
                    break
                time.sleep(0.3)
        except exceptions.NotFound:
            return
        raise SandboxError('server %s still exists %ds after its delete '
                           '(last seen: %s)' % (server_id, timeout,
                                                _server_state(server)))


def _server_state(server: dict) -> str:
    """A server's status and, as admin sees them, its task and VM state."""
    return 'status %s, task state %s, vm state %s' % (
        server.get('status'), server.get('OS-EXT-STS:task_state'),
        server.get('OS-EXT-STS:vm_state'))
