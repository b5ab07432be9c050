"""The sandbox's first process: real Keystone on SQLite, bootstrapped once
into the state dir and reused by later starts."""
import argparse
import contextlib
import os
import subprocess
import sys

from gpu_sandbox import httpd

KEYSTONE_CONF = """\
[DEFAULT]
debug = false
[database]
connection = sqlite:///{state}/keystone.sqlite
[token]
provider = fernet
[fernet_tokens]
key_repository = {state}/fernet-keys
[fernet_receipts]
key_repository = {state}/fernet-keys
[credential]
key_repository = {state}/credential-keys
[identity]
# bcrypt's minimum: a password check then costs ~2 ms instead of ~250 ms of
# CPU, and every openstack command checks one.
password_hash_rounds = 4
"""


def bootstrap(state, url, password):
    """db_sync, keys and the admin user, once: it is the slow part (~12 s)."""
    marker = os.path.join(state, 'keystone.bootstrapped')
    if os.path.exists(marker):
        return
    manage = os.path.join(os.path.dirname(sys.executable), 'keystone-manage')
    conf = ['--config-file', os.path.join(state, 'keystone.conf')]
    user = ['--keystone-user', str(os.getuid()), '--keystone-group',
            str(os.getgid())]
    for step in (['db_sync'], ['fernet_setup'] + user,
                 ['credential_setup'] + user,
                 ['bootstrap', '--bootstrap-password', password,
                  '--bootstrap-region-id', 'RegionOne',
                  '--bootstrap-admin-url', url, '--bootstrap-public-url', url,
                  '--bootstrap-internal-url', url]):
        subprocess.run([manage] + conf + step, check=True)
    open(marker, 'w').close()


def main(argv=None):
    parser = argparse.ArgumentParser(prog='gpu_sandbox.identity')
    parser.add_argument('--state-dir', required=True)
    parser.add_argument('--port', type=int, required=True)
    args = parser.parse_args(argv)
    state = os.path.abspath(args.state_dir)
    for sub in ('fernet-keys', 'credential-keys'):
        os.makedirs(os.path.join(state, sub), exist_ok=True)
    conf = os.path.join(state, 'keystone.conf')
    with open(conf, 'w') as f:
        f.write(KEYSTONE_CONF.format(state=state))
    bootstrap(state, 'http://127.0.0.1:%d/v3' % args.port,
              os.environ['GPU_SANDBOX_ADMIN_PASSWORD'])
    # Write-ahead logging: a write no longer waits for the readers. Keystone
    # 25 (2024.1, SQLAlchemy 1.4) keeps a read transaction open while it
    # writes in another (POST /v3/services), and with SQLite's default
    # journal answers "database is locked" (HTTP 500). The mode is kept in
    # the file; setting it again costs nothing.
    import sqlite3

    with contextlib.closing(sqlite3.connect(
            os.path.join(state, 'keystone.sqlite'))) as db:
        db.execute('PRAGMA journal_mode=WAL')
    os.environ['OS_KEYSTONE_CONFIG_FILES'] = conf
    from keystone.server import wsgi
    sys.argv[1:] = []  # keystone parses the command line as its own config
    app = wsgi.initialize_public_application()
    print('keystone serving on 127.0.0.1:%d' % args.port, flush=True)
    httpd.serve(app, args.port, 'keystone', background=False)


if __name__ == '__main__':
    main()
