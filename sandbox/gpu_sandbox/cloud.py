"""The sandbox's second process: real Placement and real Nova (API,
conductor, scheduler, one compute per fleet host) in one process, over
Nova's in-process RPC and SQLite, with the fleet's simulated hardware.

Nova's libvirt functional-test base class does the wiring (databases,
cells, RPC, fake Glance/Neutron/Cinder, nova's fakelibvirt); each compute
runs Nova's real libvirt driver, so every provider Nova writes (PCI
devices, VF pools, vGPU GPUs) comes from Nova's own code. Cyborg's and
Neutron's providers are then written as those services write them. This
module runs the setUp as a long-lived service, puts real Keystone token
validation in front of Placement and Nova, and serves them over HTTP on
127.0.0.1. A small control endpoint lets ``gpu-sandbox`` ask for readiness
and run the computes' periodic update.
"""
import argparse
import json
import logging
import os
import signal
import sys
import threading
import time
import traceback
from unittest import mock
import uuid

import fixtures

# Nova 34 runs its services on native threads; its test package still
# defaults to eventlet.
os.environ.setdefault('OS_NOVA_DISABLE_EVENTLET_PATCHING', '1')
os.environ.setdefault('OS_TEST_TIMEOUT', '0')

from nova.tests.functional.libvirt import base  # noqa: E402  (first)
import futurist._thread  # noqa: E402
from nova.api import auth as nova_auth  # noqa: E402
from nova.api import wsgi as nova_wsgi  # noqa: E402
from nova import conf as nova_conf  # noqa: E402
from nova import context as nova_context  # noqa: E402
from placement import deploy as placement_deploy  # noqa: E402

from gpu_sandbox import baremetal  # noqa: E402
from gpu_sandbox import fleet as fleet_mod  # noqa: E402
from gpu_sandbox import hardware  # noqa: E402
from gpu_sandbox import httpd  # noqa: E402
from gpu_sandbox import neighbours  # noqa: E402
from gpu_sandbox import rehearsal  # noqa: E402

LOG = logging.getLogger('gpu-sandbox')
PERIODIC_SECONDS = 60  # Nova's default update_resources_interval


class Cloud(base.ServersTestBase):
    """Nova's libvirt functional-test base run as a service: its real
    libvirt driver over nova's fakelibvirt, one fake host per fleet host."""
    CAST_AS_CALL = False   # RPC casts stay asynchronous, as in production
    ADMIN_API = True
    microversion = 'latest'
    fleet: fleet_mod.Fleet = None
    state_dir: str = ''
    operator_conf: dict | None = None
    ironic_url: str | None = None   # a fleet with bare-metal nodes
    keystone_url: str | None = None

    def setUp(self):
        # The wheel installs api-paste.ini under <venv>/etc/nova.
        self.flags(group='wsgi', api_paste_config=os.path.join(
            sys.prefix, 'etc', 'nova', 'api-paste.ini'))
        # A device_spec address makes Nova ask sysfs whether it is a PF's
        # (nova.pci.utils.is_physical_function), which Nova's test base
        # poisons; Nova's own PCI-in-Placement tests mock that one call
        # (nova/tests/functional/libvirt/test_pci_in_placement.py). Here it
        # reads the sysfs copy of the host whose nova.conf is applied (a
        # rehearsal's services read its one nova.conf from the start).
        self.current_sysfs = self.fleet.hosts[0].sysfs
        self.useFixture(fixtures.MonkeyPatch(
            'nova.pci.utils.is_physical_function', self.is_physical_function))
        if self.fleet.nova_conf:  # a rehearsal: the operator's settings
            self.operator_conf = rehearsal.operator_conf(self.fleet.nova_conf)
        self.apply(self.operator_conf or self.fleet.controller_conf())
        # Nova 34's base keeps its Placement fixture as placement_fixture;
        # Nova 29's (2024.1) keeps only its client: note the fixture as it
        # starts, for its database (keystone_fronted_apps).
        from nova.tests.functional import fixtures as func_fixtures

        started = []
        real_setup = func_fixtures.PlacementFixture.setUp

        def note_setup(fixture):
            real_setup(fixture)
            started.append(fixture)

        with mock.patch.object(func_fixtures.PlacementFixture, 'setUp',
                               note_setup):
            super().setUp()
        if not hasattr(self, 'placement_fixture'):
            self.placement_fixture = started[-1]
        # A vGPU boot creates a mediated device on the host's fake libvirt.
        self.patch_mdev_creation()
        # A resize or cold migration copies instance files the fake hosts
        # do not have; Nova's own libvirt functional tests stub this one
        # call the same way (nova/tests/functional/regressions/
        # test_bug_1983753.py), so migrations run through Nova as usual.
        self.useFixture(fixtures.MockPatch(
            'nova.virt.libvirt.driver.LibvirtDriver.'
            'migrate_disk_and_power_off', return_value='{}'))
        self.started_pci = {}   # host -> its fake libvirt's devices at start
        for host in self.fleet.hosts:
            self.start_host(host)
        if self.ironic_url:
            self.start_ironic_compute()

    def patch_mdev_creation(self):
        """Nova 34's driver creates an mdev through LibvirtDriver._create_mdev:
        that one method is replaced. Nova 29's (2024.1) calls
        nova.privsep.libvirt.create_mdev(address, type, uuid) with no
        driver at hand; it is replaced as Nova 29's own vGPU tests do
        (nova/tests/functional/libvirt/test_vgpu.py: the driver is noted in
        _get_vgpu_type_per_pgpu, which runs just before)."""
        from nova.virt.libvirt import driver as libvirt_driver

        if hasattr(libvirt_driver.LibvirtDriver, '_create_mdev'):
            self.useFixture(fixtures.MonkeyPatch(
                'nova.virt.libvirt.driver.LibvirtDriver._create_mdev',
                hardware.create_mdev))
            return
        current = threading.local()
        real_type = libvirt_driver.LibvirtDriver._get_vgpu_type_per_pgpu

        def noting_type(driver, *args):
            current.driver = driver
            return real_type(driver, *args)

        def create(address, mdev_type, uuid=None):
            return hardware.create_mdev(
                current.driver, fleet_mod.libvirt_name(address), mdev_type,
                uuid)

        self.useFixture(fixtures.MonkeyPatch(
            'nova.virt.libvirt.driver.LibvirtDriver._get_vgpu_type_per_pgpu',
            noting_type))
        self.useFixture(fixtures.MonkeyPatch(
            'nova.privsep.libvirt.create_mdev', create))

    def apply(self, conf):
        """Set nova.conf values, as the fleet gives them, for what starts
        next (each compute reads its [pci] and [devices] when it starts)."""
        for section, options in conf.items():
            if section == 'devices':
                self.flags(group='devices', **options)
                nova_conf.devices.register_dynamic_opts(nova_conf.CONF)
            elif section != 'DEFAULT':
                self.flags(group=section, **options)

    def is_physical_function(self, domain, bus, slot, function):
        if not self.current_sysfs:   # no host started yet
            return False
        path = os.path.join(self.current_sysfs, 'bus', 'pci', 'devices',
                            '%s:%s:%s.%s' % (domain, bus, slot, function),
                            'sriov_totalvfs')
        try:
            with open(path) as f:
                return int(f.read()) > 0
        except (OSError, ValueError):
            return False

    def start_host(self, host):
        """base.start_compute's _start_compute, except that libvirt's
        hostname (the hypervisor hostname, Placement's root name) may
        differ from the service host."""
        self.apply(self.operator_conf or self.fleet.compute_conf(host))
        self.current_sysfs = host.sysfs or self.sysfs_dir(host.name)
        if host.sysfs:
            functions = rehearsal.functions(host.sysfs)
        else:
            functions = hardware.fleet_functions(host)
            # The host's /sys, for what runs on a compute host (`gpu host
            # label`, `gpu config generate --sysfs`).
            hardware.write_sysfs(self.sysfs_dir(host.name), functions)
        pci_info = hardware.pci_info(functions)
        connection = self._get_connection(pci_info=pci_info,
                                          hostname=host.hypervisor)
        self.libvirt.update_sriov_mac_address_mapping(
            pci_info.get_pci_address_mac_mapping())
        node_uuid = str(uuid.uuid5(uuid.NAMESPACE_DNS, host.hypervisor))
        with mock.patch('nova.virt.node.get_local_node_uuid',
                        return_value=node_uuid):
            self.mock_conn.return_value = connection
            compute = self.start_service('compute', host=host.name)
            compute.driver._host.get_connection = lambda: connection
            compute.driver._host.get_node_uuid()
        self.computes[host.name] = compute

    def sysfs_dir(self, host_name):
        return os.path.join(self.state_dir, 'sysfs', host_name)

    def set_vfs(self, host_name, enabled):
        """A host rebooted with (or without) its vGPU GPUs' VFs enabled:
        without, its fake libvirt and sysfs copy lose those VFs, as after a
        boot with no sriov-manage (the mediated devices servers hold stay
        listed, as Nova recreates them once the VFs are back); with, both
        are as the host started. Then every compute's update runs, with its
        provider cache refreshed as after a restart."""
        host = self.fleet.host(host_name)
        if host.sysfs:
            raise ValueError('%s is a rehearsal host' % host_name)
        connection = self.computes[host.name].driver._host.get_connection()
        started = self.started_pci.setdefault(host.name,
                                              connection.pci_info)
        functions = hardware.fleet_functions(host)
        if enabled:
            connection.pci_info = started
        else:
            functions = hardware.without_vgpu_vfs(functions)
            connection.pci_info = hardware.pci_info(functions)
        hardware.write_sysfs(self.sysfs_dir(host.name), functions)

    def start_ironic_compute(self):
        """One more nova-compute, with Nova's ironic driver against the
        sandbox's Ironic (baremetal.compute_conf). Started last: the
        driver's hash ring takes CONF.host, which start_service sets to
        the host it starts; the libvirt computes keep their driver."""
        from keystoneauth1 import loading as ks_loading

        conf = baremetal.compute_conf(
            self.ironic_url, self.keystone_url,
            os.environ['GPU_SANDBOX_NOVA_PASSWORD'])
        # the password plugin's options, registered as keystoneauth does
        # when it loads them
        nova_conf.CONF.register_opts(
            ks_loading.get_auth_plugin_conf_options('password'),
            group='ironic')
        self.flags(group='ironic', **conf['ironic'])
        self.wait_for_ironic()
        driver = nova_conf.CONF.compute_driver
        self.flags(compute_driver=conf['DEFAULT']['compute_driver'])
        try:
            self.computes[baremetal.COMPUTE_HOST] = self.start_service(
                'compute', host=baremetal.COMPUTE_HOST)
        finally:
            self.flags(compute_driver=driver)

    def wait_for_ironic(self, timeout=150):
        """Until Nova's [ironic] credentials list the fleet's nodes,
        enrolled: Ironic and the nova service user (made once Keystone
        answers) start beside this process, and a compute whose driver
        cannot list nodes fails its start (ComputeManager.
        _sanity_check_new_host, VirtDriverNotReady). Once they are
        available (and in maintenance where the fleet says), the compute's
        first resource update already reports them as they stay."""
        from nova import utils as nova_utils

        wanted = {n.uuid: bool(n.maintenance) for n in self.fleet.baremetal}
        deadline = time.monotonic() + timeout
        seen = error = None
        while True:
            try:
                conn = nova_utils.get_sdk_adapter(
                    'baremetal', admin=True, check_service=True)
                seen = {n.id: (n.provision_state, n.is_maintenance)
                        for n in conn.nodes(fields=(
                            'uuid', 'provision_state', 'maintenance'))}
                if all(seen.get(u) == ('available', m)
                       for u, m in wanted.items()):
                    return
            except Exception as e:
                error = e
            if time.monotonic() > deadline:
                raise RuntimeError('Nova did not see the fleet\'s nodes in '
                                   'Ironic at %s: %r, last error %r'
                                   % (self.ironic_url, seen, error))
            time.sleep(0.5)

    def _run_periodics(self, raise_on_error=False):
        """Nova's, without holding the cell fixture's lock meanwhile.

        nova/test.py runs each update inside target_cell, i.e. holding the
        CellDatabases read lock, while update_available_resource waits on
        worker threads that take that lock too. An API request that targets
        another cell in between (the fault of a server buried in cell0 by
        NoValidHost) queues as a writer, and all three wait forever. The
        context is targeted with set_target_cell instead, which the fixture
        reads without its lock."""
        for host, compute in self.computes.items():
            ctx = nova_context.get_admin_context()
            nova_context.set_target_cell(
                ctx, self.host_mappings[host].cell_mapping)
            compute.manager.update_available_resource(ctx)

    def runTest(self):  # unittest wants a test method to build the case
        pass


def keystone_fronted_apps(cloud, keystone_url, password):
    """Placement and Nova WSGI apps that validate real Keystone tokens."""
    from keystoneauth1 import loading as ks_loading
    from keystonemiddleware import auth_token
    from keystonemiddleware.auth_token import _opts as auth_token_opts
    from oslo_config import cfg
    from placement import conf as placement_conf

    authtoken = dict(
        auth_url=keystone_url, www_authenticate_uri=keystone_url,
        auth_type='password', username='admin', password=password,
        project_name='admin', user_domain_name='Default',
        project_domain_name='Default', region_name='RegionOne',
        service_token_roles_required='false')

    # A second Placement app on the fixture's database, with
    # auth_strategy=keystone instead of the fixture's noauth2.
    conf = cfg.ConfigOpts()
    placement_conf.register_opts(conf)
    conf.set_default(
        'connection',
        cloud.placement_fixture.conf_fixture.conf.placement_database.connection,
        group='placement_database')
    conf([], default_config_files=[])
    conf.set_override('auth_strategy', 'keystone', group='api')
    conf.register_opts(auth_token_opts._OPTS, group='keystone_authtoken')
    ks_loading.register_auth_conf_options(conf, 'keystone_authtoken')
    conf.register_opts(ks_loading.get_auth_plugin_conf_options('password'),
                       group='keystone_authtoken')
    for key, value in authtoken.items():
        conf.set_override(key, value, group='keystone_authtoken')
    placement_app = placement_deploy.loadapp(conf)

    # Nova's test fixtures stub the paste pipeline's auth_token filter and
    # the context builder: restore the context builder and put the real
    # middleware in front of the whole API.
    nova_auth.NovaKeystoneContext._create_context = staticmethod(
        lambda env, **kw: nova_context.RequestContext.from_environ(env, **kw))
    nova_app = auth_token.AuthProtocol(
        nova_wsgi.Loader().load_app('osapi_compute'),
        dict(authtoken, delay_auth_decision='true'))
    return placement_app, nova_app


def missing_providers(cloud, expected):
    """Expected GPU providers that Placement does not show (yet)."""
    found = {}
    for rp in cloud.placement.get(
            '/resource_providers', version='1.14').body['resource_providers']:
        if rp['name'] in expected:
            inv = cloud.placement.get(
                '/resource_providers/%s/inventories' % rp['uuid'],
                version='1.14').body['inventories']
            found[rp['name']] = sorted(inv)
    return sorted(name for name, rc in expected.items()
                  if found.get(name) != [rc])


class Control:
    """Readiness and the periodic update, for ``gpu-sandbox``."""

    def __init__(self, cloud, hosts):
        self.cloud = cloud
        self.hosts = hosts
        self.lock = threading.Lock()

    def periodic(self, refresh_provider_cache=False):
        with self.lock:
            if refresh_provider_cache:
                # As after [compute] resource_provider_association_refresh
                # (300 s) or a restart: each compute re-reads its providers'
                # traits and aggregates from Placement on this update.
                for compute in self.cloud.computes.values():
                    compute.manager.reportclient.clear_provider_cache()
            self.cloud._run_periodics()
            # Nova's log fixture keeps every record in memory.
            self.cloud.stdlog.delete_stored_logs()

    def __call__(self, environ, start_response):
        path, method = environ.get('PATH_INFO'), environ['REQUEST_METHOD']
        if (method, path) == ('GET', '/ready'):
            body = {'ready': True, 'hosts': self.hosts}
        elif (method, path) == ('POST', '/vfs'):
            query = dict(p.partition('=')[::2] for p in environ.get(
                'QUERY_STRING', '').split('&') if p)
            host, enabled = query.get('host'), query.get('enabled') == '1'
            try:
                with self.lock:
                    self.cloud.set_vfs(host, enabled)
            except ValueError as e:   # no such host, or a rehearsal's
                start_response('400 Bad Request',
                               [('Content-Type', 'text/plain')])
                return [str(e).encode()]
            self.periodic(refresh_provider_cache=True)
            body = {'host': host, 'enabled': enabled}
        elif (method, path) == ('POST', '/periodic'):
            started = time.monotonic()
            self.periodic(refresh_provider_cache='refresh_provider_cache'
                          in environ.get('QUERY_STRING', ''))
            body = {'seconds': round(time.monotonic() - started, 3)}
        else:
            start_response('404 Not Found', [('Content-Type', 'text/plain')])
            return [b'not found']
        start_response('200 OK', [('Content-Type', 'application/json')])
        return [json.dumps(body).encode()]


def main(argv=None):
    parser = argparse.ArgumentParser(prog='gpu_sandbox.cloud')
    parser.add_argument('--fleet', required=True)
    parser.add_argument('--keystone-url', required=True)
    parser.add_argument('--nova-port', type=int, required=True)
    parser.add_argument('--placement-port', type=int, required=True)
    parser.add_argument('--control-port', type=int, required=True)
    parser.add_argument('--log-file', required=True)
    parser.add_argument('--ironic-url')
    args = parser.parse_args(argv)
    password = os.environ['GPU_SANDBOX_ADMIN_PASSWORD']
    signal.signal(signal.SIGTERM, lambda *a: os._exit(0))

    fleet = fleet_mod.load(args.fleet)
    Cloud.fleet = fleet
    Cloud.state_dir = os.path.dirname(os.path.abspath(args.fleet))
    Cloud.ironic_url, Cloud.keystone_url = args.ironic_url, args.keystone_url
    cloud = Cloud()
    cloud.setUp()
    neighbours.write_all(cloud.placement, fleet)
    # Nova's test base shortens idle thread workers' wait to 10 ms to speed
    # up test teardown; in a long-lived sandbox every idle worker would then
    # wake 100 times a second, forever. Put futurist's default back.
    futurist._thread.ThreadWorker.MAX_IDLE_FOR = 1
    # Nova's log fixture captured logging; also write to the state dir.
    handler = logging.FileHandler(args.log_file)
    handler.setLevel(logging.INFO)
    handler.setFormatter(logging.Formatter(
        '%(asctime)s %(levelname)s [%(name)s] %(message)s'))
    logging.getLogger().addHandler(handler)

    control = Control(cloud, [h.name for h in fleet.hosts])
    expected = fleet.expected_providers()
    for _ in range(5):
        missing = missing_providers(cloud, expected)
        if not missing:
            break
        control.periodic()
    else:
        raise RuntimeError('Placement does not show these devices: %s'
                           % ', '.join(missing))

    placement_app, nova_app = keystone_fronted_apps(
        cloud, args.keystone_url, password)
    httpd.serve(placement_app, args.placement_port, 'placement')
    httpd.serve(nova_app, args.nova_port, 'nova')
    httpd.serve(control, args.control_port, 'control')
    LOG.info('sandbox cloud ready: %d hosts, %d device providers',
             len(fleet.hosts), len(expected))
    while True:
        time.sleep(PERIODIC_SECONDS)
        control.periodic()


if __name__ == '__main__':
    try:
        main()
    except BaseException:
        # Nova's fixtures swap sys.stderr, and its service threads are not
        # daemons: report on the real stderr and exit hard.
        traceback.print_exc(file=sys.__stderr__)
        sys.__stderr__.flush()
        os._exit(1)
