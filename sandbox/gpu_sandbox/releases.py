"""The OpenStack releases the sandbox runs: each release's Nova, Placement
and Keystone from PyPI, in a virtualenv of its own with that release's
upper constraints, made on first use and reused.

The constraints files are openstack/requirements' upper-constraints.txt,
copied unchanged:
- constraints/2024.1.txt: branch unmaintained/2024.1 at 312d8c11ed44
  (2026-04-27);
- constraints/2025.2.txt: branch stable/2025.2 at 0e88245f541e
  (2026-05-05).
2026.2 (the default) is the sandbox's own virtualenv: the versions in
sandbox/setup.cfg, with the project's constraints.txt.
"""
from __future__ import annotations

import dataclasses
import hashlib
import os
import subprocess
import sys

DEFAULT = '2026.2'
HERE = os.path.dirname(os.path.abspath(__file__))
# The repository the sandbox is installed from (make installs it editable):
# its gpuclient and sandbox go into each release's virtualenv, without
# their dependencies, so the cloud processes import the same code.
SOURCE = os.path.dirname(os.path.dirname(HERE))


@dataclasses.dataclass(frozen=True)
class Release:
    name: str
    services: tuple[str, ...]   # pip requirements of the services
    one_time_use: bool          # Nova 32 (2025.2) brought one_time_use
    # Nova's services on eventlet, as that release runs them by default;
    # Nova 34 runs them on native threads (nova/monkey_patch.py reads
    # OS_NOVA_DISABLE_EVENTLET_PATCHING). Nova 29's ProviderTree cannot be
    # deep-copied without eventlet's locks.
    eventlet: bool = True
    # Nova 34 (2026.2) puts OWNER_NOVA on the providers it makes
    owner_nova: bool = False
    # Nova 31 (2025.1) brought device_spec `managed` (NVIDIA's variant
    # driver's VFs are passed through with managed: no)
    managed: bool = True

    @property
    def environ(self) -> dict:
        return {'OS_NOVA_DISABLE_EVENTLET_PATCHING':
                '0' if self.eventlet else '1'}

    @property
    def constraints(self) -> str | None:
        path = os.path.join(HERE, 'constraints', '%s.txt' % self.name)
        return path if os.path.exists(path) else None


# What the cloud processes need beside the services (Nova's functional
# test base and its fixtures), each at the release's constrained version.
TEST_MACHINERY = ('keystonemiddleware', 'wsgi-intercept', 'oslotest',
                  'testresources', 'testscenarios', 'fixtures', 'PyYAML',
                  'requests')

RELEASES = {r.name: r for r in (
    Release('2024.1', ('nova==29.4.0', 'openstack-placement==11.0.1',
                       'keystone==25.0.0'), one_time_use=False,
            managed=False),
    Release('2025.2', ('nova==32.2.1', 'openstack-placement==14.0.0',
                       'keystone==28.1.0'), one_time_use=True),
    Release(DEFAULT, (), one_time_use=True, eventlet=False,
            owner_nova=True),
)}


class ReleaseError(Exception):
    pass


def get(name: str | None) -> Release:
    try:
        return RELEASES[name or DEFAULT]
    except KeyError:
        raise ReleaseError('no release %r: the sandbox runs %s' % (
            name, ', '.join(RELEASES)))


def venv_dir(release: Release) -> str:
    # Beside the sandbox's own virtualenv, so `make clean` removes it.
    return os.path.join(sys.prefix, 'releases', release.name)


def _stamp(release: Release) -> str:
    digest = hashlib.sha256(repr(release.services).encode())
    with open(release.constraints, 'rb') as f:
        digest.update(f.read())
    return digest.hexdigest()


def python(release: Release, log=print) -> str:
    """The interpreter the release's services run under: this one for the
    default release, else the release's virtualenv (made if missing, or
    remade if its pins changed; about a minute)."""
    if not release.services:
        return sys.executable
    directory = venv_dir(release)
    interpreter = os.path.join(directory, 'bin', 'python')
    stamp = os.path.join(directory, '.installed')
    wanted = _stamp(release)
    try:
        with open(stamp) as f:
            if f.read() == wanted:
                return interpreter
    except OSError:
        pass
    log('gpu-sandbox: making the %s virtualenv in %s (once)'
        % (release.name, directory))
    pip = [interpreter, '-m', 'pip', 'install', '-q',
           '--disable-pip-version-check']
    steps = [
        [sys.executable, '-m', 'venv', '--clear', directory],
        pip + ['-c', release.constraints, *release.services,
               *TEST_MACHINERY],
        # the project's own code, as the default release runs it
        pip + ['--no-deps', '-e', SOURCE, '-e',
               os.path.join(SOURCE, 'sandbox')],
    ]
    for argv in steps:
        done = subprocess.run(argv, capture_output=True, text=True)
        if done.returncode:
            lines = [line for line in (done.stderr or done.stdout).splitlines()
                     if line.strip() and not line.startswith('WARNING')]
            raise ReleaseError('making the %s virtualenv failed: %s: %s' % (
                release.name, ' '.join(argv[:6]), ' | '.join(lines[-3:])))
    with open(stamp, 'w') as f:
        f.write(wanted)
    return interpreter
