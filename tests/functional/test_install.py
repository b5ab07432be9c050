"""The install path the README gives until the package is on an index: a
wheel built from this clone, installed into a virtualenv that holds only
python-openstackclient (as an operator's OSC venv does), run against the
sandbox cloud. Neither Nova, Placement, Keystone nor gpu-sandbox is in it.
Once with constraints.txt's versions, once with the lowest versions
requirements.txt claims.
"""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

from gpu_sandbox import client
from tests.functional import base

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))
# pip resolving and installing OSC and the plugin's requirements
INSTALL_TIMEOUT = 900


def run(*argv, env=None):
    return subprocess.run(argv, capture_output=True, text=True, env=env,
                          timeout=INSTALL_TIMEOUT)


def _normal(name):
    """A distribution name as PEP 503 compares them."""
    return re.sub(r'[-_.]+', '-', name).lower()


def lower_bounds(path):
    """requirements.txt's `name>=version` lines as `name==version`: the
    oldest releases the package claims to work with."""
    with open(path) as f:
        return [line.strip().replace('>=', '==') for line in f
                if '>=' in line and not line.startswith('#')]


class TestWheelInstall(base.SandboxTestCase):

    def setUp(self):
        super().setUp()
        self.work = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, self.work)
        dist = os.path.join(self.work, 'dist')
        built = run(sys.executable, '-m', 'pip', 'wheel', '-q', '--no-deps',
                    '-w', dist, ROOT)
        self.assertEqual(0, built.returncode, built.stderr)
        [wheel] = os.listdir(dist)
        self.assertTrue(wheel.startswith('python_gpuclient-'), wheel)
        self.wheel = os.path.join(dist, wheel)

    def install(self, name, constraints):
        """A venv of python-openstackclient and the wheel, pinned by the
        constraints file; its `openstack` program."""
        venv = os.path.join(self.work, name)
        made = run(sys.executable, '-m', 'venv', venv)
        self.assertEqual(0, made.returncode, made.stderr)
        installed = run(os.path.join(venv, 'bin', 'pip'), 'install', '-q',
                        '-c', constraints, 'python-openstackclient',
                        self.wheel)
        self.assertEqual(0, installed.returncode, installed.stderr)
        frozen = run(os.path.join(venv, 'bin', 'pip'), 'freeze').stdout
        # 'name==version', or 'name @ file://...' for the wheel
        self.installed = {}
        for line in frozen.splitlines():
            name, _, version = line.partition(' @ ')[0].partition('==')
            self.installed[_normal(name)] = version or None
        self.assertIn('python-gpuclient', self.installed)
        self.assertEqual(set(), set(self.installed) & {
            'nova', 'openstack-placement', 'keystone', 'gpu-sandbox'})
        return os.path.join(venv, 'bin', 'openstack')

    def assertListsTheSandbox(self, openstack):
        env = {'PATH': '/usr/bin:/bin', 'HOME': self.work, 'LANG': 'C.UTF-8',
               'OS_CLIENT_CONFIG_FILE': self.sandbox().state.clouds_yaml,
               'OS_CLOUD': client.ADMIN_CLOUD}
        # the plugin costs other commands nothing, here nor anywhere
        other = run(openstack, 'configuration', 'show', env=env)
        self.assertEqual(0, other.returncode, other.stderr)
        shown = run(openstack, 'gpu', '--help', env=env)
        self.assertEqual(0, shown.returncode, shown.stderr)
        self.assertIn('openstack gpu device list', shown.stdout)
        listed = run(openstack, 'gpu', 'device', 'list', '-f', 'json',
                     env=env)
        self.assertEqual(0, listed.returncode, listed.stderr)
        self.assertEqual(self.gpu('device', 'list'), json.loads(listed.stdout))

    def test_wheel_into_a_venv_with_only_openstackclient(self):
        self.assertListsTheSandbox(self.install(
            'venv', os.path.join(ROOT, 'constraints.txt')))

    def test_the_lowest_versions_requirements_claim(self):
        # osc-lib 3.0.0 gives '' for an unset variable: every openstack
        # command failed on --os-api-timeout's float before plugin.py
        # turned it into None.
        lower = os.path.join(self.work, 'lower-constraints.txt')
        bounds = lower_bounds(os.path.join(ROOT, 'requirements.txt'))
        with open(lower, 'w') as f:
            f.write('\n'.join(bounds) + '\n')
        openstack = self.install('lower', lower)
        for pin in bounds:
            name, version = pin.split('==')
            self.assertEqual(version, self.installed.get(_normal(name)),
                             name)
        self.assertListsTheSandbox(openstack)
