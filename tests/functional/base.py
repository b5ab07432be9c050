"""Functional tests: the real ``openstack`` shell, in-process, against the
sandbox cloud (real Keystone, Placement and Nova with simulated GPUs).

``make test`` starts one sandbox for the whole run and names its state dir
in GPU_SANDBOX_STATE_DIR. Tests share it and run one at a time, so each
test puts back what it changes (servers, flavors, reserved devices).
"""
import contextlib
import io
import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid

import fixtures
import testtools
import yaml

from gpu_sandbox import client

H100_CLASS = 'CUSTOM_PCI_10DE_2330'
# Seconds one in-process `openstack` run may take before its test fails,
# so a hung command fails that test instead of hanging the whole run. The
# plugin's own requests give up after 60 s (gpuclient.access.http); a command
# makes a few of them, plus Keystone's, on a busy 2-core machine.
OPENSTACK_TIMEOUT = 300


class CommandHung(Exception):
    pass


class SandboxTestCase(testtools.TestCase):
    _sandbox = None

    @classmethod
    def sandbox(cls) -> client.Sandbox:
        if SandboxTestCase._sandbox is None:
            SandboxTestCase._sandbox = client.Sandbox(
                os.environ.get('GPU_SANDBOX_STATE_DIR'))
        return SandboxTestCase._sandbox

    def setUp(self):
        super().setUp()
        self.useFixture(fixtures.EnvironmentVariable(
            'OS_CLIENT_CONFIG_FILE', self.sandbox().state.clouds_yaml))
        for name in ('OS_CLOUD', 'OS_AUTH_URL', 'OS_TOKEN', 'OS_AUTH_TYPE'):
            self.useFixture(fixtures.EnvironmentVariable(name))

    # -- the shell -----------------------------------------------------------
    def run_openstack(self, *args, cloud=client.ADMIN_CLOUD, gpu_client=None):
        """(exit code, stdout, stderr) of one in-process ``openstack`` run.

        gpu_client: a gpuclient.access.cloud.Cloud for ``openstack gpu`` to use
        instead of the one it builds (e.g. with a Placement subclass that
        makes a real concurrent write).
        """
        from openstackclient import shell
        from osc_lib import clientmanager

        # OSC caches plugin clients on the ClientManager class, i.e. for the
        # whole process: a run must not reuse the previous run's credentials.
        for attr in vars(clientmanager.ClientManager).values():
            if isinstance(attr, clientmanager.ClientCache):
                attr._handle = None
        if gpu_client is not None:
            vars(clientmanager.ClientManager)['gpu']._handle = gpu_client
        stdout, stderr = io.StringIO(), io.StringIO()
        with fixtures.MonkeyPatch('sys.stdout', stdout), \
                fixtures.MonkeyPatch('sys.stderr', stderr), \
                _hang_alarm() as hung:
            try:
                code = shell.main(['--os-cloud', cloud]
                                  + [str(a) for a in args])
            except CommandHung:
                pass   # (cliff usually catches it and returns 1)
        if hung:
            self.fail('openstack %s did not finish within %ds; its stderr:\n%s'
                      % (' '.join(map(str, args)), OPENSTACK_TIMEOUT,
                         stderr.getvalue()))
        return code, stdout.getvalue(), stderr.getvalue()

    def gpu(self, *args, cloud=client.ADMIN_CLOUD):
        """Parsed ``-f json`` output of ``openstack gpu ...``; fails the
        test on a non-zero exit."""
        code, out, err = self.run_openstack('gpu', *args, '-f', 'json',
                                            cloud=cloud)
        self.assertEqual(0, code, 'openstack gpu %s failed: %s'
                         % (' '.join(map(str, args)), err))
        return json.loads(out)

    def gpu_fails(self, *args, cloud=client.ADMIN_CLOUD):
        """The error of an ``openstack gpu ...`` that must fail: exit 1 and
        one line on stderr, no traceback. Returns that line."""
        code, out, err = self.run_openstack('gpu', *args, cloud=cloud)
        self.assertEqual(1, code, 'expected exit 1, got %s: %s%s'
                         % (code, out, err))
        self.assertNotIn('Traceback', err)
        lines = [line for line in err.splitlines() if line.strip()]
        self.assertEqual(1, len(lines), 'expected one error line: %r' % err)
        return lines[0]

    # -- the cloud, directly ------------------------------------------------
    def placement(self, method, path, microversion='1.39', **kwargs):
        sandbox = self.sandbox()
        response = sandbox.session().request(
            sandbox.urls['placement'] + path, method,
            microversion=microversion, microversion_service_type='placement',
            raise_exc=False, **kwargs)
        self.assertLess(response.status_code, 400, response.text)
        return response.json() if response.content else None

    def needs_provider(self, name):
        """Skip a test of a shape only the default fleet of issue 11 has
        (gpu-sriov-1, gpu-l40s-1, cyborg-1) on a sandbox without it."""
        if not self.placement('GET', '/resource_providers',
                              params={'name': name})['resource_providers']:
            self.skipTest('needs a sandbox fleet with provider %s' % name)

    def provider(self, name):
        found = self.placement('GET', '/resource_providers',
                               params={'name': name})['resource_providers']
        self.assertEqual(1, len(found), 'no provider %s' % name)
        return found[0]

    def inventory(self, provider_name, resource_class):
        uuid_ = self.provider(provider_name)['uuid']
        return self.placement('GET', '/resource_providers/%s/inventories'
                              % uuid_)['inventories'][resource_class]

    def set_reserved(self, provider_name, resource_class, reserved):
        """Put a device's reserved value back (test clean-up)."""
        uuid_ = self.provider(provider_name)['uuid']
        body = self.placement('GET', '/resource_providers/%s/inventories/%s'
                              % (uuid_, resource_class))
        body['reserved'] = reserved
        self.placement('PUT', '/resource_providers/%s/inventories/%s'
                       % (uuid_, resource_class), json=body)

    def wait_reserved(self, provider_name, resource_class, reserved=1,
                      timeout=30):
        """Nova reserves a one-time-use device a moment after the claim."""
        self.needs_one_time_use()
        deadline = time.monotonic() + timeout
        while self.inventory(provider_name,
                             resource_class)['reserved'] != reserved:
            self.assertLess(time.monotonic(), deadline,
                            '%s never got reserved=%d'
                            % (provider_name, reserved))
            time.sleep(0.2)

    def nova_traits(self) -> set[str]:
        """The traits Nova puts on every provider it makes for a device:
        OWNER_NOVA from 2026.2 (Nova 34) on, none before."""
        return {'OWNER_NOVA'} if self.sandbox().release.owner_nova else set()

    def needs_one_time_use(self):
        """Skip a test of one-time-use devices on a release without them
        (gpu-sandbox start --release leaves them out before 2025.2)."""
        release = self.sandbox().release
        if not release.one_time_use:
            self.skipTest('one-time-use devices need 2025.2 or later; this '
                          'sandbox runs %s' % release.name)

    def released_h100(self):
        """Boot an h100 server and delete it once Nova has reserved its
        one-time-use device: that device's provider name, now reserved and
        unused (and back in service at the end of the test)."""
        self.needs_one_time_use()
        server = self.boot(self.create_flavor(
            {'pci_passthrough:alias': 'h100:1'}))
        [name] = [n for n in self.allocations(server['id'])
                  if n.startswith('gpu-h100-1_')]
        self.addCleanup(self.set_reserved, name, H100_CLASS, 0)
        self.wait_reserved(name, H100_CLASS)
        self.delete_server(server['id'])
        return name

    def create_flavor(self, extra_specs, vcpus=1, ram=512, disk=1):
        """A flavor through Nova's API, deleted at the end of the test."""
        sandbox = self.sandbox()
        name = 'test-%s' % uuid.uuid4().hex[:8]
        flavor = sandbox.compute('POST', '/flavors', json={'flavor': {
            'name': name, 'vcpus': vcpus, 'ram': ram, 'disk': disk}}
        ).json()['flavor']
        self.addCleanup(sandbox.compute, 'DELETE', '/flavors/%s'
                        % flavor['id'])
        if extra_specs:
            sandbox.compute('POST', '/flavors/%s/os-extra_specs'
                            % flavor['id'], json={'extra_specs': extra_specs})
        return name

    def boot(self, flavor, status='ACTIVE', cloud=client.ADMIN_CLOUD):
        """Boot a server, wait for it, delete it at the end of the test."""
        sandbox = self.sandbox()
        server = sandbox.boot('test-%s' % uuid.uuid4().hex[:8], flavor,
                              cloud=cloud)
        self.addCleanup(self.delete_server, server['id'], cloud)
        server = sandbox.wait(server['id'], cloud=cloud)
        self.assertEqual(status, server['status'], server.get('fault'))
        return server

    def delete_server(self, server_id, cloud=client.ADMIN_CLOUD):
        self.sandbox().delete(server_id, cloud=cloud)

    def allocations(self, server_id):
        """{provider name: resources} that Placement holds for a server."""
        allocs = self.placement('GET', '/allocations/%s' % server_id)
        names = {p['uuid']: p['name'] for p in self.placement(
            'GET', '/resource_providers')['resource_providers']}
        return {names[rp]: a['resources']
                for rp, a in allocs['allocations'].items()}


@contextlib.contextmanager
def _hang_alarm():
    """Interrupt the block with CommandHung after OPENSTACK_TIMEOUT; yields
    a list that is non-empty if it did. (Signals reach the main thread only:
    elsewhere, no alarm.)"""
    hung = []
    if threading.current_thread() is not threading.main_thread():
        yield hung
        return

    def on_alarm(signum, frame):
        hung.append(True)
        raise CommandHung()

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(OPENSTACK_TIMEOUT)
    try:
        yield hung
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


class FlavorTestCase(SandboxTestCase):

    def nova_flavors(self, name, cloud=client.ADMIN_CLOUD):
        """Nova's own records of the flavors called `name`."""
        return [f for f in self.sandbox().compute(
            'GET', '/flavors/detail', cloud=cloud,
            params={'is_public': 'None'}).json()['flavors']
            if f['name'] == name]

    def flavor_name(self, name=None):
        """A name for a flavor the test makes; whatever flavor has it at
        the end of the test (even a failing one) is deleted."""
        name = name or 'gpu.test-%s' % uuid.uuid4().hex[:8]
        self.assertEqual([], self.nova_flavors(name), 'left by an earlier '
                         'run: delete flavor %s' % name)
        self.addCleanup(self.delete_flavors, name)
        return name

    def delete_flavors(self, name):
        for f in self.nova_flavors(name):
            self.sandbox().compute('DELETE', '/flavors/%s' % f['id'])

    def tag(self, provider_name, trait):
        """Add a trait to a provider through Placement, keeping its other
        traits; taken off again (and the trait deleted) at test end."""
        self.placement('PUT', '/traits/%s' % trait)
        self.addCleanup(self.placement, 'DELETE', '/traits/%s' % trait)
        uuid_ = self.provider(provider_name)['uuid']
        self.change_traits(uuid_, lambda traits: traits | {trait})
        self.addCleanup(self.change_traits, uuid_,
                        lambda traits: traits - {trait})

    def change_traits(self, uuid_, change):
        body = self.placement('GET', '/resource_providers/%s/traits' % uuid_)
        self.placement('PUT', '/resource_providers/%s/traits' % uuid_,
                       json={'traits': sorted(change(set(body['traits']))),
                             'resource_provider_generation':
                                 body['resource_provider_generation']})

    def gpus_held(self, server_id):
        return {name: resources for name, resources
                in self.allocations(server_id).items()
                if name.startswith(('gpu-', 'vgpu-')) and '_' in name}


class CapacityTestCase(FlavorTestCase):

    def nova_conf(self) -> str:
        """The nova.conf the sandbox runs a compute service with (every
        compute has the fleet's [pci] aliases)."""
        return os.path.join(self.sandbox().state.nova_conf_dir,
                            'compute-gpu-a30-1.conf')

    def capacity(self, flavor, *args):
        """The one row `gpu flavor capacity FLAVOR` prints."""
        row, = self.gpu('flavor', 'capacity', flavor, *args)
        return row

    def boot_all(self, flavor, count):
        """Boot `count` servers of the flavor, then see one more fail."""
        for _ in range(count):
            self.boot(flavor)
        server = self.boot(flavor, status='ERROR')
        self.assertIn('No valid host', server['fault']['message'])

    def free(self, host, resource_class):
        """What is left of a class on a host's compute node, as Placement
        counts it."""
        root = self.provider(host)['uuid']
        record = self.placement('GET', '/resource_providers/%s/inventories'
                                % root)['inventories'][resource_class]
        used = self.placement('GET', '/resource_providers/%s/usages'
                              % root)['usages'].get(resource_class, 0)
        return int((record['total'] - record['reserved'])
                   * record['allocation_ratio']) - used


class LegacySandboxTestCase(SandboxTestCase):

    def setUp(self):
        super().setUp()
        with open(os.path.join(self.sandbox().state.dir, 'fleet.yaml')) as f:
            if yaml.safe_load(f).get('pci_in_placement', True):
                self.skipTest('needs a sandbox started with --fleet legacy')


FIXTURES = os.path.join(os.path.dirname(__file__), '..', 'fixtures')
SYSFS = os.path.join(FIXTURES, 'sysfs')
NOVA = os.path.join(FIXTURES, 'nova')
OPENSTACK = os.path.join(os.path.dirname(sys.executable), 'openstack')


def openstack_without_cloud(home, *args, memory=None):
    """(exit code, stdout, stderr) of the real `openstack` program, in an
    environment with no cloud (no OS_* variables, no clouds.yaml).

    memory: a cap on the program's address space, in bytes, so a command
    that reads without bound fails instead of filling the machine."""
    import resource

    def limit():
        resource.setrlimit(resource.RLIMIT_AS, (memory, memory))

    env = {'PATH': os.environ.get('PATH', '/usr/bin:/bin'), 'HOME': home,
           'LANG': 'C.UTF-8'}
    done = subprocess.run([OPENSTACK, *args], env=env, capture_output=True,
                          text=True, timeout=120,
                          preexec_fn=limit if memory else None)
    return done.returncode, done.stdout, done.stderr


def sandbox_cli(state, *args, python=sys.executable):
    """gpu-sandbox run as a program, for its state dir `state` (the
    environment's GPU_SANDBOX_STATE_DIR left out)."""
    state_dir = ['--state-dir', state] if state else []
    env = dict(os.environ)
    env.pop('GPU_SANDBOX_STATE_DIR', None)
    return subprocess.run(
        [python, '-m', 'gpu_sandbox.cli'] + state_dir + list(args),
        capture_output=True, text=True, timeout=300, env=env)
