"""gpu-sandbox: start, stop and use the local GPU cloud.

``start`` runs two detached processes (Keystone; Placement + Nova) and
returns once every service answers and every simulated GPU is in Placement.
Keystone's database stays in the state dir and is reused by the next start;
Nova and Placement start empty each time.
"""
import argparse
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time

from gpu_sandbox import baremetal
from gpu_sandbox import client
from gpu_sandbox import fleet as fleet_mod
from gpu_sandbox import rehearsal
from gpu_sandbox import releases

# Seconds `start` waits for Keystone, then for Nova's computes to report
# every device to Placement: 19 s for the default fleet on an idle 2-core
# machine (12 s for a rehearsal), several times that while another sandbox
# boots servers. Each request the wait makes has its own timeout
# (client.REQUEST_TIMEOUT).
START_TIMEOUT = 180
# One host's `gpu host label` (an openstack command: a few seconds).
LABEL_TIMEOUT = 120


class StartError(Exception):
    pass


def _alive(pid) -> bool:
    try:
        os.kill(pid, 0)
    except (OSError, TypeError):
        return False
    try:  # a zombie child of ours is not alive
        return os.waitpid(pid, os.WNOHANG) == (0, 0)
    except ChildProcessError:
        return True


def _free_port(preferred=None) -> int:
    for port in ([preferred] if preferred else []) + [0]:
        with socket.socket() as s:
            # as the servers bind: a port in TIME_WAIT is still usable
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                s.bind(('127.0.0.1', port))
            except OSError:
                continue
            return s.getsockname()[1]


def _tail(path, lines=20) -> str:
    try:
        with open(path, errors='replace') as f:
            return ''.join(f.readlines()[-lines:])
    except OSError:
        return '(no log)'


def _spawn(state, name, module, args, env, python=sys.executable):
    log = open(state.log(name), 'ab')
    return subprocess.Popen(
        [python, '-m', module] + args, stdout=log, stderr=log,
        stdin=subprocess.DEVNULL, env=env, start_new_session=True).pid


def _wait_for(check, pid, name, state, deadline):
    """Poll `check` until it is true; fail fast if the process died."""
    while time.monotonic() < deadline:
        if not _alive(pid):
            raise StartError('%s exited during start; last lines of %s:\n%s'
                             % (name, state.log(name), _tail(state.log(name))))
        try:
            if check():
                return
        except Exception:
            pass
        time.sleep(0.25)
    raise StartError('%s did not answer within %ds; last lines of %s:\n%s'
                     % (name, START_TIMEOUT, state.log(name),
                        _tail(state.log(name))))


def _running(data) -> bool:
    return bool(data.get('pids')) and all(
        _alive(p) for p in data['pids'].values())


def start(args) -> int:
    state = client.State(args.state_dir)
    data = state.read()
    if _running(data):
        print('gpu-sandbox already running in %s' % state.dir)
        return 0
    if data.get('pids'):
        stop(args, quiet=True)
    import yaml

    if args.sysfs or args.nova_conf:
        if not (args.sysfs and args.nova_conf) or args.fleet:
            raise StartError('a rehearsal takes both --sysfs and '
                             '--nova-conf, and no --fleet')
        # Refuse a bad sysfs copy or nova.conf before anything starts.
        rehearsal.functions(args.sysfs)
        rehearsal.operator_conf(args.nova_conf)
        fleet_data = rehearsal.fleet_data(args.sysfs, args.nova_conf)
    else:
        fleet_data = fleet_mod.read(args.fleet)
    release = releases.get(args.release)
    fleet_data, notes = fleet_mod.for_release(fleet_data, release)
    for line in notes:
        print('gpu-sandbox: %s' % line)
    fleet = fleet_mod.parse(fleet_data)
    python = releases.python(release)
    if fleet.baremetal:
        baremetal.ensure_venv()
    if data.get('release', releases.DEFAULT) != release.name:
        # Keystone's database is that release's schema: start it afresh.
        for name in ('keystone.sqlite', 'keystone.bootstrapped'):
            try:
                os.unlink(os.path.join(state.dir, name))
            except FileNotFoundError:
                pass
    started = time.monotonic()
    os.makedirs(os.path.join(state.dir, 'logs'), exist_ok=True)
    # The fleet as this start runs it, and the nova.conf of each service.
    fleet_file = os.path.join(state.dir, 'fleet.yaml')
    with open(fleet_file, 'w') as f:
        yaml.safe_dump(fleet_data, f, sort_keys=False)
    write_nova_conf(state.nova_conf_dir, fleet)
    for name in ('keystone', 'cloud'):
        open(state.log(name), 'w').close()
    old_ports = data.get('ports', {})
    data.update(
        admin_password=data.get('admin_password') or secrets.token_hex(12),
        member_password=data.get('member_password') or secrets.token_hex(12),
        ironic_password=data.get('ironic_password') or secrets.token_hex(12),
        nova_password=data.get('nova_password') or secrets.token_hex(12),
        ports={name: _free_port(old_ports.get(name))
               for name in ('keystone', 'nova', 'placement', 'control')
               + (('ironic',) if fleet.baremetal else ())},
        hosts=[h.name for h in fleet.hosts], release=release.name)
    urls = client.urls(data['ports'])
    env = dict(os.environ, GPU_SANDBOX_ADMIN_PASSWORD=data['admin_password'],
               GPU_SANDBOX_NOVA_PASSWORD=data['nova_password'],
               **release.environ)
    # Keystone bootstraps while Nova starts: neither needs the other until
    # the first authenticated request.
    data['pids'] = {
        'keystone': _spawn(state, 'keystone', 'gpu_sandbox.identity',
                           ['--state-dir', state.dir,
                            '--port', str(data['ports']['keystone'])], env,
                           python),
        'cloud': _spawn(state, 'cloud', 'gpu_sandbox.cloud', [
            '--fleet', fleet_file, '--keystone-url', urls['identity'],
            '--nova-port', str(data['ports']['nova']),
            '--placement-port', str(data['ports']['placement']),
            '--control-port', str(data['ports']['control']),
            '--log-file', state.log('cloud')]
            + (['--ironic-url', urls['baremetal']] if fleet.baremetal
               else []), env, python)}
    if fleet.baremetal:
        data['pids']['ironic'] = baremetal.spawn(state, data,
                                                 urls['identity'])
        baremetal.write_nova_conf(state.nova_conf_dir, data,
                                  urls['identity'])
    state.write(data)
    import requests

    deadline = time.monotonic() + START_TIMEOUT
    try:
        _wait_for(lambda: requests.get(urls['identity'], timeout=2).ok,
                  data['pids']['keystone'], 'keystone', state, deadline)
        client.sync_identity(data)
        baremetal.sync_identity(data)
        with open(state.clouds_yaml, 'w') as f:
            f.write(client.clouds_yaml(data))
        if fleet.baremetal:
            enrolled = baremetal.start(
                data, fleet.baremetal, deadline, data['pids']['ironic'],
                _alive, state.log('ironic'))
        _wait_for(lambda: requests.get(urls['control'] + '/ready',
                                       timeout=2).ok,
                  data['pids']['cloud'], 'cloud', state, deadline)
        providers = _providers_seen_through_keystone(data, fleet)
        labelled = label_hosts(state, fleet)
        if fleet.baremetal:
            baremetal.wait_in_placement(client.Sandbox(state.dir),
                                        fleet.baremetal, deadline)
    except Exception as e:
        stop(args, quiet=True)
        print('gpu-sandbox start failed: %s' % e, file=sys.stderr)
        return 1
    print('gpu-sandbox ready in %.1fs: OpenStack %s, %d hosts, %d device '
          'providers in Placement' % (time.monotonic() - started,
                                      release.name, len(fleet.hosts),
                                      len(providers)))
    if labelled:
        print('  labelled by `openstack gpu host label`: %s' % ', '.join(
            '%s (%d vGPU providers)' % item for item in labelled))
    if fleet.baremetal:
        print('  %d bare-metal nodes in Ironic (enrolled and inspected in '
              '%.1fs) and in Placement' % (len(fleet.baremetal), enrolled))
    if fleet.nova_conf:  # what the rehearsal is for
        for name, inventory in sorted(providers.items()):
            print('  %s  %s' % (name, ', '.join(
                '%s total %d' % (rc, i['total'])
                for rc, i in sorted(inventory.items()))))
    print('  nova.conf of each service: %s' % state.nova_conf_dir)
    print('  keystone   %s\n  nova       %s\n  placement  %s' % (
        urls['identity'], urls['compute'], urls['placement']))
    if fleet.baremetal:
        print('  ironic     %s' % urls['baremetal'])
    print('Use it:  eval "$(gpu-sandbox env%s)"' % (
        ' --state-dir %s' % state.dir if args.state_dir else ''))
    return 0


def label_hosts(state, fleet) -> list[tuple[str, int]]:
    """`openstack gpu host label` for each host the fleet labels, as an
    operator's timer runs it on the host: that host's sysfs copy (written
    by the cloud) and nova.conf, the admin credential. The hosts in
    parallel; [(host, providers labelled)]."""
    hosts = [h.name for h in fleet.hosts if h.label]
    env = dict(os.environ, OS_CLIENT_CONFIG_FILE=state.clouds_yaml,
               OS_CLOUD=client.ADMIN_CLOUD)
    runs = [subprocess.Popen(
        [sys.executable, '-m', 'openstackclient.shell', 'gpu', 'host',
         'label', '--host', host, '--sysfs',
         os.path.join(state.dir, 'sysfs', host), '--nova-conf',
         os.path.join(state.nova_conf_dir, 'compute-%s.conf' % host),
         '-f', 'json'], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, env=env, text=True) for host in hosts]
    done = []
    for host, run in zip(hosts, runs):
        try:
            out, err = run.communicate(timeout=LABEL_TIMEOUT)
        except subprocess.TimeoutExpired:
            run.kill()
            raise RuntimeError('gpu host label --host %s took over %d s'
                               % (host, LABEL_TIMEOUT))
        if run.returncode:
            raise RuntimeError('gpu host label --host %s: %s' % (
                host, err.strip() or 'exit %d' % run.returncode))
        done.append((host, sum(1 for r in json.loads(out)
                               if r['Provider'])))
    return done


def _providers_seen_through_keystone(data, fleet) -> dict:
    """Prove the whole path: a Keystone token, then Placement behind it.
    Returns the device providers: {name: inventories}, those the fleet
    expects (of a rehearsal, which has no other service's providers: every
    provider below the compute root)."""
    sess = client.session(data)
    base = client.urls(data['ports'])['placement']

    def get(path):
        return sess.get(base + path, microversion='1.14',
                        microversion_service_type='placement').json()

    providers = get('/resource_providers')['resource_providers']
    if fleet.nova_conf:
        wanted = {p['name'] for p in providers
                  if p['parent_provider_uuid']}
    else:
        wanted = set(fleet.expected_providers())
        missing = wanted - {p['name'] for p in providers}
        if missing:
            raise StartError('Placement does not show %s' % ', '.join(
                sorted(missing)))
    return {p['name']: get('/resource_providers/%s/inventories'
                           % p['uuid'])['inventories']
            for p in providers if p['name'] in wanted}


def write_nova_conf(directory, fleet) -> None:
    """The nova.conf settings each service of the sandbox runs with:
    controller.conf (API, conductor, scheduler) and compute-<host>.conf
    (a rehearsal's services all run with the operator's nova.conf)."""
    shutil.rmtree(directory, ignore_errors=True)
    os.makedirs(directory)
    if fleet.nova_conf:
        for name in ['controller'] + [h.name for h in fleet.hosts]:
            shutil.copyfile(fleet.nova_conf, os.path.join(
                directory, name if name == 'controller' else
                'compute-%s' % name) + '.conf')
        return
    files = {'controller.conf': fleet.controller_conf()}
    for host in fleet.hosts:
        files['compute-%s.conf' % host.name] = fleet.compute_conf(host)
    for name, conf in files.items():
        with open(os.path.join(directory, name), 'w') as f:
            f.write(fleet_mod.render_conf(conf))


def stop(args, quiet=False) -> int:
    state = client.State(args.state_dir)
    data = state.read()
    pids = data.get('pids') or {}
    for pid in pids.values():
        try:
            os.killpg(pid, signal.SIGTERM)
        except OSError:
            pass
    deadline = time.monotonic() + 10
    while (any(_alive(p) for p in pids.values())
           and time.monotonic() < deadline):
        time.sleep(0.1)
    for pid in pids.values():
        try:
            os.killpg(pid, signal.SIGKILL)
        except OSError:
            pass
    if data:
        data.pop('pids', None)
        state.write(data)
    if not quiet:
        print('gpu-sandbox stopped' if pids else 'gpu-sandbox was not running')
    return 0


def status(args) -> int:
    state = client.State(args.state_dir)
    data = state.read()
    if not data.get('pids'):
        print('gpu-sandbox is not running (state dir %s)' % state.dir)
        return 1
    urls = client.urls(data['ports'])
    print('state dir  %s' % state.dir)
    for name, url in (('keystone', urls['identity']),
                      ('cloud', urls['compute'] + ' ' + urls['placement']),
                      ('ironic', urls.get('baremetal'))):
        if url is None:
            continue
        pid = data['pids'].get(name)
        print('%-9s  pid %-7s %-8s %s' % (
            name, pid, 'running' if _alive(pid) else 'DEAD', url))
    print('hosts      %s' % ' '.join(data.get('hosts', [])))
    print('nova.conf  %s' % state.nova_conf_dir)
    return 0 if _running(data) else 1


def env(args) -> int:
    state = client.State(args.state_dir)
    print('export OS_CLIENT_CONFIG_FILE=%s' % state.clouds_yaml)
    print('export OS_CLOUD=%s' % client.ADMIN_CLOUD)
    print('export GPU_SANDBOX_STATE_DIR=%s' % state.dir)
    return 0


def boot(args) -> int:
    sandbox = client.Sandbox(args.state_dir)
    server = sandbox.boot(args.name, args.flavor, cloud=args.cloud)
    if args.wait:
        server = sandbox.wait(server['id'], cloud=args.cloud)
    result = {'id': server['id'], 'name': args.name,
              'status': server.get('status', 'BUILD')}
    if server.get('fault'):
        result['fault'] = server['fault'].get('message')
    print(json.dumps(result))
    return 1 if result['status'] == 'ERROR' else 0


def scenario(args) -> int:
    from gpu_sandbox import scenario as scenario_mod

    if not args.next:
        scenario_mod.build(client.Sandbox(args.state_dir))
        return 0
    width = max(len(command) for command, _ in scenario_mod.TRY)
    for command, shows in scenario_mod.TRY:
        print('  %-*s  # %s' % (width, command, shows))
    return 0


def periodic(args) -> int:
    seconds = client.Sandbox(args.state_dir).periodic(
        refresh_provider_cache=args.refresh_provider_cache)
    print('periodic update ran on every compute in %.2fs%s' % (
        seconds, ', provider caches refreshed'
        if args.refresh_provider_cache else ''))
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog='gpu-sandbox', description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--state-dir', help='default: $GPU_SANDBOX_STATE_DIR, '
                        'else <venv>/var/gpu-sandbox of the venv gpu-sandbox '
                        'runs from (one sandbox per clone), else '
                        '~/.local/state/gpu-sandbox')
    sub = parser.add_subparsers(dest='command', required=True)
    p = sub.add_parser('start', help='start the sandbox cloud')
    p.add_argument('--fleet', help='"default" (the built-in fleet of 9 '
                   'hosts), "legacy" (the same hosts without PCI in '
                   'Placement) or a fleet YAML file')
    p.add_argument('--release', default=releases.DEFAULT,
                   choices=sorted(releases.RELEASES),
                   help='the OpenStack release to run (default %(default)s): '
                        'its Nova, Placement and Keystone, in a virtualenv '
                        'of its own made on first use (about a minute)')
    p.add_argument('--sysfs', metavar='DIR', help='rehearse one host: its '
                   'hardware from DIR, a copy of its /sys (DIR/bus/pci/'
                   'devices/...); needs --nova-conf')
    p.add_argument('--nova-conf', metavar='FILE', help='rehearse with this '
                   'nova.conf ([pci], [filter_scheduler], [devices], '
                   '[mdev_*]); needs --sysfs')
    p.set_defaults(func=start)
    sub.add_parser('stop', help='stop every sandbox process').set_defaults(
        func=stop)
    sub.add_parser('status', help='what runs where').set_defaults(func=status)
    sub.add_parser('env', help='shell exports for the stock openstack CLI'
                   ).set_defaults(func=env)
    p = sub.add_parser('boot', help='boot a server (the sandbox has no image '
                       'service, so "openstack server create" cannot)')
    p.add_argument('name')
    p.add_argument('--flavor', required=True, help='flavor name or ID')
    p.add_argument('--wait', action='store_true',
                   help='wait until the server is ACTIVE or ERROR')
    p.add_argument('--cloud', default=client.ADMIN_CLOUD,
                   choices=[client.ADMIN_CLOUD, client.MEMBER_CLOUD])
    p.set_defaults(func=boot)
    p = sub.add_parser('scenario', help='make GPU flavors and servers for '
                       'the demo (run again, makes only what is missing)')
    p.add_argument('--next', action='store_true', help='only print the '
                   'commands to try on it, with what they show')
    p.set_defaults(func=scenario)
    p = sub.add_parser('periodic', help="run the computes' periodic "
                       'resource update now')
    p.add_argument('--refresh-provider-cache', action='store_true',
                   help="first empty each compute's provider cache, so this "
                   'update re-reads traits from Placement, as Nova does every '
                   '[compute] resource_provider_association_refresh seconds '
                   '(300) and after a restart')
    p.set_defaults(func=periodic)
    # the sub-parsers take --state-dir after the command too
    for p in sub.choices.values():
        p.add_argument('--state-dir', default=argparse.SUPPRESS,
                       help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except (client.SandboxError, fleet_mod.FleetError, StartError,
            releases.ReleaseError, baremetal.BaremetalError) as e:
        print('gpu-sandbox: %s' % e, file=sys.stderr)
        return 1
    except Exception as e:  # an HTTP error from a service, say
        print('gpu-sandbox %s failed: %s' % (args.command, e), file=sys.stderr)
        return 1


if __name__ == '__main__':
    sys.exit(main())
